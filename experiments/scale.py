r"""The scale figure: train and test PSNR against the Gaussian sigma, one image.

The paper's network (4 x 256 ReLU MLP, m = 256 Gaussian features, Adam 1e-3,
paper split) on one photograph, sigma_g = 1 .. 64 at 512 px in octaves
(scaled to the preset's resolution N: sigma * N / 512). Small sigma
underfits (blurry reconstructions, low train and test PSNR); large sigma
overfits (train PSNR keeps rising, test PSNR falls, the reconstruction
between the training pixels turns to noise). All sigmas differ only in
encoding.sigma, so they train as one train.train_group.

  python -m experiments.scale --preset=cpu --workdir=runs/scale [--noprogress]

writes runs/sigma=S/ (one cppn run per sigma), scale.png (PSNR against
sigma, log axis, over the reconstructions in a row), scale.md and
scale.json. Expect test PSNR to peak near sigma = 8-16 (512-px units) and
train PSNR to rise monotonically. Presets: tiny (32 px, seconds), cpu
(128 px, 7 sigmas, 1000 steps), paper (512 px, 13 sigmas, 2000 steps).
"""

import dataclasses
import pathlib
import time
from typing import Any

import matplotlib
import numpy as np

from cppn import cli
from cppn import data
from cppn import outputs
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top


@dataclasses.dataclass(frozen=True)
class Preset:
  """Image, sigmas and schedule of the scale figure."""
  image: str  # a data.load_target source
  resolution: int  # N
  sigmas: tuple[float, ...]  # sigma_g at 512 px; the fit uses sigma * N / 512
  num_steps: int  # full-batch Adam steps
  depth: int = 4  # model.depth
  width: int = 256  # model.width
  num_features: int = 256  # m
  num_evals: int = 10  # evaluations per fit


PRESETS = {
    'tiny': Preset(image='astronaut', resolution=32, sigmas=(1.0, 8.0, 64.0),
                   num_steps=20, depth=2, width=16, num_features=8,
                   num_evals=1),
    'cpu': Preset(image='astronaut', resolution=128,
                  sigmas=tuple(2.0**k for k in range(7)), num_steps=1000),
    'paper': Preset(image='astronaut', resolution=512,
                    sigmas=tuple(2.0**(k / 2) for k in range(13)),
                    num_steps=2000),
}


def fit_config(preset: Preset, sigma: float):
  """The config of the fit at sigma (quoted at 512 px)."""
  return common.paper_config(
      preset.resolution, preset.num_steps, preset.num_evals,
      data__image=preset.image, encoding__name='gaussian',
      encoding__sigma=common.sigma_at(sigma, preset.resolution),
      encoding__num_features=preset.num_features, model__depth=preset.depth,
      model__width=preset.width)


def run(preset_name: str, workdir: pathlib.Path,
        progress: bool) -> dict[str, Any]:
  """Fits every sigma as one group; writes the figure, table and JSON."""
  start = time.time()
  preset = PRESETS[preset_name]
  runs = [workdir / 'runs' / f'sigma={sigma:g}' for sigma in preset.sigmas]
  results = common.train_all([fit_config(preset, s) for s in preset.sigmas],
                             runs, progress)
  points = [{'sigma': sigma,
             'sigma_used': common.sigma_at(sigma, preset.resolution),
             'train_psnr': r.get('train_psnr'), 'test_psnr': r.get('test_psnr'),
             'error': r.get('error'), 'run_dir': str(path.relative_to(workdir))}
            for sigma, r, path in zip(preset.sigmas, results, runs)]
  finished = [p for p in points if p['test_psnr'] is not None]
  best = max(finished, key=lambda p: p['test_psnr'], default=None)
  result = {'preset': preset_name, 'settings': dataclasses.asdict(preset),
            'machine': common.machine(), 'minutes': (time.time() - start) / 60,
            'fit_minutes': common.fit_minutes(results),
            'best_sigma': best and best['sigma'], 'points': points}
  common.write_report(workdir, 'scale', result, markdown(result))
  plot(workdir / 'scale.png', workdir, result)
  return result


def markdown(result) -> str:
  """PSNR per sigma and the best sigma."""
  settings = result['settings']
  lines = [f'# Gaussian scale (preset {result["preset"]})', '',
           f'{settings["image"]} at {settings["resolution"]} px, paper split, '
           f'{settings["num_steps"]} Adam steps, m = '
           f'{settings["num_features"]}; sigma quoted at 512 px (the fit uses '
           f'sigma x {settings["resolution"]} / 512). '
           f'{result["minutes"]:.1f} minutes on {result["machine"]} (training '
           f'{result["fit_minutes"]:.1f}, from the runs\' summaries).', '',
           '| sigma (512 px) | sigma used | train PSNR | test PSNR |',
           '|---|---|---|---|']
  for p in result['points']:
    values = ('failed: ' + p['error'], '') if p['error'] else (
        f'{p["train_psnr"]:.2f}', f'{p["test_psnr"]:.2f}')
    lines.append(f'| {p["sigma"]:g} | {p["sigma_used"]:g} | {values[0]} | '
                 f'{values[1]} |')
  if result['best_sigma'] is not None:
    lines += ['', f'Best test PSNR at sigma = {result["best_sigma"]:g} '
              '(512-px units); the paper uses 10 for natural images.']
  return '\n'.join(lines) + '\n'


def plot(path, workdir: pathlib.Path, result):
  """PSNR against sigma (log) above the target and every reconstruction."""
  settings, points = result['settings'], result['points']
  finished = [p for p in points if p['test_psnr'] is not None]
  columns = len(points) + 1
  fig = plt.figure(figsize=(max(7.0, 1.4 * columns), 5.6), dpi=100)
  grid = fig.add_gridspec(2, columns, height_ratios=(2.2, 1))
  ax = fig.add_subplot(grid[0, :])
  sigmas = np.array([p['sigma'] for p in finished])
  ax.plot(sigmas, [p['train_psnr'] for p in finished], 'o-', label='train')
  ax.plot(sigmas, [p['test_psnr'] for p in finished], 's-', label='test')
  ax.set_xscale('log', base=2)
  ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
      lambda value, _: f'{value:g}'))
  ax.set_xlabel(f'Gaussian sigma (at 512 px; fits use sigma x '
                f'{settings["resolution"]}/512)')
  ax.set_ylabel('PSNR (dB)')
  ax.set_title(f'{settings["image"]}, {settings["resolution"]} px, '
               f'{settings["num_steps"]} steps', fontsize=10)
  ax.grid(alpha=0.3, which='both')
  ax.legend()
  panels = [('target', data.load_target(settings['image'],
                                        settings['resolution']))]
  panels += [(f'sigma {p["sigma"]:g}\n{p["test_psnr"]:.1f} dB',
              workdir / p['run_dir'] / 'reconstruction.png') for p in finished]
  common.image_row([fig.add_subplot(grid[1, i]) for i in range(columns)],
                   panels)
  outputs.save_figure(fig, path)


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
