r"""Shared pieces of the paper-reproduction experiments: configs, groups, CLI, reports.

Every experiment script runs as

  python -m experiments.<name> --preset=cpu|paper|tiny --workdir=DIR \
      [--noprogress] [its own flags]

and writes into DIR its cppn runs (DIR/runs/..., one workdir per fit; a
rerun skips finished fits), its figure(s) as PNG and its numbers as
<name>.md and <name>.json. This module holds what they share:

  paper_config      configs/default.py at a resolution and step budget, with
                    dotted overrides (each must be a field the encoding and
                    model read); the eval cadence follows the budget
  sigma_at, sigma_p_at
                    the paper's 512-px sigma_g and sigma_p at N px (the
                    frequencies of an image scale with its side: sigma_g is
                    proportional to N, sigma_p is log2 of the top frequency)
  train_all         fits configs through train.train_group, one group per
                    group.group_indices, results in input order
  fit_minutes       the fits' wall time, read back from their summaries
  mean_std          mean and std over images, failed fits left out
  machine           the machine in words, for reports
  write_report      <name>.json and <name>.md, atomically
  image_row         a row of labelled images (targets, reconstructions)
  run_command       a command of this project in a subprocess; its failure
                    as a CppnError with the command's own error line

Figures are saved with outputs.save_figure; the command line every script
shares is in experiments/command.py.
"""

import math
import os
import pathlib
import platform
import subprocess
from typing import Any, Sequence

import imageio.v3 as iio
import jax
import ml_collections
import numpy as np

from configs import default
from cppn import group
from cppn import outputs
from cppn import overrides
from cppn import train
from cppn.errors import CppnError

PAPER_RESOLUTION = 512  # the side at which the paper's sigmas are quoted


def sigma_at(sigma: float, resolution: int) -> float:
  """Gaussian sigma_g (cycles per unit) for N px: sigma * N / 512."""
  return sigma * resolution / PAPER_RESOLUTION


def sigma_p_at(sigma_p: float, resolution: int) -> float:
  """sigma_p for N px: sigma_p - log2(512 / N) (same top frequency per pixel)."""
  scaled = sigma_p - math.log2(PAPER_RESOLUTION / resolution)
  if scaled <= 0:
    raise CppnError(f'sigma_p={sigma_p} at {PAPER_RESOLUTION} px leaves '
                    f'{scaled:g} at {resolution} px; choose a resolution > '
                    f'{PAPER_RESOLUTION / 2**sigma_p:g}')
  return scaled


def paper_config(resolution: int, num_steps: int, num_evals: int = 10,
                 base: ml_collections.ConfigDict | None = None,
                 **fields: Any) -> ml_collections.ConfigDict:
  """A config (configs/default.py's, or base) at N = resolution for
  num_steps steps.

  Args:
    resolution: data.resolution.
    num_steps: train.num_steps.
    num_evals: evaluations (metrics, GIF frames, checkpoints) per run: every
      num_steps / num_evals steps.
    base: the config to start from (another task's, configs/nerf.py), changed
      in place; None: configs/default.py's.
    **fields: dotted fields with '.' written as '__', e.g.
      encoding__name='none'.

  Raises:
    CppnError: a field the config lacks, or one its encoding or model does
      not read (encoding__sigma on a positional config).
  """
  config = base or default.get_config()
  config.data.resolution = resolution
  config.train.num_steps = num_steps
  config.train.eval_every_steps = max(1, num_steps // num_evals)
  dotted = {key.replace('__', '.'): value for key, value in fields.items()}
  config = overrides.apply_overrides(config, dotted)
  overrides.check_read(config, dotted, 'experiment config: ')
  return config


def train_all(configs: Sequence[ml_collections.ConfigDict], workdirs: Sequence,
              progress: bool) -> list[dict[str, Any]]:
  """Fits every config, members of equal shape together (train.train_group).

  Returns:
    Per config, in input order, its summary or {'error': message}.
  """
  results: list[dict[str, Any]] = [{}] * len(configs)
  for indices in group.group_indices(configs):
    fitted = train.train_group([configs[i] for i in indices],
                               [workdirs[i] for i in indices], progress)
    for index, result in zip(indices, fitted):
      results[index] = result
  return results


def fit_minutes(results: Sequence[dict[str, Any]]) -> float:
  """Minutes the fits took, from their summaries (so a rerun that skips
  finished fits still reports them): each group's wall time counted once."""
  return sum(r['wall_seconds'] / r['group_size'] for r in results
             if 'wall_seconds' in r) / 60


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
  """Mean and population std of finite values; (None, None) if there are none."""
  finite = [v for v in values if v is not None and np.isfinite(v)]
  if not finite:
    return None, None
  return float(np.mean(finite)), float(np.std(finite))


def machine() -> str:
  """The machine in words: CPU cores, JAX backend and device."""
  return (f'{platform.machine()}, {os.cpu_count()} CPU cores, JAX '
          f'{jax.__version__} on {jax.default_backend()} '
          f'({jax.devices()[0].device_kind})')


def write_report(workdir: pathlib.Path, name: str, result: dict[str, Any],
                 markdown: str):
  """workdir/<name>.json and workdir/<name>.md, atomically."""
  outputs.write_json(workdir / f'{name}.json', result)
  with outputs.atomic_open(workdir / f'{name}.md') as f:
    f.write(markdown)


def image_row(axes, panels: Sequence[tuple[str, pathlib.Path | np.ndarray]]):
  """Draws (title, image or PNG path) panels on a row of matplotlib axes."""
  for ax in axes:
    ax.axis('off')
  for ax, (title, image) in zip(axes, panels):
    ax.imshow(iio.imread(image) if isinstance(image, (str, pathlib.Path))
              else image, interpolation='nearest')
    ax.set_title(title, fontsize=8)


def run_command(argv: list[str]) -> str:
  """Runs a command of this project (argv) to the end; returns its stdout.

  Raises:
    CppnError: it failed; the message is the command's own `error:` line
      (cppn.cli), or its last line of stderr.
  """
  process = subprocess.run(argv, capture_output=True, text=True, check=False)
  if process.returncode == 0:
    return process.stdout
  lines = process.stderr.strip().splitlines() or [
      f'exit status {process.returncode}']
  reason = next((line for line in reversed(lines)
                 if line.startswith('error: ')), lines[-1])
  raise CppnError(f"`python {' '.join(argv[1:])}` failed: "
                  f"{reason.removeprefix('error: ')}")
