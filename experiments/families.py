r"""Every coordinate-network family on the same images at matched budgets.

  python -m experiments.families --preset=cpu --workdir=runs/families \
      [--families=siren,hashgrid] [--images=astronaut,chelsea] \
      [--budgets=3e4,1e5] [--noprogress]

Each family of cppn/families starts from its configs/<family>.py (its
published settings and learning rate); its size field (width, hash table
size or grid resolution) is solved per parameter budget (families/budget.py:
the largest whose exact count is at most the budget). Every family trains
the same number of full-batch Adam steps at its published learning rate
times each preset factor (a small learning-rate sweep), on two tasks:
memorisation ('memorize': train and test on every pixel) and the paper's
interpolation split ('paper': train on [::2, ::2], test on [1::2, 1::2]).
The tuned result is the learning rate with the best mean test PSNR over the
images; the published default is reported beside it. Members that differ
only in learning rate and image train as one group (train.train_group); a
family that diverges, or that no size fits at a budget, fails alone.

Writes DIR/runs/TASK/FAMILY/budget=B/lr=LR/IMAGE (one cppn run each),
families.png (tuned test PSNR and SSIM against parameters, per task),
families_crops.png (the same crop of every family's reconstruction, tuned,
largest budget, first image, per task), families.md and families.json
(task, family, budget, parameters, tuned and published PSNR and SSIM, steps
per second per fit, wall seconds per fit).

Presets: tiny (16 px, 20 steps, one budget of 1e4: the test's), cpu (64 px,
200 steps, budgets 1e4 / 3e4 / 1e5, smaller than the paper's as the image
is, learning rates x 1/3, 1, 3, one image), paper (512 px, 2000 steps,
budgets 3e4 / 1e5 / 3e5, the same factors, four photographs;
--images=DIR:0,...,DIR:15 for the paper's data).
"""

import dataclasses
import importlib
import pathlib
from typing import Any

from absl import flags
import imageio.v3 as iio
import matplotlib
import numpy as np

from cppn import cli
from cppn import families as families_lib
from cppn import outputs
from cppn.errors import CppnError
from cppn.families import budget as budget_lib
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

TASKS = ('memorize', 'paper')


@dataclasses.dataclass(frozen=True)
class Preset:
  """Images, budgets and schedule of the comparison."""
  resolution: int  # N
  num_steps: int  # full-batch Adam steps, every family
  budgets: tuple[float, ...]  # parameter budgets
  lr_factors: tuple[float, ...]  # times each family's published rate
  images: tuple[str, ...]  # data.load_target sources
  num_evals: int = 4  # evaluations per fit


PRESETS = {
    'tiny': Preset(16, 20, (1e4,), (1.0,), ('astronaut',), num_evals=1),
    'cpu': Preset(64, 200, (1e4, 3e4, 1e5), (1 / 3, 1.0, 3.0),
                  ('astronaut',)),
    'paper': Preset(512, 2000, (3e4, 1e5, 3e5), (1 / 3, 1.0, 3.0),
                    ('astronaut', 'chelsea', 'coffee', 'rocket')),
}


def family_config(family: str, preset: Preset, task: str, budget: float,
                  factor: float, image: str):
  """configs/<family>.py sized to the budget for one fit of the comparison.

  Raises:
    CppnError: no size of the family fits the budget.
  """
  config = importlib.import_module(f'configs.{family}').get_config()
  config.data.image = image
  config.data.resolution = preset.resolution
  config.data.split = task
  config.train.num_steps = preset.num_steps
  config.train.eval_every_steps = max(1, preset.num_steps // preset.num_evals)
  config.train.learning_rate *= factor
  config.model = budget_lib.solve(config.model, budget)
  return config


def _mean(results, key):
  return common.mean_std([r.get(key) for r in results])[0]


def summarise(cell: list[tuple[float, float, list[dict[str, Any]]]]
              ) -> dict[str, Any]:
  """One table row from a (task, family, budget) cell's fits.

  Args:
    cell: per learning rate (factor, rate, results over images).

  Returns:
    tuned and published test PSNR and SSIM (means over images), the tuned
    rate, parameters, steps per second and wall seconds per fit; None where
    every fit failed.
  """
  by_rate = [(f, lr, _mean(rs, 'test_psnr'), _mean(rs, 'ssim'), rs)
             for f, lr, rs in cell]
  finished = [row for row in by_rate if row[2] is not None]
  published = next((row for row in by_rate if row[0] == 1.0), None)
  row = {'tuned_psnr': None, 'tuned_ssim': None, 'tuned_lr': None,
         'published_psnr': published[2] if published else None,
         'published_ssim': published[3] if published else None,
         'params': None, 'steps_per_second': None, 'wall_seconds': None,
         'errors': sorted({r['error'] for *_, rs in by_rate for r in rs
                           if 'error' in r})}
  if finished:
    _, lr, psnr, ssim, results = max(finished, key=lambda r: r[2])
    done = [r for r in results if 'error' not in r]
    row.update(tuned_psnr=psnr, tuned_ssim=ssim, tuned_lr=lr,
               params=done[0]['num_params'],
               steps_per_second=float(np.mean(
                   [r['steps_per_second'] * r['group_size'] for r in done])),
               wall_seconds=float(np.mean(
                   [r['wall_seconds'] / r['group_size'] for r in done])))
  return row


def _fmt(value, spec):
  return '-' if value is None else format(value, spec)


def markdown(rows: list[dict[str, Any]], preset_name: str) -> str:
  """The table of families.md."""
  lines = [f'# Families at matched parameter budgets (preset {preset_name})',
           '', f'Machine: {common.machine()}.', '',
           '| task | family | budget | params | PSNR tuned (lr) | PSNR '
           'published | SSIM tuned | SSIM published | steps/s | wall s |',
           '|---|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    lines.append(
        f"| {r['task']} | {r['family']} | {r['budget']:g} | "
        f"{_fmt(r['params'], 'd')} | {_fmt(r['tuned_psnr'], '.2f')} "
        f"({_fmt(r['tuned_lr'], '.2g')}) | {_fmt(r['published_psnr'], '.2f')}"
        f" | {_fmt(r['tuned_ssim'], '.3f')} | "
        f"{_fmt(r['published_ssim'], '.3f')} | "
        f"{_fmt(r['steps_per_second'], '.1f')} | "
        f"{_fmt(r['wall_seconds'], '.1f')} |"
        + (f" {'; '.join(r['errors'])[:120]}" if r['errors'] else ''))
  return '\n'.join(lines) + '\n'


def plot(path: pathlib.Path, rows: list[dict[str, Any]],
         names: list[str]):
  """Tuned test PSNR and SSIM against parameters, one panel per task."""
  fig, axes = plt.subplots(2, len(TASKS), figsize=(5 * len(TASKS), 7),
                           squeeze=False)
  for column, task in enumerate(TASKS):
    for name in names:
      points = sorted((r['params'], r['tuned_psnr'], r['tuned_ssim'])
                      for r in rows if r['task'] == task
                      and r['family'] == name and r['params'] is not None)
      if not points:
        continue
      params, psnrs, ssims = zip(*points)
      axes[0, column].plot(params, psnrs, 'o-', label=name)
      axes[1, column].plot(params, ssims, 'o-', label=name)
    axes[0, column].set_title(f'{task}: test PSNR (tuned lr)')
    axes[1, column].set_title(f'{task}: test SSIM (tuned lr)')
    for ax in axes[:, column]:
      ax.set_xscale('log')
      ax.set_xlabel('parameters')
  axes[0, 0].legend(fontsize=7)
  outputs.save_figure(fig, path)


def crop_figure(path: pathlib.Path, panels_by_task, resolution: int):
  """The central half-side crop of each reconstruction, one row per task."""
  low, high = resolution // 4, 3 * resolution // 4
  width = max(len(p) for p in panels_by_task)
  fig, axes = plt.subplots(len(panels_by_task), width,
                           figsize=(1.6 * width, 1.9 * len(panels_by_task)),
                           squeeze=False)
  for ax_row, panels in zip(axes, panels_by_task):
    common.image_row(ax_row, [(title, iio.imread(p)[low:high, low:high])
                              for title, p in panels])
  outputs.save_figure(fig, path)


def define_flags(flag_values: flags.FlagValues):
  """--families, --images and --budgets."""
  flags.DEFINE_list('families', list(families_lib.NAMES),
                    'Families to compare.', flag_values=flag_values)
  flags.DEFINE_list('images', None, 'Images (data.load_target sources); '
                    "default: the preset's.", flag_values=flag_values)
  flags.DEFINE_list('budgets', None, "Parameter budgets; default: the "
                    "preset's.", flag_values=flag_values)


def run(preset_name: str, workdir: pathlib.Path, progress: bool,
        families: list[str], images: list[str] | None,
        budgets: list[str] | None) -> dict[str, Any]:
  """Fits every family, budget, task, rate and image; writes the report."""
  preset = PRESETS[preset_name]
  if budgets:
    try:
      preset = dataclasses.replace(preset, budgets=tuple(
          float(b) for b in budgets))
    except ValueError as e:
      raise CppnError(f'--budgets takes numbers, e.g. 3e4,1e5: {e}') from e
  unknown = [f for f in families if f not in families_lib.FAMILIES]
  if unknown:
    raise CppnError(f'unknown family {unknown[0]!r}; choose from: '
                    + ', '.join(families_lib.NAMES))
  images = tuple(images) if images else preset.images
  configs, dirs, cells = [], [], {}
  for task in TASKS:
    for family in families:
      for budget in preset.budgets:
        cell = cells.setdefault((task, family, budget), [])
        for factor in preset.lr_factors:
          entries = []
          for image in images:
            try:
              config = family_config(family, preset, task, budget, factor,
                                     image)
            except CppnError as e:
              entries.append({'error': str(e)})
              continue
            lr = config.train.learning_rate
            entries.append(len(configs))
            configs.append(config)
            dirs.append(workdir / 'runs' / task / family / f'budget={budget:g}'
                        / f'lr={lr:.3g}' / image.replace('/', '_'))
          cell.append((factor, entries))
  results = common.train_all(configs, dirs, progress)
  rows, crops = [], {task: [] for task in TASKS}
  for (task, family, budget), cell in cells.items():
    resolved = []
    for factor, entries in cell:
      fits = [results[e] if isinstance(e, int) else e for e in entries]
      rates = [configs[e].train.learning_rate for e in entries
               if isinstance(e, int)]
      resolved.append((factor, rates[0] if rates else None, fits))
    row = dict(task=task, family=family, budget=budget, **summarise(resolved))
    rows.append(row)
    if budget == max(preset.budgets) and row['tuned_lr'] is not None:
      run_dir = (workdir / 'runs' / task / family / f'budget={budget:g}'
                 / f"lr={row['tuned_lr']:.3g}" / images[0].replace('/', '_'))
      crops[task].append((f"{family}\n{row['tuned_psnr']:.1f} dB",
                          run_dir / 'reconstruction.png'))
  plot(workdir / 'families.png', rows, families)
  panels = []
  for task in TASKS:
    target = next((p.parent / 'target.png' for _, p in crops[task]), None)
    if target is not None:
      panels.append([(f'{task}: target', target)] + crops[task])
  if panels:
    crop_figure(workdir / 'families_crops.png', panels, preset.resolution)
  report = {'preset': preset_name, 'resolution': preset.resolution,
            'num_steps': preset.num_steps, 'images': list(images),
            'machine': common.machine(), 'rows': rows}
  common.write_report(workdir, 'families', report, markdown(rows, preset_name))
  return report


COMMAND = command.experiment(run, define_flags)

if __name__ == '__main__':
  cli.run(COMMAND)
