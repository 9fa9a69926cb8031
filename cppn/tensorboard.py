r"""TensorBoard logs of a run, with `--config.log.tensorboard=True`.

Written with tensorboardX (no TensorFlow; `pip install -e '.[tensorboard]'`
installs it and the `tensorboard` viewer) into the run's workdir, so that

  tensorboard --logdir=runs/demo       one run
  tensorboard --logdir=runs/scale      a sweep: one TensorBoard run per member

show, at every evaluation, the scalars of metrics.jsonl (loss and the
task's scores: for an image 0.5 x train MSE, train_psnr and test_psnr in
dB) and the image reconstruction (the task's frame, as in frames/). A sweep member's run also holds
its swept fields as hparams (TensorBoard's HParams tab), written before it
trains, with test_psnr and train_psnr as its metrics.

  check_available  raises the one-line error naming the extra
  log_evaluation   one evaluation's scalars and image (train.py calls it)
  log_hparams      a sweep member's swept fields (sweep.py calls it)
"""

import os
import pathlib
from typing import Any, Mapping

import ml_collections
import numpy as np

from cppn.errors import CppnError

MISSING = ('log.tensorboard needs tensorboardX, which is not installed: '
           "pip install -e '.[tensorboard]'")
HPARAM_METRICS = ('test_psnr', 'train_psnr')

# Open writers by workdir: one event file per run and process, closed at the
# run's last step. tensorboardX names an event file by the second it opened
# and the host, so each writer adds a suffix (the process id, or '.hparams')
# to keep two files opened in the same second from overwriting each other.
_writers: dict[pathlib.Path, Any] = {}


def enabled(config: ml_collections.ConfigDict) -> bool:
  """Whether the config asks for TensorBoard logs (log.tensorboard)."""
  return bool(config.get('log') and config.log.get('tensorboard'))


def _summary_writer_class():
  """tensorboardX.SummaryWriter, or the one-line CppnError naming the extra."""
  try:
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise CppnError(MISSING) from e
  return SummaryWriter


def check_available(config: ml_collections.ConfigDict):
  """Raises CppnError (MISSING) if the config logs and tensorboardX is absent."""
  if enabled(config):
    _summary_writer_class()


def log_evaluation(config: ml_collections.ConfigDict, workdir,
                   row: Mapping[str, float], image: np.ndarray | None):
  """Logs one evaluation: the scalars of `row` at row['step'] and `image`.

  Args:
    config: the run's config; nothing is logged unless log.tensorboard.
    workdir: the run's folder (the TensorBoard run).
    row: a metrics.jsonl row: 'step', then the scalars ('loss' and the
      task's scores, e.g. 'train_psnr', 'test_psnr').
    image: (h, w, 3) colours in [0, 1], the task's picture of this
      evaluation, or None for a task without one (1D signals).
  """
  if not enabled(config):
    return
  workdir = pathlib.Path(workdir)
  if workdir not in _writers:
    _writers[workdir] = _summary_writer_class()(
        logdir=str(workdir), filename_suffix=f'.{os.getpid()}')
  writer, step = _writers[workdir], int(row['step'])
  for tag, value in row.items():
    if tag != 'step':
      writer.add_scalar(tag, value, step)
  if image is not None:
    writer.add_image('reconstruction', np.clip(image, 0, 1), step,
                     dataformats='HWC')
  writer.flush()
  if step >= config.train.num_steps:
    _writers.pop(workdir).close()


def hparam_value(value: Any) -> bool | int | float | str:
  """A value TensorBoard's HParams accepts: bool, number or string."""
  return value if isinstance(value, (bool, int, float, str)) else str(value)


def log_hparams(workdir, swept: Mapping[str, Any]):
  """Writes a sweep member's swept fields ({'encoding.sigma': 4}) as the
  hparams of its TensorBoard run, metrics HPARAM_METRICS."""
  writer = _summary_writer_class()(logdir=str(workdir),
                                    filename_suffix='.hparams')
  from tensorboardX.summary import hparams  # pylint: disable=g-import-not-at-top
  experiment, start, _ = hparams(
      {key: hparam_value(value) for key, value in swept.items()},
      {tag: 0.0 for tag in HPARAM_METRICS})
  writer.file_writer.add_summary(experiment)
  writer.file_writer.add_summary(start)
  writer.close()
