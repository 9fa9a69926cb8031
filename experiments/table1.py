r"""Table 1 of Tancik et al. 2020: images, CT, MRI, 3D shape and NeRF rows.

Natural and text images x the encodings none / basic / positional
(log_linear, sigma_p) / gaussian (sigma_g), the paper's network (4 x 256
ReLU MLP, m = 256, sigmoid output), paper split (train [::2, ::2], test
[1::2, 1::2]), full-batch Adam; per data set the paper's settings:

  natural  sigma_g 10, sigma_p 6, lr 1e-3 (1e-2 for none and basic)
  text     sigma_g 14, sigma_p 5, lr 1e-3 for all

quoted at 512 px and scaled to the preset's resolution N (sigma_g * N / 512,
sigma_p - log2(512 / N)). Natural set: bundled photographs, their largest
centred square downsampled to N; text set: generated 512-px text images
(text:0, text:1, ...), centre-cropped to N (data.crop = N: a crop keeps the
letters' size in pixels, which sigma_g * N / 512 assumes; downsampled, their
strokes would be too thin to interpolate). The paper's own images replace
either set: --natural_npz / --text_npz (FILE.npz, images of 'test_data') or
--natural_dir / --text_dir (a folder of image files, sorted by name; the
form they circulate in), read the same way. The fits of one encoding (both
sets) differ only in data.image, data.crop, encoding.sigma (gaussian) or
encoding.sigma_p (positional) and train.learning_rate, so they train as one
train.train_group.

The CT and MRI rows (cppn/tasks/ct.py, mri.py) fit perturbed Shepp-Logan
phantoms through the paper's operators with its settings, which are in
cycles per unit of the object and so are not rescaled with the resolution:

  ct   20 projections, sigma_g 4, sigma_p 3, lr 1e-2 (none, basic) and 1e-3;
       2D phantoms shepp:8.. (the paper's test phantoms 8-15)
  mri  ~12.6% of 3D k-space, sigma_g 5, sigma_p 4, lr 2e-3 for all; 3D
       phantoms shepp:6.. (the paper fitted ATLAS brains: not reachable, its
       level is not comparable)

Their PSNR is the clipped reconstruction's over every pixel or voxel. A fit
whose output ends constant (std of the clipped reconstruction < COLLAPSED_STD,
what lr 1e-2 does to none and basic on CT) is marked collapsed in the report,
at the paper's learning rate.

The shape and NeRF rows fit configs/occupancy.py and configs/nerf.py
(cppn/tasks/occupancy.py, nerf.py) with the paper's settings, their scales
in radians or cycles per world unit, not rescaled:

  shape  IoU at 0.5 on near-surface points (Table 1's number), sigma_g 12,
         sigma_p 6, lr 5e-4 x 0.1^(step / (steps / 2)) for all; the
         procedural bumpy solid (the paper's Stanford scans are not
         reachable), or bunny, gyroid
  nerf   test-view PSNR of the generated scene (the paper: Lego), sigma_g
         26, sigma_p 8, lr 1e-2 (none), 5e-3 (basic), 5e-4

A row's preset may set other scales (TaskRow.sigma, sigma_p: the cpu
preset's smaller views and volumes resolve less, see CPU_TASK_ROWS) and
other config fields (TaskRow.overrides: fewer points, rays or samples).

  python -m experiments.table1 --preset=cpu --workdir=runs/table1 \
      [--rows=natural,text,ct,mri,shape,nerf] \
      [--matmul_precision=float32|tensorfloat32|bfloat16] [--noprogress] \
      [--natural_npz=data_div2k.npz | --natural_dir=DIR] \
      [--text_npz=data_2d_text.npz | --text_dir=DIR] [--images=K]

--rows chooses the rows (default all six). --images=K fits only the first K
images, phantoms or shapes of each row (0, the default: the preset's
count), so a CPU can run the paper preset's full protocol on a few. Writes
runs/ (one cppn run per fit), table1.md (per row, mean +- std of its score
over images next to the paper's numbers: PSNR, or IoU for shape; each
image's scores; wall time), table1.json (the same, per cell: its 'score'
field's values and 'train_psnr' per image of 'images'), table1.png (the
table as bars, the paper's numbers as marks) and table1_examples.png (one
image per image or CT row and its four reconstructions). Expect the paper's
ranking none < basic < positional < gaussian; the absolute values differ
(other images, shapes and scenes, lower resolution, fewer steps). At the cpu
preset's sizes, over three test phantoms a row, MRI keeps that ranking and
CT's Gaussian leads, but CT's positional ends level with basic
(docs/reproducing.md).
Presets: tiny (seconds), cpu (images: 128 px, 4 + 4 images, 400 steps; the
task rows in CPU_TASK_ROWS; times and numbers in docs/reproducing.md),
paper (512 px, 2000 steps, the 9 bundled photographs of at least 512 px and
16 text images, or 16 + 16 of the paper's; CT 512 px and MRI 96^3 on 8
and 6 phantoms, 1000 steps; shape and NeRF at the full protocol; for a
GPU).
"""

import dataclasses
import pathlib
import time
from typing import Any

import matplotlib
import ml_collections
import numpy as np

from absl import flags

from configs import default
from configs import nerf as nerf_config
from configs import occupancy as occupancy_config
from cppn import cli
from cppn import data
from cppn import models
from cppn import outputs
from cppn import tasks
from cppn.errors import CppnError
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

ENCODINGS = ('none', 'basic', 'positional', 'gaussian')
DATASETS = ('natural', 'text')  # the 2D image rows
# Rows fitted by an engine task (row: task.name), through an operator (CT,
# MRI), a point set (shape) or a renderer (NeRF); their configs' bases.
TASK_ROWS = {'ct': 'ct', 'mri': 'mri', 'shape': 'occupancy', 'nerf': 'nerf'}
BASE_CONFIGS = {'shape': occupancy_config.get_config,
                'nerf': nerf_config.get_config}  # others: configs/default.py
ROWS = DATASETS + tuple(TASK_ROWS)
# Table 1 of the paper, in each row's score: images, PSNR (dB), mean over 16
# at 512 px (test pixels); CT, 8 Shepp-Logan phantoms at 512 px; MRI, 6
# ATLAS volumes at 96^3; shape, IoU on near-surface points, mean over
# Stanford scans; NeRF, test-view PSNR on Lego at 400 px.
PAPER_SCORES = {
    'natural': {'none': 19.32, 'basic': 21.71, 'positional': 24.95,
                'gaussian': 25.57},
    'text': {'none': 18.40, 'basic': 20.48, 'positional': 27.57,
             'gaussian': 30.47},
    'ct': {'none': 16.75, 'basic': 23.31, 'positional': 26.89,
           'gaussian': 28.33},
    'mri': {'none': 26.14, 'basic': 28.58, 'positional': 32.23,
            'gaussian': 34.51},
    'shape': {'none': 0.864, 'basic': 0.892, 'positional': 0.960,
              'gaussian': 0.973},
    'nerf': {'none': 22.41, 'basic': 23.16, 'positional': 25.28,
             'gaussian': 25.48},
}
# A fit whose output has a smaller std has collapsed to a constant (the
# clipped reconstruction of CT and MRI; NeRF's test renders, every density
# ReLU dead).
COLLAPSED_STD = 1e-3


@dataclasses.dataclass(frozen=True)
class DatasetSetting:
  """The paper's per-data-set hyperparameters, quoted at 512 px."""
  sigma: float  # sigma_g of the gaussian encoding
  sigma_p: float  # sigma_p of the positional encoding (log_linear)
  learning_rates: dict[str, float]  # Adam learning rate per encoding


SETTINGS = {
    'natural': DatasetSetting(10.0, 6.0, {'none': 1e-2, 'basic': 1e-2,
                                          'positional': 1e-3,
                                          'gaussian': 1e-3}),
    'text': DatasetSetting(14.0, 5.0, {name: 1e-3 for name in ENCODINGS}),
    # CT and MRI: in cycles per unit of the object, at any resolution.
    'ct': DatasetSetting(4.0, 3.0, {'none': 1e-2, 'basic': 1e-2,
                                    'positional': 1e-3, 'gaussian': 1e-3}),
    'mri': DatasetSetting(5.0, 4.0, {name: 2e-3 for name in ENCODINGS}),
    # shape: cycles per unit of the normalised cube; NeRF: radians per world
    # unit (configs/occupancy.py, configs/nerf.py).
    'shape': DatasetSetting(12.0, 6.0, {name: 5e-4 for name in ENCODINGS}),
    'nerf': DatasetSetting(26.0, 8.0, {'none': 1e-2, 'basic': 5e-3,
                                       'positional': 5e-4,
                                       'gaussian': 5e-4}),
}


def row_score(dataset: str) -> tuple[str, str]:
  """(summary field, axis label) of a row's score: its task's headline."""
  task = tasks.TASKS[TASK_ROWS.get(dataset, 'image')]
  return task.scores[-1], task.score_label


def format_score(dataset: str, value: float) -> str:
  """A row's score as the paper prints it: IoU 0.973, PSNR 28.33."""
  return f'{value:.3f}' if row_score(dataset)[0].startswith('iou') else (
      f'{value:.2f}')


@dataclasses.dataclass(frozen=True)
class TaskRow:
  """A preset's task row (TASK_ROWS): its sources, resolution, schedule and
  the fields it sets beyond the paper's."""
  sources: tuple[str, ...]  # data.image of each fit: phantoms, shapes, scenes
  # data.resolution: CT N x N px, MRI N^3 voxels, shape the N^3 grid of
  # fit.obj's marching cubes, NeRF N px views
  resolution: int
  num_steps: int
  sigma: float | None = None  # sigma_g, where not the paper's (SETTINGS)
  sigma_p: float | None = None  # sigma_p, where not the paper's (SETTINGS)
  # other config fields, dotted ('task.num_samples'); also the network of
  # the shape and NeRF rows, which is otherwise their config's
  overrides: dict[str, Any] = dataclasses.field(default_factory=dict)


def row_setting(dataset: str, row: dict[str, Any] | None) -> DatasetSetting:
  """The paper's setting of a row (SETTINGS), with the scales a task row sets
  in their place. row: a TaskRow's fields (dataclasses.asdict, or its entry
  in table1.json), or None for an image row."""
  scales = {name: row[name] for name in ('sigma', 'sigma_p')
            if row and row.get(name) is not None}
  return dataclasses.replace(SETTINGS[dataset], **scales)


def preset_setting(preset: 'Preset', dataset: str) -> DatasetSetting:
  """The setting `preset` fits the row `dataset` with."""
  row = preset.task_row(dataset)
  return row_setting(dataset, row and dataclasses.asdict(row))


@dataclasses.dataclass(frozen=True)
class Preset:
  """Images, resolution and schedule of one run of the table."""
  natural_images: tuple[str, ...]  # data.load_target sources
  text_images: tuple[str, ...]
  num_paper_images: int  # images read from each of the paper's files/folders
  resolution: int  # N
  num_steps: int  # full-batch Adam steps per fit
  # the image, CT and MRI rows' network (the paper's 4 x 256, m = 256)
  depth: int = 4  # model.depth (Dense layers, output included)
  width: int = 256  # model.width
  num_features: int = 256  # m (2m features) for positional and gaussian
  num_evals: int = 10  # evaluations per fit (metrics, GIF frames)
  task_rows: dict[str, TaskRow] = dataclasses.field(default_factory=dict)

  def task_row(self, dataset: str) -> TaskRow | None:
    """The TaskRow of a task row (TASK_ROWS); None for an image row."""
    return self.task_rows.get(dataset)


def shepp(first: int, count: int) -> tuple[str, ...]:
  """Phantom sources shepp:first .. shepp:first+count-1."""
  return tuple(f'shepp:{k}' for k in range(first, first + count))


# The cpu preset's task rows (docs/reproducing.md has their numbers and
# times). CT and MRI: the paper's learning rates; the scales chosen by
# measurement on the paper's grid-search phantoms (CT shepp:0-3, 128 px,
# 1000 steps, mean: sigma_p 3 28.16 dB, 4 28.78, 5 29.20; sigma_g 2 31.39,
# 3 31.19, 4 30.31, 5 30.01, 6 29.76; basic 28.08; MRI shepp:0 / shepp:1,
# 32^3, 500 steps: sigma_g 2 31.79 / 32.76, 3 30.53 on shepp:1 (31.09 on
# shepp:0 and 4 28.76 in a separate transcription of the notebook);
# sigma_p 3 collapsed to a constant on shepp:0, 3.5 32.05 / 32.66; basic
# 29.65 / 29.55). Three test phantoms per row, as a phantom's score moves
# by about 1 dB with the initial weights and the step a run stops at
# (--images=1 fits the first alone, a third of the time). Shape: a
# quarter of the paper's points per step, a tenth of its steps (the decay
# follows) and of its test points; near-surface IoU 0.603, 0.698, 0.831,
# 0.841. NeRF: 64 px views, 32 samples, 512 rays a step; 10.20 dB (none
# collapsed), 16.78, 21.13, 20.54; its scales chosen by measurement on the 7 validation
# views (mean PSNR after 500 steps): sigma_g 26 (the paper's, at 400 px)
# 11.90 dB, 13 16.87, 6.5 19.45, 3.25 18.58; sigma_p 8 (the paper's) 19.61,
# 6 19.92, 4.5 19.66.
CPU_TASK_ROWS = {
    'ct': TaskRow(shepp(8, 3), 128, 1000, sigma=2.0, sigma_p=5.0),
    'mri': TaskRow(shepp(6, 3), 32, 500, sigma=2.0, sigma_p=3.5),
    'shape': TaskRow(('bumpy',), 64, 1000,
                     overrides={'task.points_per_step': 8192,
                                'task.test_points': 2 ** 16}),
    'nerf': TaskRow(('synthetic',), 64, 1000, sigma=6.5, sigma_p=6.0,
                    overrides={'task.num_samples': 32,
                               'task.rays_per_step': 512}),
}
# The tiny preset's network, for the rows whose config sets its own.
TINY_NETWORK = {'model.depth': 2, 'model.width': 16}
PRESETS = {
    'tiny': Preset(natural_images=('astronaut',), text_images=('text:0',),
                   num_paper_images=1, resolution=32, num_steps=20, depth=2,
                   width=16, num_features=8, num_evals=1,
                   task_rows={'ct': TaskRow(shepp(8, 1), 16, 20),
                              'mri': TaskRow(shepp(6, 1), 8, 20),
                              'shape': TaskRow(('sphere',), 16, 20, overrides={
                                  'task.points_per_step': 512,
                                  'task.test_points': 1024, **TINY_NETWORK}),
                              'nerf': TaskRow(('synthetic',), 12, 20,
                                              overrides={
                                                  'task.num_samples': 8,
                                                  'task.rays_per_step': 64,
                                                  **TINY_NETWORK})}),
    'cpu': Preset(natural_images=('astronaut', 'chelsea', 'coffee', 'rocket'),
                  text_images=tuple(f'text:{i}' for i in range(4)),
                  num_paper_images=4, resolution=128, num_steps=400,
                  task_rows=CPU_TASK_ROWS),
    # The bundled photographs with a side of at least 512 px (chelsea,
    # coffee, rocket and motorcycle are smaller); the shapes and the scene
    # at the full protocol (the bunny needs cppn[shapes]).
    'paper': Preset(natural_images=(
        'astronaut', 'hubble_deep_field', 'immunohistochemistry', 'retina',
        'camera', 'brick', 'grass', 'gravel', 'moon'),
                    text_images=tuple(f'text:{i}' for i in range(16)),
                    num_paper_images=16, resolution=512, num_steps=2000,
                    task_rows={'ct': TaskRow(shepp(8, 8), 512, 1000),
                               'mri': TaskRow(shepp(6, 6), 96, 1000),
                               'shape': TaskRow(('bunny', 'bumpy', 'gyroid'),
                                                128, 10000),
                               'nerf': TaskRow(('synthetic',), 400, 50000)}),
}


def encoding_fields(preset: Preset, dataset: str,
                    encoding: str) -> dict[str, Any]:
  """The encoding fields (paper_config's keywords) the encoding reads, at
  the paper's setting for the row; an image row's scaled to the preset's
  resolution."""
  scaled, setting = dataset in DATASETS, preset_setting(preset, dataset)
  if encoding == 'positional':
    return dict(encoding__spacing='log_linear',
                encoding__sigma_p=(common.sigma_p_at(setting.sigma_p,
                                                     preset.resolution)
                                   if scaled else setting.sigma_p),
                encoding__num_features=preset.num_features)
  if encoding == 'gaussian':
    return dict(encoding__sigma=(common.sigma_at(setting.sigma,
                                                 preset.resolution)
                                 if scaled else setting.sigma),
                encoding__num_features=preset.num_features)
  return {}  # none, basic: nothing to set


def row_fields(preset: Preset, dataset: str,
               base: ml_collections.ConfigDict) -> dict[str, Any]:
  """A row's own fields (paper_config's keywords): the task, the network
  (image, CT and MRI rows: the preset's; shape and NeRF: their config's),
  the decay's steps, the overrides; an image row's crop. base: the config
  the row's fits start from, as its get_config returns it."""
  if dataset not in TASK_ROWS:
    return dict(data__crop=preset.resolution if dataset == 'text' else 0,
                model__depth=preset.depth, model__width=preset.width)
  row = preset.task_row(dataset)
  fields = dict(task__name=TASK_ROWS[dataset])
  if dataset in BASE_CONFIGS:
    if base.train.lr_decay_rate != 1:  # the decay keeps its share of steps
      fields['train__lr_decay_steps'] = max(
          1, base.train.lr_decay_steps * row.num_steps // base.train.num_steps)
  else:
    fields.update(model__depth=preset.depth, model__width=preset.width)
  fields.update({key.replace('.', '__'): value
                 for key, value in row.overrides.items()})
  return fields


def fit_config(preset: Preset, dataset: str, encoding: str, image: str,
               matmul_precision: str = 'float32'):
  """The config of one fit: the paper's setting for (row, encoding); text
  images are centre-cropped to the resolution (data.crop)."""
  row = preset.task_row(dataset)
  resolution, num_steps = ((row.resolution, row.num_steps) if row else
                           (preset.resolution, preset.num_steps))
  base = BASE_CONFIGS.get(dataset, default.get_config)()
  fields = row_fields(preset, dataset, base)  # before paper_config changes base
  return common.paper_config(
      resolution, num_steps, preset.num_evals, base, data__image=image,
      encoding__name=encoding, **encoding_fields(preset, dataset, encoding),
      model__matmul_precision=matmul_precision,
      train__learning_rate=preset_setting(
          preset, dataset).learning_rates[encoding],
      **fields)


def paper_images(npz: str | None, folder: str | None,
                 count: int) -> list[str] | None:
  """The first `count` image sources of the paper's data, given as an npz
  file or a folder of image files; None when neither is given."""
  if npz and folder:
    raise CppnError(f'both {npz} and {folder} given for one set; choose the '
                    'npz file or the folder')
  if npz:
    return [f'{npz}:test_data:{i}' for i in range(count)]
  if folder:
    available = len(data.folder_images(folder))
    if available < count:
      raise CppnError(f'folder {folder} holds {available} image files, fewer '
                      f'than the {count} to fit (--images=K fits fewer)')
    return [f'{folder}:{i}' for i in range(count)]
  return None


def image_sets(preset: Preset, num_images: int = 0,
               paper: dict[str, tuple[str | None, str | None]] | None = None,
               rows: tuple[str, ...] = DATASETS) -> dict[str, list[str]]:
  """The image (or phantom) sources of each row.

  Args:
    preset: its bundled and generated images, how many of the paper's, its
      phantoms.
    num_images: the first K images of each set; 0: the preset's count.
    paper: per set, (npz file, folder) of the paper's images, either None.
    rows: the rows to fit (ROWS).
  """
  paper = paper or {}
  bundled = {'natural': preset.natural_images, 'text': preset.text_images,
             **{name: row.sources for name, row in preset.task_rows.items()}}
  sets = {}
  for name in rows:
    npz, folder = paper.get(name, (None, None))
    limit = preset.num_paper_images if npz or folder else len(bundled[name])
    if num_images > limit:
      raise CppnError(f'--images={num_images} is more than the {name} set '
                      f'holds ({limit}); choose 1..{limit}, or 0 for all')
    count = num_images or limit
    sets[name] = (paper_images(npz, folder, count)
                  or list(bundled[name][:count]))
  return sets


def fit_keys(sets: dict[str, list[str]], encodings=ENCODINGS
             ) -> list[tuple[str, str, str]]:
  """(row, encoding, image) of every fit, encoding by encoding: the fits of
  one encoding (both image sets; a task row's phantoms) differ only in
  VALUE_FIELDS, so they train as one group."""
  return [(dataset, encoding, image) for encoding in encodings
          for dataset in sets for image in sets[dataset]]


def folder_name(image: str) -> str:
  """An image source as a folder name: 'text:0' -> 'text_0', paths -> name."""
  return pathlib.Path(image.replace(':', '_')).name


def run_dir(workdir: pathlib.Path, dataset: str, encoding: str,
            image: str) -> pathlib.Path:
  """runs/<dataset>/<encoding>/<image's folder name>."""
  return workdir / 'runs' / dataset / encoding / folder_name(image)


def parse_rows(rows: str) -> tuple[str, ...]:
  """--rows ('natural,text,ct,mri') as a tuple in ROWS order."""
  names = [name for name in rows.split(',') if name]
  unknown = [name for name in names if name not in ROWS]
  if unknown or not names:
    raise CppnError(f"--rows={rows} names {', '.join(unknown) or 'no row'}; "
                    f"choose among {', '.join(ROWS)}")
  return tuple(name for name in ROWS if name in names)


def run(preset_name: str, workdir: pathlib.Path, progress: bool,
        natural_npz=None, text_npz=None, natural_dir=None, text_dir=None,
        images: int = 0, matmul_precision: str = 'float32',
        rows: str = ','.join(ROWS)) -> dict[str, Any]:
  """Fits every (row, encoding, image); writes the table, JSON and figures.

  `images` is --images: the first K images of each row (0: all); `rows` is
  --rows.
  """
  start = time.time()
  preset = PRESETS[preset_name]
  rows = parse_rows(rows)
  sets = image_sets(preset, images, {'natural': (natural_npz, natural_dir),
                                     'text': (text_npz, text_dir)}, rows)
  keys = fit_keys(sets)
  runs = [run_dir(workdir, *key) for key in keys]
  results = dict(zip(keys, common.train_all(
      [fit_config(preset, *key, matmul_precision) for key in keys], runs,
      progress)))
  cells = {}
  for dataset in rows:
    score = row_score(dataset)[0]
    for encoding in ENCODINGS:
      fits = [results[dataset, encoding, image] for image in sets[dataset]]
      mean, std = common.mean_std([r.get(score) for r in fits])
      paper = PAPER_SCORES[dataset][encoding]
      cells[f'{dataset}/{encoding}'] = {
          'dataset': dataset, 'encoding': encoding, 'score': score,
          'mean': mean, 'std': std, 'paper': paper, 'images': sets[dataset],
          score: [r.get(score) for r in fits],
          'train_psnr': [r.get('train_psnr') for r in fits],
          'errors': [r.get('error') for r in fits],
          'collapsed': [r.get('output_std', 1.0) < COLLAPSED_STD
                        for r in fits],
          'group_seconds': max(r.get('wall_seconds', 0) for r in fits),
          'run_dirs': [str(run_dir(workdir, dataset, encoding, image)
                           .relative_to(workdir))
                       for image in sets[dataset]]}
      print(f'{dataset:8s} {encoding:10s} {score} '
            f'{_cell(dataset, mean, std)} (paper '
            f'{format_score(dataset, paper)})', flush=True)
  result = {'preset': preset_name, 'settings': dataclasses.asdict(preset),
            'rows': list(rows), 'matmul_precision': matmul_precision,
            'dataset_settings': {
                k: row_description(preset, k) for k in SETTINGS if k in rows},
            'machine': common.machine(),
            'minutes': (time.time() - start) / 60,
            'fit_minutes': common.fit_minutes(list(results.values())),
            'cells': cells}
  common.write_report(workdir, 'table1', result, markdown(result))
  plot_bars(workdir / 'table1.png', result)
  plot_examples(workdir / 'table1_examples.png', workdir, result)
  return result


def row_description(preset: Preset, dataset: str) -> dict[str, Any]:
  """A row's setting (DatasetSetting's fields) and the network it fits
  (depth, width, num_features: its gaussian fit's)."""
  config = fit_config(preset, dataset, 'gaussian', 'unused')
  return {**dataclasses.asdict(preset_setting(preset, dataset)),
          'depth': config.model.depth, 'width': config.model.width,
          'num_features': config.encoding.num_features}


# What a row's sources are, in its table line and bar title.
SOURCE_NOUNS = {'ct': 'phantom', 'mri': 'phantom', 'shape': 'shape',
                'nerf': 'scene'}


def count_sources(dataset: str, count: int) -> str:
  """A count of a row's sources in its noun: '1 phantom', '4 images'."""
  noun = SOURCE_NOUNS.get(dataset, 'image')
  return f'{count} {noun}' + ('' if count == 1 else 's')


def _cell(dataset: str, mean, std) -> str:
  """'mean +- std' in the row's score, or 'failed'."""
  return ('failed' if mean is None else
          f'{format_score(dataset, mean)} ± {format_score(dataset, std)}')


def _table_rows(cells, rows) -> list[str]:
  """Markdown lines: per row ours (mean +- std, '(k collapsed)') and the
  paper's."""
  lines = ['| | ' + ' | '.join(ENCODINGS) + ' |',
           '|---' * (len(ENCODINGS) + 1) + '|']
  for dataset in rows:
    row = [cells[f'{dataset}/{e}'] for e in ENCODINGS]
    ours = [_cell(dataset, c['mean'], c['std'])
            + (f' ({sum(c["collapsed"])} collapsed)'
               if any(c.get('collapsed', ())) else '') for c in row]
    lines.append(f'| {dataset} (ours, '
                 f'{count_sources(dataset, len(row[0]["images"]))}) | '
                 + ' | '.join(ours) + ' |')
    lines.append(f'| {dataset} (paper) | ' + ' | '.join(
        format_score(dataset, c['paper']) for c in row) + ' |')
  return lines


# What a task row's fits see, in its settings line: data.resolution N.
GRIDS = {'ct': '{n} x {n} px', 'mri': '{n}^3 voxels',
         'shape': 'fit.obj from a {n}^3 grid', 'nerf': '{n} px views'}
# Each task row's section of table1.md: its title and what it measures.
SECTIONS = {
    'ct': ('2D CT', 'PSNR (dB) of the clipped reconstruction over every '
           'pixel, mean ± std over perturbed Shepp-Logan phantoms. Paper: 8 '
           'Shepp-Logan phantoms at 512 px, 1000 steps.'),
    'mri': ('3D MRI', 'PSNR (dB) of the clipped reconstruction over every '
            'voxel, mean ± std over perturbed Shepp-Logan phantoms. Paper: 6 '
            'ATLAS brain volumes at 96^3 (not comparable in level), 1000 '
            'steps.'),
    'shape': ('3D shape occupancy', 'IoU at 0.5 on near-surface test points '
              '(a point of the surface plus N(0, 0.01^2): Table 1\'s '
              'number), mean ± std over shapes. Paper: Stanford scans '
              '(dragon, armadillo, buddha; not reachable, so only the '
              'ordering carries over), 10,000 steps.'),
    'nerf': ('Simple NeRF', 'PSNR (dB) of the test views (the mean over the '
             'views), mean ± std over scenes. Paper: Blender\'s Lego at 400 '
             'px (not reachable, so only the ordering carries over), 50,000 '
             'steps.'),
}


def task_settings(result, dataset: str) -> str:
  """One line: a task row's grid, steps, network, scales, rates, sources
  and the config fields it sets."""
  row = result['settings']['task_rows'][dataset]
  setting = result['dataset_settings'][dataset]
  rates = ', '.join(f'{e} {setting["learning_rates"][e]:g}'
                    for e in ENCODINGS)
  fields = ''.join(f', {key} {value:g}' if isinstance(value, (int, float))
                   else f', {key} {value}'
                   for key, value in row.get('overrides', {}).items())
  return (f'- {dataset}: {GRIDS[dataset].format(n=row["resolution"])}, '
          f'{row["num_steps"]} Adam steps, {setting["depth"]} x '
          f'{setting["width"]} MLP, m = {setting["num_features"]}, sigma_g '
          f'{setting["sigma"]:g}, sigma_p {setting["sigma_p"]:g}; learning '
          f'rates {rates}; sources '
          f'{", ".join(result["cells"][dataset + "/none"]["images"])}'
          f'{fields}')


def markdown(result) -> str:
  """Table 1 (ours beside the paper's), per-image scores, timing."""
  cells, settings = result['cells'], result['settings']
  rows = result.get('rows', DATASETS)
  image_rows = [r for r in rows if r in DATASETS]
  lines = [f'# Table 1 (preset {result["preset"]})', '',
           f'{result["matmul_precision"]} matmuls; the paper\'s learning '
           'rates (a fit marked collapsed ended with a constant output).', '']
  if image_rows:
    lines += [
        '## 2D images', '',
        f'Test PSNR (dB), mean ± std over images; {settings["resolution"]} '
        f'px, {settings["num_steps"]} Adam steps, {settings["depth"]} x '
        f'{settings["width"]} MLP, m = {settings["num_features"]}. Paper: 16 '
        'images per set at 512 px, 2000 steps.', ''] + _table_rows(
            cells, image_rows) + ['']
  for dataset in (r for r in rows if r in TASK_ROWS):
    title, text = SECTIONS[dataset]
    lines += [f'## {title}', '', text, '', task_settings(result, dataset),
              ''] + _table_rows(cells, [dataset]) + ['']
  lines += [f'Wall time of the whole table: {result["minutes"]:.1f} '
            f'minutes on {result["machine"]} (training: '
            f'{result["fit_minutes"]:.1f} minutes, summed over the groups\' '
            'runs, also when a rerun skipped them).', '', '## Per image', '',
            '| set | image | ' + ' | '.join(ENCODINGS) + ' |',
            '|---|---' + '|---' * len(ENCODINGS) + '|']
  for dataset in rows:
    row = [cells[f'{dataset}/{e}'] for e in ENCODINGS]
    for index, image in enumerate(row[0]['images']):
      lines.append(f'| {dataset} | {image} | ' + ' | '.join(
          'failed' if c[c['score']][index] is None
          else format_score(dataset, c[c['score']][index])
          + (' (collapsed)' if c['collapsed'][index] else '')
          for c in row) + ' |')
  failures = [(key, image, error) for key, c in cells.items()
              for image, error in zip(c['images'], c['errors']) if error]
  if failures:
    lines += ['', '## Failed fits', ''] + [
        f'- {key} {image}: {error}' for key, image, error in failures]
  return '\n'.join(lines) + '\n'


def plot_bars(path, result):
  """Grouped bars of each row's mean score (+- std) per encoding, the
  paper's as marks."""
  rows = result.get('rows', DATASETS)
  fig, axes = plt.subplots(1, len(rows), figsize=(4.5 * len(rows), 3.4),
                           dpi=100, squeeze=False)
  axes = axes[0]
  positions = np.arange(len(ENCODINGS))
  for ax, dataset in zip(axes, rows):
    cells = [result['cells'][f'{dataset}/{e}'] for e in ENCODINGS]
    means = [c['mean'] if c['mean'] is not None else np.nan for c in cells]
    stds = [c['std'] if c['std'] is not None else 0 for c in cells]
    ax.bar(positions, means, yerr=stds, capsize=3, color='tab:blue',
           alpha=0.8, label='ours')
    ax.plot(positions, [c['paper'] for c in cells], 'k_', markersize=22,
            markeredgewidth=2, label='paper')
    ax.set_xticks(positions, ENCODINGS)
    sources = count_sources(dataset, len(cells[0]['images']))
    ax.set_title(f'{dataset} ({sources})', fontsize=10)
    ax.set_ylabel(row_score(dataset)[1])
    ax.grid(axis='y', alpha=0.3)
  axes[0].legend(fontsize=8, loc='upper left')
  outputs.save_figure(fig, path)


# Rows whose runs write target.png and reconstruction.png pictures.
PICTURED_ROWS = DATASETS + ('ct',)


def plot_examples(path, workdir: pathlib.Path, result):
  """Per pictured row (images, CT), one image's target and its
  reconstruction per encoding; nothing when no such row was fitted.

  The image is the row's first one that every encoding fitted.
  """
  rows = [r for r in result.get('rows', DATASETS) if r in PICTURED_ROWS]
  if not rows:
    return
  fig, axes = plt.subplots(len(rows), len(ENCODINGS) + 1, dpi=100,
                           figsize=(2.1 * (len(ENCODINGS) + 1),
                                    2.3 * len(rows)), squeeze=False)
  for ax_row, dataset in zip(axes, rows):
    cells = [result['cells'][f'{dataset}/{e}'] for e in ENCODINGS]
    fitted = [i for i in range(len(cells[0]['images']))
              if all(c['test_psnr'][i] is not None for c in cells)]
    if not fitted:
      common.image_row(ax_row, [])
      continue
    index = fitted[0]
    runs = [workdir / c['run_dirs'][index] for c in cells]
    panels = [(f'{dataset}: {folder_name(cells[0]["images"][index])}',
               runs[0] / 'target.png')]
    panels += [(f'{encoding}\n{cell["test_psnr"][index]:.2f} dB',
                run_path / 'reconstruction.png')
               for encoding, cell, run_path in zip(ENCODINGS, cells, runs)]
    common.image_row(ax_row, panels)
  outputs.save_figure(fig, path)


def define_flags(flag_values: flags.FlagValues):
  """The paper's data, when a user has it; how many images; the matmul
  arithmetic."""
  flags.DEFINE_string('natural_npz', None, 'data_div2k.npz of the paper.',
                      flag_values=flag_values)
  flags.DEFINE_string('text_npz', None, 'data_2d_text.npz of the paper.',
                      flag_values=flag_values)
  flags.DEFINE_string('natural_dir', None, 'A folder of the paper\'s natural '
                      'images as image files (sorted by name).',
                      flag_values=flag_values)
  flags.DEFINE_string('text_dir', None, 'A folder of the paper\'s text images '
                      'as image files (sorted by name).',
                      flag_values=flag_values)
  flags.DEFINE_integer('images', 0, 'Fit the first K images (phantoms) of '
                       'each row; 0: the preset\'s count.', lower_bound=0,
                       flag_values=flag_values)
  flags.DEFINE_enum('matmul_precision', 'float32', models.MATMUL_PRECISIONS,
                    'model.matmul_precision of every fit.',
                    flag_values=flag_values)
  flags.DEFINE_string('rows', ','.join(ROWS), 'Comma-separated rows to fit, '
                      'among ' + ', '.join(ROWS) + '.',
                      flag_values=flag_values)


COMMAND = command.experiment(run, define_flags)

if __name__ == '__main__':
  cli.run(COMMAND)
