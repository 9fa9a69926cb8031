"""Guards of a run: bad settings, memory, divergence and stop signals.

  validate_train_config  the `train` block's values, checked up front
  group_memory_bytes     a group's estimated memory on one device
  check_memory           refuses a group that would not fit in the device's
                         memory (an accelerator's, as JAX reports it, or
                         this machine's RAM on CPU)
  out_of_memory          a device's RESOURCE_EXHAUSTED error as a CppnError
  first_divergence       the first NaN/Inf loss, as a message
  loss_rose              a fit that ended above its initial loss, as a message
  StopRequests           SIGINT / SIGTERM as a flag between compiled calls
"""

import os
import signal
import threading

import jax
import ml_collections
import numpy as np

from cppn.errors import CppnError

def validate_train_config(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of the `train` block."""
  for field in ('num_steps', 'eval_every_steps'):
    if config[field] < 1:
      raise CppnError(f'train.{field} must be >= 1, got {config[field]}')
  if not (np.isfinite(config.learning_rate) and config.learning_rate > 0):
    raise CppnError('train.learning_rate must be a positive number, got '
                    f'{config.learning_rate}')
  for field in ('batch_size', 'feature_cache_mb'):
    if config[field] < 0:
      raise CppnError(f'train.{field} must be >= 0, got {config[field]}')
  if not 0 < config.lr_decay_rate <= 1:
    raise CppnError('train.lr_decay_rate must be in (0, 1] (1: a constant '
                    f'rate), got {config.lr_decay_rate}')
  if config.lr_decay_steps <= 0:
    raise CppnError('train.lr_decay_steps must be > 0, got '
                    f'{config.lr_decay_steps}')
  if config.chunk_size < -1:
    raise CppnError('train.chunk_size must be -1 (by backend), 0 (one chunk) '
                    f'or a number of pixels, got {config.chunk_size}')


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


# Share of a device's memory (or of the RAM) a group may plan to use: the
# estimate is rough, and XLA's buffers and the host process need the rest.
MEMORY_FRACTION = 0.8


def precomputes_features(config: ml_collections.ConfigDict,
                         num_pixels: int, num_features: int) -> bool:
  """Whether the training features fit in train.feature_cache_mb."""
  return 4 * num_pixels * num_features <= config.train.feature_cache_mb * 2**20


def estimate_memory_bytes(config: ml_collections.ConfigDict, num_pixels: int,
                          num_features: int) -> int:
  """A rough upper estimate of one member's training memory in bytes.

  The training set (features or coordinates, targets), evaluation outputs,
  and per chunk the input features and, per layer, four values a pixel a
  unit (pre- and post-activation kept for the backward pass, their
  gradients), all float32. For the paper's fit at 512 px in one chunk it
  says 1.25 GiB; XLA's CPU compiler plans 0.57 GiB (memory_analysis of the
  compiled steps: 450 MiB of temporaries, 132 MiB of arguments).
  """
  chunk = (config.train.batch_size or config.train.chunk_size or num_pixels)
  chunk = min(chunk, num_pixels)
  stored = num_features if precomputes_features(
      config, num_pixels, num_features) else 2
  per_chunk = chunk * (num_features + 4 * config.model.depth
                       * config.model.width)
  return 4 * (num_pixels * (stored + 3 + 2 * 3) + per_chunk)


def training_device():
  """The device whose memory bounds a group: the first of JAX's devices."""
  return jax.devices()[0]


def memory_limit(device) -> tuple[int, str]:
  """(bytes, what they are) a run may use on `device`.

  An accelerator's memory as JAX reports it (memory_stats()['bytes_limit']);
  on a CPU, whose memory_stats() is None, this machine's RAM.
  """
  stats = device.memory_stats() or {}
  if 'bytes_limit' in stats:
    return int(stats['bytes_limit']), f'{device.device_kind} memory'
  return (os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'),
          "this machine's RAM")


def group_memory_bytes(config: ml_collections.ConfigDict, num_members: int,
                       num_pixels: int, num_features: int) -> int:
  """estimate_memory_bytes of the members one device holds: members are
  spread over every device, ceil(num_members / device count) each."""
  per_device = -(-num_members // jax.device_count())
  return per_device * estimate_memory_bytes(config, num_pixels, num_features)


def check_memory(config: ml_collections.ConfigDict, num_members: int,
                 num_pixels: int, num_features: int, device=None):
  """Refuses up front a group whose training would not fit in memory.

  `config`: a member's, its train.chunk_size resolved (>= 0, see
  backend.chunk_size). `device`: training_device() unless given (tests pass
  a stand-in with memory_stats()).
  """
  device = device or training_device()
  needed = group_memory_bytes(config, num_members, num_pixels, num_features)
  available, where = memory_limit(device)
  if needed > MEMORY_FRACTION * available:
    raise CppnError(
        f'training {num_members} member(s) on {num_pixels} pixels would need '
        f'about {needed / 2**30:.1f} GiB; {where} is '
        f'{available / 2**30:.1f} GiB. Lower train.chunk_size (now '
        f'{config.train.chunk_size}), train.feature_cache_mb or '
        'data.resolution')


def out_of_memory(error: Exception) -> CppnError | None:
  """The one-line error for a device's RESOURCE_EXHAUSTED failure, else None.

  XLA raises it (a JaxRuntimeError) when an allocation fails at compile or
  run time, past what check_memory estimated.
  """
  message = str(error)
  if 'RESOURCE_EXHAUSTED' not in message:
    return None
  detail = next((line.strip() for line in message.splitlines()
                 if 'RESOURCE_EXHAUSTED' in line), '')
  return CppnError(
      f'out of device memory ({detail[:200]}); lower train.chunk_size, '
      'train.feature_cache_mb, data.resolution or the number of members '
      'trained together')
