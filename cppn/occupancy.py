"""3D shape occupancy's labelled points and its metric (for
cppn/tasks/occupancy.py).

  iou             |{predicted inside} n {inside}| / |{predicted inside} u
                  {inside}| of two boolean masks
  test_sets       count uniform points in the shape's box and count
                  near-surface points (a random face, a uniform point in it,
                  plus N(0, 0.01^2) per axis), labelled by the shape
  labelled_pool   uniform points in the box and their labels (meshes, whose
                  inside test runs on the host, train from such a pool)
"""

import numpy as np

from cppn import meshes
from cppn import shapes

SURFACE_NOISE = 0.01  # std of the near-surface jitter


def iou(predicted_inside, inside) -> float:
  """Intersection over union of two boolean masks of the same shape."""
  predicted_inside = np.asarray(predicted_inside, bool)
  inside = np.asarray(inside, bool)
  union = np.logical_or(predicted_inside, inside).sum()
  return float(np.logical_and(predicted_inside, inside).sum() / union
               ) if union else 1.0


def test_sets(shape: shapes.Shape, seed: int,
              count: int) -> dict[str, dict[str, np.ndarray]]:
  """{'uniform', 'surface'} -> {'points' (count, 3), 'labels' (count,) bool}."""
  rng = np.random.default_rng(seed)
  sets = {'uniform': shapes.uniform_points(rng, shape.box, count),
          'surface': meshes.near_surface_points(
              rng, shape.vertices, shape.faces, count, SURFACE_NOISE)}
  return {name: {'points': points, 'labels': shape.contains(points)}
          for name, points in sets.items()}


def labelled_pool(shape: shapes.Shape, size: int, seed: int):
  """`size` uniform points in the shape's box and their labels (host)."""
  points = shapes.uniform_points(np.random.default_rng(seed), shape.box, size)
  return {'points': points, 'labels': shape.contains(points)}
