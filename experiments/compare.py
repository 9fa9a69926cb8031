r"""Finished runs side by side: ground truth, then each reconstruction.

  python -m experiments.compare --output=docs/encodings.png \
      runs/none runs/positional runs/gaussian

Each panel is labelled with its run's folder name and test PSNR (the same
figure a sweep writes as comparison.png, for runs made separately). A folder
without summary.json (a run that never finished) prints one error line and
exits 1.
"""

import pathlib

from absl import flags

from cppn import cli
from cppn import outputs
from cppn import sweep
from cppn.errors import CppnError


def compare(run_dirs, output):
  """Writes the comparison figure of finished run folders to `output`."""
  run_dirs = [pathlib.Path(path) for path in run_dirs]
  rows = []
  for path in run_dirs:
    summary = outputs.read_json(path / 'summary.json')
    if summary is None:
      raise CppnError(f'{path} holds no finished run: summary.json is missing')
    rows.append(dict(summary, status='finished'))
  entries = [sweep.Entry(path.name, {}, None, path) for path in run_dirs]
  sweep.plot_comparison(output, entries, rows)


def define_flags(flag_values: flags.FlagValues):
  """--output, the figure to write."""
  flags.DEFINE_string('output', None, 'The PNG to write.',
                      flag_values=flag_values)
  flags.mark_flag_as_required('output', flag_values=flag_values)


def main(flag_values: flags.FlagValues, *run_dirs: str):
  """Writes the figure of the run folders given after the flags."""
  output = pathlib.Path(flag_values.output)
  if not output.parent.is_dir():
    raise CppnError(f'cannot write {output}: folder {output.parent} does not '
                    'exist')
  compare(run_dirs, output)
  print(f'wrote {output}')


COMMAND = cli.Command(define_flags, main, arguments='RUN_DIR ...')

if __name__ == '__main__':
  cli.run(COMMAND)
