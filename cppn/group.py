"""Groups: members of equal shape, fitted together in one compiled program.

Members whose configs differ only in VALUE_FIELDS share every array shape and
every static argument of the compiled steps, so their states, batches and
keys stack along a leading member axis (see steps.train_steps_per_member).
This module owns that rule and the stacking:

  VALUE_FIELDS     the fields members of one group may differ in
  shape_signature  a config without them: equal signatures train together
  group_indices    configs -> lists of indices, one list per group
  stack, unstack   pytrees <-> one pytree with a leading member axis
  shard_members    the member axis spread over every device
  pad_to_devices   a member list padded to a multiple of the device count
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from cppn import overrides

# Config fields whose values may differ between members trained together;
# every other field fixes the shapes or the code of the compiled program.
VALUE_FIELDS = ('seed', 'data.image', 'data.crop', 'encoding.sigma',
                'encoding.sigma_p', 'encoding.max_freq', 'encoding.variance',
                'encoding.seed', 'train.learning_rate')


def shape_signature(config: ml_collections.ConfigDict) -> str:
  """The config with VALUE_FIELDS removed: equal signatures train together."""
  flat = overrides.flatten(config.to_dict())
  return repr(sorted((k, v) for k, v in flat.items() if k not in VALUE_FIELDS))


def group_indices(configs: Sequence[ml_collections.ConfigDict]
                  ) -> list[list[int]]:
  """Indices of `configs` grouped by shape_signature, in order of appearance."""
  groups: dict[str, list[int]] = {}
  for index, config in enumerate(configs):
    groups.setdefault(shape_signature(config), []).append(index)
  return list(groups.values())


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
