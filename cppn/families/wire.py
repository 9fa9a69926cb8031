"""WIRE: complex Gabor wavelet activations (Saragadam et al. 2023).

With z = W h + b (complex in hidden layers, real in the first):

  wire    psi(z) = exp(i omega z - |s z|^2)
  wire2d  psi(z1, z2) = exp(i omega z1) exp(-s^2 (|z1|^2 + |z2|^2)), two
          linear maps z1, z2 of the same input per layer

The output layer is a complex linear map; the network returns its real
part. omega (omega_first, omega_hidden) and s (gaussian_scale) are
constants. `width` is the number of complex units per layer (WIRE divides a
nominal real width by sqrt 2, WIRE-2D by 2; a config gives the result).
Coordinates are 2v - 1 in [-1, 1); targets are colours in [0, 1] (WIRE's
scripts fit min-max normalised images), so the output is not rescaled.

A complex weight is two real parameters, `*_re` and `*_im`, and the complex
arithmetic is written out in real matmuls (4 per hidden layer and map): a
real Adam on the real and imaginary parts is exactly PyTorch's Adam on a
complex tensor, which optax on complex leaves is not (it conjugates the
gradient and shares one second moment between the parts). Every weight and
bias, real and imaginary part alike, starts at PyTorch's default
U(+-1 / sqrt(fan_in)), fan_in counting complex inputs.
"""

import flax.linen as nn
import jax.numpy as jnp

from cppn import models
from cppn.families import layers


def gabor(re, im, omega, scale):
  """WIRE's exp(i omega z - |s z|^2) for z = re + i im: -> (real, imag).

  |s z|^2 is s^2 (re^2 + im^2), never through abs (whose gradient is NaN at
  0).
  """
  amplitude = jnp.exp(-omega * im - scale**2 * (re**2 + im**2))
  return amplitude * jnp.cos(omega * re), amplitude * jnp.sin(omega * re)


def gabor2d(re1, im1, re2, im2, omega, scale):
  """WIRE-2D's exp(i omega z1) exp(-s^2 (|z1|^2 + |z2|^2)): -> (real, imag)."""
  amplitude = jnp.exp(-omega * im1 - scale**2 * (re1**2 + im1**2 + re2**2
                                                  + im2**2))
  return amplitude * jnp.cos(omega * re1), amplitude * jnp.sin(omega * re1)


class ComplexDense(nn.Module):
  """z = W h + b with complex W (I, O) and b (O,) as real and imaginary
  parameters, on feature-major h = (re (I, P), im (I, P) or None).

  Returns (re (O, P), im (O, P)).
  """
  units: int
  matmul_precision: str = 'float32'

  @nn.compact
  def __call__(self, h_re, h_im):
    fan_in = h_re.shape[0]
    init = layers.uniform(layers.torch_bound(fan_in))
    shape = (fan_in, self.units)
    kernel_re = self.param('kernel_re', init, shape)
    kernel_im = self.param('kernel_im', init, shape)
    bias_re = self.param('bias_re', init, (self.units,))
    bias_im = self.param('bias_im', init, (self.units,))
    zero = jnp.zeros((self.units,), jnp.float32)
    dense = lambda k, b, h: models.dense(k, b, h, self.matmul_precision)
    re = dense(kernel_re, bias_re, h_re) - dense(kernel_im, zero, h_im)
    im = dense(kernel_re, bias_im, h_im) + dense(kernel_im, zero, h_re)
    return re, im


class Wire(nn.Module):
  """(..., d) coordinates in [0, 1) -> (..., out_dim) colours.

  With feature_major=True: (d, P) -> (out_dim, P).
  """
  depth: int = 5  # layers, the complex linear output included (>= 2)
  width: int = 181  # complex units per Gabor layer
  omega_first: float = 20.0  # omega of the first layer
  omega_hidden: float = 20.0  # omega of the later layers
  gaussian_scale: float = 10.0  # s, the Gaussian's inverse width
  two_d: bool = False  # WIRE-2D: two linear maps per layer
  out_dim: int = 3
  matmul_precision: str = 'float32'

  def maps(self, index: int, h_re, h_im):
    """The layer's pre-activations: [(re, im)] or, for WIRE-2D, two of them."""
    names = ('Dense', 'Orthogonal') if self.two_d else ('Dense',)
    if h_im is None:  # the first layer: real weights on real coordinates
      return [(layers.torch_dense(self.width, h_re.shape[0],
                                  self.matmul_precision,
                                  f'{name}_{index}')(h_re),
               jnp.zeros(()))
              for name in names]
    return [ComplexDense(self.width, self.matmul_precision,
                         name=f'{name}_{index}')(h_re, h_im)
            for name in names]

  @nn.compact
  def __call__(self, x, feature_major: bool = False):

    def net(coords):
      h_re, h_im = layers.signed(coords), None
      for index in range(self.depth - 1):
        omega = self.omega_first if index == 0 else self.omega_hidden
        z = self.maps(index, h_re, h_im)
        if self.two_d:
          (re1, im1), (re2, im2) = z
          h_re, h_im = gabor2d(re1, im1, re2, im2, omega, self.gaussian_scale)
        else:
          (re, im), = z
          h_re, h_im = gabor(re, im, omega, self.gaussian_scale)
      out, _ = ComplexDense(self.out_dim, self.matmul_precision,
                            name=f'Dense_{self.depth - 1}')(h_re, h_im)
      return out

    return models.feature_major_call(net, x, feature_major)
