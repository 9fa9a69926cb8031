"""The paper's simple NeRF: a coordinate MLP fitted to images through rays.

No view dependence and no hierarchical sampling (the Fourier-features
paper's 3d_simple_nerf notebook, its Table 7):

  world_features   the encodings on raw world coordinates without the 2 pi:
                   gamma(x) = [a sin(x B^T), a cos(x B^T)], computed as
                   encodings.fourier_features(x / (2 pi), B, a), so B is the
                   paper's (Gaussian sigma 26; positional
                   2^linspace(0, 8, 85) - 1 per axis, 255 rows); `none` is x
  make_model       4 x 256 ReLU MLP with 4 raw outputs
  shade            raw outputs along rays -> sigmoid RGB, ReLU density ->
                   rays.composite
  render_rays      samples along rays -> the field -> shade
  train_steps      num_steps Adam steps in one compiled call, each on
                   batch_size rays drawn uniformly with replacement from the
                   training rays, depths stratified; loss mean (C - C*)^2
  make_render_fn   a whole view, rays in chunks (bounded memory), no jitter
  depth_picture, plot_test_views
                   pictures of renders: depth maps, views beside the truth

Shapes: rays are (R, 3) origins and directions; a ray set (`Rays`) is a dict
of 'origins', 'directions' (R, 3) and 'rgb' (R, 3) targets in [0, 1].
"""

import dataclasses
import functools
import math

import flax.linen as nn
from flax.training import train_state
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from cppn import chunks
from cppn import encodings
from cppn import models
from cppn import outputs
from cppn import rays

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

Rays = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Sampling:
  """Where along each ray the field is evaluated (static in compiled code)."""
  near: float = rays.PAPER_NEAR  # first depth, world units along d
  far: float = rays.PAPER_FAR  # last depth
  num_samples: int = 128  # depths per ray

  def __post_init__(self):
    rays.check_sampling(self.near, self.far, self.num_samples)


def world_features(encoding_name: str, encoding_params, points):
  """gamma(x) without 2 pi on world points: (..., 3) -> (..., F)."""
  if encoding_name == 'none':
    return points
  return encodings.fourier_features(points / (2 * math.pi),
                                    encoding_params['b'], encoding_params['a'])


def make_model(depth: int = 4, width: int = 256,
               matmul_precision: str = 'float32') -> nn.Module:
  """The NeRF MLP: depth Dense layers, ReLU, 4 raw outputs (RGB, density)."""
  return models.MLP(depth=depth, width=width, out_dim=4,
                    output_activation='identity',
                    matmul_precision=matmul_precision)


def render_rays(params, apply_fn, encoding_name: str, encoding_params,
                origins, directions, sampling: Sampling,
                key: jax.Array | None = None) -> dict[str, jax.Array]:
  """Renders rays (R, 3), (R, 3) through the field; stratified with a key.

  Returns:
    rays.composite's dict: 'rgb' (R, 3), 'depth', 'opacity' (R,),
    'weights' (R, S).
  """
  depths = rays.sample_depths(sampling.near, sampling.far,
                              sampling.num_samples, origins.shape[0], key)
  points = rays.sample_points(origins, directions, depths)
  raw = apply_fn({'params': params},
                 world_features(encoding_name, encoding_params, points))
  return shade(raw, depths)


def shade(raw, depths) -> dict[str, jax.Array]:
  """Volume rendering of the network's raw outputs (..., S, 4) at depths
  (..., S): sigmoid RGB, ReLU density, then rays.composite."""
  return rays.composite(nn.sigmoid(raw[..., :3]), nn.relu(raw[..., 3]),
                        depths)


def psnr(mse):
  """-10 log10(MSE), the paper's PSNR for values in [0, 1]."""
  return -10.0 * jnp.log10(mse)


def train_step(state: train_state.TrainState, train_rays: Rays, encoding_params,
               key: jax.Array, encoding_name: str, sampling: Sampling,
               batch_size: int):
  """One Adam step on batch_size rays; key folded with the step number.

  Returns:
    The new state and {'loss': mean squared colour error of the batch}.
  """
  ray_key, depth_key = jax.random.split(jax.random.fold_in(key, state.step))
  index = jax.random.randint(ray_key, (batch_size,), 0,
                             train_rays['rgb'].shape[0])

  def loss_fn(params):
    rendered = render_rays(params, state.apply_fn, encoding_name,
                           encoding_params, train_rays['origins'][index],
                           train_rays['directions'][index], sampling,
                           depth_key)
    return jnp.mean((rendered['rgb'] - train_rays['rgb'][index]) ** 2)

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  return state.apply_gradients(grads=grads), {'loss': loss}


@functools.partial(jax.jit, donate_argnums=(0,), static_argnames=(
    'num_steps', 'encoding_name', 'sampling', 'batch_size'))
def train_steps(state: train_state.TrainState, train_rays: Rays, encoding_params,
                key: jax.Array, num_steps: int, encoding_name: str,
                sampling: Sampling, batch_size: int):
  """num_steps train_steps as one lax.scan; metrics are (num_steps,)."""
  step = lambda s, _: train_step(s, train_rays, encoding_params, key,
                                 encoding_name, sampling, batch_size)
  return jax.lax.scan(step, state, None, length=num_steps)


def make_render_fn(apply_fn, encoding_name: str, sampling: Sampling,
                   chunk_rays: int):
  """A jitted fn(params, encoding_params, origins (R, 3), directions (R, 3))
  -> {'rgb' (R, 3), 'depth' (R,), 'opacity' (R,)}, chunk_rays rays at a time
  (memory grows with chunk_rays * num_samples, not with R), no jitter."""

  def render_chunk(params, encoding_params, chunk):
    rendered = render_rays(params, apply_fn, encoding_name, encoding_params,
                           chunk[:, :3], chunk[:, 3:], sampling)
    return {name: rendered[name] for name in ('rgb', 'depth', 'opacity')}

  @jax.jit
  def render(params, encoding_params, origins, directions):
    return chunks.map_in_chunks(
        lambda c: render_chunk(params, encoding_params, c),
        jnp.concatenate([origins, directions], -1), chunk_rays)

  return render


@functools.partial(jax.jit, static_argnums=(0, 1))
def view_rays(height: int, width: int, focal: float, poses) -> tuple:
  """Origins and directions (n * H * W, 3) of every pixel of every pose."""
  origins, directions = jax.vmap(
      lambda pose: rays.pixel_rays(height, width, focal, pose))(
          jnp.asarray(poses, jnp.float32))
  return origins.reshape(-1, 3), directions.reshape(-1, 3)


def ray_set(images, poses, focal: float) -> Rays:
  """Every pixel of (n, H, W, 3) images seen from poses (n, 4, 4) as rays."""
  images = np.asarray(images, np.float32)
  origins, directions = view_rays(images.shape[1], images.shape[2], focal,
                                  poses)
  return {'origins': origins, 'directions': directions,
          'rgb': jnp.asarray(images.reshape(-1, 3))}


def depth_picture(depth, near=rays.PAPER_NEAR, far=rays.PAPER_FAR):
  """A depth map (H, W) as a grey picture (H, W, 3): near white, far and
  empty (0) black."""
  shade_ = np.where(depth > 0, 1 - (depth - near) / (far - near), 0)
  return np.repeat(np.clip(shade_, 0, 1)[..., None], 3, -1)


def plot_test_views(path, images, rgbs, depths, true_depths=None,
                    near=rays.PAPER_NEAR, far=rays.PAPER_FAR, shown=3):
  """Up to `shown` views as rows: truth, fit, fitted depth, and the true
  depth when known. images, rgbs: (n, H, W, 3); depths, true_depths:
  (n, H, W)."""
  shown = min(shown, len(images))
  panels = ['truth', 'fit', 'fitted depth'] + (
      ['true depth'] if true_depths is not None else [])
  fig, axes = plt.subplots(shown, len(panels), dpi=100, squeeze=False,
                           figsize=(2.2 * len(panels), 2.2 * shown))
  for row in range(shown):
    pictures = [images[row], np.clip(rgbs[row], 0, 1),
                depth_picture(depths[row], near, far)]
    if true_depths is not None:
      pictures.append(depth_picture(true_depths[row], near, far))
    for ax, title, picture in zip(axes[row], panels, pictures):
      ax.imshow(picture, interpolation='nearest')
      ax.set_title(title, fontsize=8)
      ax.axis('off')
  outputs.save_figure(fig, path)
