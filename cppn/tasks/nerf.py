"""A simple NeRF: a 3D scene seen only through images from known cameras.

The Fourier-features paper's simple NeRF (Table 1's NeRF row;
configs/nerf.py holds its settings): no view dependence, no hierarchical
sampling. The network's 4 raw outputs (model.output_activation 'identity')
are a colour (through a sigmoid) and a density (through a ReLU) at a point;
a pixel's colour is the volume rendering of task.num_samples samples on
its ray between depths task.near and task.far (cppn/rays.py: the last
interval 1e10, no background term).

Coordinates: world points x / (2 pi), so the encodings' sin(2 pi v B^T) are
the paper's sin(x B^T) without the 2 pi on raw world coordinates, with B as
the paper's (Gaussian sigma 26; positional 2^linspace(0, 8, 85) - 1 per
axis); the encoding 'none' sees the raw world points x, as the paper's
(input_scale).

The data (data.image): 'synthetic', the project's ray-cast scene at
data.resolution px with the paper's camera model (cppn/nerf_data.py: focal
555.6 px at 400 px, a hemisphere of radius 4, 100 / 7 / 13 train / val /
test views), a Blender-format folder (transforms_{train,val,test}.json and
PNGs) or a tiny-NeRF .npz (images, poses, focal). A folder without the
transforms files, poses that do not match the images, near >= far or zero
samples are refused with one line.

Training (the Objective, coupled, resampling): every step draws
task.rays_per_step rays uniformly with replacement from every pixel of the
training views, stratified depths on each, and the loss is the mean squared
error of the rendered colours. The steps' two-pass chunked gradient bounds
memory (cppn/steps.py).

Evaluation (Task.predictions renders whole views through the compiled
network, train.chunk_size points at a time, depths without jitter): the
first training view ('train_psnr') and every test view ('test_psnr': the
mean of the views' PSNRs, the paper's number); loss: the training view's
MSE. Frame: the first test view, truth | fit | fitted depth.

Outputs: test_views.png (up to 3 test views: truth, fit, fitted depth, true
depth for the synthetic scene), depth.png (the first test view's fitted
depth), turntable.gif (24 novel views on a circle at 30 degrees, radius 4),
progress.gif. Summary fields: test_psnrs (per test view), output_std (the
test renders' std: 0 when every density died).
"""

import dataclasses
import math
import pathlib
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from cppn import nerf
from cppn import nerf_data
from cppn import outputs
from cppn import rays
from cppn.tasks import base

TURNTABLE_FRAMES = 24
# Sample points per call of the network when rendering views: bounds the
# host memory of the outputs (16 MiB per member), whatever the view size.
RENDER_POINTS = 2 ** 20
TURNTABLE_SECONDS_PER_FRAME = 0.1


@dataclasses.dataclass(frozen=True)
class RayLoss(base.Objective):
  """Mean squared error of rendered colours of rays drawn every step from
  batch['ray_origins'], ['ray_directions'] and ['ray_rgb'] (each (N, 3))."""
  pointwise: ClassVar[bool] = False
  resamples: ClassVar[bool] = True
  rays_per_step: int
  near: float
  far: float
  num_samples: int
  input_scale: float  # the network's input per world unit (input_scale())

  def sample(self, batch, key):
    """rays_per_step rays' sample points x input_scale in batch['x']'s
    layout (n, 3, c), their depths (R, S) and target colours (R, 3)."""
    ray_key, depth_key = jax.random.split(key)
    index = jax.random.randint(ray_key, (self.rays_per_step,), 0,
                               batch['ray_rgb'].shape[0])
    depths = rays.sample_depths(self.near, self.far, self.num_samples,
                                self.rays_per_step, depth_key)
    points = rays.sample_points(batch['ray_origins'][index],
                                batch['ray_directions'][index], depths)
    n, _, c = batch['x'].shape
    points = jnp.pad(points.reshape(-1, 3) * self.input_scale,
                     ((0, n * c - points.shape[0] * points.shape[1]), (0, 0)))
    return dict(batch, x=jnp.swapaxes(points.reshape(n, c, 3), 1, 2),
                depths=depths, rgb=batch['ray_rgb'][index])

  def loss(self, pred, batch):
    raw = pred[:self.rays_per_step * self.num_samples].reshape(
        self.rays_per_step, self.num_samples, 4)
    return jnp.mean((nerf.shade(raw, batch['depths'])['rgb']
                     - batch['rgb']) ** 2)


def input_scale(config) -> float:
  """The network's input per world unit: 1 / (2 pi) for the Fourier
  encodings (their sin(2 pi v B^T) is then the paper's sin(x B^T)), 1 for
  'none' (the paper feeds it the raw world points)."""
  return 1.0 if config.encoding.name == 'none' else 1 / (2 * math.pi)


def view_rays(height: int, width: int, focal: float, poses) -> np.ndarray:
  """(n H W, 6): origins and directions of every pixel of every pose."""
  origins, directions = nerf.view_rays(height, width, focal, poses)
  return np.concatenate([np.asarray(origins), np.asarray(directions)], -1)


class NerfTask(base.Task):
  """A scene fitted through multi-view images."""
  name = 'nerf'
  dim = 3
  out_dim = 4

  def __init__(self, config, views: nerf_data.Views | None = None):
    """views: the data set; default nerf_data.load_views(data.image)."""
    base.check_positive(config, ('rays_per_step',))
    base.check_raw_output(config, 'nerf', 'raw colour and density')
    rays.check_sampling(config.task.near, config.task.far,
                        config.task.num_samples)
    self.views = views or nerf_data.load_views(config.data.image,
                                               config.data.resolution)
    self.objective = RayLoss(config.task.rays_per_step, config.task.near,
                             config.task.far, config.task.num_samples,
                             input_scale(config))
    self.chunk_rays = max(1, RENDER_POINTS // config.task.num_samples)
    train_images, train_poses = self.views.split('train')
    self.size = train_images.shape[1:3]
    train_rays = view_rays(*self.size, self.views.focal, train_poses)
    self.observations = {'ray_origins': train_rays[:, :3],
                         'ray_directions': train_rays[:, 3:],
                         'ray_rgb': train_images.reshape(-1, 3)}
    # The layout of a step's sample points; each step draws its own.
    self.train_coords = np.zeros(
        (config.task.rays_per_step * config.task.num_samples, 3), np.float32)
    self.test_images, test_poses = self.views.split('test')
    self.target = self.test_images
    self.train_view = train_images[0]
    self.eval_rays = view_rays(*self.size, self.views.focal,
                               np.concatenate([train_poses[:1], test_poses]))
    self.eval_coords = {}

  @property
  def signal_shape(self):
    return (TURNTABLE_FRAMES,) + self.size

  def render(self, predict: base.Predict, eval_rays: np.ndarray
             ) -> dict[str, np.ndarray]:
    """Renders rays (P, 6) by every member: {'rgb': (M, P, 3), 'depth':
    (M, P)}; chunk_rays rays per call of predict, depths without jitter."""
    objective = self.objective
    depths = np.linspace(objective.near, objective.far,
                         objective.num_samples, dtype=np.float32)
    chunk = min(self.chunk_rays, len(eval_rays))
    padded = np.pad(eval_rays, ((0, -len(eval_rays) % chunk), (0, 0)))
    rendered = []
    for start in range(0, len(padded), chunk):
      block = padded[start:start + chunk]
      points = block[:, None, :3] + depths[:, None] * block[:, None, 3:]
      raw = predict(points.reshape(-1, 3) * objective.input_scale)
      shaded = nerf.shade(jnp.asarray(raw).reshape(
          raw.shape[0], chunk, objective.num_samples, 4), depths)
      rendered.append({name: np.asarray(shaded[name])
                       for name in ('rgb', 'depth')})
    return {name: np.concatenate([r[name] for r in rendered],
                                 axis=1)[:, :len(eval_rays)]
            for name in ('rgb', 'depth')}

  def predictions(self, predict):
    """The first training view and the test views, rendered: {'rgb': (M,
    1 + T, H, W, 3), 'depth': (M, 1 + T, H, W)}."""
    rendered = self.render(predict, self.eval_rays)
    members = rendered['rgb'].shape[0]
    return {name: value.reshape((members, -1) + self.size + value.shape[2:])
            for name, value in rendered.items()}

  def render_signal(self, predict):
    """Novel views on a turntable: (M, frames, H, W, 4), RGB and depth."""
    rendered = self.render(predict, view_rays(
        *self.size, self.views.focal,
        rays.turntable_poses(TURNTABLE_FRAMES, rays.PAPER_RADIUS)))
    members = rendered['rgb'].shape[0]
    return np.concatenate([rendered['rgb'], rendered['depth'][..., None]],
                          -1).reshape((members,) + self.signal_shape + (4,))

  def evaluate(self, preds):
    """PSNR of the training view and of each test view (mean)."""
    rgb = np.clip(preds['rgb'], 0, 1)
    train_mse = float(np.mean((rgb[0] - self.train_view) ** 2,
                              dtype=np.float64))
    row = {'loss': train_mse,
           'train_psnr': base.psnr(rgb[0], self.train_view),
           'test_psnr': float(np.mean(self.test_psnrs(rgb)))}
    return row, np.concatenate([
        self.test_images[0], rgb[1],
        nerf.depth_picture(preds['depth'][1], self.objective.near,
                           self.objective.far)], axis=1)

  def test_psnrs(self, rgb: np.ndarray) -> list[float]:
    """Each test view's PSNR; rgb: (1 + T, H, W, 3), predictions' layout."""
    return [base.psnr(fit, image)
            for fit, image in zip(rgb[1:], self.test_images)]

  def write_outputs(self, workdir: pathlib.Path, signal, preds, rows):
    near, far = self.objective.near, self.objective.far
    test_depths = (self.views.depths[self.views.splits['test']]
                   if self.views.depths is not None else None)
    rgb = np.clip(preds['rgb'], 0, 1)
    nerf.plot_test_views(workdir / 'test_views.png', self.test_images,
                         rgb[1:], preds['depth'][1:], test_depths, near, far)
    outputs.write_png(workdir / 'depth.png',
                      nerf.depth_picture(preds['depth'][1], near, far))
    outputs.write_frames_gif(workdir / 'turntable.gif',
                             list(np.clip(signal[..., :3], 0, 1)),
                             TURNTABLE_SECONDS_PER_FRAME)
    outputs.write_gif(workdir / 'progress.gif', workdir / 'frames',
                      rows[-1]['step'])
    return {'test_psnrs': self.test_psnrs(rgb),
            'output_std': float(rgb[1:].std())}

  def describe(self):
    objective = self.objective
    return (f'nerf: {len(self.observations["ray_rgb"])} training rays from '
            f'{len(self.views.splits["train"])} views of '
            f'{self.size[1]} x {self.size[0]} px, {objective.rays_per_step} '
            f'rays x {objective.num_samples} samples on [{objective.near:g}, '
            f'{objective.far:g}] a step, {len(self.test_images)} test views')
