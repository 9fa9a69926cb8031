"""Cameras, rays, stratified samples along them, and volume rendering.

The simple NeRF of the Fourier-features paper (its 3d_simple_nerf notebook),
in world units:

  look_at            a camera-to-world pose (4, 4) at a position, looking at
                     a target; camera axes x right, y up, z backwards (the
                     camera looks along -z), world up +z
  hemisphere_poses   cameras on the upper hemisphere of a radius, looking at
                     the origin (the Blender scenes' layout)
  turntable_poses    cameras on a circle at one elevation, for novel views
  pixel_rays         one ray per pixel of a pinhole camera: pixel (column i,
                     row j), no half-pixel offset, direction
                     c2w[:3, :3] @ ((i - W/2) / f, -(j - H/2) / f, -1), not
                     normalised
  sample_depths      num_samples depths on [near, far]: linspace, plus
                     U[0, 1) * (far - near) / num_samples per sample when
                     stratified (training)
  composite          volume rendering of samples: delta_k = z_{k+1} - z_k
                     (the last 1e10, not scaled by |d|),
                     alpha_k = 1 - exp(-sigma_k delta_k),
                     T_k = prod_{j<k} min(1, 1 - alpha_j + 1e-10),
                     w_k = alpha_k T_k; colour sum_k w_k c_k (no background
                     term, so empty space is black), depth sum_k w_k z_k,
                     opacity sum_k w_k

Everything is pure; the jnp functions jit and vmap.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from cppn.errors import CppnError

# delta of the last sample along a ray: the ray ends in an opaque wall.
LAST_INTERVAL = 1e10
# The paper's camera: 400 px views, focal 555.6 px (Blender's Lego scene),
# cameras 4 units from the origin, samples between depth 2 and 6.
PAPER_SIZE = 400
PAPER_FOCAL = 555.5555
PAPER_RADIUS = 4.0
PAPER_NEAR = 2.0
PAPER_FAR = 6.0


def check_sampling(near: float, far: float, num_samples: int):
  """Raises CppnError unless 0 <= near < far and num_samples >= 1."""
  if not 0 <= near < far:
    raise CppnError(f'ray sampling needs 0 <= near < far, got near={near!r}, '
                    f'far={far!r}')
  if num_samples < 1:
    raise CppnError(f'ray sampling needs >= 1 samples per ray, got '
                    f'{num_samples!r}')


def look_at(position, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
  """The camera-to-world pose (4, 4) of a camera at `position` facing `target`.

  Columns of the rotation are the camera's x (right), y (up) and z (back)
  axes in world coordinates; the last column is the position.
  """
  position = np.asarray(position, np.float64)
  back = position - np.asarray(target, np.float64)
  back /= np.linalg.norm(back)
  right = np.cross(np.asarray(up, np.float64), back)
  if np.linalg.norm(right) < 1e-9:  # looking straight down: any right works
    right = np.array([1.0, 0.0, 0.0])
  right /= np.linalg.norm(right)
  pose = np.eye(4)
  pose[:3, 0], pose[:3, 1], pose[:3, 2] = right, np.cross(back, right), back
  pose[:3, 3] = position
  return pose


def spherical_position(radius: float, azimuth: float, elevation: float):
  """The point at `radius` from the origin, angles in radians, +z up."""
  return radius * np.array([math.cos(elevation) * math.cos(azimuth),
                            math.cos(elevation) * math.sin(azimuth),
                            math.sin(elevation)])


def hemisphere_poses(num_views: int, radius: float, seed: int,
                     min_elevation: float = math.radians(10),
                     max_elevation: float = math.radians(80)) -> np.ndarray:
  """num_views poses (n, 4, 4) on the upper hemisphere, looking at the origin.

  Azimuths uniform on [0, 2 pi); elevations with sin(elevation) uniform on
  [sin min, sin max] (uniform over that band of the sphere's area).
  """
  rng = np.random.default_rng(seed)
  azimuths = rng.uniform(0, 2 * math.pi, num_views)
  elevations = np.arcsin(rng.uniform(math.sin(min_elevation),
                                     math.sin(max_elevation), num_views))
  return np.stack([look_at(spherical_position(radius, a, e))
                   for a, e in zip(azimuths, elevations)])


def turntable_poses(num_views: int, radius: float,
                    elevation: float = math.radians(30)) -> np.ndarray:
  """num_views poses (n, 4, 4) evenly around the z axis at one elevation."""
  return np.stack([look_at(spherical_position(radius, a, elevation))
                   for a in np.linspace(0, 2 * math.pi, num_views,
                                        endpoint=False)])


@functools.partial(jax.jit, static_argnums=(0, 1))
def pixel_rays(height: int, width: int, focal: float, pose):
  """One ray per pixel of a pinhole camera.

  Args:
    height, width: the image size in pixels.
    focal: the focal length in pixels.
    pose: (4, 4) camera-to-world.

  Returns:
    origins (H, W, 3) and directions (H, W, 3) in world units; pixel
    (row j, column i) looks along c2w[:3, :3] @ ((i - W/2) / f,
    -(j - H/2) / f, -1) (not normalised, no half-pixel offset).
  """
  pose = jnp.asarray(pose, jnp.float32)
  i, j = jnp.meshgrid(jnp.arange(width, dtype=jnp.float32),
                      jnp.arange(height, dtype=jnp.float32), indexing='xy')
  camera = jnp.stack([(i - width / 2) / focal, -(j - height / 2) / focal,
                      -jnp.ones_like(i)], axis=-1)
  directions = camera @ pose[:3, :3].T
  return jnp.broadcast_to(pose[:3, 3], directions.shape), directions


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def sample_depths(near: float, far: float, num_samples: int, num_rays: int,
                  key: jax.Array | None = None) -> jax.Array:
  """Depths (num_rays, num_samples) along each ray.

  linspace(near, far, num_samples) on every ray; with a key (training), each
  depth moves by its own U[0, 1) * (far - near) / num_samples.
  """
  depths = jnp.broadcast_to(jnp.linspace(near, far, num_samples),
                            (num_rays, num_samples))
  if key is None:
    return depths
  return depths + (jax.random.uniform(key, depths.shape)
                   * (far - near) / num_samples)


def sample_points(origins, directions, depths):
  """Points o + z d: (R, 3), (R, 3), (R, S) -> (R, S, 3)."""
  return origins[:, None, :] + depths[..., None] * directions[:, None, :]


def composite(colours, densities, depths) -> dict[str, jax.Array]:
  """Volume rendering of samples along rays (the module docstring's formulas).

  Args:
    colours: (..., S, 3) in [0, 1].
    densities: (..., S) >= 0.
    depths: (..., S), increasing along the last axis.

  Returns:
    {'rgb': (..., 3), 'depth': (...), 'opacity': (...), 'weights': (..., S)}.
  """
  deltas = jnp.concatenate(
      [jnp.diff(depths, axis=-1),
       jnp.full(depths.shape[:-1] + (1,), LAST_INTERVAL, depths.dtype)], -1)
  alpha = 1.0 - jnp.exp(-densities * deltas)
  kept = jnp.minimum(1.0, 1.0 - alpha + 1e-10)
  transmittance = jnp.concatenate(
      [jnp.ones_like(kept[..., :1]), jnp.cumprod(kept[..., :-1], axis=-1)], -1)
  weights = alpha * transmittance
  return {'rgb': jnp.sum(weights[..., None] * colours, axis=-2),
          'depth': jnp.sum(weights * depths, axis=-1),
          'opacity': jnp.sum(weights, axis=-1),
          'weights': weights}
