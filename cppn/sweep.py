r"""Config sweeps: many members of one config, trained in groups, compared.

A config module declares a sweep next to get_config() with get_sweep(), a list
of dicts of dotted overrides, one dict per member:

  def get_sweep():
    return sweep.product({'encoding.sigma': (1, 2, 4), 'seed': (0, 1)})

  python -m cppn.main --config=configs/sweep_scale.py --workdir=runs/scale

Overrides on the command line (--config.x=y) apply to every member first, then
each member's own. A member's own override must be read by its encoding or
model, and a command-line one by at least one member (cppn/overrides.py).
Members that differ only in group.VALUE_FIELDS form a group that
train.train_group fits together in one compiled program (cppn/group.py).
Outputs in the sweep workdir:

  sweep.json           the members: name, overrides, workdir
  NAME/                each member's run, the same files as a single run
                       (NAME from its overrides: encoding.sigma=4 -> sigma=4)
  results.csv          one row per member: its overrides, status (finished /
                       failed), its task's final scores (train/test PSNR;
                       occupancy: IoUs), SSIM, num_params, seconds (wall
                       time of its group), error
  comparison.png       the ground truth and every reconstruction, labelled
  curves.png           the headline score (test PSNR) against step, every
                       member
  psnr_vs_FIELD.png    final scores against the swept value, when exactly
                       one numeric field varies (SCORE_vs_FIELD.png, named
                       by the headline, for a task scored otherwise)

Rerunning the command retrains only members without a summary.json.
"""

import csv
import dataclasses
import importlib.util
import itertools
import math
import pathlib
import re
import sys
import types
from typing import Any, Callable, Mapping, Sequence

from absl import logging
import imageio.v3 as iio
import matplotlib
import ml_collections
import numpy as np

from cppn import group
from cppn import outputs
from cppn import overrides
from cppn import tasks
from cppn import tensorboard
from cppn import train
from cppn.errors import CppnError

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

Overrides = dict[str, Any]
# groups (configs, workdirs) -> per group, per member: summary or {'error'}.
RunGroups = Callable[[list[tuple[list[ml_collections.ConfigDict], list]]],
                     list[list[dict[str, Any]]]]

# results.csv's columns after the overrides: status, the task's scores
# (Task.scores), then these.
RESULT_FIELDS = ('ssim', 'num_params', 'seconds', 'error')
MAX_NAME_LENGTH = 120  # folder names stay well under the usual 255 bytes


def product(axes: Mapping[str, Sequence]) -> list[Overrides]:
  """Every combination: {'a': (1, 2), 'b': (3, 4)} -> 4 members, b fastest."""
  keys = list(axes)
  return [dict(zip(keys, values))
          for values in itertools.product(*(axes[k] for k in keys))]


def zip_(axes: Mapping[str, Sequence]) -> list[Overrides]:
  """Values side by side: {'a': (1, 2), 'b': (3, 4)} -> [{a:1, b:3}, {a:2, b:4}]."""
  lengths = {key: len(values) for key, values in axes.items()}
  if len(set(lengths.values())) > 1:
    raise CppnError(f'sweep.zip_ needs equally long value lists, got lengths '
                    f'{lengths}')
  return [dict(zip(axes, values)) for values in zip(*axes.values())]


def load_config_module(config_path):
  """Imports a config file (configs/*.py) as a module."""
  if not pathlib.Path(config_path).is_file():
    raise CppnError(f'config file not found: {config_path}')
  spec = importlib.util.spec_from_file_location('cppn_sweep_config',
                                                config_path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load_sweep(config_path) -> list[Overrides] | None:
  """The members a config file's get_sweep() declares, or None if it has none."""
  module = load_config_module(config_path)
  if not hasattr(module, 'get_sweep'):
    return None
  members = module.get_sweep()
  if not (isinstance(members, list) and members and all(
      isinstance(m, dict) and all(isinstance(k, str) for k in m)
      for m in members)):
    raise CppnError(f'get_sweep() in {config_path} must return a non-empty '
                    f'list of dicts of dotted overrides, got {members!r}')
  return members


def short_keys(keys: Sequence[str]) -> dict[str, str]:
  """Dotted key -> its last part, or the whole key where last parts clash."""
  last = {key: key.rsplit('.', 1)[-1] for key in keys}
  counts = {}
  for part in last.values():
    counts[part] = counts.get(part, 0) + 1
  return {key: part if counts[part] == 1 else key for key, part in last.items()}


def member_names(members: Sequence[Overrides]) -> list[str]:
  """Unique folder names from overrides: {'encoding.sigma': 4} -> 'sigma=4'.

  Characters other than letters, digits and ._=,+- become '_'; an empty
  override set is 'base'; repeats get -2, -3, ...
  """
  short = short_keys(list(dict.fromkeys(k for m in members for k in m)))
  names, seen = [], set()
  for member in members:
    name = ','.join(f'{short[k]}={v}' for k, v in member.items()) or 'base'
    name = re.sub(r'[^A-Za-z0-9._=,+-]', '_', name)[:MAX_NAME_LENGTH]
    unique, count = name, 1
    while unique in seen:
      count += 1
      unique = f'{name}-{count}'
    seen.add(unique)
    names.append(unique)
  return names


@dataclasses.dataclass(frozen=True)
class Entry:
  """One member of a sweep's plan: its folder name, overrides, resolved config
  and workdir (train.Member is the fit it becomes)."""
  name: str
  overrides: Overrides
  config: ml_collections.ConfigDict
  workdir: pathlib.Path


def plan(config: ml_collections.ConfigDict, members: Sequence[Overrides],
         workdir, command_line_fields: Sequence[str] = ()) -> list[Entry]:
  """Resolves every member's config and workdir (workdir/NAME, absolute).

  Raises:
    CppnError: a member sets a field its encoding or model does not read, or
      a field set on the command line (`command_line_fields`, dotted) is read
      by no member.
  """
  workdir = pathlib.Path(workdir).absolute()
  swept = []
  for name, member in zip(member_names(members), members):
    member_config = overrides.apply_overrides(config, member,
                                              'sweep override')
    overrides.check_read(member_config, member, f'sweep member {name}: ')
    swept.append(Entry(name, member, member_config, workdir / name))
  for field in command_line_fields:
    if all(overrides.unread_fields(m.config, [field]) for m in swept):
      overrides.check_read(swept[0].config, [field], '--config.')
  return swept


def run_sweep(config: ml_collections.ConfigDict,
              members: Sequence[Overrides], workdir, run_groups: RunGroups,
              command_line_fields: Sequence[str] = ()) -> list[dict[str, Any]]:
  """Trains every member, then writes results.csv and the figures.

  Groups whose members all finished before are not sent to `run_groups`:
  train.train_group here only reads their summaries back (and checks their
  configs), so rerunning a sweep retrains only what is missing.

  Args:
    config: the base config, command-line overrides applied.
    members: dotted overrides per member, from get_sweep().
    workdir: the sweep's folder.
    run_groups: a launcher from cppn.launch.
    command_line_fields: the dotted fields set on the command line; each
      must be read by some member (see plan).

  Returns:
    The rows of results.csv.
  """
  workdir = pathlib.Path(workdir)
  swept = plan(config, members, workdir, command_line_fields)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise CppnError(f'cannot create workdir {workdir}: {e.strerror}') from e
  outputs.write_json(workdir / 'sweep.json', {'members': [
      {'name': m.name, 'overrides': m.overrides, 'workdir': str(m.workdir)}
      for m in swept]})
  groups = group.group_indices([m.config for m in swept])
  logging.info('sweep of %d members in %d group(s) of equal shape',
               len(swept), len(groups))
  as_group = lambda indices: ([swept[i].config for i in indices],
                              [swept[i].workdir for i in indices])
  todo = [g for g in groups if any(
      not (swept[i].workdir / 'summary.json').exists() for i in g)]
  done = [g for g in groups if g not in todo]
  for index in sum(todo, []):
    if tensorboard.enabled(swept[index].config):
      tensorboard.log_hparams(swept[index].workdir, swept[index].overrides)
  read_back = [train.train_group(*as_group(g), progress=False) for g in done]
  trained = run_groups([as_group(g) for g in todo])
  results: list[dict[str, Any]] = [{}] * len(swept)
  for indices, group_results in zip(done + todo, read_back + trained):
    for index, result in zip(indices, group_results):
      results[index] = result
  rows = result_rows(swept, results)
  write_results_csv(workdir / 'results.csv', swept, rows)
  write_figures(workdir, swept, rows)
  return rows


def result_rows(members: Sequence[Entry],
                results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
  """One results.csv row per member from its summary or {'error': reason}."""
  rows = []
  for member, result in zip(members, results):
    row = {'name': member.name, **member.overrides}
    if 'error' in result:
      row.update(status='failed', error=result['error'])
    else:
      row.update(status='finished',
                 **{name: result[name] for name in scores(member)},
                 ssim=result.get('ssim', ''),  # images only
                 num_params=result['num_params'],
                 seconds=result['wall_seconds'], error='')
    rows.append(row)
  return rows


def scores(member: Entry) -> tuple[str, ...]:
  """The score names of a member's task: ('train_psnr', 'test_psnr') but
  for a task scored otherwise (tasks.base.Task.scores)."""
  return tasks.task_class(member.config).scores


def write_results_csv(path, members: Sequence[Entry],
                      rows: Sequence[dict[str, Any]]):
  """results.csv: name, the override keys, status, the members' scores,
  then RESULT_FIELDS; atomically."""
  keys = list(dict.fromkeys(k for m in members for k in m.overrides))
  names = list(dict.fromkeys(s for m in members for s in scores(m)))
  with outputs.atomic_open(path) as f:
    writer = csv.DictWriter(f, ['name', *keys, 'status', *names,
                                *RESULT_FIELDS], restval='')
    writer.writeheader()
    writer.writerows(rows)


def outcome(rows: Sequence[dict[str, Any]], workdir) -> str:
  """The line the command prints at the end: how many members failed."""
  failed = sum(row['status'] == 'failed' for row in rows)
  results = pathlib.Path(workdir) / 'results.csv'
  if failed:
    return f'{failed} of {len(rows)} sweep members failed; see {results}'
  return f'all {len(rows)} sweep members finished; see {results}'


def swept_numeric_field(members: Sequence[Entry]) -> str | None:
  """The one override key whose values vary, if it is numeric everywhere."""
  keys = dict.fromkeys(k for m in members for k in m.overrides)
  varying = [k for k in keys
             if len({repr(m.overrides.get(k)) for m in members}) > 1]
  if len(varying) != 1:
    return None
  values = [m.overrides.get(varying[0]) for m in members]
  numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in values)
  return varying[0] if numeric else None


def write_figures(workdir: pathlib.Path, members: Sequence[Entry],
                  rows: Sequence[dict[str, Any]]):
  """comparison.png (for tasks that write reconstruction.png: not 1D
  signals), curves.png and psnr_vs_FIELD.png, from finished members."""
  finished = [m for m, row in zip(members, rows) if row['status'] == 'finished']
  if not finished:
    return
  if (finished[0].workdir / 'reconstruction.png').exists():
    plot_comparison(workdir / 'comparison.png', members, rows)
  plot_test_curves(workdir / 'curves.png', members)
  field = swept_numeric_field(members)
  if field:
    name = re.sub(r'[^A-Za-z0-9._-]', '_', short_keys([field])[field])
    task = tasks.task_class(finished[0].config)
    prefix = 'psnr' if task.score_label == 'PSNR (dB)' else task.scores[-1]
    plot_psnr_vs(workdir / f'{prefix}_vs_{name}.png', field, members, rows)


def plot_comparison(path, members: Sequence[Entry],
                    rows: Sequence[dict[str, Any]], max_columns: int = 6):
  """The ground truth, then each member's reconstruction.png, in a grid.

  Panels are labelled with the member name and its test PSNR; a failed
  member's panel is blank and says why in short.
  """
  first = next(m for m, r in zip(members, rows) if r['status'] == 'finished')
  panels = [('ground truth', iio.imread(first.workdir / 'target.png'))]
  for member, row in zip(members, rows):
    if row['status'] == 'finished':
      panels.append((f'{member.name}\n{row["test_psnr"]:.2f} dB',
                     iio.imread(member.workdir / 'reconstruction.png')))
    else:
      panels.append((f'{member.name}\nfailed', None))
  columns = min(len(panels), max_columns)
  grid_rows = -(-len(panels) // columns)
  fig, axes = plt.subplots(grid_rows, columns, squeeze=False, dpi=120,
                           figsize=(2.2 * columns, 2.7 * grid_rows))
  for ax in axes.flat:
    ax.axis('off')
  for ax, (label, image) in zip(axes.flat, panels):
    if image is not None:
      ax.imshow(image, interpolation='nearest')
    ax.set_title(label, fontsize=8)
  outputs.save_figure(fig, path)


def plot_test_curves(path, members: Sequence[Entry]):
  """The headline score (test PSNR) against step for every member with
  evaluations."""
  fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
  for member in members:
    rows = outputs.read_metrics(member.workdir / 'metrics.jsonl', math.inf)
    if rows:
      ax.plot([r['step'] for r in rows], [r[scores(member)[-1]] for r in rows],
              label=member.name)
  task = tasks.task_class(members[0].config)
  ax.set_xlabel('step')
  ax.set_ylabel(f'{task.scores[-1]} ({task.score_label})')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, ncol=1 + len(members) // 8)
  outputs.save_figure(fig, path)


def plot_psnr_vs(path, field: str, members: Sequence[Entry],
                 rows: Sequence[dict[str, Any]]):
  """Final scores (train and test PSNR) against the swept value; log x
  past a 10x span."""
  finished = [(m, r) for m, r in zip(members, rows)
              if r['status'] == 'finished']
  task = tasks.task_class(finished[0][0].config)
  points = np.array(sorted([m.overrides[field], *(r[s] for s in task.scores)]
                           for m, r in finished), float)
  fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
  for column, (name, marker) in enumerate(zip(task.scores, 'os^v'), 1):
    ax.plot(points[:, 0], points[:, column], f'{marker}-',
            label=name.removesuffix('_psnr'))
  if points[:, 0].min() > 0 and points[:, 0].max() > 10 * points[:, 0].min():
    ax.set_xscale('log')
  ax.set_xlabel(field)
  ax.set_ylabel(f'final {task.score_label}')
  ax.grid(alpha=0.3)
  ax.legend()
  outputs.save_figure(fig, path)


class _CallableModule(types.ModuleType):
  """This module, callable: `cppn.sweep(...)` is the API's sweep (cppn/api.py)
  while `from cppn import sweep` still gives the module."""

  def __call__(self, config_module_or_list, workdir=None,
               progress: bool = False) -> list[dict[str, Any]]:
    from cppn import api  # pylint: disable=g-import-not-at-top
    return api.sweep(config_module_or_list, workdir, progress)

  __call__.__doc__ = 'cppn.api.sweep: fits a sweep\'s members, returns its table.'


sys.modules[__name__].__class__ = _CallableModule
