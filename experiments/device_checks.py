r"""Does this device compute what the CPU computes? The checks of a new backend.

  python -m experiments.device_checks --workdir=DIR

runs, on the device JAX sees first, a small fit (configs/test.py for 200
steps), a group of four fits that differ in their seed (vmapped on an
accelerator, the member axis sharded over the devices) and an export of the
fit rendered at 2x, and writes DIR/checks.json (the command is also how
`correctness` runs them on the CPU, in a subprocess with JAX_PLATFORMS=cpu).
`correctness` adds a `cppn.main` run killed by SIGKILL after a checkpoint
and rerun to the end, and compares each result with the CPU's within
TOLERANCES; experiments/gpu_report.py reports it.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any

from absl import flags
import jax
import numpy as np

import configs
from configs import test as test_config
from cppn import cli
from cppn import export
from cppn import train
from cppn.errors import CppnError
from experiments import common

# Largest difference that passes, per check: the test PSNR (dB) of the fit
# and of each group member against the CPU's (200 Adam steps carry the
# rounding differences of another reduction order), the colours in [0, 1]
# of one exported network rendered here and on the CPU (float32), and the
# test PSNR (dB) of the killed and resumed run against the uninterrupted fit.
TOLERANCES = {'fit': 0.05, 'group': 0.05, 'render': 1e-4, 'resume': 0.01}


def check_config(num_steps: int = 200, eval_every: int = 20):
  """configs/test.py (32 px, 2 x 32 MLP) for num_steps steps, evaluated
  (and checkpointed) every eval_every: by default 10 times, so a run can be
  killed between two of them."""
  config = test_config.get_config()
  config.train.num_steps = num_steps
  config.train.eval_every_steps = eval_every
  return config


GROUP_SEEDS = (0, 1, 2, 3)


def on_this_device(workdir: pathlib.Path) -> dict[str, Any]:
  """The fit, group and render checks on this process's device.

  Renders workdir/../device/model.cppn when it exists (the device's
  exported network, when this runs on the CPU), else its own export.
  """
  config = check_config()
  fit = train.train_and_evaluate(config, workdir / 'fit', progress=False)
  configs_ = [check_config(60, 20) for _ in GROUP_SEEDS]
  for member, seed in zip(configs_, GROUP_SEEDS):
    member.seed = seed
  group_results = common.train_all(
      configs_, [workdir / 'group' / f'seed_{s}' for s in GROUP_SEEDS], False)
  model_path = workdir / 'model.cppn'
  export.export(workdir / 'fit', model_path, 'fp32')
  device_model = workdir.parent / 'device' / 'model.cppn'
  rendered = export.render(export.load_exported(
      device_model if device_model.exists() else model_path),
                           2 * config.data.resolution)
  np.save(workdir / 'render.npy', rendered)
  return {'backend': jax.default_backend(), 'fit_test_psnr': fit['test_psnr'],
          'group_size': len(configs_), 'device_count': jax.device_count(),
          'group_test_psnr': [r.get('test_psnr') for r in group_results],
          'group_errors': [r.get('error') for r in group_results]}


def main_command(workdir: pathlib.Path, config_overrides: list[str]):
  """`python -m cppn.main` on configs/test.py with overrides."""
  return [sys.executable, '-m', 'cppn.main',
          f'--config={pathlib.Path(configs.__file__).parent / "test.py"}',
          f'--workdir={workdir}', '--noprogress', *config_overrides]


def killed_and_resumed(workdir: pathlib.Path, timeout: float
                       ) -> dict[str, Any]:
  """A `cppn.main` run of check_config killed by SIGKILL once its second
  evaluation's frame exists, then rerun to the end here on the same config
  and workdir (what rerunning the command does).

  Returns:
    {'killed': whether it was killed (False: it finished first),
    'killed_after_step': its newest frame's step, 'resumed_from_step',
    'test_psnr': the rerun's summary's}.
  """
  config = check_config()
  every = config.train.eval_every_steps
  overrides = [f'--config.train.num_steps={config.train.num_steps}',
               f'--config.train.eval_every_steps={every}']
  command_line = main_command(workdir, overrides)
  process = subprocess.Popen(command_line, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + timeout
  frames = lambda: [int(p.stem.split('_')[1])
                    for p in (workdir / 'frames').glob('step_*.png')]
  while process.poll() is None and max(frames(), default=0) < 2 * every:
    if time.monotonic() > deadline:
      process.kill()
      raise CppnError('the run to kill wrote no second evaluation in '
                      f'{timeout:.0f} s')
    time.sleep(0.01)
  killed = process.poll() is None
  if killed:
    process.send_signal(signal.SIGKILL)
  _, stderr = process.communicate()
  if not killed and process.returncode:
    raise CppnError(f'the run to kill failed: {stderr.strip()[-300:]}')
  killed_after = max(frames(), default=0)
  summary = train.train_and_evaluate(config, workdir, progress=False)
  return {'killed': killed, 'killed_after_step': killed_after,
          'resumed_from_step': summary['resumed_from_step'],
          'test_psnr': summary['test_psnr']}


def on_the_cpu(workdir: pathlib.Path, timeout: float) -> dict[str, Any]:
  """on_this_device on the CPU: this module's command in a subprocess with
  JAX_PLATFORMS=cpu."""
  completed = subprocess.run(
      [sys.executable, '-m', 'experiments.device_checks',
       f'--workdir={workdir}'],
      env=dict(os.environ, JAX_PLATFORMS='cpu'), capture_output=True,
      text=True, timeout=timeout)
  if completed.returncode:
    raise CppnError(f'the CPU checks failed: {completed.stderr.strip()[-300:]}')
  return json.loads((workdir / 'checks.json').read_text())


def correctness(workdir: pathlib.Path, timeout: float) -> dict[str, Any]:
  """The checks on this device, the same on the CPU, and their differences.

  Args:
    workdir: the checks' folder (device/, resume/ and cpu/ inside).
    timeout: seconds the subprocesses may take at most.

  Returns:
    {'device', 'cpu', 'resume': each side's results, 'difference',
    'tolerance', 'passed': per check (fit, group, render, resume); a
    difference is None when a side has no result (a failed member, a run
    that finished before it could be killed)}.
  """
  deadline = time.monotonic() + timeout
  device = on_this_device(workdir / 'device')
  resumed = killed_and_resumed(workdir / 'resume',
                               deadline - time.monotonic())
  cpu = on_the_cpu(workdir / 'cpu', deadline - time.monotonic())
  render_difference = float(np.max(np.abs(
      np.load(workdir / 'device' / 'render.npy')
      - np.load(workdir / 'cpu' / 'render.npy'))))
  members = list(zip(device['group_test_psnr'], cpu['group_test_psnr']))
  difference = {
      'fit': abs(device['fit_test_psnr'] - cpu['fit_test_psnr']),
      'group': (None if any(None in pair for pair in members)
                else max(abs(a - b) for a, b in members)),
      'render': render_difference,
      'resume': (abs(resumed['test_psnr'] - device['fit_test_psnr'])
                 if resumed['killed'] and resumed['resumed_from_step'] > 0
                 else None)}
  return {'device': device, 'cpu': cpu, 'resume': resumed,
          'difference': difference, 'tolerance': TOLERANCES,
          'passed': {name: value is not None and value <= TOLERANCES[name]
                     for name, value in difference.items()}}


def define_flags(flag_values: flags.FlagValues):
  """--workdir."""
  flags.DEFINE_string('workdir', None, 'Folder of the checks\' runs and of '
                      'checks.json.', flag_values=flag_values)
  flags.mark_flag_as_required('workdir', flag_values=flag_values)


def main(flag_values: flags.FlagValues):
  """Runs on_this_device into --workdir and writes checks.json there."""
  workdir = pathlib.Path(flag_values.workdir)
  checks = on_this_device(workdir)
  common.write_report(workdir, 'checks', checks, json.dumps(checks) + '\n')
  print(json.dumps(checks))


COMMAND = cli.Command(define_flags, main)

if __name__ == '__main__':
  cli.run(COMMAND)
