r"""Table 1 of Tancik et al. 2020, NeRF row: test-view PSNR per encoding.

The paper's simple NeRF (cppn/nerf.py: no view dependence, no hierarchical
sampling, 4 x 256 MLP, sigmoid RGB and ReLU density, 128 stratified samples
on [2, 6], batches of 1024 rays, constant-rate Adam) with the encodings on
raw world coordinates without 2 pi:

  none        raw xyz                                   lr 1e-2
  basic       B = I_3                                   lr 5e-3
  positional  2^linspace(0, 8, 85) - 1 on each axis     lr 5e-4
  gaussian    B ~ N(0, 26^2), 256 x 3                   lr 5e-4

fitted to the project's synthetic scene (cppn/nerf_data.py: ray-cast
boxes and spheres with procedural textures, the paper's camera model, 100 /
7 / 13 views), or to a user's views (--data=FOLDER in the Blender format, or
a tiny-NeRF FILE.npz). The scales are in radians per world unit, so on
views of fewer pixels they can exceed what the views resolve (on 32 px
views sigma_g 26 stayed a grey fog where 6.5 fitted: docs/reproducing.md);
--sigma_g and --sigma_p set them (the paper's by default; use a new
--workdir per setting, a rerun skips finished encodings).

  python -m experiments.nerf --preset=cpu --workdir=runs/nerf \
      [--data=synthetic|FOLDER|FILE.npz] [--encodings=none,gaussian] \
      [--near=2 --far=6 --num_samples=S] [--sigma_g=26 --sigma_p=8]

Writes, per encoding, ENCODING/ with metrics.jsonl (validation PSNR at step
0 and over training), test_views.png (test views: truth, fit, fitted depth,
true depth when known), depth.png, turntable.gif (novel views on a circle at
30 degrees elevation) and summary.json; then nerf.md and nerf.json (test
PSNR mean +- std over the test views beside the paper's; a fit whose
renders are constant, every density ReLU dead, is marked collapsed; the
paper's rates can do that to basic). A rerun skips
encodings whose summary.json exists. The paper's numbers are on Blender's
Lego scene, so only the ordering carries over. Presets: tiny (seconds,
tests), cpu (64 px views, 32 samples, 1000 steps of 512 rays on 2 CPU
cores), paper (400 px, 128 samples, 50,000 steps of 1024 rays; for a GPU).
"""

import dataclasses
import pathlib
import time
from typing import Any

from absl import flags
import jax
import numpy as np

from cppn import cli
from cppn import encodings
from cppn import nerf
from cppn import nerf_data
from cppn import outputs
from cppn import rays
from cppn import steps
from experiments import command
from experiments import common
from experiments import fit_loop

ENCODINGS = ('none', 'basic', 'positional', 'gaussian')
# Table 1 / Table 7 of the paper: test PSNR (dB) on Lego, 13 views at 400 px
# (positional: the rotated log-linear frequencies of its Table 1 row).
PAPER_PSNR = {'none': 22.41, 'basic': 23.16, 'positional': 25.28,
              'gaussian': 25.48}
LEARNING_RATES = {'none': 1e-2, 'basic': 5e-3, 'positional': 5e-4,
                  'gaussian': 5e-4}
SIGMA_G = 26.0  # Gaussian scale, radians per world unit (no 2 pi)
# A fit whose test renders have a smaller std has collapsed (every density
# ReLU dead: a black image), which the table marks.
COLLAPSED_STD = 1e-3
SIGMA_P = 8.0  # positional: 2^linspace(0, SIGMA_P, m // 3) - 1 per axis


@dataclasses.dataclass(frozen=True)
class Preset:
  """Views, sampling and schedule of one run."""
  size: int  # view side in pixels (synthetic views)
  num_samples: int  # depths per ray
  batch_rays: int  # rays per Adam step
  num_steps: int  # Adam steps
  depth: int = 4  # Dense layers, output included
  width: int = 256  # hidden units
  num_features: int = 256  # m: Gaussian rows; positional m // 3 per axis
  views: tuple[int, int, int] = nerf_data.PAPER_VIEWS  # train, val, test
  num_evals: int = 10  # validation PSNRs over training
  chunk_rays: int = 1024  # rays per chunk when rendering whole views
  turntable_frames: int = 24


PRESETS = {
    'tiny': Preset(size=12, num_samples=16, batch_rays=128, num_steps=100,
                   depth=2, width=32, num_features=16, views=(8, 1, 2),
                   num_evals=2, chunk_rays=64, turntable_frames=3),
    'cpu': Preset(size=64, num_samples=32, batch_rays=512, num_steps=1000),
    'paper': Preset(size=400, num_samples=128, batch_rays=1024,
                    num_steps=50000, num_evals=50),
}


def view_psnrs(render, params, encoding_params, images, poses, focal):
  """PSNR of each rendered view against its image: (n,) and the renders."""
  renders = []
  for pose in poses:
    origins, directions = rays.pixel_rays(images.shape[1], images.shape[2],
                                          focal, pose)
    out = render(params, encoding_params, origins.reshape(-1, 3),
                 directions.reshape(-1, 3))
    renders.append({k: np.asarray(v).reshape(images.shape[1:3] + v.shape[1:])
                    for k, v in out.items()})
  psnrs = [float(-10 * np.log10(np.mean((r['rgb'] - image) ** 2)))
           for r, image in zip(renders, images)]
  return np.array(psnrs), renders


def fit(views: nerf_data.Views, preset: Preset, sampling: nerf.Sampling,
        name: str, workdir: pathlib.Path, progress: bool,
        sigma_g: float = SIGMA_G, sigma_p: float = SIGMA_P) -> dict[str, Any]:
  """Fits one encoding and writes its outputs; returns its summary."""
  summary = fit_loop.finished_summary(workdir)
  if summary is not None:
    return summary
  start = time.time()
  config, encoding = fit_loop.encoding(name, sigma_g, sigma_p,
                                       preset.num_features)
  state = steps.create_train_state(
      nerf.make_model(preset.depth, preset.width),
      encodings.width(config, 3), LEARNING_RATES[name],
      jax.random.PRNGKey(0))
  train_rays = nerf.ray_set(*views.split('train'), views.focal)
  render = nerf.make_render_fn(state.apply_fn, name, sampling,
                               preset.chunk_rays)
  key = jax.random.PRNGKey(1)

  def train(count):
    nonlocal state
    state, metrics = nerf.train_steps(
        state, train_rays, encoding, key, num_steps=count, encoding_name=name,
        sampling=sampling, batch_size=preset.batch_rays)
    return float(metrics['loss'][-1])

  def evaluate():
    psnrs, _ = view_psnrs(render, state.params, encoding, *views.split('val'),
                          views.focal)
    return {'val_psnr': float(psnrs.mean())}

  rows = fit_loop.train_and_log(train, evaluate, preset.num_steps,
                                preset.num_evals, workdir, progress,
                                f'nerf {name}')
  test_images, test_poses = views.split('test')
  psnrs, renders = view_psnrs(render, state.params, encoding, test_images,
                              test_poses, views.focal)
  true_depths = (views.depths[views.splits['test']]
                 if views.depths is not None else None)
  write_pictures(workdir, test_images, renders, true_depths, views.focal,
                 preset, lambda o, d: render(state.params, encoding, o, d))
  summary = {'encoding': name, 'test_psnr': float(psnrs.mean()),
             'test_psnr_std': float(psnrs.std()),
             'test_psnrs': psnrs.tolist(),
             'output_std': float(np.std([r['rgb'] for r in renders])),
             'val_psnr': rows[-1]['val_psnr'],
             'learning_rate': LEARNING_RATES[name],
             'encoding_detail': encodings.describe(config, 3),
             'wall_seconds': time.time() - start}
  outputs.write_json(workdir / 'summary.json', summary)
  return summary


def write_pictures(workdir, images, renders, true_depths, focal, preset,
                   render_rays_fn):
  """test_views.png, depth.png and turntable.gif of a fitted NeRF."""
  nerf.plot_test_views(workdir / 'test_views.png', images,
                       [r['rgb'] for r in renders],
                       [r['depth'] for r in renders], true_depths)
  outputs.write_png(workdir / 'depth.png',
                    nerf.depth_picture(renders[0]['depth']))
  frames = []
  size = images.shape[1]
  for pose in rays.turntable_poses(preset.turntable_frames,
                                   rays.PAPER_RADIUS):
    origins, directions = rays.pixel_rays(size, size, focal, pose)
    out = render_rays_fn(origins.reshape(-1, 3), directions.reshape(-1, 3))
    frames.append(np.asarray(out['rgb']).reshape(size, size, 3))
  outputs.write_frames_gif(workdir / 'turntable.gif', frames, 0.1)


def table_markdown(results: dict[str, dict[str, Any]], preset_name: str,
                   preset: Preset, sampling: nerf.Sampling, data: str,
                   minutes: float, sigma_g: float, sigma_p: float) -> str:
  """nerf.md: test PSNR per encoding beside the paper's."""
  lines = [
      '# NeRF row of Table 1: test-view PSNR (dB)', '',
      f'Preset {preset_name}: data {data}, {preset.size} px synthetic views '
      f'(a user\'s keep their size), {sampling.num_samples} samples per ray '
      f'on [{sampling.near:g}, {sampling.far:g}], '
      f'{preset.batch_rays} rays x {preset.num_steps} steps, '
      f'{preset.depth} x {preset.width} MLP, m = {preset.num_features}, '
      f'sigma_g {sigma_g:g}, sigma_p {sigma_p:g}; '
      f'{minutes:.1f} minutes on {common.machine()}.', '',
      '| encoding | test PSNR | paper (Lego) |', '|---|---|---|']
  for name, result in results.items():
    collapsed = (' (collapsed)' if result['output_std'] < COLLAPSED_STD
                 else '')
    lines.append(f"| {name} | {result['test_psnr']:.2f} +- "
                 f"{result['test_psnr_std']:.2f}{collapsed} | "
                 f"{PAPER_PSNR[name]:.2f} |")
  return '\n'.join(lines) + '\n'


def define_flags(flag_values: flags.FlagValues):
  flags.DEFINE_string('data', 'synthetic', "'synthetic' (the generated "
                      'scene), a Blender-format folder or a tiny-NeRF .npz.',
                      flag_values=flag_values)
  flags.DEFINE_list('encodings', list(ENCODINGS), 'Encodings to fit, of: '
                    + ', '.join(ENCODINGS), flag_values=flag_values)
  flags.DEFINE_float('near', rays.PAPER_NEAR, 'First depth along each ray.',
                     flag_values=flag_values)
  flags.DEFINE_float('far', rays.PAPER_FAR, 'Last depth along each ray.',
                     flag_values=flag_values)
  flags.DEFINE_integer('num_samples', 0, 'Samples per ray; 0: the preset\'s.',
                       flag_values=flag_values)
  flags.DEFINE_float('sigma_g', SIGMA_G, 'Gaussian scale, radians per world '
                     'unit (the paper\'s 26 at 400 px).',
                     flag_values=flag_values)
  flags.DEFINE_float('sigma_p', SIGMA_P, 'Positional: 2^linspace(0, sigma_p, '
                     '85) - 1 per axis (the paper\'s 8).',
                     flag_values=flag_values)


# pylint: disable-next=redefined-outer-name
def run(preset_name: str, workdir: pathlib.Path, progress: bool,
        data: str = 'synthetic', encodings=ENCODINGS,
        near: float = rays.PAPER_NEAR, far: float = rays.PAPER_FAR,
        num_samples: int = 0, sigma_g: float = SIGMA_G,
        sigma_p: float = SIGMA_P):
  """Fits every encoding, writes nerf.md and nerf.json."""
  fit_loop.check_encodings(encodings, ENCODINGS)
  preset = PRESETS[preset_name]
  sampling = nerf.Sampling(near, far, num_samples or preset.num_samples)
  views = (nerf_data.synthetic_views(preset.size, preset.views)
           if data == 'synthetic' else nerf_data.load_views(data, preset.size))
  results = {name: fit(views, preset, sampling, name, workdir / name,
                       progress, sigma_g, sigma_p)
             for name in ENCODINGS if name in encodings}
  minutes = sum(r['wall_seconds'] for r in results.values()) / 60
  common.write_report(workdir, 'nerf', {
      'preset': preset_name, 'settings': dataclasses.asdict(preset),
      'sampling': dataclasses.asdict(sampling), 'sigma_g': sigma_g,
      'sigma_p': sigma_p, 'data': data,
      'paper_psnr': PAPER_PSNR, 'results': results,
      'machine': common.machine()},
                      table_markdown(results, preset_name, preset, sampling,
                                     data, minutes, sigma_g, sigma_p))


COMMAND = command.experiment(run, define_flags)

if __name__ == '__main__':
  cli.run(COMMAND)
