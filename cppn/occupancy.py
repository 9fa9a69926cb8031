"""3-D shape occupancy: a coordinate MLP fitted to inside/outside labels.

The Fourier-features paper's protocol (its 3d_shape_occupancy notebook,
Table 4), on points v in the shape's box inside [0, 1]^3 (cppn/shapes.py):

  features        none: 2 v - 1; the Fourier encodings with the amplitudes
                  divided by ||a|| (basic / sqrt 3, Gaussian / 16,
                  positional / sqrt 255)
  make_model      8 x 256 ReLU MLP with one logit output
  create_state    Adam at lr 5e-4 * 0.1^(i / 5000) (continuous decay)
  train_steps     num_steps steps in one compiled call, each on batch_size
                  points: fresh uniform points in the box labelled by the
                  shape's analytic test inside the step, or draws from a
                  labelled pool (meshes, whose test runs on the host);
                  loss: sigmoid cross-entropy, mean over the batch
  make_logits_fn  logits at any number of points, in chunks
  iou             |{p > 0.5} n {inside}| / |{p > 0.5} u {inside}|, with
                  p = sigmoid(logit) (so logit > 0)
  test_sets       2^18 uniform points and 2^18 near-surface points (a
                  random face, a uniform point in it, N(0, 0.01^2)), labelled

A labelled pool is `{'points': (N, 3), 'labels': (N,)}`; an analytic
source is `{'box': (2, 3)}` with the shape's inside test passed as the
static `inside_fn`.
"""

import functools
from typing import Callable

import flax.linen as nn
from flax.training import train_state
import jax
import jax.numpy as jnp
import numpy as np
import optax

from cppn import chunks
from cppn import encodings
from cppn import meshes
from cppn import models
from cppn import shapes

TEST_POINTS = 2 ** 18  # points in each test set (the paper's)
SURFACE_NOISE = 0.01  # std of the near-surface jitter


def features(encoding_name: str, encoding_params, points):
  """gamma(v) with amplitudes a / ||a||: (..., 3) in [0, 1] -> (..., F)."""
  if encoding_name == 'none':
    return 2 * points - 1
  a = encoding_params['a']
  return encodings.fourier_features(points, encoding_params['b'],
                                    a / jnp.linalg.norm(a))


def make_model(depth: int = 8, width: int = 256,
               matmul_precision: str = 'float32') -> nn.Module:
  """The occupancy MLP: depth Dense layers, ReLU, one logit."""
  return models.MLP(depth=depth, width=width, out_dim=1,
                    output_activation='identity',
                    matmul_precision=matmul_precision)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def create_state(model: nn.Module, num_inputs: int, learning_rate: float,
                 decay_steps: int, decay_rate: float,
                 key: jax.Array) -> train_state.TrainState:
  """The model initialised for (., num_inputs) features, and Adam at
  learning_rate * decay_rate^(step / decay_steps) (the paper's 5e-4, 5000,
  0.1)."""
  params = model.init(key, jnp.zeros((1, num_inputs), jnp.float32))['params']
  return train_state.TrainState.create(
      apply_fn=model.apply, params=params, tx=optax.adam(
          optax.exponential_decay(learning_rate, decay_steps, decay_rate)))


def draw_batch(key, batch_size: int, source, inside_fn: Callable | None):
  """batch_size points (B, 3) and labels (B,) in {0, 1} from a source."""
  if inside_fn is not None:
    box = source['box']
    points = jax.random.uniform(key, (batch_size, 3), minval=box[0],
                                maxval=box[1])
    return points, inside_fn(points).astype(jnp.float32)
  index = jax.random.randint(key, (batch_size,), 0,
                             source['labels'].shape[0])
  return source['points'][index], source['labels'][index].astype(jnp.float32)


def logits(params, apply_fn, encoding_name: str, encoding_params, points):
  """The network's logits (...,) at points (..., 3)."""
  return apply_fn({'params': params}, features(
      encoding_name, encoding_params, points))[..., 0]


def train_step(state, source, encoding_params, key, encoding_name: str,
               batch_size: int, inside_fn: Callable | None):
  """One Adam step on a batch (draw_batch); key folded with the step."""
  points, labels = draw_batch(jax.random.fold_in(key, state.step), batch_size,
                              source, inside_fn)

  def loss_fn(params):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(
        logits(params, state.apply_fn, encoding_name, encoding_params,
               points), labels))

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  return state.apply_gradients(grads=grads), {'loss': loss}


@functools.partial(jax.jit, donate_argnums=(0,), static_argnames=(
    'num_steps', 'encoding_name', 'batch_size', 'inside_fn'))
def train_steps(state, source, encoding_params, key, num_steps: int,
                encoding_name: str, batch_size: int,
                inside_fn: Callable | None = None):
  """num_steps train_steps as one lax.scan; metrics are (num_steps,)."""
  step = lambda s, _: train_step(s, source, encoding_params, key,
                                 encoding_name, batch_size, inside_fn)
  return jax.lax.scan(step, state, None, length=num_steps)


def make_logits_fn(apply_fn, encoding_name: str, chunk_size: int):
  """A jitted fn(params, encoding_params, points (P, 3)) -> logits (P,)."""

  @jax.jit
  def fn(params, encoding_params, points):
    return chunks.map_in_chunks(
        lambda c: logits(params, apply_fn, encoding_name, encoding_params, c),
        points, chunk_size)

  return fn


def iou(predicted_inside, inside) -> float:
  """Intersection over union of two boolean masks of the same shape."""
  predicted_inside = np.asarray(predicted_inside, bool)
  inside = np.asarray(inside, bool)
  union = np.logical_or(predicted_inside, inside).sum()
  return float(np.logical_and(predicted_inside, inside).sum() / union
               ) if union else 1.0


def test_sets(shape: shapes.Shape, seed: int,
              count: int = TEST_POINTS) -> dict[str, dict[str, np.ndarray]]:
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


def evaluate(logits_fn, params, encoding_params, sets) -> dict[str, float]:
  """IoU at 0.5 on each test set: {'iou_uniform', 'iou_surface'}."""
  return {f'iou_{name}': iou(np.asarray(logits_fn(
      params, encoding_params, jnp.asarray(s['points']))) > 0, s['labels'])
          for name, s in sets.items()}
