r"""Table 1 of Tancik et al. 2020, 2D image rows: test PSNR per encoding and data set.

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

  python -m experiments.table1 --preset=cpu --workdir=runs/table1 \
      [--matmul_precision=float32|tensorfloat32|bfloat16] [--noprogress] \
      [--natural_npz=data_div2k.npz | --natural_dir=DIR] \
      [--text_npz=data_2d_text.npz | --text_dir=DIR] [--images=K]

--images=K fits only the first K images of each set (0, the default: the
preset's count), so a CPU can run the paper preset's full protocol on a few
images. Writes runs/ (one cppn run per fit), table1.md (mean +- std of test
PSNR over images next to the paper's numbers, each image's PSNRs, wall
time), table1.json (the same, per cell: 'test_psnr' and 'train_psnr' per
image of 'images'), table1.png (the table as bars, the paper's numbers as
marks) and table1_examples.png (one image per set and its four
reconstructions). Expect the paper's ranking none < basic < positional <
gaussian on both sets; the absolute values differ (other images, lower
resolution, fewer steps). Presets: tiny (32 px, seconds), cpu (128 px, 4 + 4
images, 400 steps; its time and numbers are in docs/reproducing.md), paper
(512 px, 2000 steps, the 9 bundled photographs of at least 512 px and 16
text images, or 16 + 16 of the paper's; for a GPU).
"""

import dataclasses
import pathlib
import time
from typing import Any

import matplotlib
import numpy as np

from absl import flags

from cppn import cli
from cppn import data
from cppn import models
from cppn import outputs
from cppn.errors import CppnError
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

ENCODINGS = ('none', 'basic', 'positional', 'gaussian')
DATASETS = ('natural', 'text')
# Table 1 of the paper, test PSNR (dB), mean over 16 images at 512 px.
PAPER_PSNR = {
    'natural': {'none': 19.32, 'basic': 21.71, 'positional': 24.95,
                'gaussian': 25.57},
    'text': {'none': 18.40, 'basic': 20.48, 'positional': 27.57,
             'gaussian': 30.47},
}


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
}


@dataclasses.dataclass(frozen=True)
class Preset:
  """Images, resolution and schedule of one run of the table."""
  natural_images: tuple[str, ...]  # data.load_target sources
  text_images: tuple[str, ...]
  num_paper_images: int  # images read from each of the paper's files/folders
  resolution: int  # N
  num_steps: int  # full-batch Adam steps per fit
  depth: int = 4  # model.depth (Dense layers, output included)
  width: int = 256  # model.width
  num_features: int = 256  # m (2m features) for positional and gaussian
  num_evals: int = 10  # evaluations per fit (metrics, GIF frames)


PRESETS = {
    'tiny': Preset(natural_images=('astronaut',), text_images=('text:0',),
                   num_paper_images=1, resolution=32, num_steps=20, depth=2,
                   width=16, num_features=8, num_evals=1),
    'cpu': Preset(natural_images=('astronaut', 'chelsea', 'coffee', 'rocket'),
                  text_images=tuple(f'text:{i}' for i in range(4)),
                  num_paper_images=4, resolution=128, num_steps=400),
    # The bundled photographs with a side of at least 512 px (chelsea,
    # coffee, rocket and motorcycle are smaller).
    'paper': Preset(natural_images=(
        'astronaut', 'hubble_deep_field', 'immunohistochemistry', 'retina',
        'camera', 'brick', 'grass', 'gravel', 'moon'),
                    text_images=tuple(f'text:{i}' for i in range(16)),
                    num_paper_images=16, resolution=512, num_steps=2000),
}


def encoding_fields(preset: Preset, dataset: str,
                    encoding: str) -> dict[str, Any]:
  """The encoding fields (paper_config's keywords) the encoding reads, at
  the paper's setting for the data set scaled to the preset's resolution."""
  setting = SETTINGS[dataset]
  if encoding == 'positional':
    return dict(encoding__spacing='log_linear',
                encoding__sigma_p=common.sigma_p_at(setting.sigma_p,
                                                    preset.resolution),
                encoding__num_features=preset.num_features)
  if encoding == 'gaussian':
    return dict(encoding__sigma=common.sigma_at(setting.sigma,
                                                preset.resolution),
                encoding__num_features=preset.num_features)
  return {}  # none, basic: nothing to set


def fit_config(preset: Preset, dataset: str, encoding: str, image: str,
               matmul_precision: str = 'float32'):
  """The config of one fit: the paper's setting for (dataset, encoding);
  text images are centre-cropped to the resolution (data.crop)."""
  return common.paper_config(
      preset.resolution, preset.num_steps, preset.num_evals, data__image=image,
      data__crop=preset.resolution if dataset == 'text' else 0,
      encoding__name=encoding, **encoding_fields(preset, dataset, encoding),
      model__depth=preset.depth, model__width=preset.width,
      model__matmul_precision=matmul_precision,
      train__learning_rate=SETTINGS[dataset].learning_rates[encoding])


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
               paper: dict[str, tuple[str | None, str | None]] | None = None
               ) -> dict[str, list[str]]:
  """The image sources of each data set.

  Args:
    preset: its bundled and generated images, and how many of the paper's.
    num_images: the first K images of each set; 0: the preset's count.
    paper: per set, (npz file, folder) of the paper's images, either None.
  """
  paper = paper or {}
  bundled = {'natural': preset.natural_images, 'text': preset.text_images}
  sets = {}
  for name in DATASETS:
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
  """(dataset, encoding, image) of every fit, encoding by encoding: the fits
  of one encoding (both sets) differ only in VALUE_FIELDS, so they train as
  one group."""
  return [(dataset, encoding, image) for encoding in encodings
          for dataset in DATASETS for image in sets[dataset]]


def folder_name(image: str) -> str:
  """An image source as a folder name: 'text:0' -> 'text_0', paths -> name."""
  return pathlib.Path(image.replace(':', '_')).name


def run_dir(workdir: pathlib.Path, dataset: str, encoding: str,
            image: str) -> pathlib.Path:
  """runs/<dataset>/<encoding>/<image's folder name>."""
  return workdir / 'runs' / dataset / encoding / folder_name(image)


def run(preset_name: str, workdir: pathlib.Path, progress: bool,
        natural_npz=None, text_npz=None, natural_dir=None, text_dir=None,
        images: int = 0, matmul_precision: str = 'float32') -> dict[str, Any]:
  """Fits every (set, encoding, image); writes the table, JSON and figures.

  `images` is --images: the first K images of each set (0: all).
  """
  start = time.time()
  preset = PRESETS[preset_name]
  sets = image_sets(preset, images, {'natural': (natural_npz, natural_dir),
                                     'text': (text_npz, text_dir)})
  keys = fit_keys(sets)
  runs = [run_dir(workdir, *key) for key in keys]
  results = dict(zip(keys, common.train_all(
      [fit_config(preset, *key, matmul_precision) for key in keys], runs,
      progress)))
  cells = {}
  for dataset in DATASETS:
    for encoding in ENCODINGS:
      fits = [results[dataset, encoding, image] for image in sets[dataset]]
      mean, std = common.mean_std([r.get('test_psnr') for r in fits])
      cells[f'{dataset}/{encoding}'] = {
          'dataset': dataset, 'encoding': encoding, 'mean': mean, 'std': std,
          'paper': PAPER_PSNR[dataset][encoding], 'images': sets[dataset],
          'test_psnr': [r.get('test_psnr') for r in fits],
          'train_psnr': [r.get('train_psnr') for r in fits],
          'errors': [r.get('error') for r in fits],
          'group_seconds': max(r.get('wall_seconds', 0) for r in fits),
          'run_dirs': [str(run_dir(workdir, dataset, encoding, image)
                           .relative_to(workdir))
                       for image in sets[dataset]]}
      print(f'{dataset:8s} {encoding:10s} test PSNR {_cell(mean, std)} '
            f'(paper {PAPER_PSNR[dataset][encoding]:.2f})', flush=True)
  result = {'preset': preset_name, 'settings': dataclasses.asdict(preset),
            'matmul_precision': matmul_precision,
            'dataset_settings': {k: dataclasses.asdict(v)
                                 for k, v in SETTINGS.items()},
            'machine': common.machine(),
            'minutes': (time.time() - start) / 60,
            'fit_minutes': common.fit_minutes(list(results.values())),
            'cells': cells}
  common.write_report(workdir, 'table1', result, markdown(result))
  plot_bars(workdir / 'table1.png', result)
  plot_examples(workdir / 'table1_examples.png', workdir, result)
  return result


def _cell(mean, std) -> str:
  """'mean +- std' in dB, or 'failed'."""
  return 'failed' if mean is None else f'{mean:.2f} ± {std:.2f}'


def markdown(result) -> str:
  """Table 1 (ours beside the paper's), per-image PSNRs, timing."""
  cells, settings = result['cells'], result['settings']
  lines = [
      f'# Table 1, 2D images (preset {result["preset"]})', '',
      f'Test PSNR (dB), mean ± std over images; {settings["resolution"]} px, '
      f'{settings["num_steps"]} Adam steps, {settings["depth"]} x '
      f'{settings["width"]} MLP, m = {settings["num_features"]}, '
      f'{result["matmul_precision"]} matmuls. Paper: 16 images per set at '
      '512 px, 2000 steps.', '',
      '| | ' + ' | '.join(ENCODINGS) + ' |', '|---' * (len(ENCODINGS) + 1)
      + '|']
  for dataset in DATASETS:
    row = [cells[f'{dataset}/{e}'] for e in ENCODINGS]
    lines.append(f'| {dataset} (ours, {len(row[0]["images"])} images) | '
                 + ' | '.join(_cell(c['mean'], c['std']) for c in row) + ' |')
    lines.append(f'| {dataset} (paper) | '
                 + ' | '.join(f'{c["paper"]:.2f}' for c in row) + ' |')
  lines += ['', f'Wall time of the whole table: {result["minutes"]:.1f} '
            f'minutes on {result["machine"]} (training: '
            f'{result["fit_minutes"]:.1f} minutes, summed over the groups\' '
            'runs, also when a rerun skipped them).', '', '## Per image', '',
            '| set | image | ' + ' | '.join(ENCODINGS) + ' |',
            '|---|---' + '|---' * len(ENCODINGS) + '|']
  for dataset in DATASETS:
    row = [cells[f'{dataset}/{e}'] for e in ENCODINGS]
    for index, image in enumerate(row[0]['images']):
      lines.append(f'| {dataset} | {image} | ' + ' | '.join(
          'failed' if c['test_psnr'][index] is None
          else f'{c["test_psnr"][index]:.2f}' for c in row) + ' |')
  failures = [(key, image, error) for key, c in cells.items()
              for image, error in zip(c['images'], c['errors']) if error]
  if failures:
    lines += ['', '## Failed fits', ''] + [
        f'- {key} {image}: {error}' for key, image, error in failures]
  return '\n'.join(lines) + '\n'


def plot_bars(path, result):
  """Grouped bars of mean test PSNR (+- std) per set and encoding, paper marks."""
  fig, axes = plt.subplots(1, len(DATASETS), figsize=(9, 3.4), dpi=100,
                           sharey=True)
  positions = np.arange(len(ENCODINGS))
  for ax, dataset in zip(axes, DATASETS):
    cells = [result['cells'][f'{dataset}/{e}'] for e in ENCODINGS]
    means = [c['mean'] if c['mean'] is not None else np.nan for c in cells]
    stds = [c['std'] if c['std'] is not None else 0 for c in cells]
    ax.bar(positions, means, yerr=stds, capsize=3, color='tab:blue',
           alpha=0.8, label=f'ours ({result["settings"]["resolution"]} px)')
    ax.plot(positions, [c['paper'] for c in cells], 'k_', markersize=22,
            markeredgewidth=2, label='paper (512 px)')
    ax.set_xticks(positions, ENCODINGS)
    ax.set_title(f'{dataset} ({len(cells[0]["images"])} images)', fontsize=10)
    ax.grid(axis='y', alpha=0.3)
  axes[0].set_ylabel('test PSNR (dB)')
  axes[0].legend(fontsize=8, loc='upper left')
  outputs.save_figure(fig, path)


def plot_examples(path, workdir: pathlib.Path, result):
  """Per set, one image's target and its reconstruction per encoding.

  The image is the set's first one that every encoding fitted.
  """
  fig, axes = plt.subplots(len(DATASETS), len(ENCODINGS) + 1, dpi=100,
                           figsize=(2.1 * (len(ENCODINGS) + 1),
                                    2.3 * len(DATASETS)), squeeze=False)
  for ax_row, dataset in zip(axes, DATASETS):
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
  flags.DEFINE_integer('images', 0, 'Fit the first K images of each set; 0: '
                       'the preset\'s count.', lower_bound=0,
                       flag_values=flag_values)
  flags.DEFINE_enum('matmul_precision', 'float32', models.MATMUL_PRECISIONS,
                    'model.matmul_precision of every fit.',
                    flag_values=flag_values)


COMMAND = command.experiment(run, define_flags)

if __name__ == '__main__':
  cli.run(COMMAND)
