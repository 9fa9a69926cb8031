"""Input encodings gamma(v): pixel coordinates -> features for the MLP.

Almost every encoding is one function, Fourier features with a frequency
matrix B (m x 2, rows are frequency vectors in cycles per unit coordinate) and
amplitudes a (m,):

    gamma(v) = [a * sin(2 pi v B^T), a * cos(2 pi v B^T)]      width 2m

and the encodings differ only in how B is built (Tancik et al. 2020, NeRF):

  none          gamma(v) = v                                   width 2
  basic         B = I_2                                        width 4
  positional    octave:     rows 2^k e_x, 2^k e_y, k < L        width 4L
                log_linear: b = 2^linspace(0, sigma_p, m/2) - 1 on each axis,
                            m rows                              width 2m
  gaussian      B = sigma * N(0, 1), m x 2                      width 2m
  uniform       B = sigma * U[0, 1), m x 2                      width 2m
  uniform_log   B = sigma ** U[0, 1), m x 2                     width 2m
  laplacian     B = sigma * Laplace(0, 1), m x 2                width 2m

The seed project's two encodings act on integer pixel indices p = v * N
(N the training resolution) with no 2 pi, and are kept to reproduce it:

  linear_sin     sin(k p) for k = 1 .. L-1, both axes           width 2(L-1)
  seed_gaussian  b_j ~ N(0, sigma) (sigma is a variance), shared by both axes,
                 sin(b_j p) and cos(b_j p)                      width 4m

An encoding is a name (static) and a dict of frozen arrays (its parameters,
saved with a run): `init_encoding` draws them, `encode` applies them. Both are
pure, and `encode` is jit- and vmap-friendly.
"""

import math
from typing import Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from cppn.errors import CppnError

FOURIER_ENCODINGS = ('basic', 'positional', 'gaussian', 'uniform',
                     'uniform_log', 'laplacian')
PIXEL_ENCODINGS = ('linear_sin', 'seed_gaussian')
ENCODINGS = ('none',) + FOURIER_ENCODINGS + PIXEL_ENCODINGS
POSITIONAL_SPACINGS = ('octave', 'log_linear')

Params = Mapping[str, jax.Array]


def fourier_features(coords, b, a):
  """[a sin(2 pi v B^T), a cos(2 pi v B^T)]: (..., d), (m, d), (m,) -> (..., 2m)."""
  phase = 2 * jnp.pi * (coords @ b.T)
  return jnp.concatenate([a * jnp.sin(phase), a * jnp.cos(phase)], axis=-1)


def pixel_sin_features(pixels, k):
  """sin(p K^T) on pixel indices p: (..., d), (m, d) -> (..., m)."""
  return jnp.sin(pixels @ k.T)


def pixel_fourier_features(pixels, k):
  """[sin(p K^T), cos(p K^T)] on pixel indices p: (..., d), (m, d) -> (..., 2m)."""
  phase = pixels @ k.T
  return jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=-1)


def axis_aligned(freqs):
  """Rows f_i e_x then f_i e_y: (n,) -> (2n, 2)."""
  zeros = np.zeros_like(freqs)
  return np.concatenate([np.stack([freqs, zeros], -1),
                         np.stack([zeros, freqs], -1)], axis=0)


def positional_octave_matrix(num_freqs):
  """NeRF's powers of two 2^0 .. 2^(L-1) on each axis: -> (2L, 2)."""
  return axis_aligned(2.0 ** np.arange(num_freqs))


def positional_log_linear_matrix(scale, num_features):
  """The paper's 2^linspace(0, sigma_p, m/2) - 1 on each axis: -> (m, 2)."""
  return axis_aligned(2.0 ** np.linspace(0, scale, num_features // 2) - 1)


def random_matrix(name, key, scale, num_features):
  """B for the random samplers (gaussian, uniform, uniform_log, laplacian): -> (m, 2)."""
  shape = (num_features, 2)
  if name == 'gaussian':
    return scale * jax.random.normal(key, shape)
  if name == 'uniform':
    return scale * jax.random.uniform(key, shape)
  if name == 'uniform_log':
    return scale ** jax.random.uniform(key, shape)
  if name == 'laplacian':
    return scale * jax.random.laplace(key, shape)
  raise CppnError(f'{name!r} is not a random sampler')


def linear_sin_matrix(num_freqs):
  """The seed's integer frequencies k = 1 .. L-1 on each axis (radians per pixel): -> (2(L-1), 2)."""
  return axis_aligned(np.arange(1, num_freqs, dtype=np.float64))


def seed_gaussian_matrix(key, variance, num_features):
  """The seed's b ~ N(0, variance), shared by both axes (radians per pixel): -> (2m, 2)."""
  b = math.sqrt(variance) * jax.random.normal(key, (num_features,))
  return axis_aligned(np.asarray(b, np.float64))


def validate_encoding_config(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of `config` (the `encoding` block)."""
  if config.name not in ENCODINGS:
    raise CppnError(f'unknown encoding.name {config.name!r}; choose one of: '
                    + ', '.join(ENCODINGS))
  if config.name == 'positional' and config.spacing not in POSITIONAL_SPACINGS:
    raise CppnError(f'unknown encoding.spacing {config.spacing!r}; choose one '
                    'of: ' + ', '.join(POSITIONAL_SPACINGS))
  uses_freqs = config.name == 'linear_sin' or (
      config.name == 'positional' and config.spacing == 'octave')
  if uses_freqs and config.num_freqs < (2 if config.name == 'linear_sin' else 1):
    raise CppnError(f'encoding.num_freqs must be >= 1 (>= 2 for linear_sin), '
                    f'got {config.num_freqs}')
  uses_features = config.name in ('gaussian', 'uniform', 'uniform_log',
                                  'laplacian', 'seed_gaussian') or (
                                      config.name == 'positional'
                                      and config.spacing == 'log_linear')
  if uses_features and config.num_features < 1:
    raise CppnError(f'encoding.num_features must be >= 1, got '
                    f'{config.num_features}')
  if (config.name == 'positional' and config.spacing == 'log_linear'
      and config.num_features % 2):
    raise CppnError('encoding.num_features must be even for the log_linear '
                    f'positional encoding (m/2 per axis), got '
                    f'{config.num_features}')
  uses_scale = config.name in ('gaussian', 'uniform', 'laplacian',
                               'seed_gaussian') or (
                                   config.name == 'positional'
                                   and config.spacing == 'log_linear')
  if uses_scale and not config.scale > 0:
    raise CppnError(f'encoding.scale must be > 0, got {config.scale}')
  if config.name == 'uniform_log' and not config.scale > 1:
    raise CppnError('encoding.scale must be > 1 for uniform_log (B = '
                    f'scale ** U[0, 1) spans [1, scale)), got {config.scale}')


def init_encoding(config: ml_collections.ConfigDict, resolution: int) -> Params:
  """Builds an encoding's frozen parameters from the `encoding` config block.

  Args:
    config: fields name, scale, num_features, num_freqs, spacing, seed.
    resolution: N, the side of the training image in pixels; the seed's
      encodings act on pixel indices v * N.

  Returns:
    {} for none; {'b': (m, 2), 'a': (m,)} for the Fourier encodings;
    {'k': (m, 2), 'pixels_per_unit': ()} for the seed's, all float32.
  """
  validate_encoding_config(config)
  key = jax.random.PRNGKey(config.seed)
  name = config.name
  if name == 'none':
    return {}
  if name in PIXEL_ENCODINGS:
    if name == 'linear_sin':
      k = linear_sin_matrix(config.num_freqs)
    else:
      k = seed_gaussian_matrix(key, config.scale, config.num_features)
    return {'k': jnp.asarray(k, jnp.float32),
            'pixels_per_unit': jnp.asarray(resolution, jnp.float32)}
  if name == 'basic':
    b = np.eye(2)
  elif name == 'positional' and config.spacing == 'octave':
    b = positional_octave_matrix(config.num_freqs)
  elif name == 'positional':
    b = positional_log_linear_matrix(config.scale, config.num_features)
  else:
    b = random_matrix(name, key, config.scale, config.num_features)
  b = jnp.asarray(b, jnp.float32)
  return {'b': b, 'a': jnp.ones(b.shape[0], jnp.float32)}


def encode(name: str, params: Params, coords):
  """gamma(v) for encoding `name`: (..., 2) coordinates in [0, 1) -> (..., F)."""
  if name == 'none':
    return coords
  if name == 'linear_sin':
    return pixel_sin_features(coords * params['pixels_per_unit'], params['k'])
  if name == 'seed_gaussian':
    return pixel_fourier_features(coords * params['pixels_per_unit'],
                                  params['k'])
  return fourier_features(coords, params['b'], params['a'])


def describe(config: ml_collections.ConfigDict, params: Params) -> str:
  """One line saying what the encoding is, for logs: name, spacing, width."""
  width = int(encode(config.name, params, jnp.zeros((1, 2))).shape[-1])
  detail = {
      'positional': f'{config.spacing} spacing',
      'linear_sin': f'L={config.num_freqs}',
  }.get(config.name, '')
  if config.name in ('gaussian', 'uniform', 'uniform_log', 'laplacian',
                     'seed_gaussian'):
    detail = f'scale={config.scale}, m={config.num_features}'
  if config.name == 'positional' and config.spacing == 'log_linear':
    detail += f', sigma_p={config.scale}, m={config.num_features}'
  if config.name == 'positional' and config.spacing == 'octave':
    detail += f', L={config.num_freqs}'
  return f'{config.name}' + (f' ({detail})' if detail else '') + \
      f': {width} features'
