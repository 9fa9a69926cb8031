"""Building blocks the families share: initialisers, coordinate and colour
conventions, and a Dense layer initialised like PyTorch's.

Every family takes raw coordinates v in [0, 1)^d (encoding 'none') and
returns colours in [0, 1]; what its source feeds and fits happens inside:

  signed(v)        2v - 1 in [-1, 1): the sine networks' coordinates
  unsigned(y)      (y + 1) / 2: a network fitted to targets in [-1, 1]
                   (SIREN, FINER, Gauss, MFN) read as colours in [0, 1]

PyTorch's nn.Linear draws weight and bias from U(+-1/sqrt(fan_in)); Flax's
Dense starts from lecun-normal weights and zero biases, so every family
names its initialisers (`torch_dense`).
"""

import math

import jax
import jax.numpy as jnp

from cppn import models


def uniform(bound: float):
  """A Flax initialiser drawing U(-bound, bound) (float32)."""

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def torch_bound(fan_in: int) -> float:
  """PyTorch nn.Linear's default bound 1 / sqrt(fan_in), weights and biases."""
  return 1 / math.sqrt(fan_in)


def torch_dense(units: int, fan_in: int, precision: str, name: str,
                kernel_bound: float | None = None,
                bias_bound: float | None = None) -> models.Dense:
  """A feature-major Dense with U(+-bound) weights and biases, the bounds
  PyTorch's default (torch_bound(fan_in)) unless given."""
  default = torch_bound(fan_in)
  return models.Dense(
      units,
      kernel_init=uniform(default if kernel_bound is None else kernel_bound),
      bias_init=uniform(default if bias_bound is None else bias_bound),
      matmul_precision=precision, name=name)


def signed(coords):
  """[0, 1) coordinates -> [-1, 1): 2v - 1."""
  return 2 * coords - 1


def unsigned(values):
  """Outputs fitted to [-1, 1] targets -> colours in [0, 1]: (y + 1) / 2."""
  return 0.5 * values + 0.5
