"""3D shape occupancy: a solid seen through the inside / outside labels of
points.

The Fourier-features paper's occupancy protocol (Table 1's shape row;
configs/occupancy.py holds its settings). The network's one output is a
logit (model.output_activation 'identity'), p = sigmoid(logit) the
probability that a point is inside.

The target (data.image): a shape of cppn/shapes.py in the unit cube, whose
box is its extent +- 1e-3:
  sphere, bumpy, gyroid         procedural solids, labelled by their analytic
                                inside test
  bunny, cow, bone, airplane    meshes shipped in pymeshlab's wheel
                                (pip install cppn[shapes])
  PATH                          any watertight mesh file trimesh reads
                                (OBJ, PLY, STL, OFF, GLB, ...)
A mesh that cannot be read, or is not watertight, is refused (its inside
test is ray parity).

Training (the Objective, pointwise, resampling): every step draws
task.points_per_step fresh points uniform in the box. A procedural solid
labels them inside the compiled step; a mesh's ray-parity test runs on the
host, too slow for every step, so its points are drawn from a pool of
task.pool_size points uniform in the box, labelled once. Loss: the mean
sigmoid cross-entropy of the logits (point_scale 1).

Coordinates are the points of the unit cube as they are: the encoding
'none' sees v itself (the paper's notebook fed 2 v - 1, an affine change
the first layer can absorb, but not the same initial function).

Evaluation: IoU at 0.5 (logit > 0 against the labels) on task.test_points
points uniform in the box ('iou_uniform') and task.test_points near-surface
points ('iou_surface', the headline: Table 1's number): a face drawn by
index, a uniform point in it, plus N(0, 0.01^2) per axis; the same points
at every evaluation (seed 1). The row's loss is the mean cross-entropy on
the uniform points. Frame: the mid-plane z = 0.5 (64 x 64 points), the
labels beside the fitted p.

Outputs: fit.obj (marching cubes of logit = 0 on the data.resolution^3
grid), shape.png (normal maps of the true surface and the fit, one view),
turntable.gif (both turning), progress.gif (the mid-plane at each
evaluation); pictures of 2 data.resolution pixels a side (at most 256).
Summary fields: shape, mesh_faces (of fit.obj).
"""

import dataclasses
import functools
import pathlib
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cppn import data
from cppn import meshes
from cppn import occupancy
from cppn import outputs
from cppn import shapes
from cppn.tasks import base
from cppn.tasks import ct

TEST_SEED = 1  # seed of the test points
SLICE_POINTS = 64  # points per side of the frame's mid-plane
TURNTABLE_FRAMES = 24
MAX_PICTURE_SIZE = 256


@dataclasses.dataclass(frozen=True)
class OccupancyLoss(base.Objective):
  """Mean sigmoid cross-entropy of logits against inside labels, on fresh
  points every step.

  shape: the data.image source. A procedural solid (shapes.FIELDS) labels
  uniform points in batch['box'] analytically; any other draws them from
  batch['pool_points'] and batch['pool_labels']. Members of a group share
  one objective, so members with different shapes train apart.
  """
  point_scale: ClassVar[float] = 1.0
  resamples: ClassVar[bool] = True
  shape: str

  @property
  def analytic(self) -> bool:
    return self.shape in shapes.FIELDS

  def point_loss(self, pred, y):
    return optax.sigmoid_binary_cross_entropy(pred, y)

  def sample(self, batch, key):
    """Fresh points in batch['x']'s layout (n, 3, c), labels (n, 1, c)."""
    n, _, c = batch['x'].shape
    if self.analytic:
      box = batch['box']
      points = box[0] + (box[1] - box[0]) * jax.random.uniform(key, (n, c, 3))
      labels = shapes.FIELDS[self.shape](points) < 0
    else:
      index = jax.random.randint(key, (n * c,), 0,
                                 batch['pool_labels'].shape[0])
      points = batch['pool_points'][index].reshape(n, c, 3)
      labels = batch['pool_labels'][index].reshape(n, c)
    return dict(batch, x=jnp.swapaxes(points, 1, 2),
                y=labels[:, None, :].astype(jnp.float32))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
  """Mean sigmoid cross-entropy of logits (P,) against labels (P,) in {0, 1}."""
  logits = np.asarray(logits, np.float64)
  return float(np.mean(np.maximum(logits, 0) - logits * labels
                       + np.log1p(np.exp(-np.abs(logits)))))


def mid_plane(count: int) -> np.ndarray:
  """(count^2, 3) points of the plane z = 0.5 on a count x count grid;
  row i is y = i / count, column j is x = j / count."""
  grid = data.coordinate_grid(count, 2).reshape(-1, 2)
  return np.concatenate([grid, np.full((len(grid), 1), 0.5, np.float32)], 1)


class OccupancyTask(base.Task):
  """A solid fitted through the inside / outside labels of points."""
  name = 'occupancy'
  dim = 3
  out_dim = 1
  scores = ('iou_uniform', 'iou_surface')
  score_label = 'IoU at 0.5'

  def __init__(self, config, shape: shapes.Shape | None = None):
    """shape: the solid to fit; default shapes.load_shape(data.image)."""
    base.check_positive(config, ('points_per_step', 'test_points',
                                 'pool_size'))
    base.check_raw_output(config, 'occupancy', 'a logit')
    self.shape = shape or shapes.load_shape(config.data.image)
    self.resolution = config.data.resolution
    self.objective = OccupancyLoss(config.data.image if shape is None
                                   else self.shape.name)
    box = self.shape.box.astype(np.float32)
    self.observations = {'box': box}
    points = config.task.points_per_step
    if self.objective.analytic:
      pool = occupancy.labelled_pool(self.shape, points, seed=0)
    else:
      pool = occupancy.labelled_pool(
          self.shape, max(config.task.pool_size, points), seed=0)
      self.observations.update(pool_points=pool['points'],
                               pool_labels=pool['labels'].astype(np.float32))
    # The layout of a step's points; each step draws its own (sample).
    self.train_coords = pool['points'][:points]
    self.train_targets = pool['labels'][:points, None].astype(np.float32)
    self.test_sets = occupancy.test_sets(self.shape, TEST_SEED,
                                         config.task.test_points)
    plane = mid_plane(SLICE_POINTS)
    self.plane_labels = self.shape.contains(plane).reshape(
        SLICE_POINTS, SLICE_POINTS)
    self.eval_coords = {**{name: s['points']
                           for name, s in self.test_sets.items()},
                        'plane': plane}

  @property
  def signal_shape(self):
    return (self.resolution,) * 3

  @functools.cached_property
  def target(self) -> np.ndarray:
    """The labels (N, N, N, 1) in {0, 1} on data.coordinate_grid(N, 3)."""
    grid = data.coordinate_grid(self.resolution, 3)
    return self.shape.contains(grid.reshape(-1, 3)).reshape(
        grid.shape[:-1] + (1,)).astype(np.float32)

  def evaluate(self, preds):
    """IoU of logit > 0 per test set; loss: cross-entropy on the uniform
    points; frame: the mid-plane's labels | fitted p."""
    row = {'loss': cross_entropy(preds['uniform'][:, 0],
                                 self.test_sets['uniform']['labels'])}
    for name in ('uniform', 'surface'):
      row[f'iou_{name}'] = occupancy.iou(preds[name][:, 0] > 0,
                                         self.test_sets[name]['labels'])
    fitted = 1 / (1 + np.exp(-preds['plane'][:, 0].astype(np.float64)))
    return row, ct.grey_to_rgb(np.concatenate(
        [self.plane_labels, fitted.reshape(self.plane_labels.shape)], axis=1))

  def write_outputs(self, workdir: pathlib.Path, signal, preds, rows):
    # coordinate_grid's 3D layout is grid[i, j, k] = (j, i, k) / N: swap the
    # first two axes so values[a, b, c] is the point (a, b, c) / N.
    vertices, faces = meshes.level_set(
        np.swapaxes(signal[..., 0], 0, 1), np.zeros(3), 1 / self.resolution)
    meshes.write_obj(workdir / 'fit.obj', vertices, faces)
    meshes.write_pictures(workdir, (self.shape.vertices, self.shape.faces),
                          (vertices, faces),
                          min(MAX_PICTURE_SIZE, 2 * self.resolution),
                          TURNTABLE_FRAMES)
    outputs.write_gif(workdir / 'progress.gif', workdir / 'frames',
                      rows[-1]['step'])
    return {'shape': self.shape.name, 'mesh_faces': int(len(faces))}

  def describe(self):
    source = ('fresh, labelled analytically' if self.objective.analytic else
              f'drawn from {len(self.observations["pool_labels"])} labelled'
              ' points')
    return (f'occupancy: {self.shape.name}, {len(self.train_coords)} '
            f'points a step ({source}), '
            f'{len(self.test_sets["uniform"]["labels"])} test points per set')
