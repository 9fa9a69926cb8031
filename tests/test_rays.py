"""Cameras, rays, depth samples and volume rendering against hand-worked and
NumPy references."""

import math

import jax
import numpy as np
import pytest

from cppn import rays
from cppn.errors import CppnError


def numpy_composite(colours, densities, depths):
  """The paper's discretisation, one ray at a time, in float64 loops."""
  num_rays, num_samples = densities.shape
  rgb = np.zeros((num_rays, 3))
  depth = np.zeros(num_rays)
  opacity = np.zeros(num_rays)
  weights = np.zeros((num_rays, num_samples))
  for r in range(num_rays):
    transmittance = 1.0
    for k in range(num_samples):
      delta = depths[r, k + 1] - depths[r, k] if k + 1 < num_samples else 1e10
      alpha = 1 - math.exp(-densities[r, k] * delta)
      weights[r, k] = alpha * transmittance
      transmittance *= min(1.0, 1 - alpha + 1e-10)
      rgb[r] += weights[r, k] * colours[r, k]
      depth[r] += weights[r, k] * depths[r, k]
      opacity[r] += weights[r, k]
  return rgb, depth, opacity, weights


def test_composite_matches_numpy_loops():
  rng = np.random.default_rng(0)
  depths = np.sort(rng.uniform(2, 6, (5, 16)), axis=-1)
  densities = rng.exponential(2.0, (5, 16)) * (rng.uniform(size=(5, 16)) > 0.3)
  colours = rng.uniform(size=(5, 16, 3))
  got = rays.composite(colours.astype(np.float32), densities.astype(np.float32),
                       depths.astype(np.float32))
  want = numpy_composite(colours, densities, depths)
  for name, value in zip(('rgb', 'depth', 'opacity', 'weights'), want):
    np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-5)


def test_composite_of_empty_space_is_black_and_last_sample_is_opaque():
  depths = np.linspace(2, 6, 8, dtype=np.float32)[None]
  empty = rays.composite(np.ones((1, 8, 3), np.float32),
                         np.zeros((1, 8), np.float32), depths)
  np.testing.assert_allclose(empty['rgb'], 0.0)
  # Density only on the last sample: its 1e10 interval makes it opaque.
  last = np.zeros((1, 8), np.float32)
  last[0, -1] = 1e-3
  wall = rays.composite(np.full((1, 8, 3), 0.5, np.float32), last, depths)
  np.testing.assert_allclose(wall['opacity'], 1.0, rtol=1e-6)
  np.testing.assert_allclose(wall['depth'], 6.0, rtol=1e-6)


def test_pixel_rays_of_a_hand_worked_camera():
  # At (4, 0, 0) facing the origin, world up +z: right = +y, up = +z,
  # back = +x. A 4 x 4 image with focal 2: pixel (column 0, row 0) looks
  # along (-1, 1, -1) in the camera, so -right + up - back in the world.
  pose = rays.look_at((4.0, 0.0, 0.0))
  np.testing.assert_allclose(pose[:3, :3], [[0, 0, 1], [1, 0, 0], [0, 1, 0]],
                             atol=1e-12)
  origins, directions = rays.pixel_rays(4, 4, 2.0, pose)
  np.testing.assert_allclose(origins, np.broadcast_to([4, 0, 0], (4, 4, 3)))
  np.testing.assert_allclose(directions[0, 0], [-1, -1, 1], atol=1e-6)
  np.testing.assert_allclose(directions[2, 2], [-1, 0, 0], atol=1e-6)
  # Column 3, row 1: camera ((3 - 2) / 2, -(1 - 2) / 2, -1) = (0.5, 0.5, -1).
  np.testing.assert_allclose(directions[1, 3], [-1, 0.5, 0.5], atol=1e-6)


def test_hemisphere_poses_look_at_the_origin_from_the_radius():
  poses = rays.hemisphere_poses(20, 4.0, seed=1)
  positions = poses[:, :3, 3]
  np.testing.assert_allclose(np.linalg.norm(positions, axis=-1), 4.0)
  assert (positions[:, 2] > 0).all()
  # The viewing direction -z of the camera points at the origin.
  np.testing.assert_allclose(-poses[:, :3, 2], -positions / 4.0, atol=1e-12)
  for pose in poses:  # a rotation
    np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3),
                               atol=1e-12)


def test_sample_depths_linspace_and_stratified():
  plain = rays.sample_depths(2.0, 6.0, 5, 3)
  np.testing.assert_allclose(plain, np.broadcast_to([2, 3, 4, 5, 6], (3, 5)))
  jittered = np.asarray(rays.sample_depths(2.0, 6.0, 5, 1000,
                                           jax.random.PRNGKey(0)))
  offset = jittered - np.asarray(plain[:1])
  assert offset.min() >= 0 and offset.max() < 4 / 5
  assert offset.max() > 0.75  # the whole width U[0, 1) * (far - near) / S
  assert len(np.unique(jittered[:, 0])) == 1000  # per ray and per sample


@pytest.mark.parametrize('near, far, samples, match', [
    (6.0, 2.0, 8, 'near < far'), (2.0, 2.0, 8, 'near < far'),
    (2.0, 6.0, 0, '>= 1 samples')])
def test_bad_sampling_is_one_error(near, far, samples, match):
  with pytest.raises(CppnError, match=match):
    rays.check_sampling(near, far, samples)
