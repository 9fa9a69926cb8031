r"""Shared pieces of the paper-reproduction experiments: configs, groups, CLI, reports.

Every experiment script runs as

  python -m experiments.<name> --preset=cpu|paper|tiny --workdir=DIR

and writes into DIR its cppn runs (DIR/runs/..., one workdir per fit; a
rerun skips finished fits), its figure(s) as PNG and its numbers as
<name>.md and <name>.json. This module holds what they share:

  paper_config      configs/default.py at a resolution and step budget, with
                    dotted overrides; the eval cadence follows the budget
  gaussian_scale_at, positional_scale_at
                    the paper's 512-px sigma_g and sigma_p at N px (the
                    frequencies of an image scale with its side: sigma_g is
                    proportional to N, sigma_p is log2 of the top frequency)
  train_all         fits configs through train.train_group, one group per
                    train.shape_signature, results in input order
  fit_minutes       the fits' wall time, read back from their summaries
  mean_std          mean and std over images, failed fits left out
  machine           the machine in words, for reports
  run_cli           the command line every script shares
  write_report      <name>.json and <name>.md, atomically
  image_row         a row of labelled images (targets, reconstructions)

Figures are saved with outputs.save_figure.
"""

import argparse
import math
import os
import pathlib
import platform
import sys
import time
from typing import Any, Callable, Sequence

import imageio.v3 as iio
import jax
import ml_collections
import numpy as np

from configs import default
from cppn import outputs
from cppn import sweep
from cppn import train
from cppn.errors import CppnError

PAPER_RESOLUTION = 512  # the side at which the paper's sigmas are quoted
PRESET_NAMES = ('cpu', 'paper', 'tiny')


def gaussian_scale_at(sigma: float, resolution: int) -> float:
  """sigma_g (cycles per unit) for N px: sigma * N / 512."""
  return sigma * resolution / PAPER_RESOLUTION


def positional_scale_at(sigma_p: float, resolution: int) -> float:
  """sigma_p for N px: sigma_p - log2(512 / N) (same top frequency per pixel)."""
  scaled = sigma_p - math.log2(PAPER_RESOLUTION / resolution)
  if scaled <= 0:
    raise CppnError(f'sigma_p={sigma_p} at {PAPER_RESOLUTION} px leaves '
                    f'{scaled:g} at {resolution} px; choose a resolution > '
                    f'{PAPER_RESOLUTION / 2**sigma_p:g}')
  return scaled


def paper_config(resolution: int, num_steps: int, num_evals: int = 10,
                 **overrides: Any) -> ml_collections.ConfigDict:
  """configs/default.py at N = resolution for num_steps steps.

  Args:
    resolution: data.resolution.
    num_steps: train.num_steps.
    num_evals: evaluations (metrics, GIF frames, checkpoints) per run: every
      num_steps / num_evals steps.
    **overrides: dotted fields with '.' written as '__', e.g.
      encoding__name='none'.
  """
  config = default.get_config()
  config.data.resolution = resolution
  config.train.num_steps = num_steps
  config.train.eval_every_steps = max(1, num_steps // num_evals)
  return sweep.apply_overrides(
      config, {key.replace('__', '.'): value for key, value in overrides.items()})


def train_all(configs: Sequence[ml_collections.ConfigDict], workdirs: Sequence,
              progress: bool) -> list[dict[str, Any]]:
  """Fits every config, members of equal shape together (train.train_group).

  Returns:
    Per config, in input order, its summary or {'error': message}.
  """
  groups: dict[str, list[int]] = {}
  for index, config in enumerate(configs):
    groups.setdefault(train.shape_signature(config), []).append(index)
  results: list[dict[str, Any]] = [{}] * len(configs)
  for indices in groups.values():
    group = train.train_group([configs[i] for i in indices],
                              [workdirs[i] for i in indices], progress)
    for index, result in zip(indices, group):
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


def run_cli(argv, doc: str, run: Callable[..., dict[str, Any]],
            add_arguments: Callable[[argparse.ArgumentParser], None] = None):
  """The shared command line: --preset, --workdir, --noprogress, extras.

  Calls run(preset_name, workdir, progress, args) and prints where the
  outputs went and how long it took; a CppnError prints one line, exit 1.
  """
  parser = argparse.ArgumentParser(description=doc.splitlines()[0])
  parser.add_argument('--preset', default='cpu', choices=PRESET_NAMES,
                      help='tiny: seconds (tests); cpu: ~15 min on 2 cores; '
                           'paper: the full protocol, for a GPU')
  parser.add_argument('--workdir', required=True, type=pathlib.Path)
  parser.add_argument('--noprogress', action='store_true',
                      help='no progress bars')
  if add_arguments:
    add_arguments(parser)
  args = parser.parse_args(argv)
  start = time.time()
  try:
    args.workdir.mkdir(parents=True, exist_ok=True)
    run(args.preset, args.workdir, not args.noprogress, args)
  except (CppnError, OSError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  print(f'preset {args.preset}: wrote {args.workdir} in '
        f'{(time.time() - start) / 60:.1f} minutes')
