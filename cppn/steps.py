"""The pure, compiled pieces of a fit: state, loss and gradient, steps, prediction.

Each is a pure function of arrays (the run around them is cppn/train.py):

  create_train_state  model + Adam(learning_rate) -> TrainState
  prepare_batch       precomputed features -> pixel chunks for the gradient
  loss_and_grad       full-batch 0.5 * MSE and its gradient, summed over
                      chunks of `train.chunk_size` pixels (same value up to
                      rounding, bounded memory)
  train_step          one Adam step; full batch, or a random minibatch when
                      batch_size > 0
  train_steps         `num_steps` train steps inside one compiled call
                      (lax.scan), state buffers donated
  train_steps_per_member
                      the same over a leading member axis (a group)
  make_predict_fn     coordinates -> colours, encoding inside, chunked
"""

import functools
from typing import Any, Callable

import flax.linen as nn
from flax.training import train_state
import jax
import jax.numpy as jnp
import numpy as np
import optax

from cppn import backend
from cppn import encodings
from cppn import group

TrainState = train_state.TrainState
Batch = dict[str, jax.Array]


# One optimiser object for every state: its learning rate is a placeholder,
# each state carries its own in opt_state.hyperparams, and states that share
# the same static fields (apply_fn, tx) can be stacked into a member axis.
ADAM = optax.inject_hyperparams(optax.adam)(learning_rate=0.0)


@functools.partial(jax.jit, static_argnums=(0, 1))
def create_train_state(model: nn.Module, num_inputs: int, learning_rate,
                       key: jax.Array) -> TrainState:
  """Initialises the model for (., num_inputs) features and Adam(learning_rate).

  The learning rate (a float > 0) lives in the optimiser state
  (optax.inject_hyperparams), so states of sweep members with different
  rates stack and vmap. Compiled once per (model, num_inputs): run eagerly,
  initialisation compiles each of its ~30 small operations on first use
  (2.1 s against 1.0 s for the paper MLP, measured on 2 CPU cores).
  """
  params = model.init(key, jnp.zeros((1, num_inputs), jnp.float32))['params']
  state = TrainState.create(apply_fn=model.apply, params=params, tx=ADAM)
  hyperparams = dict(state.opt_state.hyperparams, learning_rate=jnp.asarray(
      learning_rate, jnp.float32))
  return state.replace(opt_state=state.opt_state._replace(
      hyperparams=hyperparams))


def prepare_batch(features: np.ndarray, pixels: np.ndarray,
                  chunk_size: int) -> Batch:
  """Lays the training set out feature-major in chunks for `loss_and_grad`.

  Args:
    features: (P, F) encoded training coordinates, or (P, 2) coordinates
      when the encoding is applied chunk by chunk during training.
    pixels: (P, 3) target colours in [0, 1].
    chunk_size: pixels per gradient chunk; <= 0 or >= P means one chunk.

  Returns:
    {'x': (n, F, c), 'y': (n, 3, c), 'w': (n, c)} with n * c >= P, one
    column per pixel (the layout the models compute in, see models.dense);
    w is 1 on real pixels and 0 on the zero padding of the last chunk.
  """
  num_pixels = features.shape[0]
  chunk = num_pixels if chunk_size <= 0 else min(chunk_size, num_pixels)
  num_chunks = -(-num_pixels // chunk)
  pad = num_chunks * chunk - num_pixels
  lay_out = lambda a: np.ascontiguousarray(np.pad(
      np.asarray(a, np.float32), [(0, pad), (0, 0)]).reshape(
          num_chunks, chunk, a.shape[1]).transpose(0, 2, 1))
  weights = (np.arange(num_chunks * chunk) < num_pixels).astype(np.float32)
  return {'x': lay_out(features), 'y': lay_out(pixels),
          'w': weights.reshape(num_chunks, chunk)}


def weighted_squared_error(params, apply_fn, x, y, w, **model_kwargs):
  """Sum of w * (f(x) - y)^2: (F, c), (3, c), (c,) -> ().

  model_kwargs: extra keywords of the model's apply (`progress`).
  """
  pred = apply_fn({'params': params}, x, feature_major=True, **model_kwargs)
  return jnp.sum(w * (pred - y) ** 2)


def loss_and_grad(params, apply_fn, batch: Batch,
                  encoding_name: str | None = None, **model_kwargs):
  """Full-batch loss 0.5 * MSE and its gradient, accumulated chunk by chunk.

  With `encoding_name`, batch['x'] holds coordinates and each chunk is
  encoded on the fly with the parameters batch['encoding'] (for images whose
  features would not fit in memory); otherwise batch['x'] holds features.
  model_kwargs go to the model's apply.
  """
  num_values = jnp.sum(batch['w']) * batch['y'].shape[1]
  grad_fn = jax.value_and_grad(weighted_squared_error)
  if encoding_name is not None:
    model_apply = apply_fn
    apply_fn = lambda variables, coords, **kwargs: model_apply(
        variables, encodings.encode(encoding_name, batch['encoding'],
                                    coords.T).T, **kwargs)

  def add_chunk(carry, chunk):
    total, grads = carry
    value, chunk_grads = grad_fn(params, apply_fn, *chunk, **model_kwargs)
    return (total + value, jax.tree_util.tree_map(jnp.add, grads, chunk_grads)
            ), None

  init = (jnp.zeros((), jnp.float32),
          jax.tree_util.tree_map(jnp.zeros_like, params))
  chunks = (batch['x'], batch['y'], batch['w'])
  if batch['x'].shape[0] == 1:
    (total, grads), _ = add_chunk(init, jax.tree_util.tree_map(
        lambda a: a[0], chunks))
  else:
    (total, grads), _ = jax.lax.scan(add_chunk, init, chunks)
  scale = 0.5 / num_values
  return total * scale, jax.tree_util.tree_map(lambda g: g * scale, grads)


def sample_minibatch(batch: Batch, key: jax.Array, batch_size: int) -> Batch:
  """batch_size pixels drawn uniformly with replacement, as one chunk."""
  chunk = batch['w'].shape[1]
  # Padding has weight 0, so draw only among real pixels.
  index = jax.random.randint(key, (batch_size,), 0,
                             jnp.sum(batch['w']).astype(jnp.int32))
  draw = lambda a: a[index // chunk, :, index % chunk].T[None]  # (1, D, b)
  return dict(batch, x=draw(batch['x']), y=draw(batch['y']),
              w=jnp.ones((1, batch_size), jnp.float32))


def train_step(state: TrainState, batch: Batch, key: jax.Array,
               batch_size: int, encoding_name: str | None = None
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One Adam step on the full batch, or on a minibatch when batch_size > 0.

  The minibatch key is folded with the step number, so a resumed run draws
  the same pixels as an uninterrupted one. `encoding_name`: see loss_and_grad.
  A batch with 'num_steps' (the fit's length) passes the model progress =
  step / num_steps (families.takes_progress).
  """
  if batch_size > 0:
    batch = sample_minibatch(batch, jax.random.fold_in(key, state.step),
                             batch_size)
  model_kwargs = ({'progress': state.step / batch['num_steps']}
                  if 'num_steps' in batch else {})
  loss, grads = loss_and_grad(state.params, state.apply_fn, batch,
                              encoding_name, **model_kwargs)
  return state.apply_gradients(grads=grads), {'loss': loss}


def scan_train_steps(state: TrainState, batch: Batch, key: jax.Array,
                     num_steps: int, batch_size: int = 0,
                     encoding_name: str | None = None):
  """`num_steps` train steps as one lax.scan.

  Returns:
    The new state and metrics {'loss'}, (num_steps,): the loss before each
    step's update.
  """
  step = lambda s, _: train_step(s, batch, key, batch_size, encoding_name)
  return jax.lax.scan(step, state, None, length=num_steps)


STATIC_ARGNAMES = ('num_steps', 'batch_size', 'encoding_name')
train_steps = jax.jit(scan_train_steps, donate_argnums=(0,),
                      static_argnames=STATIC_ARGNAMES)
train_steps.__doc__ = 'scan_train_steps, compiled, the state donated.'


@functools.partial(jax.jit, static_argnames=STATIC_ARGNAMES,
                   donate_argnums=(0,))
def train_steps_per_member(states: TrainState, batches: Batch, keys: jax.Array,
                           num_steps: int, batch_size: int = 0,
                           encoding_name: str | None = None):
  """scan_train_steps over a leading member axis of every argument.

  The members train vmapped, or one after another inside the compiled call
  (lax.map) on a single CPU device (backend.maps_members: there each member
  computes exactly what its solo run computes, same test PSNR to the last
  digit). A single member is neither mapped nor vmapped.

  Returns:
    The new states and metrics, each (M, num_steps).
  """
  steps = functools.partial(scan_train_steps, num_steps=num_steps,
                            batch_size=batch_size, encoding_name=encoding_name)
  if keys.shape[0] > 1:
    if backend.maps_members(jax.default_backend(), jax.device_count()):
      return jax.lax.map(lambda member: steps(*member),
                         (states, batches, keys))
    return jax.vmap(steps)(states, batches, keys)
  return jax.tree_util.tree_map(lambda x: x[None], steps(
      group.unstack(states, 0), group.unstack(batches, 0), keys[0]))


def make_predict_fn(apply_fn: Callable[..., Any], encoding_name: str,
                    chunk_size: int):
  """A jitted fn(params, encoding_params, coords (P, 2)) -> colours (P, 3).

  Coordinates are encoded inside, chunk by chunk, so rendering a large image
  never holds all its features at once.
  """

  def predict_chunk(params, encoding_params, coords):
    features = encodings.encode(encoding_name, encoding_params, coords)
    return apply_fn({'params': params}, features)

  @jax.jit
  def predict(params, encoding_params, coords):
    num_pixels = coords.shape[0]
    chunk = min(chunk_size, num_pixels) if chunk_size > 0 else num_pixels
    num_chunks = -(-num_pixels // chunk)
    padded = jnp.pad(coords, ((0, num_chunks * chunk - num_pixels), (0, 0)))
    colours = jax.lax.map(
        lambda c: predict_chunk(params, encoding_params, c),
        padded.reshape(num_chunks, chunk, 2))
    return colours.reshape(-1, colours.shape[-1])[:num_pixels]

  return predict
