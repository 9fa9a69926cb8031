"""The simple NeRF's pieces outside its task (cppn/tasks/nerf.py).

  shade           the network's raw outputs along rays -> sigmoid RGB, ReLU
                  density -> rays.composite (volume rendering)
  view_rays       the rays of every pixel of views from known poses
  depth_picture, plot_test_views
                  pictures of renders: depth maps, views beside the truth
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from cppn import outputs
from cppn import rays

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top


def shade(raw, depths) -> dict[str, jax.Array]:
  """Volume rendering of the network's raw outputs (..., S, 4) at depths
  (..., S): sigmoid RGB, ReLU density, then rays.composite."""
  return rays.composite(nn.sigmoid(raw[..., :3]), nn.relu(raw[..., 3]),
                        depths)


@functools.partial(jax.jit, static_argnums=(0, 1))
def view_rays(height: int, width: int, focal: float, poses) -> tuple:
  """Origins and directions (n * H * W, 3) of every pixel of every pose."""
  origins, directions = jax.vmap(
      lambda pose: rays.pixel_rays(height, width, focal, pose))(
          jnp.asarray(poses, jnp.float32))
  return origins.reshape(-1, 3), directions.reshape(-1, 3)


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
