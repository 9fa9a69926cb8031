"""The simple NeRF: its encodings, a tiny fit whose test PSNR rises, the
synthetic scene, and the Blender / tiny-NeRF loaders on tiny generated files."""

import json

import imageio.v3 as iio
import jax
import ml_collections
import numpy as np
import pytest

from cppn import cli
from cppn import encodings
from cppn import nerf
from cppn import nerf_data
from cppn import rays
from cppn import steps
from cppn.errors import CppnError
from experiments import nerf as nerf_experiment


def test_world_features_have_no_two_pi():
  points = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
  b = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32) * 26
  a = np.ones(5, np.float32)
  got = nerf.world_features('gaussian', {'b': b, 'a': a}, points)
  phase = points.astype(np.float64) @ b.T.astype(np.float64)
  np.testing.assert_allclose(got, np.concatenate([np.sin(phase), np.cos(phase)],
                                                 -1), atol=2e-4)
  np.testing.assert_array_equal(nerf.world_features('none', {}, points), points)


def test_scene_depth_of_a_ray_through_the_striped_sphere():
  # The striped sphere: centre (0.35, 0.3, 0), radius 0.5. A ray from
  # (0.35, 0.3, 4) straight down hits its top at z = 0.5, t = 3.5; the
  # opposite ray points away from everything.
  colour, depth = nerf_data.cast_scene(
      np.array([[0.35, 0.3, 4.0], [0.35, 0.3, 4.0]]),
      np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]))
  np.testing.assert_allclose(depth, [3.5, 0.0], rtol=1e-6)
  assert colour[0].max() > 0 and not colour[1].any()


def test_chunked_render_is_the_one_call_render():
  poses = rays.hemisphere_poses(2, 4.0, seed=0)
  origins, directions = nerf.view_rays(6, 6, 10.0, poses)
  config = ml_collections.ConfigDict(
      {'name': 'gaussian', 'sigma': 26.0, 'num_features': 8, 'seed': 0})
  encoding = encodings.init_encoding(config, 0, dim=3)
  state = steps.create_train_state(nerf.make_model(depth=2, width=16), 16,
                                   1e-3, jax.random.PRNGKey(0))
  sampling = nerf.Sampling(2.0, 6.0, 8)
  # Chunks of 50 rays, the last padded, against one call on all 72.
  chunked = nerf.make_render_fn(state.apply_fn, 'gaussian', sampling, 50)(
      state.params, encoding, origins, directions)
  whole = jax.jit(lambda params: nerf.render_rays(
      params, state.apply_fn, 'gaussian', encoding, origins, directions,
      sampling))(state.params)
  for name in ('rgb', 'depth', 'opacity'):
    assert chunked[name].shape == whole[name].shape
    np.testing.assert_allclose(chunked[name], whole[name], atol=1e-4)


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
  with pytest.raises(CppnError, match='near < far'):
    nerf.Sampling(6.0, 2.0, 8)
  with pytest.raises(CppnError, match='>= 1 samples'):
    nerf.Sampling(2.0, 6.0, 0)


def test_tiny_fit_raises_psnr_and_writes_pictures_and_table(tmp_path):
  cli.call(nerf_experiment.COMMAND, ['--preset=tiny', f'--workdir={tmp_path}',
                                     '--encodings=none', '--noprogress'])
  rows = [json.loads(row) for row in (
      tmp_path / 'none' / 'metrics.jsonl').read_text().splitlines()]
  assert [row['step'] for row in rows] == [0, 50, 100]
  assert rows[-1]['val_psnr'] > rows[0]['val_psnr'] + 2
  summary = json.loads((tmp_path / 'none' / 'summary.json').read_text())
  assert len(summary['test_psnrs']) == 2 and summary['test_psnr'] > 0
  assert summary['output_std'] > nerf_experiment.COLLAPSED_STD
  assert iio.imread(tmp_path / 'none' / 'test_views.png').ndim == 3
  assert iio.imread(tmp_path / 'none' / 'depth.png').shape == (12, 12, 3)
  assert iio.imread(tmp_path / 'none' / 'turntable.gif').shape[:3] == (3, 12,
                                                                      12)
  table = (tmp_path / 'nerf.md').read_text()
  assert '| none |' in table and '22.41' in table


def test_bad_sampling_on_the_command_line_is_one_error_line(tmp_path, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.call(nerf_experiment.COMMAND, ['--preset=tiny', f'--workdir={tmp_path}',
                                       '--near=6', '--far=2'])
  assert exit_info.value.code == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert err == ['error: ray sampling needs 0 <= near < far, got near=6.0, '
                 'far=2.0']
  assert not list(tmp_path.iterdir())
