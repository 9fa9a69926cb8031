"""Tests for cppn.group: which configs train together, and stacking."""

import jax.numpy as jnp
import numpy as np

from cppn import group
from cppn import overrides
import configs.test


def variant(**dotted):
  return overrides.apply_overrides(configs.test.get_config(), {
      key.replace('__', '.'): value for key, value in dotted.items()})


def test_value_fields_keep_members_together_and_shapes_split_them():
  configs_ = [
      variant(),
      variant(encoding__sigma=5.0, seed=3, train__learning_rate=0.1),
      variant(data__image='chelsea', encoding__seed=2),
      variant(model__width=16),
      variant(encoding__name='positional', encoding__sigma_p=3.0),
      variant(encoding__name='positional', encoding__sigma_p=5.0),
      variant(model__width=16, seed=1),
      variant(train__num_steps=7),
  ]
  assert group.group_indices(configs_) == [[0, 1, 2], [3, 6], [4, 5], [7]]


def test_every_value_field_is_a_config_field():
  flat = overrides.flatten(configs.test.get_config().to_dict())
  assert set(group.VALUE_FIELDS) <= set(flat)


def test_stack_and_unstack_are_inverse():
  trees = [{'a': jnp.full((2,), i), 'b': {'c': jnp.float32(i)}}
           for i in range(3)]
  stacked = group.stack(trees)
  assert stacked['a'].shape == (3, 2) and stacked['b']['c'].shape == (3,)
  for i, tree in enumerate(trees):
    np.testing.assert_array_equal(group.unstack(stacked, i)['a'], tree['a'])
    assert float(group.unstack(stacked, i)['b']['c']) == i


def test_pad_to_devices_on_one_device_is_a_no_op():
  import jax  # pylint: disable=g-import-not-at-top
  padded = group.pad_to_devices([0, 1, 2])
  assert len(padded) % jax.device_count() == 0
  assert padded[:3] == [0, 1, 2] and set(padded[3:]) <= {2}
