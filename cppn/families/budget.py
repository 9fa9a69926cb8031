"""Parameter budgets: a family's size field solved so its count fits.

  count_params  exact trained parameters of a `model` block (shapes only,
                nothing drawn)
  solve         the block with its size field (Family.size_field: width,
                table_size or grid_resolution) at the largest value whose
                count is at most the budget
"""

import functools
import json

import jax
import jax.numpy as jnp
import ml_collections

from cppn import models
from cppn.errors import CppnError
from cppn.families import FAMILIES

MAX_SIZE = 2**20  # the largest width or grid resolution searched


@functools.lru_cache(maxsize=None)
def _count(model_json: str, num_inputs: int) -> int:
  model = models.make_model(ml_collections.ConfigDict(json.loads(model_json)))
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                          jnp.zeros((1, num_inputs), jnp.float32))
  return models.count_params(shapes['params'])


def count_params(config: ml_collections.ConfigDict, num_inputs: int = 2) -> int:
  """Trained scalars of the network a `model` block describes, for
  num_inputs coordinates."""
  return _count(json.dumps(config.to_dict(), sort_keys=True), num_inputs)


def _with_size(config, field, value):
  config = ml_collections.ConfigDict(config.to_dict())
  config[field] = value
  return config


def solve(config: ml_collections.ConfigDict, budget: float,
          num_inputs: int = 2) -> ml_collections.ConfigDict:
  """A copy of a family's `model` block whose size field is the largest
  value with count_params <= budget (powers of two for table_size).

  Raises:
    CppnError: not a family, or even the smallest size exceeds the budget.
  """
  if config.name not in FAMILIES:
    raise CppnError(f'model {config.name!r} has no parameter budget solver; '
                    'choose one of: ' + ', '.join(FAMILIES))
  field = FAMILIES[config.name].size_field
  power_of_two = field == 'table_size'
  value_at = (lambda i: 2**i) if power_of_two else (lambda i: i)
  low = 0 if power_of_two else (2 if field == 'grid_resolution' else 1)
  fits = lambda i: count_params(_with_size(config, field, value_at(i)),
                                num_inputs) <= budget
  if not fits(low):
    smallest = count_params(_with_size(config, field, value_at(low)),
                            num_inputs)
    raise CppnError(f'no {config.name} fits a budget of {budget:g} '
                    f'parameters: the smallest ({field}={value_at(low)}) '
                    f'has {smallest}')
  high = low + 1  # grow until it no longer fits, then bisect
  while fits(high) and value_at(high) < MAX_SIZE:
    low, high = high, 2 * high
  while high - low > 1:
    middle = (low + high) // 2
    low, high = (middle, high) if fits(middle) else (low, middle)
  return _with_size(config, field, value_at(low))
