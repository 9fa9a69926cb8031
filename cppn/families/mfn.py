"""Multiplicative filter networks (Fathony et al. 2021): FourierNet, GaborNet.

  z_1 = g_1(x);  z_{i+1} = g_{i+1}(x) * (W_i z_i + b_i), i = 1 .. depth - 1;
  output = W_out z_depth + b_out

`depth` filters g and depth - 1 hidden linears, then the output linear
(depth Dense layers in all, as the mlp counts them). Filters:

  fourier_net  g(x) = sin(Omega x + phi)
  gabor_net    g(x) = exp(-gamma / 2 |x - mu|^2) * sin(Omega x + phi), per
               unit; mu ~ U(-1, 1)^d and gamma ~ Gamma(alpha / depth, rate
               beta) are trained

Initialisation (the source's): Omega is PyTorch's default weight times
input_scale / sqrt(depth) (times sqrt(gamma) per unit for GaborNet), phi ~
U(-pi, pi); hidden kernels U(+-sqrt(weight_scale / width)) with PyTorch's
default biases; the output layer PyTorch's default. Coordinates 2v - 1 in
[-1, 1), outputs fitted to targets in [-1, 1], as the source's image
experiment.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from cppn import models
from cppn.families import layers


def gabor_envelope(x, mu, gamma, precision: str = 'float32'):
  """exp(-gamma / 2 |x - mu|^2) per unit: (d, P), (U, d), (U,) -> (U, P).

  |x - mu|^2 expanded as |x|^2 + |mu|^2 - 2 mu x, as the source computes it.
  """
  squared_distance = (jnp.sum(x**2, axis=0)[None, :]
                      + jnp.sum(mu**2, axis=1)[:, None]
                      - 2 * models.matmul(mu, x, 1, 0, precision))
  return jnp.exp(-0.5 * squared_distance * gamma[:, None])


class Filter(nn.Module):
  """One filter g(x) on feature-major (d, P) coordinates -> (U, P)."""
  units: int
  frequency_scale: float  # input_scale / sqrt(depth)
  gabor: bool
  gabor_alpha: float  # the Gamma's shape, alpha / depth (gabor only)
  gabor_beta: float  # the Gamma's rate (gabor only)
  matmul_precision: str = 'float32'

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[0]
    scale = jnp.full((self.units,), self.frequency_scale, jnp.float32)
    if self.gabor:
      mu = self.param('mu', layers.uniform(1.0), (self.units, fan_in))
      gamma = self.param('gamma', lambda key, shape: jax.random.gamma(
          key, self.gabor_alpha, shape) / self.gabor_beta, (self.units,))
      scale = scale * jnp.sqrt(gamma)
    kernel = self.param('kernel', lambda key, shape: layers.uniform(
        layers.torch_bound(fan_in))(key, shape) * scale[None, :],
                        (fan_in, self.units))
    bias = self.param('bias', layers.uniform(math.pi), (self.units,))
    out = jnp.sin(models.dense(kernel, bias, x, self.matmul_precision))
    return out * gabor_envelope(
        x, mu, gamma, self.matmul_precision) if self.gabor else out


class MFN(nn.Module):
  """(..., d) coordinates in [0, 1) -> (..., out_dim) colours in [0, 1].

  With feature_major=True: (d, P) -> (out_dim, P).
  """
  gabor: bool  # GaborNet filters, else FourierNet's
  depth: int = 4  # filters; also Dense layers, the output included (>= 1)
  width: int = 256  # units per layer
  input_scale: float = 256.0  # the filters' frequency scale
  weight_scale: float = 1.0  # hidden kernels U(+-sqrt(weight_scale / width))
  gabor_alpha: float = 6.0  # GaborNet: gamma ~ Gamma(alpha / depth, beta)
  gabor_beta: float = 1.0
  out_dim: int = 3
  matmul_precision: str = 'float32'

  @nn.compact
  def __call__(self, x, feature_major: bool = False):

    def net(coords):
      coords = layers.signed(coords)
      filters = [Filter(self.width, self.input_scale / math.sqrt(self.depth),
                        self.gabor, self.gabor_alpha / self.depth,
                        self.gabor_beta, self.matmul_precision,
                        name=f'Filter_{i}') for i in range(self.depth)]
      z = filters[0](coords)
      for index in range(1, self.depth):
        linear = layers.torch_dense(
            self.width, self.width, self.matmul_precision,
            f'Dense_{index - 1}',
            kernel_bound=math.sqrt(self.weight_scale / self.width))
        z = filters[index](coords) * linear(z)
      out = layers.torch_dense(self.out_dim, self.width, self.matmul_precision,
                               f'Dense_{self.depth - 1}')(z)
      return layers.unsigned(out)

    return models.feature_major_call(net, x, feature_major)
