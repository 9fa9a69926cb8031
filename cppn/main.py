r"""Command line: fit one image with the config given, or run its sweep.

  python -m cppn.main --config=configs/default.py --workdir=runs/demo \
      [--config.encoding.sigma=14 ...] [--noprogress]

A config that defines get_sweep() runs every member (see cppn/sweep.py),
here or, with --launcher=slurm, as a Slurm job array:

  python -m cppn.main --config=configs/sweep_scale.py --workdir=runs/scale \
      [--launcher=slurm --slurm_partition=gpu --slurm_gpus_per_node=1]

A field set with --config.x=y that the chosen encoding or model does not read
is an error (cppn/overrides.py). Errors (bad input, divergence, interruption)
print one line to stderr and exit non-zero; rerunning the same command resumes from the last checkpoint. A sweep
exits 0 with a line saying how many members failed, 1 only if all failed.
"""

import functools
import pathlib
import re
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from cppn import cli
from cppn import guards
from cppn import launch
from cppn import overrides
from cppn import sweep
from cppn import train
from cppn.errors import CppnError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, 'A config file (configs/*.py) defining get_config().',
    lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for outputs and checkpoints.')
flags.DEFINE_bool('progress', True, 'Show a progress bar while training.')
flags.DEFINE_enum('launcher', 'local', launch.LAUNCHERS,
                  'Where the groups of a sweep train: here, or as a Slurm job '
                  'array (submitit; logs in WORKDIR/slurm).')
flags.DEFINE_string('slurm_partition', None,
                    'Slurm partition; default: the cluster\'s default.')
flags.DEFINE_integer('slurm_time_min', 60, 'Wall-clock limit per Slurm job.')
flags.DEFINE_integer('slurm_cpus_per_task', 1, 'CPUs per Slurm job.')
flags.DEFINE_integer('slurm_gpus_per_node', 0, 'GPUs per Slurm job.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  cli.quiet_libraries()
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    members = sweep.load_sweep(config_flags.get_config_filename(
        FLAGS['config']))
    if members is None and FLAGS.launcher != 'local':
      raise CppnError(f'--launcher={FLAGS.launcher} runs sweeps only; the '
                      'config defines no get_sweep()')
    set_fields = list(config_flags.get_override_values(FLAGS['config']))
    if members is None:
      overrides.check_read(FLAGS.config, set_fields, '--config.')
      train.train_and_evaluate(FLAGS.config, FLAGS.workdir,
                               progress=FLAGS.progress)
    else:
      run_sweep(members, set_fields)
  except guards.Interrupted as e:
    print(f'interrupted: {e}', file=sys.stderr)
    sys.exit(130)
  except CppnError as e:
    logging.flush()
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


def run_sweep(members, set_fields):
  """Runs the sweep with the launcher flagged; prints how many failed."""
  if FLAGS.launcher == 'slurm':
    run_groups = functools.partial(
        launch.run_slurm, folder=pathlib.Path(FLAGS.workdir) / 'slurm',
        options=launch.SlurmOptions(
            FLAGS.slurm_partition, FLAGS.slurm_time_min,
            FLAGS.slurm_cpus_per_task, FLAGS.slurm_gpus_per_node))
  else:
    run_groups = functools.partial(launch.run_local, progress=FLAGS.progress)
  rows = sweep.run_sweep(FLAGS.config, members, FLAGS.workdir, run_groups,
                         set_fields)
  print(sweep.outcome(rows, FLAGS.workdir))
  if all(row['status'] == 'failed' for row in rows):
    sys.exit(1)


def parse_flags(argv):
  """absl's flag parsing (cli.parse_flags), with a config override of a
  field that is not there, or no longer, as one error line too."""
  for arg in argv:
    flag = arg.split('=')[0]
    if flag.startswith('--config.'):
      renamed = overrides.renamed_message(flag[len('--config.'):])
      if renamed:
        cli.bad_command_line(f'{flag}: {renamed}')
  try:
    return cli.parse_flags(argv)
  except (AttributeError, KeyError) as e:  # a config field that is not there
    name = re.search(r"(\w+)", str(e)).group(1)
    named = [a.split('=')[0] for a in argv if a.startswith('--config.')
             and re.search(rf'\b{name}\b', a.split('=')[0])]
    hint = re.search(r'Did you mean "(\w+)"', str(e))
    cli.bad_command_line(
        f'{" ".join(named) or name}: the config has no field {name!r}'
        + (f'; did you mean {hint.group(1)!r}?' if hint else ''))


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
