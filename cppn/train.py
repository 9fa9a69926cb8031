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

import dataclasses
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


# One optimiser object for every state: its learning rate is a placeholder,
# each state carries its own in opt_state.hyperparams, and states that share
# the same static fields (apply_fn, tx) can be stacked into a member axis.
ADAM = optax.inject_hyperparams(optax.adam)(learning_rate=0.0)


def create_train_state(model: nn.Module, num_inputs: int,
                       config: ml_collections.ConfigDict,
                       key: jax.Array) -> TrainState:
  """Initialises the model for (., num_inputs) features and Adam(train.learning_rate).

  The learning rate lives in the optimiser state (optax.inject_hyperparams),
  so states of sweep members with different rates stack and vmap.
  """
  return _initial_state(model, num_inputs, config.learning_rate, key)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _initial_state(model: nn.Module, num_inputs: int, learning_rate,
                   key: jax.Array) -> TrainState:
  """create_train_state, compiled once per (model, num_inputs): run eagerly,
  initialisation compiles each of its ~30 small operations on first use
  (2.1 s against 1.0 s for the paper MLP, measured on the 2-core CPU)."""
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


def weighted_squared_error(params, apply_fn, x, y, w):
  """Sum of w * (f(x) - y)^2: (F, c), (3, c), (c,) -> ()."""
  pred = apply_fn({'params': params}, x, feature_major=True)
  return jnp.sum(w * (pred - y) ** 2)


def loss_and_grad(params, apply_fn, batch: Batch,
                  encoding_name: str | None = None):
  """Full-batch loss 0.5 * MSE and its gradient, accumulated chunk by chunk.

  With `encoding_name`, batch['x'] holds coordinates and each chunk is
  encoded on the fly with the parameters batch['encoding'] (for images whose
  features would not fit in memory); otherwise batch['x'] holds features.
  """
  num_values = jnp.sum(batch['w']) * batch['y'].shape[1]
  grad_fn = jax.value_and_grad(weighted_squared_error)
  if encoding_name is not None:
    model_apply = apply_fn
    apply_fn = lambda variables, coords, feature_major: model_apply(
        variables, encodings.encode(encoding_name, batch['encoding'],
                                    coords.T).T, feature_major=feature_major)

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
  """
  if batch_size > 0:
    batch = sample_minibatch(batch, jax.random.fold_in(key, state.step),
                             batch_size)
  loss, grads = loss_and_grad(state.params, state.apply_fn, batch,
                              encoding_name)
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

  On accelerators and on several devices the members train vmapped, so one
  small fit does not leave the chip idle. On a single CPU device they train
  one after another inside the compiled call (lax.map): one member's matmuls
  already use every core, unbatched they run faster (8-member sweep_scale on
  2 cores: 20-21.5 against 18-19 steps/s vmapped), and each member computes
  exactly what its solo run computes (same test PSNR to the last digit).
  A single member is neither mapped nor vmapped.

  Returns:
    The new states and metrics, each (M, num_steps).
  """
  steps = functools.partial(scan_train_steps, num_steps=num_steps,
                            batch_size=batch_size, encoding_name=encoding_name)
  if keys.shape[0] > 1:
    if jax.default_backend() == 'cpu' and jax.device_count() == 1:
      return jax.lax.map(lambda member: steps(*member),
                         (states, batches, keys))
    return jax.vmap(steps)(states, batches, keys)
  return jax.tree_util.tree_map(lambda x: x[None], steps(
      unstack(states, 0), unstack(batches, 0), keys[0]))


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
  for field in ('batch_size', 'chunk_size', 'feature_cache_mb'):
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
    old, new = flatten(recorded), flatten(resolved)
    changed = sorted(k for k in old.keys() | new.keys()
                     if old.get(k) != new.get(k))
    raise CppnError(f'workdir {workdir} holds a run with another config '
                    f'(differs in: {", ".join(changed)}); use a new --workdir or '
                    'empty this one')
  outputs.write_json(workdir / 'config.json', resolved)
  return workdir


def flatten(tree, prefix=''):
  """{'a': {'b': 1}} -> {'a.b': 1}."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


# Config fields whose values may differ between members trained together;
# every other field fixes the shapes of the compiled program.
VALUE_FIELDS = ('seed', 'data.image', 'encoding.scale', 'encoding.seed',
                'train.learning_rate')


def shape_signature(config: ml_collections.ConfigDict) -> str:
  """The config with VALUE_FIELDS removed: equal signatures train together."""
  flat = flatten(config.to_dict())
  return repr(sorted((k, v) for k, v in flat.items() if k not in VALUE_FIELDS))


def first_divergence(losses: np.ndarray, first_step: int,
                     learning_rate: float) -> str | None:
  """The error message for the first NaN/Inf loss, naming its step, or None."""
  bad = np.flatnonzero(~np.isfinite(losses))
  if not bad.size:
    return None
  return (f'training diverged at step {first_step + int(bad[0])}: loss is '
          f'{losses[bad[0]]}; lower train.learning_rate (now {learning_rate})')


def loss_rose(rows: list[dict[str, float]],
              config: ml_collections.ConfigDict) -> str | None:
  """A divergence message if training ended above its step-0 loss, else None.

  A learning rate far too large can saturate the output activation without
  any NaN; a finished fit never ends worse than its initialisation.
  """
  if len(rows) < 2 or rows[0]['step'] != 0 or rows[-1]['loss'] <= rows[0][
      'loss']:
    return None
  return (f'training diverged: the loss rose from {rows[0]["loss"]:.4g} at '
          f'step 0 to {rows[-1]["loss"]:.4g} at step {rows[-1]["step"]}; lower '
          f'train.learning_rate (now {config.learning_rate})')


@dataclasses.dataclass
class Member:
  """One fit of a group: its config, workdir and host-side state."""
  config: ml_collections.ConfigDict
  workdir: pathlib.Path
  image: np.ndarray  # (N, N, 3) target in [0, 1]
  dataset: data.Dataset
  encoding_params: dict[str, jax.Array]
  rows: list[dict[str, float]] = dataclasses.field(default_factory=list)
  failure: str | None = None  # why the member stopped, once it has

  @property
  def frames_dir(self) -> pathlib.Path:
    return self.workdir / 'frames'


def setup_member(config: ml_collections.ConfigDict,
                 workdir) -> Member | dict[str, Any]:
  """Validates a member, loads its image, records its config.

  Returns:
    The existing summary if the member already finished, else a Member.
  """
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
  with outputs.atomic_open(workdir / 'encoding.npz', 'wb') as f:
    np.savez(f, **jax.device_get(encoding_params))
  (workdir / 'frames').mkdir(exist_ok=True)
  return Member(config, workdir, image, dataset, encoding_params)


def stack(trees):
  """Stacks equal-structure pytrees along a new leading member axis."""
  return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree, index: int):
  """Member `index` of a pytree with a leading member axis."""
  return jax.tree_util.tree_map(lambda x: x[index], tree)


def shard_members(tree):
  """Places the member axis across all devices (a no-op on one device)."""
  devices = jax.devices()
  if len(devices) == 1:
    return tree
  mesh = jax.sharding.Mesh(np.array(devices), ('members',))
  sharding = jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec('members'))
  return jax.device_put(tree, sharding)


def pad_to_devices(items: list) -> list:
  """Repeats the last item so the count divides the number of devices."""
  return items + items[-1:] * (-len(items) % jax.device_count())


def train_group(configs: list[ml_collections.ConfigDict], workdirs: list,
                progress: bool = True) -> list[dict[str, Any]]:
  """Fits several members of equal shape together in one compiled program.

  The member axis is vmapped, or mapped on a single CPU device (see
  train_steps_per_member).

  Each member writes the same outputs into its own workdir as a single run.
  Members resume from their own newest checkpoints (those at equal steps
  train together); finished members are skipped; a member that fails (bad
  input, divergence) is dropped without stopping the others.

  Returns:
    Per member, its summary dict, or {'error': message} if it failed.
  """
  if len({shape_signature(c) for c in configs}) > 1:
    raise CppnError('train_group needs members that differ only in '
                    + ', '.join(VALUE_FIELDS))
  results: list[dict[str, Any] | None] = [None] * len(configs)
  members: dict[int, Member] = {}
  for index, (config, workdir) in enumerate(zip(configs, workdirs)):
    try:
      member = setup_member(config, workdir)
    except CppnError as e:
      results[index] = {'error': str(e)}
      continue
    if isinstance(member, dict):
      results[index] = member
    else:
      members[index] = member
  if not members:
    return results
  first = next(iter(members.values()))
  if jax.default_backend() == 'cpu':
    check_memory(first.config, len(members),
                 first.dataset.train_coords.shape[0], encoding_width(first))
  model = models.make_model(first.config.model)
  pending: dict[int, list[tuple[int, Member, TrainState]]] = {}
  for index, member in members.items():
    state = initial_state(member, model)
    pending.setdefault(int(state.step), []).append((index, member, state))
  for first_step, group in sorted(pending.items()):
    indices, members, states = zip(*group)
    for index, result in zip(indices, fit_members(
        list(members), list(states), first_step, progress)):
      results[index] = result
  return results


def encoding_width(member: Member) -> int:
  """F, the number of features the member's encoding makes per coordinate."""
  return encodings.encode(member.config.encoding.name, member.encoding_params,
                          jnp.zeros((1, 2))).shape[-1]


def initial_state(member: Member, model: nn.Module) -> TrainState:
  """The member's fresh TrainState, or its newest checkpoint's."""
  num_inputs = encoding_width(member)
  init_key = jax.random.split(jax.random.PRNGKey(member.config.seed))[0]
  state = create_train_state(model, num_inputs, member.config.train, init_key)
  return checkpoints.restore_latest(
      checkpoints.checkpoint_manager(member.workdir), state)


def precomputes_features(config: ml_collections.ConfigDict,
                         num_pixels: int, num_features: int) -> bool:
  """Whether the training features fit in train.feature_cache_mb."""
  return 4 * num_pixels * num_features <= config.train.feature_cache_mb * 2**20


def estimate_memory_bytes(config: ml_collections.ConfigDict, num_pixels: int,
                          num_features: int) -> int:
  """A rough upper estimate of one member's training memory in bytes.

  The training set (features or coordinates, targets), evaluation outputs,
  and per chunk the activations a backward pass keeps (input features and
  every layer's pre- and post-activation values), all float32.
  """
  chunk = (config.train.batch_size or config.train.chunk_size or num_pixels)
  chunk = min(chunk, num_pixels)
  stored = num_features if precomputes_features(
      config, num_pixels, num_features) else 2
  width = max(config.model.width, num_features)
  per_chunk = chunk * (num_features + 2 * config.model.depth * width)
  return 4 * (num_pixels * (stored + 3 + 2 * 3) + 3 * per_chunk)


def check_memory(config: ml_collections.ConfigDict, num_members: int,
                 num_pixels: int, num_features: int):
  """Refuses up front a group whose training would not fit in this machine's RAM."""
  needed = num_members * estimate_memory_bytes(config, num_pixels,
                                               num_features)
  available = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  if needed > 0.8 * available:
    raise CppnError(
        f'training {num_members} member(s) on {num_pixels} pixels would need '
        f'about {needed / 2**30:.1f} GiB; this machine has '
        f'{available / 2**30:.1f} GiB. Lower train.chunk_size (now '
        f'{config.train.chunk_size}), train.feature_cache_mb or '
        'data.resolution')


def member_batch(member: Member, num_features: int) -> Batch:
  """The member's training set laid out in chunks: features computed once
  when they fit in train.feature_cache_mb, else coordinates and the encoding
  parameters, encoded chunk by chunk at every step."""
  coords = member.dataset.train_coords
  chunk_size = member.config.train.chunk_size
  if not precomputes_features(member.config, coords.shape[0], num_features):
    return dict(prepare_batch(coords, member.dataset.train_pixels, chunk_size),
                encoding=member.encoding_params)
  features = jax.jit(functools.partial(
      encodings.encode, member.config.encoding.name))(
          member.encoding_params, coords)
  return prepare_batch(np.asarray(features), member.dataset.train_pixels,
                       chunk_size)


def fit_members(members: list[Member], states: list[TrainState],
                first_step: int, progress: bool) -> list[dict[str, Any]]:
  """Trains members that stand at the same step, evaluating and saving as it goes."""
  start_time = time.time()
  config = members[0].config
  num_steps, every = config.train.num_steps, config.train.eval_every_steps
  managers = [checkpoints.checkpoint_manager(m.workdir) for m in members]
  for member in members:
    member.rows = outputs.read_metrics(member.workdir / 'metrics.jsonl',
                                       first_step)
    outputs.write_metrics(member.workdir / 'metrics.jsonl', member.rows)
  num_params = models.count_params(states[0].params)
  logging.info('%d member(s) from step %d: encoding %s; model %s with %d '
               'parameters; %d train / %d test pixels', len(members),
               first_step, encodings.describe(config.encoding,
                                              members[0].encoding_params),
               config.model.name, num_params,
               members[0].dataset.train_coords.shape[0],
               members[0].dataset.test_coords.shape[0])
  padded = pad_to_devices(list(range(len(members))))
  num_features = encoding_width(members[0])
  on_the_fly = not precomputes_features(
      config, members[0].dataset.train_coords.shape[0], num_features)
  batches = shard_members(stack([
      member_batch(members[i], num_features) for i in padded]))
  keys = shard_members(jnp.stack([jax.random.split(jax.random.PRNGKey(
      members[i].config.seed))[1] for i in padded]))
  encoding_params = shard_members(stack(
      [members[i].encoding_params for i in padded]))
  state = shard_members(stack([states[i] for i in padded]))
  predict = jax.jit(jax.vmap(
      make_predict_fn(state.apply_fn, config.encoding.name,
                      config.train.chunk_size), in_axes=(0, 0, None)))

  latest = {}  # the newest evaluation's test predictions, reused at the end

  def evaluate_and_log():
    rows, frames = evaluate(predict, state, encoding_params, members)
    latest['frames'] = frames
    for member, row, frame in zip(members, rows, frames):
      if member.failure:
        continue
      if not np.isfinite(row['test_psnr']):
        member.failure = first_divergence(np.array([np.nan]), row['step'],
                                          member.config.train.learning_rate)
        continue
      outputs.write_png(outputs.frame_path(member.frames_dir, row['step']),
                        frame)
      outputs.append_metrics(member.workdir / 'metrics.jsonl', row)
      member.rows.append(row)

  def save_checkpoints():
    for index, (member, manager) in enumerate(zip(members, managers)):
      if not member.failure:
        checkpoints.save(manager, unstack(state, index))

  if not members[0].rows or members[0].rows[-1]['step'] != first_step:
    evaluate_and_log()
  compiled, compile_seconds, train_seconds = {}, 0.0, 0.0
  bar = tqdm.tqdm(total=num_steps, initial=first_step, disable=not progress,
                  unit='step', dynamic_ncols=True)
  with StopRequests() as stop, bar:
    while int(state.step[0]) < num_steps and not all(
        m.failure for m in members):
      step = int(state.step[0])
      length = min(every - step % every, num_steps - step)
      if length not in compiled:
        tic = time.time()
        compiled[length] = train_steps_per_member.lower(
            state, batches, keys, num_steps=length,
            batch_size=config.train.batch_size,
            encoding_name=config.encoding.name if on_the_fly else None
        ).compile()
        compile_seconds += time.time() - tic
      tic = time.time()
      state, step_metrics = compiled[length](state, batches, keys)
      losses = np.asarray(step_metrics['loss'])
      train_seconds += time.time() - tic
      for member, member_losses in zip(members, losses):
        member.failure = member.failure or first_divergence(
            member_losses, step, member.config.train.learning_rate)
      bar.update(length)
      if (step + length) % every == 0 or step + length == num_steps:
        evaluate_and_log()
        bar.set_postfix(test_psnr=', '.join(
            f'{m.rows[-1]["test_psnr"]:.2f}' for m in members[:4]
            if not m.failure))
        save_checkpoints()
      if stop.signal_name:
        save_checkpoints()
        raise Interrupted(f'{stop.signal_name} at step {step + length}: '
                          'checkpoint saved; rerun the same command to resume')
  timing = {'wall_seconds': time.time() - start_time,
            'compile_seconds': compile_seconds,
            'steps_per_second': ((num_steps - first_step) / train_seconds
                                 if train_seconds else None),
            'resumed_from_step': first_step, 'group_size': len(members)}
  if 'frames' not in latest or int(state.step[0]) != members[0].rows[-1][
      'step']:
    evaluate_and_log()
  for member in members:
    member.failure = member.failure or loss_rose(member.rows,
                                                 member.config.train)
  return write_final_outputs(predict, state, encoding_params, members,
                             latest['frames'], num_params, timing)


def evaluate(predict, state: TrainState, encoding_params,
             members: list[Member]):
  """Train/test PSNR of every member's current fit and its test-pixel image.

  Returns:
    Per member a metrics row {'step', 'loss', 'train_psnr', 'test_psnr'}
    (loss is 0.5 * train MSE), and per member the test prediction as an
    (h, w, 3) image.
  """
  dataset = members[0].dataset
  train_pred = np.asarray(predict(state.params, encoding_params,
                                  dataset.train_coords))
  test_pred = np.asarray(predict(state.params, encoding_params,
                                 dataset.test_coords))
  rows, frames = [], []
  for index, member in enumerate(members):
    train_mse = float(metrics.mse(train_pred[index],
                                  member.dataset.train_pixels))
    test_mse = float(metrics.mse(test_pred[index],
                                 member.dataset.test_pixels))
    rows.append({'step': int(state.step[index]), 'loss': 0.5 * train_mse,
                 'train_psnr': float(metrics.psnr_from_mse(train_mse)),
                 'test_psnr': float(metrics.psnr_from_mse(test_mse))})
    frames.append(test_pred[index].reshape(*dataset.test_shape, 3))
  return rows, frames


def write_final_outputs(predict, state, encoding_params, members,
                        test_predictions, num_params, timing
                        ) -> list[dict[str, Any]]:
  """Renders, plots and summarises each member that did not fail.

  `test_predictions`: per member its (h, w, 3) test-pixel prediction at the
  final step (for SSIM).
  """
  resolution = members[0].config.data.resolution
  reconstructions = np.asarray(predict(
      state.params, encoding_params,
      data.coordinate_grid(resolution).reshape(-1, 2)))
  results = []
  for index, member in enumerate(members):
    if member.failure:
      logging.error('%s: %s', member.workdir, member.failure)
      results.append({'error': member.failure})
      continue
    workdir, rows = member.workdir, member.rows
    test_image = member.dataset.test_pixels.reshape(
        *member.dataset.test_shape, 3)
    outputs.write_png(workdir / 'target.png', member.image)
    outputs.write_png(workdir / 'reconstruction.png',
                      reconstructions[index].reshape(member.image.shape))
    outputs.write_gif(workdir / 'progress.gif', member.frames_dir,
                      member.config.train.num_steps)
    outputs.plot_curves(workdir / 'curves.png', rows,
                        title=encodings.describe(member.config.encoding,
                                                 member.encoding_params))
    model_bytes = 4 * num_params
    encoding_bytes = int(sum(np.asarray(v).nbytes
                             for v in member.encoding_params.values()))
    summary = {
        'step': rows[-1]['step'],
        'train_psnr': rows[-1]['train_psnr'],
        'test_psnr': rows[-1]['test_psnr'],
        'ssim': float(metrics.ssim(test_predictions[index], test_image)),
        'num_params': num_params,
        'model_bytes': model_bytes,
        'encoding_bytes': encoding_bytes,
        'image_bytes': len(outputs.png_bytes(member.image)),
        'bits_per_pixel': (8 * (model_bytes + encoding_bytes)
                           / member.image.shape[0]**2),
        **timing,
    }
    outputs.write_json(workdir / 'summary.json', summary)
    logging.info('%s finished: train PSNR %.2f dB, test PSNR %.2f dB, SSIM '
                 '%.3f', workdir, summary['train_psnr'], summary['test_psnr'],
                 summary['ssim'])
    results.append(summary)
  return results


def train_and_evaluate(config: ml_collections.ConfigDict, workdir,
                       progress: bool = True) -> dict[str, Any]:
  """Fits one image as the config says, writing every output into `workdir`.

  A group of one member: resumes from the newest checkpoint in `workdir`,
  returns the existing summary at once if the run already finished.

  Returns:
    The summary dict written to summary.json.

  Raises:
    CppnError: bad input, or the run diverged (no summary is written).
  """
  result, = train_group([config], [workdir], progress)
  if 'error' in result:
    raise CppnError(result['error'])
  return result
