"""The pure, compiled pieces of a fit: state, loss and gradient, steps, prediction.

Each is a pure function of arrays (the run around them is cppn/train.py):

  create_train_state  model + Adam(learning_rate) -> TrainState
  prepare_batch       precomputed features -> point chunks for the gradient
                      (or, from train.training_batch, models.GridFeatures:
                      every point of a grid, one chunk)
  loss_and_grad       the task's loss (its Objective, cppn/tasks/base.py) and
                      its gradient in chunks of `train.chunk_size` points
                      (same value up to rounding, bounded memory): a
                      pointwise loss (0.5 * MSE for images) summed chunk by
                      chunk; a loss through an operator that couples all
                      points (CT, MRI) in two passes, see coupled_loss_and_grad
  train_step          one Adam step; full batch, a random minibatch when
                      batch_size > 0, or the batch the objective samples;
                      the rate decays when the batch says so
                      (learning_rate_factor)
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
from cppn import models
from cppn.tasks import base as task_base

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


def prepare_batch(features: np.ndarray, pixels: np.ndarray | None,
                  chunk_size: int) -> Batch:
  """Lays the training set out feature-major in chunks for `loss_and_grad`.

  Args:
    features: (P, F) encoded training coordinates, or (P, d) coordinates
      when the encoding is applied chunk by chunk during training.
    pixels: (P, C) pointwise targets (colours in [0, 1] for an image), or
      None for a task whose observations are not per point.
    chunk_size: points per gradient chunk; <= 0 or >= P means one chunk.

  Returns:
    {'x': (n, F, c), 'y': (n, C, c), 'w': (n, c)} with n * c >= P, one
    column per point (the layout the models compute in, see models.dense);
    w is 1 on real points and 0 on the zero padding of the last chunk; no
    'y' when pixels is None.
  """
  num_pixels = features.shape[0]
  chunk = num_pixels if chunk_size <= 0 else min(chunk_size, num_pixels)
  num_chunks = -(-num_pixels // chunk)
  pad = num_chunks * chunk - num_pixels
  lay_out = lambda a: np.ascontiguousarray(np.pad(
      np.asarray(a, np.float32), [(0, pad), (0, 0)]).reshape(
          num_chunks, chunk, a.shape[1]).transpose(0, 2, 1))
  weights = (np.arange(num_chunks * chunk) < num_pixels).astype(np.float32)
  batch = {'x': lay_out(features), 'w': weights.reshape(num_chunks, chunk)}
  if pixels is not None:
    batch['y'] = lay_out(pixels)
  return batch


def weighted_point_loss(params, apply_fn, objective, x, y, w):
  """Sum of w * objective.point_loss(f(x), y): (F, c), (C, c), (c,) -> ()."""
  pred = apply_fn({'params': params}, x, feature_major=True)
  return jnp.sum(w * objective.point_loss(pred, y))


def chunk_apply(apply_fn, batch: Batch, encoding_name: str | None):
  """apply_fn for one chunk of batch['x']: features, or with `encoding_name`
  coordinates that are encoded on the fly with batch['encoding']."""
  if encoding_name is None:
    return apply_fn
  return lambda variables, coords, feature_major: apply_fn(
      variables, encodings.encode(encoding_name, batch['encoding'],
                                  coords.T).T, feature_major=feature_major)


def loss_and_grad(params, apply_fn, batch: Batch,
                  encoding_name: str | None = None,
                  objective: task_base.Objective = task_base.SQUARED_ERROR):
  """Full-batch loss of `objective` and its gradient, chunk by chunk.

  With `encoding_name`, batch['x'] holds coordinates and each chunk is
  encoded on the fly with the parameters batch['encoding'] (for images whose
  features would not fit in memory); otherwise batch['x'] holds features.
  The default objective, 0.5 * MSE on batch['y'], is the image task's.
  """
  apply_fn = chunk_apply(apply_fn, batch, encoding_name)
  if not objective.pointwise:
    return coupled_loss_and_grad(params, apply_fn, batch, objective)
  num_values = jnp.sum(batch['w']) * batch['y'].shape[1]
  grad_fn = jax.value_and_grad(weighted_point_loss)

  def add_chunk(carry, chunk):
    total, grads = carry
    value, chunk_grads = grad_fn(params, apply_fn, objective, *chunk)
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
  scale = objective.point_scale / num_values
  return total * scale, jax.tree_util.tree_map(lambda g: g * scale, grads)


def assemble(chunk_preds):
  """Chunked feature-major outputs -> point-major: (n, C, c) -> (n c, C)."""
  return jnp.swapaxes(chunk_preds, 1, 2).reshape(-1, chunk_preds.shape[1])


def coupled_loss_and_grad(params, apply_fn, batch: Batch,
                          objective: task_base.Objective):
  """objective.loss of the network's outputs on every point, and its
  gradient, chunk by chunk.

  GridFeatures in batch['x'] (every point of a grid, one chunk; see
  train.training_batch): plain reverse mode through the network on them.
  One chunk, or objective.keep_activations: plain reverse mode through a
  forward pass over the chunks (lax.map), whose backward pass reads every
  chunk's stored activations. Otherwise memory is bounded by one chunk's
  activations: (1) forward chunk by chunk (lax.map, no activations kept)
  into the outputs on every point; (2) the loss and its gradient dL/dpred on
  those outputs; (3) the parameter gradient accumulated chunk by chunk
  (lax.scan), each chunk's forward pass recomputed under jax.vjp and pulled
  back with its slice of dL/dpred. The same gradient up to rounding, at the
  cost of a second forward pass (4/3 of the FLOPs).
  """
  chunk_pred = lambda p, x: apply_fn({'params': p}, x, feature_major=True)
  loss_of_chunks = lambda preds: objective.loss(assemble(preds), batch)
  x = batch['x']
  if isinstance(x, models.GridFeatures):
    return jax.value_and_grad(lambda p: objective.loss(
        chunk_pred(p, x).T, batch))(params)
  if x.shape[0] == 1 or objective.keep_activations:
    return jax.value_and_grad(lambda p: loss_of_chunks(
        jax.lax.map(lambda chunk: chunk_pred(p, chunk), x)))(params)
  preds = jax.lax.map(lambda chunk: chunk_pred(params, chunk), x)
  loss, dpreds = jax.value_and_grad(loss_of_chunks)(preds)

  def add_chunk(grads, chunk):
    chunk_x, chunk_dpred = chunk
    _, pull_back = jax.vjp(lambda p: chunk_pred(p, chunk_x), params)
    return jax.tree_util.tree_map(jnp.add, grads,
                                  pull_back(chunk_dpred)[0]), None

  grads, _ = jax.lax.scan(
      add_chunk, jax.tree_util.tree_map(jnp.zeros_like, params), (x, dpreds))
  return loss, grads


def sample_minibatch(batch: Batch, key: jax.Array, batch_size: int) -> Batch:
  """batch_size pixels drawn uniformly with replacement, as one chunk."""
  chunk = batch['w'].shape[1]
  # Padding has weight 0, so draw only among real pixels.
  index = jax.random.randint(key, (batch_size,), 0,
                             jnp.sum(batch['w']).astype(jnp.int32))
  draw = lambda a: a[index // chunk, :, index % chunk].T[None]  # (1, D, b)
  return dict(batch, x=draw(batch['x']), y=draw(batch['y']),
              w=jnp.ones((1, batch_size), jnp.float32))


def learning_rate_factor(batch: Batch, step) -> jax.Array:
  """The factor on the base learning rate at `step`: rate^(step / steps)
  for a batch with 'lr_decay_rate' and 'lr_decay_steps' (a continuous
  exponential decay, train.lr_decay_rate per train.lr_decay_steps)."""
  return batch['lr_decay_rate'] ** (jnp.asarray(step, jnp.float32)
                                    / batch['lr_decay_steps'])


def apply_gradients(state: TrainState, grads, factor) -> TrainState:
  """state.apply_gradients with Adam's updates scaled by `factor`: the step
  of Adam at learning rate base * factor (Adam's update is linear in its
  rate), the base staying in opt_state.hyperparams."""
  updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
  updates = jax.tree_util.tree_map(lambda u: u * factor, updates)
  return state.replace(step=state.step + 1,
                       params=optax.apply_updates(state.params, updates),
                       opt_state=opt_state)


def train_step(state: TrainState, batch: Batch, key: jax.Array,
               batch_size: int, encoding_name: str | None = None,
               objective: task_base.Objective = task_base.SQUARED_ERROR
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One Adam step on the full batch, on a minibatch when batch_size > 0, or
  on the batch objective.sample draws when the objective resamples.

  The step's key is folded with the step number, so a resumed run draws
  the same points as an uninterrupted one. `encoding_name`: see
  loss_and_grad.
  A batch with 'num_steps' (the fit's length) passes the model progress =
  step / num_steps (families.takes_progress); one with 'lr_decay_rate'
  decays the learning rate (learning_rate_factor).
  """
  step_key = jax.random.fold_in(key, state.step)
  factor = (learning_rate_factor(batch, state.step)
            if 'lr_decay_rate' in batch else None)
  if batch_size > 0:
    batch = sample_minibatch(batch, step_key, batch_size)
  elif objective.resamples:
    batch = objective.sample(batch, step_key)
  apply_fn = state.apply_fn
  if 'num_steps' in batch:
    progress = state.step / batch['num_steps']
    apply_fn = lambda variables, x, **kwargs: state.apply_fn(
        variables, x, progress=progress, **kwargs)
  loss, grads = loss_and_grad(state.params, apply_fn, batch, encoding_name,
                              objective)
  if factor is not None:
    return apply_gradients(state, grads, factor), {'loss': loss}
  return state.apply_gradients(grads=grads), {'loss': loss}


def scan_train_steps(state: TrainState, batch: Batch, key: jax.Array,
                     num_steps: int, batch_size: int = 0,
                     encoding_name: str | None = None,
                     objective: task_base.Objective = task_base.SQUARED_ERROR):
  """`num_steps` train steps as one lax.scan.

  Returns:
    The new state and metrics {'loss'}, (num_steps,): the loss before each
    step's update.
  """
  step = lambda s, _: train_step(s, batch, key, batch_size, encoding_name,
                                 objective)
  return jax.lax.scan(step, state, None, length=num_steps)


STATIC_ARGNAMES = ('num_steps', 'batch_size', 'encoding_name', 'objective')
train_steps = jax.jit(scan_train_steps, donate_argnums=(0,),
                      static_argnames=STATIC_ARGNAMES)
train_steps.__doc__ = 'scan_train_steps, compiled, the state donated.'


@functools.partial(jax.jit, static_argnames=STATIC_ARGNAMES,
                   donate_argnums=(0,))
def train_steps_per_member(states: TrainState, batches: Batch, keys: jax.Array,
                           num_steps: int, batch_size: int = 0,
                           encoding_name: str | None = None,
                           objective: task_base.Objective = (
                               task_base.SQUARED_ERROR)):
  """scan_train_steps over a leading member axis of every argument.

  The members train vmapped, or one after another inside the compiled call
  (lax.map) on a single CPU device (backend.maps_members: there each member
  computes exactly what its solo run computes, same test PSNR to the last
  digit). A single member is neither mapped nor vmapped.

  Returns:
    The new states and metrics, each (M, num_steps).
  """
  steps = functools.partial(scan_train_steps, num_steps=num_steps,
                            batch_size=batch_size, encoding_name=encoding_name,
                            objective=objective)
  if keys.shape[0] > 1:
    if backend.maps_members(jax.default_backend(), jax.device_count()):
      return jax.lax.map(lambda member: steps(*member),
                         (states, batches, keys))
    return jax.vmap(steps)(states, batches, keys)
  return jax.tree_util.tree_map(lambda x: x[None], steps(
      group.unstack(states, 0), group.unstack(batches, 0), keys[0]))


def make_predict_fn(apply_fn: Callable[..., Any], encoding_name: str,
                    chunk_size: int):
  """A jitted fn(params, encoding_params, coords (P, d)) -> outputs (P, C).

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
        padded.reshape(num_chunks, chunk, coords.shape[1]))
    return colours.reshape(-1, colours.shape[-1])[:num_pixels]

  return predict
