"""A run: one fit or a group of fits, from a config to every output file.

Every fit is a task (cppn/tasks: an image, CT projections, MRI k-space, a
1D signal): its points, observations, objective and evaluation; the run
around it is the same for all.

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
from cppn import models
from cppn import outputs
from cppn import steps
from cppn import tasks
from cppn import tensorboard
from cppn.errors import CppnError


def validate_config(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of the train, model,
  encoding or task block."""
  guards.validate_train_config(config.train)
  models.validate_model_config(config.model)
  encodings.validate_encoding_config(config.encoding, tasks.dim(config))
  families.check_encoding(config)
  tensorboard.check_available(config)


def make_task(config: ml_collections.ConfigDict, target=None
              ) -> tasks.base.Task:
  """The config's task (tasks.make_task), checked against the train block:
  minibatches of points need a pointwise objective."""
  task = tasks.make_task(config, target)
  if config.train.batch_size and not task.objective.pointwise:
    raise CppnError(f'task {task.name!r} fits all its points at once (its '
                    'operator couples them); set train.batch_size=0')
  return task


def make_model(config: ml_collections.ConfigDict) -> nn.Module:
  """The config's network, with its task's number of outputs."""
  return models.make_model(config.model, tasks.out_dim(config))


def initial_state(config: ml_collections.ConfigDict,
                  model: nn.Module) -> steps.TrainState:
  """A fresh TrainState for the config: its model, its encoding's width, Adam
  at train.learning_rate, parameters drawn from `seed`."""
  init_key = jax.random.split(jax.random.PRNGKey(config.seed))[0]
  return steps.create_train_state(
      model, encodings.width(config.encoding, tasks.dim(config)),
      config.train.learning_rate, init_key)


def minibatch_key(config: ml_collections.ConfigDict) -> jax.Array:
  """The PRNG key of the fit's minibatches (unused on the full batch)."""
  return jax.random.split(jax.random.PRNGKey(config.seed))[1]


def training_batch(config: ml_collections.ConfigDict, task: tasks.base.Task,
                   encoding_params) -> steps.Batch:
  """The training set laid out in chunks (steps.prepare_batch), with the
  task's observations.

  Features are models.GridFeatures where grid_features factors them;
  otherwise computed once when they fit in train.feature_cache_mb (and
  the objective does not draw new points each step); else the batch holds
  coordinates and, under 'encoding', the encoding parameters, and each
  chunk is encoded at every step. A model that takes
  training progress also gets 'num_steps', and a decaying learning rate
  'lr_decay_rate' and 'lr_decay_steps' (steps.train_step).
  """
  coords = task.train_coords
  chunk_size = config.train.chunk_size
  progress = ({'num_steps': np.float32(config.train.num_steps)}
              if families.takes_progress(config.model) else {})
  if config.train.lr_decay_rate != 1:
    progress.update(lr_decay_rate=np.float32(config.train.lr_decay_rate),
                    lr_decay_steps=np.float32(config.train.lr_decay_steps))
  grid = grid_features(config, task, encoding_params)
  if grid is not None:
    return dict(x=grid, w=np.ones((1, coords.shape[0]), np.float32),
                **task.observations, **progress)
  if task.objective.resamples or not guards.precomputes_features(
      config, coords.shape[0], encodings.width(config.encoding, task.dim)):
    return dict(steps.prepare_batch(coords, task.train_targets, chunk_size),
                encoding=encoding_params, **task.observations, **progress)
  features = jax.jit(functools.partial(encodings.encode, config.encoding.name))(
      encoding_params, coords)
  return dict(steps.prepare_batch(np.asarray(features), task.train_targets,
                                  chunk_size), **task.observations, **progress)


def grid_features(config: ml_collections.ConfigDict, task: tasks.base.Task,
                  encoding_params) -> models.GridFeatures | None:
  """The training points' features factored per grid dimension
  (encodings.grid_tables), or None where they stay one (F, P) array.

  Factored when the paper's MLP (model.name 'mlp', whose first layer takes
  GridFeatures) fits a coupled loss (CT, MRI) in one chunk, every training
  point of the signal's grid, through an encoding whose features each vary
  along one axis (none, basic, positional; any Fourier encoding in 1D):
  its first layer then costs d small matmuls rather than one over every
  point (docs/performance.md).
  """
  if (task.objective.pointwise or task.objective.resamples
      or config.train.chunk_size != 0 or config.train.batch_size > 0
      or config.model.name != 'mlp'):
    return None
  grid = data.coordinate_grid(task.signal_shape[0], task.dim)
  if (grid.shape[:-1] != tuple(task.signal_shape)
      or not np.array_equal(grid.reshape(-1, task.dim), task.train_coords)):
    return None
  tables = encodings.grid_tables(config.encoding.name, encoding_params, grid)
  return None if tables is None else models.GridFeatures(tables)


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
  task: tasks.base.Task
  encoding_params: dict[str, jax.Array]
  state: steps.TrainState
  batch: steps.Batch
  key: jax.Array

  @property
  def dataset(self) -> data.Dataset:
    """The image task's train / test pixels."""
    return self.task.dataset

  def train(self, num_steps: int) -> np.ndarray:
    """Runs num_steps Adam steps; returns the (num_steps,) losses before each."""
    self.state, step_metrics = steps.train_steps(
        self.state, self.batch, self.key, num_steps=num_steps,
        batch_size=self.config.train.batch_size,
        encoding_name=encoded_on_the_fly(self.config, self.batch),
        objective=self.task.objective)
    return np.asarray(step_metrics['loss'])

  @functools.cached_property
  def _predict_fn(self):
    """steps.make_predict_fn for this fit, built (and compiled) once."""
    return steps.make_predict_fn(
        self.state.apply_fn, self.config.encoding.name,
        backend.predict_chunk_size(self.config.train.chunk_size))

  def predict(self, coords) -> np.ndarray:
    """Outputs (P, C) of the current network at coords (P, d) (colours in
    [0, 1] for an image)."""
    return np.asarray(self._predict_fn(self.state.params, self.encoding_params,
                                       jnp.asarray(coords, jnp.float32)))


def build_fit(config: ml_collections.ConfigDict,
              image: np.ndarray | None = None) -> Fit:
  """The fit a config describes, at step 0, without a workdir.

  Args:
    config: a full config (configs/default.py's fields).
    image: the target instead of data.image (tasks.make_task): for the
      image task (N, N, 3) in [0, 1].

  Raises:
    CppnError: a bad config field or target.
  """
  validate_config(config)
  task = make_task(config, image)
  num_points = task.train_coords.shape[0]
  num_features = encodings.width(config.encoding, task.dim)
  config, task.objective = backend.for_group(config, task.objective, 1,
                                             num_points, num_features)
  encoding_params = encodings.init_encoding(
      config.encoding, task.signal_shape[0], task.dim)
  return Fit(config, task, encoding_params,
             initial_state(config, make_model(config)),
             jax.tree_util.tree_map(jnp.asarray, training_batch(
                 config, task, encoding_params)),
             minibatch_key(config))


@dataclasses.dataclass
class Member:
  """One fit of a group: its config, workdir and host-side state."""
  config: ml_collections.ConfigDict
  workdir: pathlib.Path
  task: tasks.base.Task
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
  task = make_task(config)
  workdir = outputs.prepare_workdir(workdir, config)
  summary = outputs.read_json(workdir / 'summary.json')
  if summary is not None:
    logging.info('%s already finished; delete summary.json to rerun', workdir)
    return summary
  encoding_params = encodings.init_encoding(
      config.encoding, config.data.resolution, task.dim)
  with outputs.atomic_open(workdir / 'encoding.npz', 'wb') as f:
    np.savez(f, **jax.device_get(encoding_params))
  (workdir / 'frames').mkdir(exist_ok=True)
  return Member(config, workdir, task, encoding_params)


def train_group(configs: list[ml_collections.ConfigDict], workdirs: list,
                progress: bool = True) -> list[dict[str, Any]]:
  """Fits several members of equal shape together in one compiled program.

  The member axis is vmapped, or mapped on a single CPU device (see
  steps.train_steps_per_member).

  Each member writes the same outputs into its own workdir as a single run.
  Members resume from their own newest checkpoints (those at equal steps
  and with equal objectives train together: an occupancy objective names
  its shape); finished members are skipped; a member that fails (bad
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
  num_pixels = first.task.train_coords.shape[0]
  num_features = encodings.width(first.config.encoding, first.task.dim)
  for member in members.values():
    member.config, member.task.objective = backend.for_group(
        member.config, member.task.objective, len(members), num_pixels,
        num_features)
  guards.check_memory(first.config, len(members), num_pixels, num_features)
  model = make_model(first.config)
  pending: dict[tuple[int, tasks.base.Objective],
                list[tuple[int, Member, steps.TrainState]]] = {}
  for index, member in members.items():
    state = checkpoints.restore_latest(
        checkpoints.checkpoint_manager(member.workdir),
        initial_state(member.config, model))
    pending.setdefault((int(state.step), member.task.objective), []).append(
        (index, member, state))
  for (first_step, _), at_step in sorted(pending.items(),
                                         key=lambda item: item[0][0]):
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
      batches=put([training_batch(members[i].config, members[i].task,
                                  members[i].encoding_params)
                   for i in padded]),
      keys=put([minibatch_key(members[i].config) for i in padded]),
      encoding_params=put([members[i].encoding_params for i in padded]))


class CompiledSteps:
  """steps.train_steps_per_member for a group, compiled once per length.

  Calling it with a number of steps runs them on `arrays` (whose state it
  replaces) and returns the (members, length) losses.
  """

  def __init__(self, config: ml_collections.ConfigDict, arrays: GroupArrays,
               objective: tasks.base.Objective):
    self.static = dict(batch_size=config.train.batch_size,
                       encoding_name=encoded_on_the_fly(config,
                                                        arrays.batches),
                       objective=objective)
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
  member that has none at this step yet; marks a non-finite loss or
  headline score (the test PSNR of an image) as a divergence.

  Returns:
    Per member, its predictions on the task's eval_coords.
  """
  rows, frames, preds = evaluate(predict, arrays, members)
  for member, row, frame in zip(members, rows, frames):
    if member.failure or (member.rows and
                          member.rows[-1]['step'] == row['step']):
      continue
    if not (np.isfinite(row['loss'])
            and np.isfinite(row[member.task.headline])):
      member.failure = guards.first_divergence(
          np.array([np.nan]), row['step'], member.config.train.learning_rate)
      continue
    if frame is not None:
      outputs.write_png(outputs.frame_path(member.frames_dir, row['step']),
                        frame)
    outputs.append_metrics(member.workdir / 'metrics.jsonl', row)
    tensorboard.log_evaluation(member.config, member.workdir, row, frame)
    member.rows.append(row)
  return preds


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
  task = members[0].task
  logging.info('%d member(s) from step %d: encoding %s; model %s with %d '
               'parameters; %s', len(members), first_step,
               encodings.describe(config.encoding, task.dim),
               config.model.name, num_params, task.describe())
  arrays = group_arrays(members, states)
  predict = jax.jit(jax.vmap(
      steps.make_predict_fn(arrays.state.apply_fn, config.encoding.name,
                            backend.predict_chunk_size(
                                config.train.chunk_size)),
      in_axes=(0, 0, None)))
  run_steps = CompiledSteps(config, arrays, task.objective)
  # The step and predictions (on eval_coords) of the newest evaluation.
  evaluated_step, preds = first_step, record_evaluation(predict, arrays,
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
        preds = record_evaluation(predict, arrays, members)
        bar.set_postfix({task.headline: ', '.join(
            f'{m.rows[-1][task.headline]:.4g}' for m in members[:4]
            if not m.failure)})
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
    preds = record_evaluation(predict, arrays, members)
  for member in members:
    member.failure = member.failure or guards.loss_rose(member.rows,
                                                        member.config.train)
  return write_final_outputs(predict, arrays, members, preds, num_params,
                             timing)


def group_predict(predict, arrays: GroupArrays) -> tasks.base.Predict:
  """coords (Q, d) -> (M, Q, C): the group's networks as they stand."""
  return lambda coords: np.asarray(predict(
      arrays.state.params, arrays.encoding_params, coords))


def evaluate(predict, arrays: GroupArrays, members: list[Member]):
  """Every member's task evaluation (Task.evaluate) of its current fit.

  Returns:
    Per member a metrics row {'step', 'loss', the task's scores ...}, per
    member its frame (an (H, W, 3) picture or None), and per
    member its predictions {name: (Q, C)} on the task's eval_coords.
  """
  group_preds = members[0].task.predictions(group_predict(predict, arrays))
  rows, frames, preds = [], [], []
  for index, member in enumerate(members):
    member_preds = {name: p[index] for name, p in group_preds.items()}
    row, frame = member.task.evaluate(member_preds)
    rows.append({'step': int(arrays.state.step[index]), **row})
    frames.append(frame)
    preds.append(member_preds)
  return rows, frames, preds


def write_final_outputs(predict, arrays: GroupArrays, members: list[Member],
                        eval_preds, num_params, timing
                        ) -> list[dict[str, Any]]:
  """Renders, plots and summarises each member that did not fail.

  `eval_preds`: per member its predictions at the final step. The fits
  are rendered by the task (Task.render_signal: on its grid,
  data.coordinate_grid, unless it renders otherwise).
  """
  task = members[0].task
  shape = task.signal_shape
  signals = task.render_signal(group_predict(predict, arrays))
  results = []
  for index, member in enumerate(members):
    if member.failure:
      logging.error('%s: %s', member.workdir, member.failure)
      results.append({'error': member.failure})
      continue
    workdir, rows = member.workdir, member.rows
    task_fields = member.task.write_outputs(workdir, signals[index],
                                            eval_preds[index], rows)
    outputs.plot_curves(workdir / 'curves.png', rows, task.scores,
                        task.score_label,
                        title=encodings.describe(member.config.encoding,
                                                 task.dim))
    model_bytes = 4 * num_params
    encoding_bytes = int(sum(np.asarray(v).nbytes
                             for v in member.encoding_params.values()))
    summary = {
        'task': member.task.name,
        'step': rows[-1]['step'],
        **{name: rows[-1][name] for name in task.scores},
        'num_params': num_params,
        'model_bytes': model_bytes,
        'encoding_bytes': encoding_bytes,
        # Per grid point: pixel, voxel or sample.
        'bits_per_pixel': (8 * (model_bytes + encoding_bytes)
                           / int(np.prod(shape))),
        **task_fields,
        **timing,
    }
    outputs.write_json(workdir / 'summary.json', summary)
    logging.info('%s finished: %s', workdir, ', '.join(
        f'{name} {summary[name]:.4f}' for name in task.scores))
    results.append(summary)
  return results


def train_and_evaluate(config: ml_collections.ConfigDict, workdir,
                       progress: bool = True) -> dict[str, Any]:
  """Fits one task as the config says, writing every output into `workdir`.

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
