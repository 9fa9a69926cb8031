r"""The embedding-size figure: test PSNR against m for MLP depths 2, 4 and 8.

Gaussian Fourier features (sigma_g = 10 at 512 px, scaled to the preset's
resolution N: 10 * N / 512) with m = 8 .. 1024 frequencies (2m features)
into a ReLU MLP of width 256 and depth 2, 4 or 8 (Dense layers, the output
included), Adam 1e-3, paper split, on the preset's photographs. Each (depth,
m) is one train.train_group (the shapes differ) holding its images.

  python -m experiments.embedding_size --preset=cpu --workdir=runs/embedding \
      [--noprogress]

writes runs/depth=D/m=M/IMAGE/ (one cppn run each), embedding_size.png (test
PSNR, mean over images, against m on a log axis, one line per depth),
embedding_size.md and embedding_size.json. Expect PSNR to rise with m and
level off past a few hundred, and deeper networks to do better at small m.
Presets: tiny (32 px, seconds), cpu (64 px, 2 images, 400 steps), paper
(512 px, 4 images, 2000 steps).
"""

import dataclasses
import pathlib
import time
from typing import Any

import matplotlib

from cppn import cli
from cppn import outputs
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

GAUSSIAN_SIGMA = 10.0  # the paper's natural-image sigma_g at 512 px


@dataclasses.dataclass(frozen=True)
class Preset:
  """Images, grid and schedule of the embedding-size figure."""
  images: tuple[str, ...]  # data.load_target sources
  resolution: int  # N
  num_features: tuple[int, ...]  # values of m
  depths: tuple[int, ...]  # model.depth values
  num_steps: int  # full-batch Adam steps
  width: int = 256  # model.width
  num_evals: int = 10  # evaluations per fit


PRESETS = {
    'tiny': Preset(images=('astronaut',), resolution=32, num_features=(4, 8),
                   depths=(2, 4), num_steps=20, width=16, num_evals=1),
    'cpu': Preset(images=('astronaut', 'coffee'), resolution=64,
                  num_features=tuple(2**k for k in range(3, 11)),
                  depths=(2, 4, 8), num_steps=400),
    'paper': Preset(images=('astronaut', 'hubble_deep_field',
                            'immunohistochemistry', 'retina'),
                    resolution=512,
                    num_features=tuple(2**k for k in range(3, 11)),
                    depths=(2, 4, 8), num_steps=2000),
}


def fit_config(preset: Preset, depth: int, num_features: int, image: str):
  """The config of one fit."""
  return common.paper_config(
      preset.resolution, preset.num_steps, preset.num_evals, data__image=image,
      encoding__name='gaussian',
      encoding__sigma=common.sigma_at(GAUSSIAN_SIGMA, preset.resolution),
      encoding__num_features=num_features, model__depth=depth,
      model__width=preset.width)


def run(preset_name: str, workdir: pathlib.Path,
        progress: bool) -> dict[str, Any]:
  """Fits the grid; writes the figure, table and JSON."""
  start = time.time()
  preset = PRESETS[preset_name]
  keys = [(depth, m, image) for depth in preset.depths
          for m in preset.num_features for image in preset.images]
  runs = [workdir / 'runs' / f'depth={d}' / f'm={m}' / image.replace(':', '_')
          for d, m, image in keys]
  results = dict(zip(keys, common.train_all(
      [fit_config(preset, *key) for key in keys], runs, progress)))
  points = []
  for depth in preset.depths:
    for m in preset.num_features:
      fits = [results[depth, m, image] for image in preset.images]
      mean, std = common.mean_std([r.get('test_psnr') for r in fits])
      points.append({'depth': depth, 'num_features': m, 'mean': mean,
                     'std': std, 'test_psnr': [r.get('test_psnr') for r in fits],
                     'num_params': fits[0].get('num_params'),
                     'errors': [r.get('error') for r in fits]})
      print(f'depth {depth} m {m:5d}: test PSNR '
            f'{"failed" if mean is None else f"{mean:.2f}"}', flush=True)
  result = {'preset': preset_name, 'settings': dataclasses.asdict(preset),
            'gaussian_sigma': common.sigma_at(GAUSSIAN_SIGMA,
                                              preset.resolution),
            'machine': common.machine(), 'minutes': (time.time() - start) / 60,
            'fit_minutes': common.fit_minutes(list(results.values())),
            'points': points}
  common.write_report(workdir, 'embedding_size', result, markdown(result))
  plot(workdir / 'embedding_size.png', result)
  return result


def markdown(result) -> str:
  """Mean test PSNR per m (rows) and depth (columns)."""
  settings = result['settings']
  depths = settings['depths']
  cell = {(p['depth'], p['num_features']): p for p in result['points']}
  lines = [f'# Embedding size (preset {result["preset"]})', '',
           f'Test PSNR (dB), mean ± std over {", ".join(settings["images"])} '
           f'at {settings["resolution"]} px; Gaussian sigma '
           f'{result["gaussian_sigma"]:g} (10 at 512 px), width '
           f'{settings["width"]}, {settings["num_steps"]} Adam steps. '
           f'{result["minutes"]:.1f} minutes on {result["machine"]} (training '
           f'{result["fit_minutes"]:.1f}, from the runs\' summaries).', '',
           '| m | ' + ' | '.join(f'depth {d}' for d in depths) + ' |',
           '|---' * (len(depths) + 1) + '|']
  for m in settings['num_features']:
    lines.append(f'| {m} | ' + ' | '.join(
        'failed' if cell[d, m]['mean'] is None
        else f'{cell[d, m]["mean"]:.2f} ± {cell[d, m]["std"]:.2f}'
        for d in depths) + ' |')
  return '\n'.join(lines) + '\n'


def plot(path, result):
  """Mean test PSNR against m (log), one line per depth."""
  settings = result['settings']
  fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=100)
  for depth in settings['depths']:
    points = [p for p in result['points']
              if p['depth'] == depth and p['mean'] is not None]
    ax.plot([p['num_features'] for p in points], [p['mean'] for p in points],
            'o-', label=f'depth {depth}')
  ax.set_xscale('log', base=2)
  ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
      lambda value, _: f'{value:g}'))
  ax.set_xlabel('embedding size m (2m features)')
  ax.set_ylabel('test PSNR (dB), mean over images')
  ax.set_title(f'Gaussian features, {settings["resolution"]} px, '
               f'{len(settings["images"])} image(s)', fontsize=10)
  ax.grid(alpha=0.3, which='both')
  ax.legend()
  outputs.save_figure(fig, path)


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
