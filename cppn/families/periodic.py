"""SIREN, FINER and Gaussian-activation networks: one MLP, three activations.

With z = W h + b the pre-activation of a layer (feature-major, see
models.dense):

  siren  sin(omega z)                     Sitzmann et al. 2020; omega scales
                                          the bias too
  finer  sin(omega (|z| + 1) z)           Liu et al. 2024; the factor
                                          (|z| + 1) carries no gradient
  gauss  exp(-(s z)^2)                    Ramasinghe & Lucey 2022, in the
                                          WIRE / FINER form (s = 1 / (sqrt 2
                                          sigma))

Architecture (all three): (depth - 1) activation layers of `width` units,
then a linear output layer; coordinates 2v - 1 in [-1, 1), outputs fitted to
targets in [-1, 1] (layers.signed / layers.unsigned), as their sources do.

Initialisation, as the sources' code has it (PyTorch):
  siren, finer  first kernel U(+-1 / fan_in); later kernels (the output's
                included) U(+-sqrt(6 / fan_in) / omega_hidden); biases
                PyTorch's U(+-1 / sqrt(fan_in)), except FINER's first bias
                U(+-k) when first_bias_scale k > 0
  gauss         PyTorch's default for every layer
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from cppn import models
from cppn.families import layers

ACTIVATIONS = ('siren', 'finer', 'gauss')


def sine(z, omega):
  """SIREN's sin(omega z)."""
  return jnp.sin(omega * z)


def finer(z, omega):
  """FINER's sin(omega (|z| + 1) z), the factor (|z| + 1) held constant in
  the gradient."""
  return jnp.sin(omega * jax.lax.stop_gradient(jnp.abs(z) + 1) * z)


def gauss(z, scale):
  """The Gaussian activation exp(-(s z)^2)."""
  return jnp.exp(-jnp.square(scale * z))


def siren_kernel_bound(fan_in: int, first: bool, omega_hidden: float) -> float:
  """SIREN's kernel bound: 1 / fan_in (first layer), sqrt(6 / fan_in) /
  omega_hidden (every later layer)."""
  return 1 / fan_in if first else math.sqrt(6 / fan_in) / omega_hidden


class PeriodicNet(nn.Module):
  """(..., d) coordinates in [0, 1) -> (..., out_dim) colours in [0, 1].

  With feature_major=True: (d, P) -> (out_dim, P).
  """
  activation: str  # one of ACTIVATIONS
  depth: int = 5  # Dense layers, the linear output included (>= 2)
  width: int = 256  # units of each activation layer
  omega_first: float = 30.0  # siren, finer: omega of the first layer
  omega_hidden: float = 30.0  # siren, finer: omega of the later layers
  first_bias_scale: float = 0.0  # finer: k > 0 draws the first bias U(+-k)
  gaussian_scale: float = 30.0  # gauss: s in exp(-(s z)^2)
  out_dim: int = 3
  matmul_precision: str = 'float32'

  def activate(self, z, first: bool):
    if self.activation == 'gauss':
      return gauss(z, self.gaussian_scale)
    omega = self.omega_first if first else self.omega_hidden
    return (sine if self.activation == 'siren' else finer)(z, omega)

  def dense(self, index: int, units: int, fan_in: int) -> models.Dense:
    """Layer `index` with its family's initialisation."""
    first = index == 0
    kernel_bound = bias_bound = None
    if self.activation != 'gauss':
      kernel_bound = siren_kernel_bound(fan_in, first, self.omega_hidden)
      if first and self.first_bias_scale > 0:
        bias_bound = self.first_bias_scale
    return layers.torch_dense(units, fan_in, self.matmul_precision,
                              f'Dense_{index}', kernel_bound, bias_bound)

  @nn.compact
  def __call__(self, x, feature_major: bool = False):

    def net(coords):
      h = layers.signed(coords)
      for index in range(self.depth - 1):
        h = self.activate(self.dense(index, self.width, h.shape[0])(h),
                          first=index == 0)
      out = self.dense(self.depth - 1, self.out_dim, h.shape[0])(h)
      return layers.unsigned(out)

    return models.feature_major_call(net, x, feature_major)
