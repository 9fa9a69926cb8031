"""Surfaces as triangle meshes: extraction, files and pictures.

  marching_cubes   the level set of a field sampled on a grid over a box
                   (scikit-image's marching cubes), e.g. a fitted network's
                   logit = 0 (p = 0.5)
  level_set        the same from the field's values on a grid
  write_obj        a mesh as a Wavefront OBJ file, atomically
  render_normals   a picture of a surface: its camera-space normals as
                   colours, (n + 1) / 2, on white. The surface is splatted:
                   many points drawn uniformly over its area, projected
                   through a pinhole camera, the nearest kept per pixel
  orbit_pose       a camera circling the unit cube's centre (turntables)
  write_pictures   shape.png (truth | fit) and turntable.gif (both turning)
  near_surface_points, area_weighted_surface_points
                   points on (and near) a surface

Meshes are (V, 3) float vertices and (T, 3) int faces.
"""

import io
import math
import pathlib

import numpy as np
import skimage.measure

from cppn import outputs
from cppn import rays

CENTRE = np.array([0.5, 0.5, 0.5])  # the unit cube's centre: cameras aim here


def marching_cubes(slice_fn, box, grid: int, level: float = 0.0):
  """The surface field = level of a field sampled on grid^3 points of a box.

  Args:
    slice_fn: (grid, grid, 3) points of one x-slice -> (grid, grid) values.
    box: (2, 3) lowest and highest corner.
    grid: samples per axis.
    level: the surface's field value.

  Returns:
    vertices (V, 3) in box coordinates and faces (T, 3); both empty when
    the field does not cross `level` on the grid.
  """
  box = np.asarray(box, np.float32)
  axes = [np.linspace(box[0, i], box[1, i], grid, dtype=np.float32)
          for i in range(3)]
  plane = np.stack(np.meshgrid(axes[1], axes[2], indexing='ij'), -1)
  values = np.stack([np.asarray(slice_fn(np.concatenate(
      [np.full(plane.shape[:2] + (1,), x, np.float32), plane], -1)))
                     for x in axes[0]])
  return level_set(values, box[0], (box[1] - box[0]) / (grid - 1), level)


def level_set(values, origin, spacing, level: float = 0.0):
  """The surface values = level of a field on a grid.

  Args:
    values: (X, Y, Z) the field at origin + (i, j, k) * spacing.
    origin: (3,) the point of values[0, 0, 0].
    spacing: (3,) or a float, the grid step per axis.
    level: the surface's field value.

  Returns:
    vertices (V, 3) and faces (T, 3); both empty when the field does not
    cross `level`.
  """
  values = np.asarray(values, np.float32)
  if not values.min() < level < values.max():
    return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
  vertices, faces, _, _ = skimage.measure.marching_cubes(
      values, level, spacing=tuple(np.broadcast_to(
          np.asarray(spacing, np.float32), (3,))))
  return vertices + np.asarray(origin, np.float32), faces


def write_obj(path, vertices, faces):
  """Writes a mesh as OBJ text (1-based faces), atomically."""
  buffer = io.StringIO()
  np.savetxt(buffer, vertices, fmt='v %.6f %.6f %.6f')
  np.savetxt(buffer, np.asarray(faces) + 1, fmt='f %d %d %d')
  with outputs.atomic_open(path) as f:
    f.write(buffer.getvalue())


def orbit_pose(azimuth: float, elevation: float = math.radians(25),
               distance: float = 1.4) -> np.ndarray:
  """A camera-to-world pose at `distance` from the cube's centre, facing it,
  +y up (the usual up axis of mesh files)."""
  x, z, y = rays.spherical_position(distance, azimuth, elevation)
  return rays.look_at(CENTRE + np.array([x, y, z]), CENTRE, up=(0.0, 1.0, 0.0))


def render_normals(vertices, faces, pose, size: int, focal: float | None = None,
                   points_per_pixel: float = 12.0, seed: int = 0) -> np.ndarray:
  """A normal-map picture (size, size, 3) in [0, 1] of a mesh (white if empty).

  focal: pixels; default 1.1 * size (about a 49 degree field of view).
  """
  image = np.ones((size, size, 3), np.float32)
  if len(faces) == 0:
    return image
  focal = 1.1 * size if focal is None else focal
  points, normals = area_weighted_surface_points(
      np.random.default_rng(seed), vertices, faces,
      int(points_per_pixel * size * size))
  rotation, position = pose[:3, :3], pose[:3, 3]
  camera = (points - position) @ rotation  # camera coordinates, -z ahead
  normals = normals @ rotation
  # Orient normals towards the camera (meshes of either winding).
  normals *= np.where(np.sum(normals * camera, -1) > 0, -1, 1)[:, None]
  ahead = -camera[:, 2]
  with np.errstate(divide='ignore', invalid='ignore'):
    column = np.floor(focal * camera[:, 0] / ahead + size / 2)
    row = np.floor(-focal * camera[:, 1] / ahead + size / 2)
  visible = ((ahead > 0) & (column >= 0) & (column < size) & (row >= 0)
             & (row < size))
  pixel = (row * size + column)[visible].astype(np.int64)
  order = np.lexsort((ahead[visible], pixel))  # by pixel, nearest first
  first = np.unique(pixel[order], return_index=True)[1]
  nearest = order[first]
  image.reshape(-1, 3)[pixel[nearest]] = (normals[visible][nearest] + 1) / 2
  return image


def write_pictures(workdir, truth, fit, size: int, num_frames: int):
  """shape.png (the true surface | the fitted one, as normal maps at one
  view) and turntable.gif (both turning, num_frames views) in `workdir`.

  truth, fit: (vertices, faces) meshes in the unit cube; size: pixels per
  side of each picture.
  """
  workdir = pathlib.Path(workdir)
  frames = []
  for azimuth in np.linspace(0, 2 * math.pi, num_frames,
                             endpoint=False) + 0.6:
    pose = orbit_pose(azimuth)
    frames.append(np.concatenate([render_normals(*truth, pose, size),
                                  render_normals(*fit, pose, size)], axis=1))
  outputs.write_png(workdir / 'shape.png', frames[0])
  outputs.write_frames_gif(workdir / 'turntable.gif', frames, 0.12)


def near_surface_points(rng: np.random.Generator, vertices, faces, count: int,
                        noise: float = 0.01) -> np.ndarray:
  """count points near the surface: a face drawn uniformly by index, a
  uniform point in it (square-root barycentrics), plus N(0, noise^2) on
  each axis (the paper's notebook)."""
  triangles = np.asarray(vertices)[np.asarray(faces)[rng.integers(
      0, len(faces), count)]]
  points = points_in_triangles(rng, triangles)
  return (points + rng.normal(0, noise, points.shape)).astype(np.float32)


def area_weighted_surface_points(rng: np.random.Generator, vertices, faces,
                                 count: int):
  """count points uniform over the surface's area and their faces' unit
  normals, both (count, 3) (for pictures)."""
  triangles = np.asarray(vertices)[np.asarray(faces)]
  cross = np.cross(triangles[:, 1] - triangles[:, 0],
                   triangles[:, 2] - triangles[:, 0])
  areas = np.linalg.norm(cross, axis=-1)
  index = rng.choice(len(areas), count, p=areas / areas.sum())
  normals = cross[index] / np.maximum(areas[index], 1e-12)[:, None]
  return points_in_triangles(rng, triangles[index]), normals


def points_in_triangles(rng: np.random.Generator, triangles) -> np.ndarray:
  """One uniform point in each triangle (n, 3, 3) -> (n, 3), by
  square-root barycentrics."""
  s = np.sqrt(rng.uniform(size=(len(triangles), 1)))
  t = rng.uniform(size=(len(triangles), 1))
  return ((1 - s) * triangles[:, 0] + s * (1 - t) * triangles[:, 1]
          + s * t * triangles[:, 2])
