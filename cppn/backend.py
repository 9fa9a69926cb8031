"""Choices that depend on the device a fit runs on.

Four of the trainer's choices suit a CPU and an accelerator differently:

  chunk_size    train.chunk_size = AUTO (the default) resolved for a group:
                CPU_CHUNK_SIZE pixels on a CPU, where a chunk's activations
                stay in the caches (one chunk for a small coupled loss that
                keeps its activations, CPU_COUPLED_ONE_CHUNK_POINTS); on an
                accelerator, where every chunk is a kernel launch, one chunk
                when the group fits in the device's memory, else the largest
                power of two that does
  predict_chunk_size
                the chunk evaluations predict in: the training chunk, but
                CPU_CHUNK_SIZE on a CPU whose training takes one chunk
  maps_members  how the members of a group share a device: one after another
                (lax.map) on a single CPU device, vmapped on accelerators
                and across several devices
  with_gradient_memory
                whether a coupled loss (CT, MRI, NeRF) over several chunks
                keeps every chunk's activations for its backward pass (when
                they fit in KEEP_ACTIVATIONS_FRACTION of the memory) or
                recomputes them chunk by chunk

`for_group` applies chunk_size and with_gradient_memory to a member's
config and objective, as the trainer does for a fit or a group.

All take the device (or its platform) as an argument, so a test can hand
them a stand-in for an accelerator.
"""

import copy
import dataclasses

import ml_collections

from cppn import guards
from cppn.tasks import base as task_base

# train.chunk_size meaning "chosen by backend" (0 is one chunk, > 0 pixels).
AUTO = -1

# Pixels per chunk on a CPU. A chunk's activations then take 2 MiB per layer
# of the paper's MLP: on 2 CPU cores, 86% of the matmul rate at 16k and 65k
# training pixels against 74-79% with chunks of 8192.
CPU_CHUNK_SIZE = 2048

# Share of the device's memory (or of the RAM) the activations of every
# point may take for a coupled loss to keep them (one forward pass a step)
# rather than recompute them (two). guards.estimate_memory_bytes says 4.8
# GiB for CT at 512 px, whose fit peaks at 2.1 GB resident keeping them, and
# 18 GiB for MRI at 96^3, which recomputes on a 24 GB machine.
KEEP_ACTIVATIONS_FRACTION = 0.25

# Points up to which a coupled loss that keeps its activations runs as one
# chunk on a CPU: its backward pass then reads one array per layer rather
# than the slices a loop over chunks stacks. Step times on 2 CPU cores, one
# chunk against chunks of CPU_CHUNK_SIZE, features as one (F, P) array (in
# one chunk on a grid, none, basic and positional features are factored
# instead, models.GridFeatures): CT 128 px (16,384 points) 66 / 75 ms
# (none), 97 / 111 ms (positional; a group of three: 59 / 67-71 ms a
# member); MRI 32^3 189 / 215 ms; CT 256 px 407 / 430 ms; CT 362 px
# (131,044) 812 / 857 ms; the cpu preset's NeRF (16,384 samples) 135 / 198
# ms and the paper's (131,072) 1.18 / 1.61 s; CT 512 px (262,144) a tie,
# 1.70-1.85 s both.
CPU_COUPLED_ONE_CHUNK_POINTS = 2**17


def is_accelerator(device) -> bool:
  """Whether a JAX device is a GPU or TPU (anything but the host CPU)."""
  return device.platform != 'cpu'


def maps_members(platform: str, device_count: int) -> bool:
  """Whether a group's members train one after another (lax.map) rather than
  vmapped: on a single CPU device.

  One member's matmuls already use every CPU core, and unbatched they run
  faster (8-member sweep_scale on 2 cores: 20-21.5 steps/s mapped against
  18-19 vmapped); each member then computes exactly what its solo run
  computes. On an accelerator one small fit would leave the chip idle, and
  across devices the member axis is what is sharded.
  """
  return platform == 'cpu' and device_count == 1


def with_chunk_size(config: ml_collections.ConfigDict,
                    chunk_size: int) -> ml_collections.ConfigDict:
  """A copy of the config with train.chunk_size set."""
  config = copy.deepcopy(config)
  config.train.chunk_size = chunk_size
  return config


def chunk_size(config: ml_collections.ConfigDict, num_members: int,
               num_pixels: int, num_features: int, device=None,
               coupled: bool = False) -> int:
  """train.chunk_size for a group of `num_members` fits on `device`.

  Args:
    config: a member's config; a chunk_size other than AUTO is returned as
      it is.
    num_members: fits trained together (spread over every device).
    num_pixels: training pixels (points) of one fit.
    num_features: encoded features per pixel.
    device: guards.training_device() unless given.
    coupled: whether the fit's loss couples its points (a task objective
      that is not pointwise: CT, MRI, NeRF).

  Returns:
    >= 0 (0: one chunk). On a CPU, CPU_CHUNK_SIZE, or 0 for a coupled loss
    over at most CPU_COUPLED_ONE_CHUNK_POINTS points that keeps its
    activations (activations_fit). On an accelerator 0 when the group with
    one chunk fits in guards.MEMORY_FRACTION of the device's memory
    (guards.estimate_memory_bytes), else the largest power of two >=
    CPU_CHUNK_SIZE that fits (CPU_CHUNK_SIZE when none does, for
    guards.check_memory to refuse).
  """
  if config.train.chunk_size != AUTO:
    return config.train.chunk_size
  device = device or guards.training_device()
  if not is_accelerator(device):
    if (coupled and num_pixels <= CPU_COUPLED_ONE_CHUNK_POINTS
        and activations_fit(config, num_members, num_pixels, num_features,
                            device)):
      return 0
    return CPU_CHUNK_SIZE
  available, _ = guards.memory_limit(device)
  fits = lambda chunk: guards.group_memory_bytes(
      with_chunk_size(config, chunk), num_members, num_pixels,
      num_features) <= guards.MEMORY_FRACTION * available
  if fits(0):
    return 0
  chunk = 1 << (num_pixels - 1).bit_length()  # >= num_pixels
  while chunk > CPU_CHUNK_SIZE and not fits(chunk):
    chunk //= 2
  return chunk


def predict_chunk_size(train_chunk_size: int, device=None) -> int:
  """Points per chunk when predicting (evaluations) for a resolved
  train.chunk_size (>= 0) on `device` (training_device() unless given).

  train_chunk_size itself, except one chunk (0) on a CPU, which chunk_size
  picks only for a coupled loss's backward pass: then CPU_CHUNK_SIZE, as a
  prediction keeps no activations and can span far more points than a
  step (a NeRF evaluation renders whole views).
  """
  device = device or guards.training_device()
  if train_chunk_size == 0 and not is_accelerator(device):
    return CPU_CHUNK_SIZE
  return train_chunk_size


def activations_fit(config: ml_collections.ConfigDict, num_members: int,
                    num_pixels: int, num_features: int, device) -> bool:
  """Whether the group's estimated memory with every point in one chunk
  (guards.group_memory_bytes) fits in KEEP_ACTIVATIONS_FRACTION of
  guards.memory_limit(device)."""
  needed = guards.group_memory_bytes(with_chunk_size(config, 0), num_members,
                                     num_pixels, num_features)
  available, _ = guards.memory_limit(device)
  return needed <= KEEP_ACTIVATIONS_FRACTION * available


def with_gradient_memory(objective: task_base.Objective,
                         config: ml_collections.ConfigDict, num_members: int,
                         num_pixels: int, num_features: int,
                         device=None) -> task_base.Objective:
  """The objective with keep_activations chosen for a group on `device`.

  A pointwise objective is returned as it is. A coupled one keeps its
  activations when they fit (activations_fit on `device`,
  training_device() unless given).
  """
  if objective.pointwise:
    return objective
  device = device or guards.training_device()
  return dataclasses.replace(objective, keep_activations=activations_fit(
      config, num_members, num_pixels, num_features, device))


def for_group(config: ml_collections.ConfigDict,
              objective: task_base.Objective, num_members: int,
              num_pixels: int, num_features: int, device=None
              ) -> tuple[ml_collections.ConfigDict, task_base.Objective]:
  """A member's config with train.chunk_size resolved (chunk_size; the loss
  coupled unless objective.pointwise) and its objective with keep_activations
  chosen (with_gradient_memory), for a group of `num_members` fits of
  `num_pixels` points and `num_features` features each on `device`
  (training_device() unless given)."""
  device = device or guards.training_device()
  config = with_chunk_size(config, chunk_size(
      config, num_members, num_pixels, num_features, device,
      coupled=not objective.pointwise))
  return config, with_gradient_memory(objective, config, num_members,
                                      num_pixels, num_features, device)
