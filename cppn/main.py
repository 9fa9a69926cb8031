r"""Command line: fit one image with the config given.

  python -m cppn.main --config=configs/default.py --workdir=runs/demo \
      [--config.encoding.scale=14 ...] [--noprogress]

Errors (bad input, divergence, interruption) print one line to stderr and exit
non-zero; rerunning the same command resumes from the last checkpoint.
"""

import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from cppn import train
from cppn.errors import CppnError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, 'A config file (configs/*.py) defining get_config().',
    lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for outputs and checkpoints.')
flags.DEFINE_bool('progress', True, 'Show a progress bar while training.')
flags.mark_flags_as_required(['config', 'workdir'])


class _QuietLibraries(logging.logging.Filter):
  """Keeps INFO lines from cppn only; warnings and errors from everything."""

  def filter(self, record):
    return (record.levelno >= logging.logging.WARNING
            or '/cppn/' in record.pathname.replace('\\', '/'))


def main(argv):
  logging.get_absl_handler().addFilter(_QuietLibraries())
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir,
                             progress=FLAGS.progress)
  except train.Interrupted as e:
    print(f'interrupted: {e}', file=sys.stderr)
    sys.exit(130)
  except CppnError as e:
    logging.flush()
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
