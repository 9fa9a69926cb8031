"""Shape occupancy: labels against analytic answers, the IoU formula, test
points, mesh files and pictures, bad meshes. (Tiny fits through the engine:
test_occupancy_task.py.)"""

import jax
import numpy as np
import pytest
import trimesh

from cppn import meshes
from cppn import occupancy
from cppn import shapes
from cppn.errors import CppnError
from cppn.tasks.occupancy import OccupancyLoss


def test_iou_by_hand():
  predicted = np.array([1, 1, 0, 0, 1, 0], bool)
  inside = np.array([1, 0, 1, 0, 1, 0], bool)
  assert occupancy.iou(predicted, inside) == pytest.approx(2 / 4)
  assert occupancy.iou(inside, inside) == 1.0
  assert occupancy.iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_sphere_labels_are_the_analytic_answer():
  points = np.random.default_rng(0).uniform(0, 1, (20000, 3))
  want = np.linalg.norm(points - 0.5, axis=-1) < 0.35
  sphere = shapes.procedural_shape('sphere', grid=24)
  np.testing.assert_array_equal(sphere.contains(points), want)


def test_mesh_labels_of_a_sphere_by_ray_parity(tmp_path):
  # An icosphere of radius 1 normalises to radius 0.5 about (0.5, 0.5, 0.5);
  # its faces lie within 0.003 of that sphere (4 subdivisions).
  path = tmp_path / 'ball.stl'
  trimesh.creation.icosphere(subdivisions=4).export(path)
  ball = shapes.load_shape(str(path))
  np.testing.assert_allclose(ball.box, [[-1e-3] * 3, [1 + 1e-3] * 3],
                             atol=2e-3)
  points = np.random.default_rng(1).uniform(0, 1, (20000, 3))
  radius = np.linalg.norm(points - 0.5, axis=-1)
  clear = np.abs(radius - 0.5) > 0.005
  np.testing.assert_array_equal(ball.contains(points)[clear],
                                (radius < 0.5)[clear])


def test_near_surface_points_spread_like_the_noise():
  sphere = shapes.procedural_shape('sphere', grid=48)
  sets = occupancy.test_sets(sphere, seed=2, count=20000)
  assert sets['uniform']['points'].shape == (20000, 3)
  offsets = np.linalg.norm(sets['surface']['points'] - 0.5, axis=-1) - 0.35
  # Isotropic N(0, 0.01^2) in 3-D moves a point off the surface along the
  # normal by N(0, 0.01^2); the marching-cubes facets add < 0.001.
  assert abs(offsets.mean()) < 1e-3
  assert offsets.std() == pytest.approx(0.01, rel=0.05)
  np.testing.assert_array_equal(sets['surface']['labels'], offsets < 0)


def test_marching_cubes_file_and_picture(tmp_path):
  field = lambda p: np.linalg.norm(p - 0.5, axis=-1) - 0.3
  vertices, faces = meshes.marching_cubes(field, [[0.0] * 3, [1.0] * 3], 32)
  np.testing.assert_allclose(np.linalg.norm(vertices - 0.5, axis=-1), 0.3,
                             atol=3e-3)
  meshes.write_obj(tmp_path / 'ball.obj', vertices, faces)
  loaded = trimesh.load(tmp_path / 'ball.obj', force='mesh', process=False)
  np.testing.assert_allclose(loaded.vertices, vertices, atol=1e-6)
  assert loaded.is_watertight
  picture = meshes.render_normals(vertices, faces, meshes.orbit_pose(0.3), 32)
  assert picture.shape == (32, 32, 3)
  assert (picture < 1).any(axis=-1)[16, 16] and (picture == 1).all(-1)[0, 0]
  empty = meshes.marching_cubes(lambda p: np.ones(p.shape[:-1]),
                                [[0.0] * 3, [1.0] * 3], 8)
  assert empty[0].shape == (0, 3) and empty[1].shape == (0, 3)


def test_bad_meshes_are_one_error(tmp_path):
  garbage = tmp_path / 'garbage.ply'
  garbage.write_bytes(b'ply\nformat nonsense\n\x00\x01')
  with pytest.raises(CppnError, match='garbage.ply'):
    shapes.load_shape(str(garbage))
  open_box = trimesh.creation.box()
  open_box.faces = open_box.faces[:-2]
  open_box.export(tmp_path / 'open.obj')
  with pytest.raises(CppnError, match='not watertight'):
    shapes.load_shape(str(tmp_path / 'open.obj'))
  with pytest.raises(CppnError, match='unknown shape'):
    shapes.load_shape('no_such_shape')


def test_steps_of_a_sphere_draw_points_in_its_box_labelled_analytically():
  # The pool half of OccupancyLoss.sample: test_occupancy_task.py.
  sphere = shapes.procedural_shape('sphere', grid=16)
  batch = {'x': np.zeros((2, 3, 2000), np.float32),
           'box': sphere.box.astype(np.float32)}
  step = OccupancyLoss('sphere').sample(batch, jax.random.PRNGKey(1))
  points = np.swapaxes(np.asarray(step['x']), 1, 2).reshape(-1, 3)
  assert (points >= sphere.box[0]).all() and (points <= sphere.box[1]).all()
  np.testing.assert_array_equal(
      np.asarray(step['y']).reshape(-1),
      np.linalg.norm(points - 0.5, axis=-1) < 0.35)
