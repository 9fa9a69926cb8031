"""Training: a pure, jit-compiled train step, many steps per compiled call.

The pieces, each a pure function of arrays:

  create_train_state  model + Adam -> TrainState (params, opt_state, step)
  prepare_batch       precomputed features -> pixel chunks for the gradient
  loss_and_grad       full-batch 0.5 * MSE and its gradient, summed over
                      chunks of `train.chunk_size` pixels (same value up to
                      rounding, bounded memory)
  train_step          one Adam step; full batch, or a random minibatch when
                      train.batch_size > 0
  train_steps         `num_steps` train steps inside one compiled call
                      (lax.scan), state buffers donated
  make_predict_fn     coordinates -> colours, encoding inside, chunked

  train_and_evaluate  the whole run: data, encoding, model, the loop with
                      evaluations, checkpoints and resume, and the outputs
"""

import functools
import os
import pathlib
import signal
import threading
import time
from typing import Any, Callable

from absl import logging
import flax.linen as nn
from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import tqdm

from cppn import checkpoints
from cppn import data
from cppn import encodings
from cppn import metrics
from cppn import models
from cppn import outputs
from cppn.errors import CppnError

TrainState = train_state.TrainState
Batch = dict[str, jax.Array]


def create_train_state(model: nn.Module, num_inputs: int,
                       config: ml_collections.ConfigDict,
                       key: jax.Array) -> TrainState:
  """Initialises the model for (., num_inputs) features and Adam(train.learning_rate).

  The learning rate lives in the optimiser state (optax.inject_hyperparams),
  so states of sweep members with different rates stack and vmap.
  """
  params = model.init(key, jnp.zeros((1, num_inputs), jnp.float32))['params']
  tx = optax.inject_hyperparams(optax.adam)(learning_rate=config.learning_rate)
  return TrainState.create(apply_fn=model.apply, params=params, tx=tx)


def prepare_batch(features: np.ndarray, pixels: np.ndarray,
                  chunk_size: int) -> Batch:
  """Lays the training set out in chunks for `loss_and_grad`.

  Args:
    features: (P, F) encoded training coordinates.
    pixels: (P, 3) target colours in [0, 1].
    chunk_size: pixels per gradient chunk; <= 0 or >= P means one chunk.

  Returns:
    {'x': (n, c, F), 'y': (n, c, 3), 'w': (n, c)} with n * c >= P; w is 1 on
    real pixels and 0 on the zero padding of the last chunk.
  """
  num_pixels = features.shape[0]
  chunk = num_pixels if chunk_size <= 0 else min(chunk_size, num_pixels)
  num_chunks = -(-num_pixels // chunk)
  pad = num_chunks * chunk - num_pixels
  lay_out = lambda a: np.pad(np.asarray(a, np.float32),
                             [(0, pad)] + [(0, 0)] * (a.ndim - 1)).reshape(
                                 num_chunks, chunk, *a.shape[1:])
  weights = (np.arange(num_chunks * chunk) < num_pixels).astype(np.float32)
  return {'x': lay_out(features), 'y': lay_out(pixels),
          'w': weights.reshape(num_chunks, chunk)}


def weighted_squared_error(params, apply_fn, x, y, w):
  """Sum of w * (f(x) - y)^2: (c, F), (c, 3), (c,) -> ()."""
  pred = apply_fn({'params': params}, x)
  return jnp.sum(w[:, None] * (pred - y) ** 2)


def loss_and_grad(params, apply_fn, batch: Batch):
  """Full-batch loss 0.5 * MSE and its gradient, accumulated chunk by chunk."""
  num_values = jnp.sum(batch['w']) * batch['y'].shape[-1]
  grad_fn = jax.value_and_grad(weighted_squared_error)

  def add_chunk(carry, chunk):
    total, grads = carry
    value, chunk_grads = grad_fn(params, apply_fn, *chunk)
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
  x = batch['x'].reshape(-1, batch['x'].shape[-1])
  y = batch['y'].reshape(-1, batch['y'].shape[-1])
  w = batch['w'].reshape(-1)
  # Padding has weight 0, so draw only among real pixels.
  index = jax.random.randint(key, (batch_size,), 0,
                             jnp.sum(w).astype(jnp.int32))
  return {'x': x[index][None], 'y': y[index][None], 'w': w[index][None]}


def train_step(state: TrainState, batch: Batch, key: jax.Array,
               batch_size: int) -> tuple[TrainState, dict[str, jax.Array]]:
  """One Adam step on the full batch, or on a minibatch when batch_size > 0.

  The minibatch key is folded with the step number, so a resumed run draws
  the same pixels as an uninterrupted one.
  """
  if batch_size > 0:
    batch = sample_minibatch(batch, jax.random.fold_in(key, state.step),
                             batch_size)
  loss, grads = loss_and_grad(state.params, state.apply_fn, batch)
  metrics = {'loss': loss, 'grad_norm': optax.tree.norm(grads)}
  return state.apply_gradients(grads=grads), metrics


@functools.partial(jax.jit, static_argnames=('num_steps', 'batch_size'),
                   donate_argnums=(0,))
def train_steps(state: TrainState, batch: Batch, key: jax.Array,
                num_steps: int, batch_size: int = 0):
  """`num_steps` train steps in one compiled call.

  Returns:
    The new state and metrics {'loss', 'grad_norm'}, each (num_steps,): the
    loss before each step's update.
  """
  step = lambda s, _: train_step(s, batch, key, batch_size)
  return jax.lax.scan(step, state, None, length=num_steps)


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


def validate_train_config(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of the `train` block."""
  for field in ('num_steps', 'eval_every_steps'):
    if config[field] < 1:
      raise CppnError(f'train.{field} must be >= 1, got {config[field]}')
  if not (np.isfinite(config.learning_rate) and config.learning_rate > 0):
    raise CppnError('train.learning_rate must be a positive number, got '
                    f'{config.learning_rate}')
  for field in ('batch_size', 'chunk_size'):
    if config[field] < 0:
      raise CppnError(f'train.{field} must be >= 0, got {config[field]}')


class Interrupted(CppnError):
  """SIGINT or SIGTERM arrived; the state at `step` was checkpointed."""


class StopRequests:
  """Turns SIGINT / SIGTERM into a flag the loop checks between compiled calls.

  A second signal of the same kind gets its default behaviour back, so a
  stuck run can still be killed with a second Ctrl-C.
  """

  def __init__(self):
    self.signal_name = None
    self._previous = {}

  def _handle(self, signum, _):
    self.signal_name = signal.Signals(signum).name
    signal.signal(signum, self._previous[signum])

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGINT, signal.SIGTERM):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *_):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)


def prepare_workdir(workdir, config: ml_collections.ConfigDict) -> pathlib.Path:
  """Creates the workdir, checks it is writable, and records config.json.

  A workdir that already holds a run's metrics must hold the same config:
  resuming with other settings would mix two experiments in one folder.
  """
  workdir = pathlib.Path(workdir)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise CppnError(f'cannot create workdir {workdir}: {e.strerror}') from e
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise CppnError(f'workdir {workdir} is not writable')
  resolved = config.to_dict()
  recorded = outputs.read_json(workdir / 'config.json')
  has_progress = (workdir / 'metrics.jsonl').exists()
  if has_progress and recorded is not None and recorded != resolved:
    changed = sorted(k for k in set(_flatten(recorded)) | set(
        _flatten(resolved)) if _flatten(recorded).get(k) != _flatten(
            resolved).get(k))
    raise CppnError(f'workdir {workdir} holds a run with another config '
                    f'(differs in: {", ".join(changed)}); use a new --workdir or '
                    'empty this one')
  outputs.write_json(workdir / 'config.json', resolved)
  return workdir


def _flatten(tree, prefix=''):
  """{'a': {'b': 1}} -> {'a.b': 1}."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(_flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def evaluate(predict, state: TrainState, encoding_params,
             dataset: data.Dataset) -> tuple[dict[str, float], np.ndarray]:
  """Train/test PSNR of the current fit and its test-pixel image.

  Returns:
    A metrics row {'step', 'loss', 'train_psnr', 'test_psnr'} (loss is
    0.5 * train MSE) and the test prediction as a (h, w, 3) image.
  """
  train_pred = predict(state.params, encoding_params, dataset.train_coords)
  test_pred = predict(state.params, encoding_params, dataset.test_coords)
  train_mse = float(metrics.mse(train_pred, dataset.train_pixels))
  test_mse = float(metrics.mse(test_pred, dataset.test_pixels))
  row = {'step': int(state.step), 'loss': 0.5 * train_mse,
         'train_psnr': float(metrics.psnr_from_mse(train_mse)),
         'test_psnr': float(metrics.psnr_from_mse(test_mse))}
  return row, np.asarray(test_pred).reshape(*dataset.test_shape, 3)


def check_finite(losses: np.ndarray, first_step: int, learning_rate: float):
  """Raises CppnError at the first NaN/Inf loss, naming its step."""
  bad = np.flatnonzero(~np.isfinite(losses))
  if bad.size:
    raise CppnError(
        f'training diverged at step {first_step + int(bad[0])}: loss is '
        f'{losses[bad[0]]}; lower train.learning_rate (now {learning_rate})')


def train_and_evaluate(config: ml_collections.ConfigDict, workdir,
                       progress: bool = True) -> dict[str, Any]:
  """Fits one image as the config says, writing every output into `workdir`.

  Resumes from the newest checkpoint in `workdir`; returns the existing
  summary at once if the run already finished.

  Returns:
    The summary dict written to summary.json.
  """
  start_time = time.time()
  validate_train_config(config.train)
  models.validate_model_config(config.model)
  encodings.validate_encoding_config(config.encoding)
  image = data.load_target(config.data.image, config.data.resolution)
  dataset = data.make_dataset(image, config.data.split)
  workdir = prepare_workdir(workdir, config)
  summary = outputs.read_json(workdir / 'summary.json')
  if summary is not None:
    logging.info('%s already finished; delete summary.json to rerun', workdir)
    return summary
  encoding_params = encodings.init_encoding(config.encoding,
                                            config.data.resolution)
  np.savez(workdir / 'encoding.npz', **jax.device_get(encoding_params))
  features = jax.jit(functools.partial(encodings.encode, config.encoding.name))(
      encoding_params, dataset.train_coords)
  batch = prepare_batch(np.asarray(features), dataset.train_pixels,
                        config.train.chunk_size)
  del features
  model = models.make_model(config.model)
  init_key, batch_key = jax.random.split(jax.random.PRNGKey(config.seed))
  state = create_train_state(model, batch['x'].shape[-1], config.train,
                             init_key)
  num_params = models.count_params(state.params)
  logging.info('encoding %s; model %s with %d parameters; %d train / %d test '
               'pixels', encodings.describe(config.encoding, encoding_params),
               config.model.name, num_params, dataset.train_coords.shape[0],
               dataset.test_coords.shape[0])

  manager = checkpoints.checkpoint_manager(workdir)
  state = checkpoints.restore_latest(manager, state)
  first_step = int(state.step)
  if first_step:
    logging.info('resuming from the checkpoint at step %d', first_step)
  rows = outputs.read_metrics(workdir / 'metrics.jsonl', first_step)
  outputs.write_metrics(workdir / 'metrics.jsonl', rows)
  predict = make_predict_fn(state.apply_fn, config.encoding.name,
                            config.train.chunk_size)
  frames_dir = workdir / 'frames'
  frames_dir.mkdir(exist_ok=True)

  def log_evaluation():
    row, frame = evaluate(predict, state, encoding_params, dataset)
    if not np.isfinite(row['test_psnr']):
      check_finite(np.array([np.nan]), row['step'],
                   config.train.learning_rate)
    outputs.write_png(outputs.frame_path(frames_dir, row['step']), frame)
    outputs.append_metrics(workdir / 'metrics.jsonl', row)
    rows.append(row)
    return row

  if not rows or rows[-1]['step'] != first_step:
    log_evaluation()

  num_steps, every = config.train.num_steps, config.train.eval_every_steps
  compiled, compile_seconds, train_seconds = {}, 0.0, 0.0
  bar = tqdm.tqdm(total=num_steps, initial=first_step, disable=not progress,
                  unit='step', dynamic_ncols=True)
  with StopRequests() as stop, bar:
    while int(state.step) < num_steps:
      step = int(state.step)
      length = min(every - step % every, num_steps - step)
      if length not in compiled:
        tic = time.time()
        compiled[length] = train_steps.lower(
            state, batch, batch_key, num_steps=length,
            batch_size=config.train.batch_size).compile()
        compile_seconds += time.time() - tic
      tic = time.time()
      state, step_metrics = compiled[length](state, batch, batch_key)
      losses = np.asarray(step_metrics['loss'])
      train_seconds += time.time() - tic
      check_finite(losses, step, config.train.learning_rate)
      bar.update(length)
      if int(state.step) % every == 0 or int(state.step) == num_steps:
        row = log_evaluation()
        bar.set_postfix(train_psnr=f'{row["train_psnr"]:.2f}',
                        test_psnr=f'{row["test_psnr"]:.2f}')
        checkpoints.save(manager, state)
      if stop.signal_name:
        checkpoints.save(manager, state)
        raise Interrupted(f'{stop.signal_name} at step {int(state.step)}: '
                          'checkpoint saved; rerun the same command to resume')

  reconstruction = np.asarray(predict(
      state.params, encoding_params,
      data.coordinate_grid(config.data.resolution).reshape(-1, 2))).reshape(
          image.shape)
  test_image = dataset.test_pixels.reshape(*dataset.test_shape, 3)
  _, test_prediction = evaluate(predict, state, encoding_params, dataset)
  outputs.write_png(workdir / 'target.png', image)
  outputs.write_png(workdir / 'reconstruction.png', reconstruction)
  outputs.write_gif(workdir / 'progress.gif', frames_dir, num_steps)
  outputs.plot_curves(workdir / 'curves.png', rows,
                      title=encodings.describe(config.encoding,
                                               encoding_params))
  steps_run = num_steps - first_step
  model_bytes = 4 * num_params
  encoding_bytes = int(sum(np.asarray(v).nbytes
                           for v in encoding_params.values()))
  summary = {
      'step': num_steps,
      'train_psnr': rows[-1]['train_psnr'],
      'test_psnr': rows[-1]['test_psnr'],
      'ssim': float(metrics.ssim(test_prediction, test_image)),
      'num_params': num_params,
      'model_bytes': model_bytes,
      'encoding_bytes': encoding_bytes,
      'image_bytes': len(outputs.png_bytes(image)),
      'bits_per_pixel': 8 * (model_bytes + encoding_bytes) / image.shape[0]**2,
      'wall_seconds': time.time() - start_time,
      'compile_seconds': compile_seconds,
      'steps_per_second': steps_run / train_seconds if train_seconds else None,
      'resumed_from_step': first_step,
  }
  outputs.write_json(workdir / 'summary.json', summary)
  logging.info('finished: train PSNR %.2f dB, test PSNR %.2f dB, SSIM %.3f',
               summary['train_psnr'], summary['test_psnr'], summary['ssim'])
  return summary
