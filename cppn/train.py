"""A run: one fit or a group of fits, from a config to every output file.

  train_and_evaluate  one fit (a group of one), as `cppn.main` runs it
  train_group         members of equal shape (cppn/group.py) fitted together
                      in one compiled program: set-up, resume from
                      checkpoints, the loop with evaluations and stop
                      signals, the outputs of each member
  build_fit           one fit's arrays without a workdir, stepped by hand
                      (experiments, the benchmark, tests)

The compiled pieces are in cppn/steps.py, the checks in cppn/guards.py and the
files in cppn/outputs.py.
"""

import dataclasses
import functools
import pathlib
import time
from typing import Any

from absl import logging
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from cppn import backend
from cppn import checkpoints
from cppn import data
from cppn import encodings
from cppn import families
from cppn import group
from cppn import guards
from cppn import metrics
from cppn import models
from cppn import outputs
from cppn import steps
from cppn.errors import CppnError


def validate_config(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of the train, model or
  encoding block."""
  guards.validate_train_config(config.train)
  models.validate_model_config(config.model)
  encodings.validate_encoding_config(config.encoding)
  families.check_encoding(config)


def initial_state(config: ml_collections.ConfigDict,
                  model: nn.Module) -> steps.TrainState:
  """A fresh TrainState for the config: its model, its encoding's width, Adam
  at train.learning_rate, parameters drawn from `seed`."""
  init_key = jax.random.split(jax.random.PRNGKey(config.seed))[0]
  return steps.create_train_state(model, encodings.width(config.encoding),
                                  config.train.learning_rate, init_key)


def minibatch_key(config: ml_collections.ConfigDict) -> jax.Array:
  """The PRNG key of the fit's minibatches (unused on the full batch)."""
  return jax.random.split(jax.random.PRNGKey(config.seed))[1]


def training_batch(config: ml_collections.ConfigDict, dataset: data.Dataset,
                   encoding_params) -> steps.Batch:
  """The training set laid out in chunks (steps.prepare_batch).

  Features are computed once when they fit in train.feature_cache_mb; else
  the batch holds coordinates and, under 'encoding', the encoding
  parameters, and each chunk is encoded at every step. A model that takes
  training progress also gets 'num_steps' (steps.train_step).
  """
  coords = dataset.train_coords
  chunk_size = config.train.chunk_size
  progress = ({'num_steps': np.float32(config.train.num_steps)}
              if families.takes_progress(config.model) else {})
  if not guards.precomputes_features(config, coords.shape[0],
                                     encodings.width(config.encoding)):
    return dict(steps.prepare_batch(coords, dataset.train_pixels, chunk_size),
                encoding=encoding_params, **progress)
  features = jax.jit(functools.partial(encodings.encode, config.encoding.name))(
      encoding_params, coords)
  return dict(steps.prepare_batch(np.asarray(features), dataset.train_pixels,
                                  chunk_size), **progress)


def target_and_dataset(config: ml_collections.ConfigDict,
                       image: np.ndarray | None = None
                       ) -> tuple[np.ndarray, data.Dataset]:
  """The target, (N, N, 3) in [0, 1] (data.image's centre crop data.crop
  resized to data.resolution, unless given), and its train/test split
  (data.split)."""
  if image is None:
    image = data.load_target(config.data.image, config.data.resolution,
                             config.data.crop)
  return image, data.make_dataset(image, config.data.split)


def encoded_on_the_fly(config: ml_collections.ConfigDict,
                       batch: steps.Batch) -> str | None:
  """The encoding name the steps must apply per chunk, or None when the
  batch holds precomputed features (see training_batch)."""
  return config.encoding.name if 'encoding' in batch else None


@dataclasses.dataclass
class Fit:
  """One fit's arrays, to step and query by hand: no workdir, no outputs.

  Built by build_fit. `train` advances `state` in place of the old one (its
  buffers are donated) and compiles once per number of steps.
  """
  config: ml_collections.ConfigDict
  dataset: data.Dataset
  encoding_params: dict[str, jax.Array]
  state: steps.TrainState
  batch: steps.Batch
  key: jax.Array

  def train(self, num_steps: int) -> np.ndarray:
    """Runs num_steps Adam steps; returns the (num_steps,) losses before each."""
    self.state, step_metrics = steps.train_steps(
        self.state, self.batch, self.key, num_steps=num_steps,
        batch_size=self.config.train.batch_size,
        encoding_name=encoded_on_the_fly(self.config, self.batch))
    return np.asarray(step_metrics['loss'])

  @functools.cached_property
  def _predict_fn(self):
    """steps.make_predict_fn for this fit, built (and compiled) once."""
    return steps.make_predict_fn(self.state.apply_fn,
                                 self.config.encoding.name,
                                 self.config.train.chunk_size)

  def predict(self, coords) -> np.ndarray:
    """Colours (P, 3) in [0, 1] of the current network at coords (P, 2)."""
    return np.asarray(self._predict_fn(self.state.params, self.encoding_params,
                                       jnp.asarray(coords, jnp.float32)))


def build_fit(config: ml_collections.ConfigDict,
              image: np.ndarray | None = None) -> Fit:
  """The fit a config describes, at step 0, without a workdir.

  Args:
    config: a full config (configs/default.py's fields).
    image: (N, N, 3) target in [0, 1]; default: data.image at
      data.resolution.

  Raises:
    CppnError: a bad config field or image.
  """
  validate_config(config)
  image, dataset = target_and_dataset(config, image)
  config = backend.with_chunk_size(config, backend.chunk_size(
      config, 1, dataset.train_coords.shape[0],
      encodings.width(config.encoding)))
  encoding_params = encodings.init_encoding(config.encoding, image.shape[0])
  return Fit(config, dataset, encoding_params,
             initial_state(config, models.make_model(config.model)),
             jax.tree_util.tree_map(jnp.asarray, training_batch(
                 config, dataset, encoding_params)),
             minibatch_key(config))


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
  validate_config(config)
  image, dataset = target_and_dataset(config)
  workdir = outputs.prepare_workdir(workdir, config)
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


def train_group(configs: list[ml_collections.ConfigDict], workdirs: list,
                progress: bool = True) -> list[dict[str, Any]]:
  """Fits several members of equal shape together in one compiled program.

  The member axis is vmapped, or mapped on a single CPU device (see
  steps.train_steps_per_member).

  Each member writes the same outputs into its own workdir as a single run.
  Members resume from their own newest checkpoints (those at equal steps
  train together); finished members are skipped; a member that fails (bad
  input, divergence) is dropped without stopping the others; running out of
  device memory fails the members training together at that moment.

  Returns:
    Per member, its summary dict, or {'error': message} if it failed.
  """
  if len(group.group_indices(configs)) > 1:
    raise CppnError('train_group needs members that differ only in '
                    + ', '.join(group.VALUE_FIELDS))
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
  num_pixels = first.dataset.train_coords.shape[0]
  num_features = encodings.width(first.config.encoding)
  chunk_size = backend.chunk_size(first.config, len(members), num_pixels,
                                  num_features)
  for member in members.values():
    member.config = backend.with_chunk_size(member.config, chunk_size)
  guards.check_memory(first.config, len(members), num_pixels, num_features)
  model = models.make_model(first.config.model)
  pending: dict[int, list[tuple[int, Member, steps.TrainState]]] = {}
  for index, member in members.items():
    state = checkpoints.restore_latest(
        checkpoints.checkpoint_manager(member.workdir),
        initial_state(member.config, model))
    pending.setdefault(int(state.step), []).append((index, member, state))
  for first_step, at_step in sorted(pending.items()):
    indices, group_members, states = zip(*at_step)
    try:
      fitted = fit_members(list(group_members), list(states), first_step,
                           progress)
    except jax.errors.JaxRuntimeError as e:
      error = guards.out_of_memory(e)
      if error is None:
        raise
      logging.error('%s', error)
      fitted = [{'error': str(error)}] * len(indices)
    for index, result in zip(indices, fitted):
      results[index] = result
  return results


@dataclasses.dataclass
class GroupArrays:
  """A group's arrays on the devices, member axis first (padded to a multiple
  of the device count, see group.pad_to_devices)."""
  state: steps.TrainState
  batches: steps.Batch
  keys: jax.Array
  encoding_params: dict[str, jax.Array]

  @property
  def step(self) -> int:
    return int(self.state.step[0])


def group_arrays(members: list[Member],
                 states: list[steps.TrainState]) -> GroupArrays:
  """Stacks the members' states, batches, keys and encodings, sharded."""
  padded = group.pad_to_devices(list(range(len(members))))
  put = lambda trees: group.shard_members(group.stack(trees))
  return GroupArrays(
      state=put([states[i] for i in padded]),
      batches=put([training_batch(members[i].config, members[i].dataset,
                                  members[i].encoding_params)
                   for i in padded]),
      keys=put([minibatch_key(members[i].config) for i in padded]),
      encoding_params=put([members[i].encoding_params for i in padded]))


class CompiledSteps:
  """steps.train_steps_per_member for a group, compiled once per length.

  Calling it with a number of steps runs them on `arrays` (whose state it
  replaces) and returns the (members, length) losses.
  """

  def __init__(self, config: ml_collections.ConfigDict, arrays: GroupArrays):
    self.static = dict(batch_size=config.train.batch_size,
                       encoding_name=encoded_on_the_fly(config,
                                                        arrays.batches))
    self.compiled = {}
    self.compile_seconds = 0.0
    self.train_seconds = 0.0

  def __call__(self, arrays: GroupArrays, length: int) -> np.ndarray:
    args = (arrays.state, arrays.batches, arrays.keys)
    if length not in self.compiled:
      tic = time.time()
      self.compiled[length] = steps.train_steps_per_member.lower(
          *args, num_steps=length, **self.static).compile()
      self.compile_seconds += time.time() - tic
    tic = time.time()
    arrays.state, step_metrics = self.compiled[length](*args)
    losses = np.asarray(step_metrics['loss'])
    self.train_seconds += time.time() - tic
    return losses


def record_evaluation(predict, arrays: GroupArrays,
                      members: list[Member]) -> list[np.ndarray]:
  """Evaluates every member; appends a metrics row and a frame for each live
  member that has none at this step yet; marks a non-finite test PSNR as a
  divergence.

  Returns:
    Per member, its (h, w, 3) test-pixel prediction.
  """
  rows, frames = evaluate(predict, arrays, members)
  for member, row, frame in zip(members, rows, frames):
    if member.failure or (member.rows and
                          member.rows[-1]['step'] == row['step']):
      continue
    if not np.isfinite(row['test_psnr']):
      member.failure = guards.first_divergence(
          np.array([np.nan]), row['step'], member.config.train.learning_rate)
      continue
    outputs.write_png(outputs.frame_path(member.frames_dir, row['step']),
                      frame)
    outputs.append_metrics(member.workdir / 'metrics.jsonl', row)
    member.rows.append(row)
  return frames


def save_checkpoints(managers, members: list[Member], arrays: GroupArrays):
  """Checkpoints every member that has not failed."""
  for index, (member, manager) in enumerate(zip(members, managers)):
    if not member.failure:
      checkpoints.save(manager, group.unstack(arrays.state, index))


def fit_members(members: list[Member], states: list[steps.TrainState],
                first_step: int, progress: bool) -> list[dict[str, Any]]:
  """Trains members that stand at `first_step`, evaluating and saving as it goes.

  Evaluations (a metrics row, a frame, checkpoints) fall every
  train.eval_every_steps and at the last step; between two of them the
  steps run in one compiled call.
  """
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
               first_step, encodings.describe(config.encoding),
               config.model.name, num_params,
               members[0].dataset.train_coords.shape[0],
               members[0].dataset.test_coords.shape[0])
  arrays = group_arrays(members, states)
  predict = jax.jit(jax.vmap(
      steps.make_predict_fn(arrays.state.apply_fn, config.encoding.name,
                            config.train.chunk_size), in_axes=(0, 0, None)))
  run_steps = CompiledSteps(config, arrays)
  # The step and test predictions of the newest evaluation.
  evaluated_step, frames = first_step, record_evaluation(predict, arrays,
                                                         members)
  bar = tqdm.tqdm(total=num_steps, initial=first_step, disable=not progress,
                  unit='step', dynamic_ncols=True)
  with guards.StopRequests() as stop, bar:
    while arrays.step < num_steps and not all(m.failure for m in members):
      step = arrays.step
      length = min(every - step % every, num_steps - step)
      losses = run_steps(arrays, length)
      for member, member_losses in zip(members, losses):
        member.failure = member.failure or guards.first_divergence(
            member_losses, step, member.config.train.learning_rate)
      bar.update(length)
      if arrays.step % every == 0 or arrays.step == num_steps:
        evaluated_step = arrays.step
        frames = record_evaluation(predict, arrays, members)
        bar.set_postfix(test_psnr=', '.join(
            f'{m.rows[-1]["test_psnr"]:.2f}' for m in members[:4]
            if not m.failure))
        save_checkpoints(managers, members, arrays)
      if stop.signal_name:
        save_checkpoints(managers, members, arrays)
        raise guards.Interrupted(
            f'{stop.signal_name} at step {arrays.step}: checkpoint saved; '
            'rerun the same command to resume')
  timing = {'wall_seconds': time.time() - start_time,
            'compile_seconds': run_steps.compile_seconds,
            'steps_per_second': ((num_steps - first_step)
                                 / run_steps.train_seconds
                                 if run_steps.train_seconds else None),
            'resumed_from_step': first_step, 'group_size': len(members),
            'chunk_size': config.train.chunk_size}
  if evaluated_step != arrays.step:
    frames = record_evaluation(predict, arrays, members)
  for member in members:
    member.failure = member.failure or guards.loss_rose(member.rows,
                                                        member.config.train)
  return write_final_outputs(predict, arrays, members, frames, num_params,
                             timing)


def evaluate(predict, arrays: GroupArrays, members: list[Member]):
  """Train/test PSNR of every member's current fit and its test-pixel image.

  Returns:
    Per member a metrics row {'step', 'loss', 'train_psnr', 'test_psnr'}
    (loss is 0.5 * train MSE), and per member the test prediction as an
    (h, w, 3) image.
  """
  dataset = members[0].dataset
  state, encoding_params = arrays.state, arrays.encoding_params
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


def write_final_outputs(predict, arrays: GroupArrays, members: list[Member],
                        test_predictions, num_params, timing
                        ) -> list[dict[str, Any]]:
  """Renders, plots and summarises each member that did not fail.

  `test_predictions`: per member its (h, w, 3) test-pixel prediction at the
  final step (for SSIM).
  """
  resolution = members[0].config.data.resolution
  reconstructions = np.asarray(predict(
      arrays.state.params, arrays.encoding_params,
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
                        title=encodings.describe(member.config.encoding))
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
