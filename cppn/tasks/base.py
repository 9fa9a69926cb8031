"""What a task is: the interface every fit's data path goes through.

A task is a signal on [0, 1)^d (d = 1, 2 or 3), seen through observations,
and fitted by a coordinate network f: gamma(v) -> C outputs. It has two
halves.

The Objective (static: a frozen, hashable dataclass; it is an argument of the
compiled steps, so equal objectives share one compiled program and members of
a group share theirs). It turns the network's outputs on a step's points into
the loss, in pure jnp:

  pointwise   True: the loss is a sum over points (an image, a 1D signal,
              occupancy labels); steps sums it chunk by chunk, each chunk's
              gradient at once (the fast path).
              False: an operator couples all points (CT projections, an MRI
              Fourier transform, volume rendering along a ray); steps runs
              an exact chunked gradient (steps.coupled_loss_and_grad).
  keep_activations  coupled only, set by the trainer from the memory
              (backend.with_gradient_memory), not by a task: True keeps
              every chunk's activations for the backward pass (one forward
              pass); False recomputes them chunk by chunk (two forward
              passes, memory of one chunk).
  point_loss(pred, y) -> (C, c)       pointwise only; pred, y: (C, c)
              feature-major (C outputs of c points); y is the batch's 'y'.
  point_scale the pointwise loss is point_scale * sum(w * point_loss) /
              (number of real points * C): 0.5 for 0.5 * MSE, 1 for a mean
              cross-entropy.
  loss(pred, batch) -> ()             coupled only; pred: (P', C), the
              outputs on every point of batch['x'] in order, P' >= P (rows
              past the task's P points are chunk padding: ignore them);
              batch: the step's arrays (the task's observations under their
              names).
  resamples   True: sample(batch, key) -> batch is called at every step
              (key folded with the step number, so a resumed run draws the
              same batches) and returns the step's batch: 'x' (n, d, c)
              coordinates in chunks (steps.prepare_batch's layout; the
              encoding is then applied on the fly), 'w' (n, c), and 'y' or
              any observation arrays the loss reads. For batches drawn fresh
              each step: random points with labels from a pool kept in the
              batch, or rays whose 128 samples per ray are the points
              and whose loss composites them (coupled).

The Task (host side, numpy; built by cppn.tasks.make_task from the config):

  name         the config's task.name
  dim          d, axes of the coordinates (encodings take 1, 2 or 3)
  out_dim      C, the network's outputs per point (3 for RGB, 1 for a grey
               image, a density or a sound)
  objective    its Objective
  target       the signal the fit should recover: signal_shape + (C,)
  signal_shape the grid the signal lives on: (N, N), (N, N, N) or (L,);
               its coordinates are data.coordinate_grid(N, d)
  train_coords (P, d) float32 in [0, 1): the points of a training step (the
               full batch; for a resampling objective, the points sample()
               starts from, if any)
  train_targets (P, C) pointwise targets, laid out with train_coords; None
               for a coupled objective
  observations {name: array}: further batch arrays (a sinogram, masked
               k-space and its mask), one set per fit, stacked along the
               member axis of a group like every batch array
  eval_coords  {name: (Q, d) float32}: points predicted at every evaluation
               (the same for all members of a group)
  scores       the row's names of the fit's quality, plotted as curves and
               copied into summary.json: ('train_psnr', 'test_psnr') (dB)
               unless a task measures something else (occupancy: IoUs);
               the last is the headline (progress bar, tables, the
               divergence check); score_label names their axis
  predictions(predict) -> {name: (M, ...)}
               what evaluate reads, for the M members of a group; predict:
               coords (Q, d) -> (M, Q, C), the members' networks as they
               stand (compiled, chunked). Default: predict on each of
               eval_coords. A task whose evaluation needs more than values
               at fixed points overrides it (NeRF renders whole views)
  render_signal(predict) -> (M,) + signal_shape + (C,)
               the fits write_outputs receives. Default: the networks on
               data.coordinate_grid(N, d) of signal_shape
  evaluate(preds) -> (row, frame)
               preds: one member's predictions (by default {name: (Q, C)}
               on eval_coords). row: floats with at
               least 'loss' (the objective's value, for the divergence
               check) and the scores; frame: an (H, W, 3) picture in
               [0, 1] for the progress GIF, or None
  write_outputs(workdir, signal, preds, rows) -> summary fields
               signal: the fit on signal_shape's grid, signal_shape + (C,);
               preds: the last evaluation's; rows: every metrics row. Writes
               the task's pictures (and progress.gif from workdir/frames);
               returns fields for summary.json
  describe()   one line for logs

A 2D image is the identity operator (cppn/tasks/image.py, pointwise 0.5 *
MSE): with the default objective SQUARED_ERROR the steps are those of a plain
image fit.
"""

import dataclasses
import functools
import pathlib
from typing import Any, Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from cppn import data
from cppn import models
from cppn.errors import CppnError

Row = dict[str, float]
# coords (Q, d) -> (M, Q, C): the networks of a group's M members.
Predict = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Objective:
  """The loss of a task in pure jnp (see the module docstring)."""
  pointwise: ClassVar[bool] = True
  point_scale: ClassVar[float] = 0.5
  resamples: ClassVar[bool] = False
  keep_activations: bool = dataclasses.field(default=False, kw_only=True)

  def point_loss(self, pred, y):
    """Per-value loss: (C, c), (C, c) -> (C, c)."""
    raise NotImplementedError

  def loss(self, pred, batch):
    """The loss of the outputs on every point: (P', C), batch -> ()."""
    raise NotImplementedError

  def sample(self, batch, key):
    """The batch of one step, drawn with `key` (resampling objectives)."""
    return batch


@dataclasses.dataclass(frozen=True)
class SquaredError(Objective):
  """0.5 * mean squared error over points and outputs (images, signals)."""

  def point_loss(self, pred, y):
    return (pred - y) ** 2


SQUARED_ERROR = SquaredError()


class Task:
  """A fit's signal, observations and evaluation (module docstring)."""
  name: ClassVar[str]
  dim: int
  out_dim: int
  objective: Objective
  target: np.ndarray
  train_coords: np.ndarray
  train_targets: np.ndarray | None = None
  observations: dict[str, np.ndarray] = {}
  eval_coords: dict[str, np.ndarray]
  scores: ClassVar[tuple[str, ...]] = ('train_psnr', 'test_psnr')
  score_label: ClassVar[str] = 'PSNR (dB)'

  @property
  def headline(self) -> str:
    """The score tables and the progress bar show: the last of scores."""
    return self.scores[-1]

  @property
  def signal_shape(self) -> tuple[int, ...]:
    return self.target.shape[:-1]

  def predictions(self, predict: Predict) -> dict[str, np.ndarray]:
    return {name: predict(coords) for name, coords in self.eval_coords.items()}

  def render_signal(self, predict: Predict) -> np.ndarray:
    shape = self.signal_shape
    values = predict(data.coordinate_grid(shape[0], self.dim).reshape(
        -1, self.dim))
    return values.reshape(values.shape[:1] + shape + values.shape[-1:])

  def evaluate(self, preds: dict[str, np.ndarray]
               ) -> tuple[Row, np.ndarray | None]:
    raise NotImplementedError

  def write_outputs(self, workdir: pathlib.Path, signal: np.ndarray,
                    preds: dict[str, np.ndarray],
                    rows: list[Row]) -> dict[str, Any]:
    raise NotImplementedError

  def describe(self) -> str:
    return f'{self.name}: {self.train_coords.shape[0]} training points'


@functools.partial(jax.jit, static_argnums=0)
def _loss(objective: Objective, pred, observations):
  return objective.loss(pred, observations)


def objective_value(objective: Objective, pred: np.ndarray,
                    observations: dict[str, np.ndarray]) -> float:
  """A coupled objective's loss of outputs (P, C) on the task's points."""
  return float(_loss(objective, jnp.asarray(pred), observations))


def check_raw_output(config, task_name: str, what: str):
  """Raises CppnError unless the network's outputs are raw (the loss maps
  them itself): model.output_activation 'identity' where the model reads
  it. what: what the outputs are, for the message."""
  if ('output_activation' in models.reads(config.model)
      and config.model.output_activation != 'identity'):
    raise CppnError(f'task {task_name} fits {what}: set '
                    "model.output_activation='identity' (configs/"
                    f'{task_name}.py does), got '
                    f'{config.model.output_activation!r}')


def check_positive(config, fields: tuple[str, ...]):
  """Raises CppnError naming the first of the task's `fields` below 1."""
  for field in fields:
    if config.task[field] < 1:
      raise CppnError(f'task.{field} must be >= 1, got {config.task[field]}')


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
  """-10 log10(MSE) of values in [0, 1] (pred clipped to [0, 1] first)."""
  mse = np.mean((np.clip(pred, 0, 1) - target) ** 2, dtype=np.float64)
  return float(-10 * np.log10(mse))
