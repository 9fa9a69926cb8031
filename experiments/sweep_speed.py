r"""One sweep command against one command per member: wall time, and the ratio.

  python -m experiments.sweep_speed [--config=configs/sweep_scale.py] \
      [--workdir=DIR]

Runs, each as a subprocess into a fresh folder:
  * the sweep: `python -m cppn.main --config=CONFIG` (members grouped by
    shape, one compiled program per group), and
  * each member alone: `python -m cppn.main --config=configs/default.py` with
    the member's resolved config given as --config.FIELD=VALUE flags (what
    one would type without sweeps),
checks that every separate run resolved its sweep member's exact config, and
prints one JSON line (also written to WORKDIR/sweep_speed.json):

  members, sweep_seconds, separate_seconds (sum), ratio (separate / sweep),
  max_test_psnr_difference_db (sweep member vs its separate run),
  load_average_before / _after (1-minute; above ~1 means the machine was
  shared and the times are not clean), cpu_count, sweep_command.

The default config is the 8-sigma sweep (64 px, paper split, 4 x 256 MLP,
200 steps). Measure on a quiet machine.
"""

import json
import os
import pathlib
import sys
import tempfile
import time

from absl import flags

from configs import default
from cppn import cli
from cppn import outputs
from cppn import overrides
from cppn import sweep
from cppn.errors import CppnError
from experiments import common

BASE_CONFIG = 'configs/default.py'


def run_timed(command: list[str]) -> float:
  """Runs a command to completion; its wall time in seconds."""
  tic = time.perf_counter()
  common.run_command(command)
  return time.perf_counter() - tic


def override_flags(config) -> list[str]:
  """--config.FIELD=VALUE for every field where `config` differs from default."""
  flatten = overrides.flatten
  base = flatten(default.get_config().to_dict())
  return [f'--config.{key}={value}'
          for key, value in flatten(config.to_dict()).items()
          if base[key] != value]


def main_command(config_path: str, workdir: pathlib.Path,
                 *extra_flags: str) -> list[str]:
  """The cppn.main command line for a config, a workdir and extra flags."""
  return [sys.executable, '-m', 'cppn.main', f'--config={config_path}',
          f'--workdir={workdir}', '--noprogress', *extra_flags]


def timing_report(sweep_seconds: float, separate_seconds: list[float],
                  differences: list[float]) -> dict:
  """The report's arithmetic: members, separate_seconds (the sum),
  separate_seconds_each, ratio (separate / sweep) and
  max_test_psnr_difference_db, from the sweep's wall seconds, each member's
  separate wall seconds and each member's |test PSNR difference| (dB)."""
  return {
      'members': len(separate_seconds),
      'sweep_seconds': sweep_seconds,
      'separate_seconds': sum(separate_seconds),
      'separate_seconds_each': list(separate_seconds),
      'ratio': sum(separate_seconds) / sweep_seconds,
      'max_test_psnr_difference_db': max(differences),
  }


def measure(config_path: str, workdir: pathlib.Path) -> dict:
  """Times the sweep, then each member alone; returns the report."""
  module = sweep.load_config_module(config_path)
  members = sweep.plan(module.get_config(), module.get_sweep(),
                       workdir / 'sweep')
  load_before = os.getloadavg()[0]
  sweep_command = main_command(config_path, workdir / 'sweep')
  sweep_seconds = run_timed(sweep_command)
  separate_seconds, differences = [], []
  for member in members:
    alone = workdir / 'separate' / member.name
    separate_seconds.append(run_timed(
        main_command(BASE_CONFIG, alone, *override_flags(member.config))))
    if (outputs.read_json(alone / 'config.json')
        != outputs.read_json(member.workdir / 'config.json')):
      raise CppnError(f'{alone} resolved another config than its sweep '
                      f'member {member.workdir}')
    differences.append(abs(
        outputs.read_json(alone / 'summary.json')['test_psnr']
        - outputs.read_json(member.workdir / 'summary.json')['test_psnr']))
  return {
      **timing_report(sweep_seconds, separate_seconds, differences),
      'load_average_before': load_before,
      'load_average_after': os.getloadavg()[0],
      'cpu_count': os.cpu_count(),
      'sweep_command': ' '.join(sweep_command[1:]),
  }


def define_flags(flag_values: flags.FlagValues):
  """--config (the sweep) and --workdir."""
  flags.DEFINE_string('config', 'configs/sweep_scale.py',
                      'A sweep config (defines get_sweep()).',
                      flag_values=flag_values)
  flags.DEFINE_string('workdir', None, 'An empty or new folder (default: a new '
                      'temporary one).', flag_values=flag_values)


def main(flag_values: flags.FlagValues):
  """Measures into a fresh workdir; prints and writes the report."""
  workdir = pathlib.Path(flag_values.workdir or tempfile.mkdtemp(
      prefix='sweep_speed_'))
  if workdir.exists() and any(workdir.iterdir()):
    raise CppnError(f'--workdir {workdir} is not empty: the runs must start '
                    'fresh to be timed')
  workdir.mkdir(parents=True, exist_ok=True)
  report = measure(flag_values.config, workdir)
  outputs.write_json(workdir / 'sweep_speed.json', report)
  print(json.dumps(report, sort_keys=True))


COMMAND = cli.Command(define_flags, main)

if __name__ == '__main__':
  cli.run(COMMAND)
