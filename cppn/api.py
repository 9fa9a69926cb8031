r"""The Python API: fit, open and sweep from a notebook or a script.

The same engine as the command line (cppn.train), the same errors (CppnError
with the message `python -m cppn.main` prints):

  import cppn
  result = cppn.fit('configs/test.py', overrides={'encoding.sigma': 4})
  result.metrics['test_psnr'], result.history[-1], result.render(64)
  result.export('tiny.cppn', 'int8')
  run = cppn.load('runs/default')               # a finished run's folder
  rows = cppn.sweep('configs/sweep_scale.py', workdir='runs/scale')

  fit    one fit: in memory (workdir=None: no file written) or as a run in
         a workdir (exactly what `python -m cppn.main` writes)
  load   a run folder, finished or checkpointed, as a Result
  sweep  members of a sweep (a config file with get_sweep(), or a list of
         configs) -> one dict per member, the columns of results.csv
  Result params, encoding, metrics history and final metrics of a fit;
         render(resolution), save(workdir), export(path, precision)
"""

import dataclasses
import functools
import pathlib
import time
import types
from typing import Any, Mapping, Sequence

import jax
import ml_collections
import numpy as np
import tqdm

from cppn import checkpoints
from cppn import export as export_lib
from cppn import guards
from cppn import launch
from cppn import metrics as metrics_lib
from cppn import models
from cppn import outputs
from cppn import overrides as overrides_lib
from cppn import steps
from cppn import sweep as sweep_lib
from cppn import tensorboard
from cppn import train
from cppn.errors import CppnError

ConfigLike = ml_collections.ConfigDict | str | pathlib.Path


@dataclasses.dataclass
class Result:
  """A fitted network and how it got there.

  Attributes:
    config: the resolved config (every field, as config.json records it).
    state: the Flax TrainState at the last step (params, Adam state, step).
    encoding: the encoding's frozen parameters, e.g. {'b': (m, 2), 'a':
      (m,)} for the Fourier encodings (cppn/encodings.py).
    history: one dict per evaluation, oldest first: 'step', 'loss' and the
      task's scores (an image: 0.5 x train MSE, 'train_psnr', 'test_psnr'
      in dB; occupancy: 'iou_uniform', 'iou_surface').
    metrics: the final numbers: 'step', the scores, 'ssim' (an image's test
      pixels, in [-1, 1]), 'num_params', 'wall_seconds'; a run in a
      workdir has every field of its summary.json.
    workdir: the run's folder, or None for a fit held in memory only.
  """
  config: ml_collections.ConfigDict
  state: steps.TrainState
  encoding: dict[str, jax.Array]
  history: list[dict[str, float]]
  metrics: dict[str, Any]
  workdir: pathlib.Path | None = None

  @property
  def params(self):
    """The network's float32 Flax parameters (a pytree of arrays)."""
    return self.state.params

  def render(self, resolution: int | None = None) -> np.ndarray:
    """The network on an N x N grid: -> (N, N, 3) float32 in [0, 1].

    N = resolution, default data.resolution (the training grid); 2N samples
    the same square twice as finely (data.coordinate_grid).
    """
    resolution = resolution or self.config.data.resolution
    network = export_lib.Exported(self.config.model, self.config.encoding.name,
                                  self.params, self.encoding)
    return export_lib.render(network, resolution, export_lib.render_chunk_size(
        self.config.train.chunk_size))

  def export(self, path, precision: str = 'fp32') -> dict[str, int]:
    """Writes the network as one file (cppn/export.py's format) at
    `precision` (fp32, fp16, bf16, int8); returns its byte counts."""
    return export_lib.save_model(path, self.config, self.params,
                                 self.encoding, precision,
                                 int(self.state.step))

  def save(self, workdir) -> pathlib.Path:
    """Writes the fit as a run folder that `load` and `python -m
    cppn.export` open: config.json, encoding.npz, metrics.jsonl,
    summary.json and a checkpoint. Returns the folder."""
    workdir = outputs.prepare_workdir(workdir, self.config)
    with outputs.atomic_open(workdir / 'encoding.npz', 'wb') as f:
      np.savez(f, **jax.device_get(self.encoding))
    checkpoints.save(checkpoints.checkpoint_manager(workdir), self.state)
    outputs.write_metrics(workdir / 'metrics.jsonl', self.history)
    outputs.write_json(workdir / 'summary.json', self.metrics)
    return workdir


def make_config(config: ConfigLike,
                overrides: Mapping[str, Any] | None = None
                ) -> ml_collections.ConfigDict:
  """A config from a ConfigDict or a config file (configs/*.py), with dotted
  overrides {'encoding.sigma': 4} set; each must be read by the config's
  encoding and model, as on the command line."""
  if not isinstance(config, ml_collections.ConfigDict):
    config = sweep_lib.load_config_module(config).get_config()
  overrides = dict(overrides or {})
  config = overrides_lib.apply_overrides(config, overrides)
  overrides_lib.check_read(config, overrides, 'override ')
  return config


def fit(config: ConfigLike, workdir=None,
        overrides: Mapping[str, Any] | None = None,
        progress: bool = False) -> Result:
  """Fits one task (an image, CT, MRI, a 1D signal, occupancy, NeRF) as the
  config says.

  Args:
    config: a ConfigDict (configs/default.py's fields) or a config file.
    workdir: None: the fit stays in memory and no file is written. A
      folder: the run `python -m cppn.main --workdir=FOLDER` makes, with
      the same files; a finished run there is read back, not refitted.
    overrides: dotted fields to set, {'encoding.sigma': 4}.
    progress: a progress bar while training.

  Returns:
    The Result. In memory, it evaluates at the steps a run does (0, every
    train.eval_every_steps, the last) with the same numbers, up to float
    rounding.

  Raises:
    CppnError: bad input or divergence, with the command line's message.
  """
  config = make_config(config, overrides)
  if workdir is not None:
    train.train_and_evaluate(config, workdir, progress)
    return load(workdir)
  return _fit_in_memory(config, progress)


def _fit_in_memory(config: ml_collections.ConfigDict,
                   progress: bool) -> Result:
  """train.build_fit stepped to train.num_steps, evaluated as a run is."""
  if tensorboard.enabled(config):
    raise CppnError('log.tensorboard writes into a workdir; pass workdir= '
                    'to cppn.fit or cppn.sweep')
  start = time.time()
  model_fit = train.build_fit(config)
  num_steps, every = config.train.num_steps, config.train.eval_every_steps
  history = [evaluate(model_fit)]
  with tqdm.tqdm(total=num_steps, disable=not progress, unit='step') as bar:
    while int(model_fit.state.step) < num_steps:
      step = int(model_fit.state.step)
      length = min(every - step % every, num_steps - step)
      failure = guards.first_divergence(model_fit.train(length), step,
                                        config.train.learning_rate)
      if failure:
        raise CppnError(failure)
      history.append(evaluate(model_fit))
      bar.update(length)
  failure = guards.loss_rose(history, config.train)
  if failure:
    raise CppnError(failure)
  final = dict(history[-1])
  del final['loss']
  if model_fit.task.name == 'image':
    test_image = model_fit.dataset.test_pixels.reshape(
        *model_fit.dataset.test_shape, 3)
    prediction = model_fit.predict(model_fit.dataset.test_coords).reshape(
        test_image.shape)
    final['ssim'] = float(metrics_lib.ssim(prediction, test_image))
  final.update(num_params=models.count_params(model_fit.state.params),
               wall_seconds=time.time() - start)
  return Result(config, model_fit.state, model_fit.encoding_params, history,
                final)


def evaluate(model_fit: train.Fit) -> dict[str, float]:
  """A metrics row of a fit as it stands, as a run's metrics.jsonl has it
  (Task.evaluate): 'step', 'loss' and the task's scores; for an image
  0.5 x train MSE, 'train_psnr', 'test_psnr' (dB)."""
  task = model_fit.task
  preds = task.predictions(lambda coords: model_fit.predict(coords)[None])
  row, _ = task.evaluate({name: value[0] for name, value in preds.items()})
  return {'step': int(model_fit.state.step), **row}


def load(workdir) -> Result:
  """A run folder's newest checkpoint, metrics history and summary.

  `metrics` is summary.json, or for a run that has not finished, the newest
  row of metrics.jsonl.

  Raises:
    CppnError: the folder holds no run (no config.json, encoding.npz or
      checkpoint).
  """
  workdir = pathlib.Path(workdir)
  config, state, encoding = export_lib.load_state(workdir)
  history = outputs.read_metrics(workdir / 'metrics.jsonl', int(state.step))
  summary = outputs.read_json(workdir / 'summary.json')
  final = summary if summary is not None else dict(history[-1] if history
                                                   else {})
  return Result(config, state, encoding, history, final, workdir)


def sweep(config_module_or_list: ConfigLike | types.ModuleType
          | Sequence[ml_collections.ConfigDict], workdir=None,
          progress: bool = False) -> list[dict[str, Any]]:
  """Fits every member of a sweep; returns its table.

  Args:
    config_module_or_list: a config file or an imported config module that
      defines get_config() and get_sweep() (cppn/sweep.py), or a list of
      configs (the fields in which they differ become the swept columns).
    workdir: None: members are fitted in memory, one after another, and no
      file is written. A folder: the sweep `python -m cppn.main` runs there
      (groups trained together, results.csv, figures; finished members are
      read back).
    progress: progress bars while training.

  Returns:
    One dict per member: 'name', its swept fields (dotted), then 'status'
    ('finished' or 'failed'), 'train_psnr', 'test_psnr' (dB), 'ssim',
    'num_params', 'seconds', 'error' (the failure's message, else '').
  """
  base, members = sweep_members(config_module_or_list)
  if workdir is not None:
    return sweep_lib.run_sweep(base, members, workdir, functools.partial(
        launch.run_local, progress=progress))
  entries = sweep_lib.plan(base, members, '.')
  results = []
  for entry in entries:
    try:
      results.append(_fit_in_memory(entry.config, progress).metrics)
    except CppnError as e:
      results.append({'error': str(e)})
  return sweep_lib.result_rows(entries, results)


def sweep_members(config_module_or_list) -> tuple[ml_collections.ConfigDict,
                                                  list[dict[str, Any]]]:
  """(base config, dotted overrides per member) of a sweep's description."""
  if isinstance(config_module_or_list, (list, tuple)):
    configs = list(config_module_or_list)
    if not configs or not all(isinstance(c, ml_collections.ConfigDict)
                              for c in configs):
      raise CppnError('cppn.sweep needs a non-empty list of ConfigDicts, a '
                      'config file or a config module')
    flat = [overrides_lib.flatten(c.to_dict()) for c in configs]
    varying = [key for key in flat[0]
               if any(f.get(key) != flat[0][key] for f in flat)]
    return configs[0], [{key: f[key] for key in varying} for f in flat]
  module = config_module_or_list
  if not isinstance(module, types.ModuleType):
    module = sweep_lib.load_config_module(module)
  if not hasattr(module, 'get_sweep'):
    raise CppnError(f'{getattr(module, "__file__", module)} defines no '
                    'get_sweep()')
  return module.get_config(), sweep_lib.load_sweep(module.__file__)
