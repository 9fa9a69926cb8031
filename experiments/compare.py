r"""Finished runs side by side: ground truth, then each reconstruction.

  python -m experiments.compare --output=docs/encodings.png \
      runs/none runs/positional runs/gaussian

Each panel is labelled with its run's folder name and test PSNR (the same
figure a sweep writes as comparison.png, for runs made separately).
"""

import argparse
import json
import pathlib

from cppn import sweep


def compare(run_dirs, output):
  """Writes the comparison figure of finished run folders to `output`."""
  members = [sweep.SweepMember(path.name, {}, None, path) for path in run_dirs]
  rows = [dict(json.loads((path / 'summary.json').read_text()),
               status='finished') for path in run_dirs]
  sweep.plot_comparison(output, members, rows)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('runs', nargs='+', type=pathlib.Path,
                      help='workdirs of finished runs')
  parser.add_argument('--output', type=pathlib.Path, required=True)
  args = parser.parse_args(argv)
  compare(args.runs, args.output)


if __name__ == '__main__':
  main()
