"""Fourier features that change during training: BARF's coarse-to-fine
window and learned Fourier features.

  c2f  BARF (Lin et al. 2021): x in [-1, 1)^d (2v - 1) and its bands
       sin(2^k pi x_j), cos(2^k pi x_j), k < L = num_bands, laid out per
       coordinate as [sin_0 .. sin_(L-1), cos_0 .. cos_(L-1)] after the raw
       coordinates; band k weighted by

         w_k = (1 - cos(pi clip(alpha - k, 0, 1))) / 2,
         alpha = L (progress - c2f_start) / (c2f_end - c2f_start)

       where progress in [0, 1] is the fraction of training done (the
       trainer passes step / num_steps; 1, every band on, at evaluation).
       Then BARF's planar MLP: (depth - 1) ReLU layers, a sigmoid output,
       PyTorch's default initialisation with the first layer's kernel and
       bias times sqrt(in_dim / 2) (in_dim = d + 2 d L).
  lff  learned Fourier features: [sin(2 pi B v), cos(2 pi B v)] on v in
       [0, 1)^d, B (m x d) drawn as fourier_sigma * N(0, 1) and trained
       with the network, then the paper's mlp (models.MLP).
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from cppn import models
from cppn.families import layers


def c2f_window(progress, num_bands: int, start: float, end: float):
  """BARF's band weights at a training progress: -> (L,) in [0, 1]."""
  alpha = num_bands * (progress - start) / (end - start)
  ramp = jnp.clip(alpha - jnp.arange(num_bands), 0, 1)
  return (1 - jnp.cos(math.pi * ramp)) / 2


def barf_encoding(x, weights):
  """[x, w_k sin(2^k pi x_j), w_k cos(2^k pi x_j)]: (d, P), (L,) -> (d + 2dL, P).

  The bands of coordinate j are rows d + 2Lj .. d + 2L(j + 1) - 1, sines
  before cosines.
  """
  num_bands = weights.shape[0]
  spectrum = x[:, None, :] * (2.0**jnp.arange(num_bands) * math.pi)[:, None]
  bands = jnp.stack([jnp.sin(spectrum), jnp.cos(spectrum)], axis=1)
  bands = bands * weights[:, None]  # (d, 2, L, P)
  return jnp.concatenate([x, bands.reshape(-1, x.shape[1])], axis=0)


class CoarseToFine(nn.Module):
  """(..., d) coordinates in [0, 1) -> (..., out_dim) colours in (0, 1).

  With feature_major=True: (d, P) -> (out_dim, P). `progress` in [0, 1]:
  the fraction of training done (1: every band on).
  """
  depth: int = 5  # Dense layers, the sigmoid output included (>= 1)
  width: int = 256  # units of each hidden layer
  num_bands: int = 8  # L
  c2f_start: float = 0.0  # progress at which band 0 starts to open
  c2f_end: float = 0.4  # progress at which every band is open
  out_dim: int = 3
  matmul_precision: str = 'float32'

  @nn.compact
  def __call__(self, x, feature_major: bool = False, progress=1.0):

    def net(coords):
      weights = c2f_window(progress, self.num_bands, self.c2f_start,
                           self.c2f_end)
      h = barf_encoding(layers.signed(coords), weights)
      scale = math.sqrt(h.shape[0] / 2)
      for index in range(self.depth):
        fan_in = h.shape[0]
        bound = layers.torch_bound(fan_in) * (scale if index == 0 else 1)
        last = index == self.depth - 1
        h = layers.torch_dense(self.out_dim if last else self.width, fan_in,
                               self.matmul_precision, f'Dense_{index}',
                               bound, bound)(h)
        h = nn.sigmoid(h) if last else nn.relu(h)
      return h

    return models.feature_major_call(net, x, feature_major)


class LearnedFourier(nn.Module):
  """(..., d) coordinates in [0, 1) -> (..., out_dim) colours.

  With feature_major=True: (d, P) -> (out_dim, P).
  """
  num_fourier_features: int = 256  # m, rows of B
  fourier_sigma: float = 10.0  # B starts as fourier_sigma * N(0, 1)
  depth: int = 4  # the mlp's Dense layers, output included
  width: int = 256
  activation: str = 'relu'
  output_activation: str = 'sigmoid'
  out_dim: int = 3
  matmul_precision: str = 'float32'

  @nn.compact
  def __call__(self, x, feature_major: bool = False):
    dim = x.shape[0] if feature_major else x.shape[-1]
    b = self.param('b', lambda key, shape: self.fourier_sigma
                   * jax.random.normal(key, shape),
                   (self.num_fourier_features, dim))
    mlp = models.MLP(depth=self.depth, width=self.width,
                     activation=self.activation,
                     output_activation=self.output_activation,
                     out_dim=self.out_dim,
                     matmul_precision=self.matmul_precision, name='MLP')

    def net(coords):
      phase = 2 * math.pi * models.matmul(b, coords, 1, 0,
                                          self.matmul_precision)
      return mlp(jnp.concatenate([jnp.sin(phase), jnp.cos(phase)]),
                 feature_major=True)

    return models.feature_major_call(net, x, feature_major)
