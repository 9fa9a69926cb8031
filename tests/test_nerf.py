"""The simple NeRF's pieces: the task's training samples and chunked
renders of views, the synthetic scene, and the Blender / tiny-NeRF loaders
on tiny generated files. (Volume rendering, rays and bad sampling:
test_rays.py; tiny fits and bad config values: test_nerf_task.py.)"""

import json
import math

import imageio.v3 as iio
import jax
import numpy as np
import pytest

import cppn
from cppn import nerf_data
from cppn import rays
from cppn.errors import CppnError
from cppn.tasks import nerf as nerf_task

NEAR, FAR = 2.0, 6.0


def test_training_samples_are_world_points_over_two_pi_on_their_rays():
  # Two rays; 3 rays x 4 samples a step into a (2, 3, 8) layout (padded).
  origins = np.array([[0.0, 0.0, 4.0], [4.0, 0.0, 0.0]], np.float32)
  directions = np.array([[0.0, 0.0, -1.0], [-2.0, 0.0, 0.0]], np.float32)
  batch = {'x': np.zeros((2, 3, 8), np.float32), 'ray_origins': origins,
           'ray_directions': directions,
           'ray_rgb': np.array([[1.0, 0, 0], [0, 1.0, 0]], np.float32)}
  objective = nerf_task.RayLoss(3, NEAR, FAR, 4, 1 / (2 * math.pi))
  step = objective.sample(batch, jax.random.PRNGKey(0))
  points = np.swapaxes(np.asarray(step['x']), 1, 2).reshape(-1, 3)
  world = 2 * math.pi * points[:12].reshape(3, 4, 3)
  depths = np.asarray(step['depths'])
  assert not points[12:].any()  # the padding
  for ray, rgb in zip(range(3), np.asarray(step['rgb'])):
    index = int(np.argmax(rgb[:2]))  # the red ray is the first
    np.testing.assert_allclose(
        world[ray], origins[index] + depths[ray, :, None] * directions[index],
        atol=1e-5)
  # Stratified (rays.sample_depths): linspace(near, far, S) plus
  # U[0, 1) * (far - near) / S.
  bins = np.linspace(NEAR, FAR, 4)
  assert ((depths >= bins) & (depths < bins + (FAR - NEAR) / 4)).all()


def test_the_encoding_none_sees_raw_world_points():
  config = cppn.api.make_config('configs/nerf.py', {
      'encoding.name': 'none'})
  assert nerf_task.input_scale(config) == 1.0
  config.encoding.name = 'gaussian'
  assert nerf_task.input_scale(config) == pytest.approx(0.15915494)


def _tiny_task(num_samples):
  config = cppn.api.make_config('configs/nerf.py', {
      'data.resolution': 6, 'task.num_samples': num_samples})
  return nerf_task.NerfTask(config, nerf_data.synthetic_views(6, (2, 1, 1)))


def ball(coords):
  """Raw outputs (2, P, 4) of two members at points (P, 3) / 2 pi: a red
  ball of radius 1 about the origin (density 1e3 inside, 0 outside) and
  the same ball in grey at a tenth of the density."""
  world = 2 * math.pi * np.asarray(coords, np.float64)
  inside = np.linalg.norm(world, axis=-1) < 1
  raw = np.stack([np.where(inside, 1e3, -1.0),
                  np.full(inside.shape, -9.0), np.full(inside.shape, -9.0),
                  np.where(inside, 1e3, 0.0)], -1)
  return np.stack([raw, raw * [0, 0, 0, 0.1]]).astype(np.float32)


def test_a_view_rendered_in_chunks_is_the_view_in_one_call():
  task = _tiny_task(num_samples=64)
  view = nerf_task.view_rays(6, 6, 8.0, rays.turntable_poses(1, 4.0))
  task.chunk_rays = 7  # 36 rays: 6 chunks, the last padded
  chunked = task.render(ball, view)
  task.chunk_rays = len(view)
  whole = task.render(ball, view)
  assert chunked['rgb'].shape == (2, 36, 3) and chunked['depth'].shape == (
      2, 36)
  for name in ('rgb', 'depth'):
    np.testing.assert_allclose(chunked[name], whole[name], atol=1e-6)
  # The centre pixel (row 3, column 3) looks at the origin from radius 4
  # along a unit direction: the ball's surface is 3 away, and the first
  # sample past it (spacing 4 / 64) takes all the weight.
  centre = 3 * 6 + 3
  assert 3.0 <= whole['depth'][0, centre] <= 3.0 + 4 / 64
  np.testing.assert_allclose(whole['rgb'][0, centre], [1, 0, 0], atol=1e-3)
  # A corner ray misses the ball: empty space renders black at depth 0.
  assert not whole['depth'][0, 0] and not whole['rgb'][0, 0].any()


def test_scene_depth_of_a_ray_through_the_striped_sphere():
  # The striped sphere: centre (0.35, 0.3, 0), radius 0.5. A ray from
  # (0.35, 0.3, 4) straight down hits its top at z = 0.5, t = 3.5; the
  # opposite ray points away from everything.
  colour, depth = nerf_data.cast_scene(
      np.array([[0.35, 0.3, 4.0], [0.35, 0.3, 4.0]]),
      np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]))
  np.testing.assert_allclose(depth, [3.5, 0.0], rtol=1e-6)
  assert colour[0].max() > 0 and not colour[1].any()


def _write_blender(folder, num_per_split=(2, 1, 1), size=6, drop_pose=False):
  """A tiny Blender-format folder of RGBA PNGs; returns the images written."""
  written = []
  rng = np.random.default_rng(0)
  for split, count in zip(nerf_data.SPLITS, num_per_split):
    (folder / split).mkdir(parents=True)
    frames = []
    for index in range(count):
      rgba = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
      iio.imwrite(folder / split / f'r_{index}.png', rgba)
      written.append(rgba)
      frames.append({'file_path': f'./{split}/r_{index}',
                     'transform_matrix': rays.look_at(
                         rays.spherical_position(4, index, 0.5)).tolist()})
    if drop_pose:
      frames[0]['transform_matrix'] = [[1, 0], [0, 1]]
    (folder / f'transforms_{split}.json').write_text(json.dumps(
        {'camera_angle_x': 0.6911, 'frames': frames}))
  return written


def test_load_blender_composites_alpha_over_black(tmp_path):
  written = _write_blender(tmp_path)
  views = nerf_data.load_blender(tmp_path)
  assert views.images.shape == (4, 6, 6, 3) and views.poses.shape == (4, 4, 4)
  rgba = written[3].astype(np.float64) / 255
  np.testing.assert_allclose(views.images[3], rgba[..., :3] * rgba[..., 3:],
                             atol=1e-6)
  np.testing.assert_allclose(views.focal, 3 / np.tan(0.6911 / 2))
  assert [list(v) for v in views.splits.values()] == [[0, 1], [2], [3]]


def test_load_npz_splits_like_the_paper(tmp_path):
  path = tmp_path / 'tiny.npz'
  poses = rays.hemisphere_poses(120, 4.0, seed=0)[:, :3]  # (n, 3, 4)
  np.savez(path, images=np.zeros((120, 4, 4, 3), np.float32), poses=poses,
           focal=np.float64(5.0))
  views = nerf_data.load_views(str(path), size=0)
  assert [len(v) for v in views.splits.values()] == [100, 7, 13]
  np.testing.assert_allclose(views.poses[:, 3], np.tile([0, 0, 0, 1],
                                                        (120, 1)))
  np.savez(path, images=np.zeros((5, 4, 4, 3)), poses=poses[:4], focal=5.0)
  with pytest.raises(CppnError, match='4 poses for 5 images'):
    nerf_data.load_npz(path)


def test_bad_nerf_folders_are_one_error(tmp_path):
  with pytest.raises(CppnError, match='no transforms_train.json'):
    nerf_data.load_blender(tmp_path)
  _write_blender(tmp_path / 'bad', drop_pose=True)
  with pytest.raises(CppnError, match=r'poses must be \(n, 4, 4\)'):
    nerf_data.load_blender(tmp_path / 'bad')
