"""Solid shapes for occupancy fits: a surface mesh and an inside test.

A Shape lives in the unit cube: its surface mesh (vertices in [0, 1]^3,
triangles), the bounding box that training and test points are drawn from
(the mesh's extent +- 1e-3, as the paper's notebook), and its inside test.
Sources (`load_shape`):

  sphere, bumpy, gyroid  procedural solids with an analytic inside test (a
                  jnp function, so a training step can label fresh points
                  itself); the mesh is marching cubes of the same field on a
                  fine grid, used for near-surface test points and pictures:
                    sphere  radius 0.35 about the cube's centre (tests)
                    bumpy   a star-shaped solid of radius
                            0.33 (1 + sum_i a_i sin(k_i u.d_i + phi_i) / 3)
                            in direction u: 12 fixed directions d_i,
                            k_i = 6 .. 20, a_i = 0.08 sqrt(6 / k_i) (fine
                            detail at several scales)
                    gyroid  a ball of radius 0.45 cut by the solid side of a
                            gyroid of period 1/3 (thin struts and tunnels)
  bunny, cow, bone, airplane
                  closed meshes inside pymeshlab's wheel
                  (pymeshlab/tests/sample_meshes; the bunny is the Stanford
                  scan, the family of the paper's meshes); `pip install
                  cppn[shapes]`
  PATH            any mesh file trimesh reads (OBJ, PLY, STL, OFF, GLB, ...;
                  a scene's meshes are merged)

Meshes are normalised like the paper's: minus the vertex mean, divided by
the largest |coordinate|, then v -> (v + 1) / 2. Their inside test is
trimesh's ray-parity `contains` (Embree through embreex when installed),
which needs a watertight mesh; it runs on the host, so training draws from
a labelled pool (see cppn/occupancy.py).
"""

import dataclasses
import importlib.util
import math
import pathlib
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cppn import meshes
from cppn.errors import CppnError

PROCEDURAL_SHAPES = ('sphere', 'bumpy', 'gyroid')
BUNDLED_MESHES = ('bunny', 'cow', 'bone', 'airplane')
BUNDLED_FILES = {'bunny': 'bunny.obj', 'cow': 'cow.obj', 'bone': 'bone.ply',
                 'airplane': 'airplane.obj'}
BOX_MARGIN = 1e-3  # the bounding box is the mesh's extent +- this
MESH_GRID = 192  # marching-cubes samples per axis of procedural meshes


@dataclasses.dataclass
class Shape:
  """A solid in the unit cube; see the module docstring."""
  name: str
  vertices: np.ndarray  # (V, 3) float, in [0, 1]
  faces: np.ndarray  # (T, 3) int vertex indices
  box: np.ndarray  # (2, 3): lowest and highest corner
  # Analytic inside test, (..., 3) -> (...) bool, jnp (jit-able); None for
  # meshes, labelled by `contains` on the host.
  inside_fn: Callable | None = None
  mesh: object = None  # the trimesh.Trimesh of a mesh source

  def contains(self, points) -> np.ndarray:
    """Inside labels (P,) bool of host points (P, 3)."""
    if self.inside_fn is not None:
      return np.asarray(self.inside_fn(jnp.asarray(points, jnp.float32)))
    return np.asarray(self.mesh.contains(np.asarray(points, np.float64)))


# --- Procedural solids: signed fields, negative inside. ---------------------

CENTRE = 0.5


def _sphere_field(points):
  return jnp.linalg.norm(points - CENTRE, axis=-1) - 0.35


def _ripple_directions():
  """12 fixed unit directions, frequencies and phases of the bumpy shape."""
  rng = np.random.default_rng(7)
  directions = rng.normal(size=(12, 3))
  directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
  return (directions.astype(np.float32),
          np.linspace(6, 20, 12).astype(np.float32),
          rng.uniform(0, 2 * math.pi, 12).astype(np.float32))


_RIPPLES = _ripple_directions()


def _bumpy_field(points):
  offset = points - CENTRE
  distance = jnp.linalg.norm(offset, axis=-1)
  unit = offset / jnp.maximum(distance, 1e-9)[..., None]
  directions, freqs, phases = _RIPPLES
  ripples = jnp.sin(freqs * (unit @ directions.T) + phases)
  amplitudes = 0.08 / np.sqrt(freqs / 6)  # finer ripples, smaller
  radius = 0.33 * (1 + jnp.sum(amplitudes * ripples, -1) / 3)
  return distance - radius


def _gyroid_field(points):
  p = (points - CENTRE) * (2 * math.pi * 3)
  gyroid = (jnp.sin(p[..., 0]) * jnp.cos(p[..., 1])
            + jnp.sin(p[..., 1]) * jnp.cos(p[..., 2])
            + jnp.sin(p[..., 2]) * jnp.cos(p[..., 0]))
  ball = jnp.linalg.norm(points - CENTRE, axis=-1) - 0.45
  return jnp.maximum(ball, (gyroid - 0.4) / (2 * math.pi * 3))


FIELDS = {'sphere': _sphere_field, 'bumpy': _bumpy_field,
          'gyroid': _gyroid_field}


def procedural_shape(name: str, grid: int = MESH_GRID) -> Shape:
  """One of PROCEDURAL_SHAPES, its mesh from a grid^3 marching cubes."""
  field = FIELDS[name]
  vertices, faces = meshes.marching_cubes(jax.jit(field),
                                          [[0.0] * 3, [1.0] * 3], grid)
  return Shape(name, vertices, faces, bounding_box(vertices),
               inside_fn=lambda points: field(points) < 0)


def bounding_box(vertices) -> np.ndarray:
  """(2, 3): the vertices' extent +- BOX_MARGIN."""
  return np.stack([vertices.min(0) - BOX_MARGIN, vertices.max(0) + BOX_MARGIN])


# --- Meshes. ----------------------------------------------------------------

def _import_trimesh():
  try:
    import trimesh  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise CppnError('mesh shapes need trimesh: pip install cppn[shapes]') from e
  return trimesh


def bundled_mesh_path(name: str) -> pathlib.Path:
  """The file of a BUNDLED_MESHES mesh inside pymeshlab's installed wheel."""
  spec = importlib.util.find_spec('pymeshlab')
  if spec is None or not spec.submodule_search_locations:
    raise CppnError(f'shape {name!r} is a mesh shipped with pymeshlab: pip '
                    'install cppn[shapes]')
  path = (pathlib.Path(spec.submodule_search_locations[0]) / 'tests'
          / 'sample_meshes' / BUNDLED_FILES[name])
  if not path.exists():
    raise CppnError(f'shape {name!r}: {path} is missing from this pymeshlab')
  return path


def normalise(vertices) -> np.ndarray:
  """The paper's normalisation into [0, 1]^3 (see the module docstring)."""
  centred = vertices - vertices.mean(0)
  return 0.5 * (centred / np.abs(centred).max() + 1)


def mesh_shape(path, name: str | None = None) -> Shape:
  """A watertight mesh file as a Shape, normalised into the unit cube.

  Raises:
    CppnError: a file trimesh cannot read, no triangles, or a mesh that is
      not watertight (the inside test needs a closed surface).
  """
  trimesh = _import_trimesh()
  path = pathlib.Path(path)
  try:
    mesh = trimesh.load(path, force='mesh')
  # trimesh raises many kinds of errors on a bad file.
  except Exception as e:  # pylint: disable=broad-except
    raise CppnError(f'cannot read mesh {path}: {e}') from e
  if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
    raise CppnError(f'mesh {path} has no triangles')
  if not mesh.is_watertight:
    raise CppnError(f'mesh {path} is not watertight ({len(mesh.faces)} faces);'
                    ' the inside test needs a closed surface (repair it, e.g. '
                    'with trimesh.repair.fill_holes, or choose another mesh)')
  mesh = trimesh.Trimesh(normalise(np.asarray(mesh.vertices)),
                         np.asarray(mesh.faces), process=False)
  return Shape(name or path.stem, np.asarray(mesh.vertices),
               np.asarray(mesh.faces), bounding_box(np.asarray(mesh.vertices)),
               mesh=mesh)


def load_shape(source: str) -> Shape:
  """A Shape from a procedural name, a bundled mesh's name, or a mesh file."""
  if source in PROCEDURAL_SHAPES:
    return procedural_shape(source)
  if source in BUNDLED_MESHES:
    return mesh_shape(bundled_mesh_path(source), source)
  if not pathlib.Path(source).is_file():
    raise CppnError(f'unknown shape {source!r}: not a file, nor one of '
                    + ', '.join(PROCEDURAL_SHAPES + BUNDLED_MESHES))
  return mesh_shape(source)


# --- Points. ----------------------------------------------------------------

def uniform_points(rng: np.random.Generator, box, count: int) -> np.ndarray:
  """count points (count, 3) uniform in the box (2, 3)."""
  return rng.uniform(box[0], box[1], (count, 3)).astype(np.float32)
