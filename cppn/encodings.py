"""Input encodings gamma(v): coordinates in [0, 1)^d -> features for the MLP.

Coordinates have d = 1, 2 or 3 axes (a signal, an image, a volume: the
task's, cppn/tasks). Almost every encoding is one function, Fourier features
with a frequency matrix B (m x d, rows are frequency vectors in cycles per
unit coordinate) and amplitudes a (m,):

    gamma(v) = [a * sin(2 pi v B^T), a * cos(2 pi v B^T)]      width 2m

and the encodings differ only in how B is built (Tancik et al. 2020, NeRF).
The amplitudes are a = 1, or with encoding.normalize a = 1 / ||1|| =
1 / sqrt(m) (features divided by ||a||, as the paper's 3D occupancy fits).
Each reads its own fields of the `encoding` config block (SPECS), and each
field means one thing:

  none          gamma(v) = v                                   width d
  basic         B = I_d                                        width 2d
  positional    spacing octave: rows 2^k e_i on every axis i,  width 2dL
                  k < L = num_freqs
                spacing log_linear: b = 2^linspace(0, sigma_p,  width 2dK
                  K) - 1 on every axis, K = m // d (the paper's:
                  128 per axis in 2D, 85 in 3D for m = 256)
  gaussian      B = sigma * N(0, 1), m x d                      width 2m
  uniform       B = sigma * U[0, 1), m x d                      width 2m
  laplacian     B = sigma * Laplace(0, 1), m x d                width 2m
  uniform_log   B = max_freq ** U[0, 1), m x d                  width 2m

The seed project's two encodings act on integer pixel indices p = v * N
(N the training resolution) with no 2 pi, and are kept to reproduce it; they
take 2-D pixels only:

  linear_sin     sin(k p) for k = 1 .. L = num_freqs, both axes width 2L
                 (the seed's L_FACT is L + 1)
  seed_gaussian  b_j ~ N(0, variance), j < m, shared by both   width 4m
                 axes; sin(b_j p) and cos(b_j p)

An encoding is a name (static) and a dict of frozen arrays (its parameters,
saved with a run): `init_encoding` draws them, `encode` applies them. Both are
pure, and `encode` is jit- and vmap-friendly.
"""

import dataclasses
import math
from typing import Callable, Mapping

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


def axis_aligned(freqs, dim: int = 2):
  """Rows f_k e_0 (all k), then f_k e_1, ...: (n,) -> (d n, d)."""
  return np.concatenate([np.outer(freqs, row) for row in np.eye(dim)], axis=0)


def positional_octave_matrix(num_freqs, dim: int = 2):
  """NeRF's powers of two 2^0 .. 2^(L-1) on each axis: -> (d L, d)."""
  return axis_aligned(2.0 ** np.arange(num_freqs), dim)


def positional_log_linear_matrix(sigma_p, num_features, dim: int = 2):
  """The paper's 2^linspace(0, sigma_p, K) - 1 on each axis, K = m // d:
  -> (d K, d)."""
  return axis_aligned(
      2.0 ** np.linspace(0, sigma_p, num_features // dim) - 1, dim)


def random_matrix(name, key, scale, num_features, dim: int = 2):
  """B for the random samplers (gaussian, uniform, uniform_log, laplacian):
  -> (m, d)."""
  shape = (num_features, dim)
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
  """The seed's integer frequencies k = 1 .. L on each axis (radians per pixel): -> (2L, 2)."""
  return axis_aligned(np.arange(1, num_freqs + 1, dtype=np.float64))


def seed_gaussian_matrix(key, variance, num_features):
  """The seed's b ~ N(0, variance), shared by both axes (radians per pixel): -> (2m, 2)."""
  b = math.sqrt(variance) * jax.random.normal(key, (num_features,))
  return axis_aligned(np.asarray(b, np.float64))


# Fields an `encoding` block may lack (blocks written before the field
# existed, blocks built by hand): their value then.
FIELD_DEFAULTS = {'normalize': False}


def field_value(config: ml_collections.ConfigDict, field: str):
  """config[field], or FIELD_DEFAULTS' value when the block lacks it."""
  if field not in config and field in FIELD_DEFAULTS:
    return FIELD_DEFAULTS[field]
  return config[field]


def _check(condition, field: str, message: str, value):
  if not condition:
    raise CppnError(f'encoding.{field} {message}, got {value!r}')


# How each field an encoding may read is checked: field -> (test, rule).
FIELD_RULES = {
    'num_features': (lambda v: v >= 1, 'must be >= 1'),
    'num_freqs': (lambda v: v >= 1, 'must be >= 1'),
    'sigma': (lambda v: v > 0, 'must be > 0'),
    'sigma_p': (lambda v: v > 0, 'must be > 0'),
    'max_freq': (lambda v: v > 1,
                 'must be > 1 (B = max_freq ** U[0, 1) spans [1, max_freq))'),
    'variance': (lambda v: v > 0, 'must be > 0'),
    'spacing': (lambda v: True, ''),  # checked by `kind`
    'seed': (lambda v: isinstance(v, int), 'must be an integer'),
    'normalize': (lambda v: isinstance(v, bool), 'must be True or False'),
}


@dataclasses.dataclass(frozen=True)
class Spec:
  """What one encoding reads from the `encoding` block and what it makes.

  reads: the fields besides `name` it reads (all others are ignored).
  width: F, its number of features per d-dim coordinate, from the config
    and d.
  detail: its settings in words, for logs and plots.
  """
  reads: tuple[str, ...]
  width: Callable[[ml_collections.ConfigDict, int], int]
  detail: Callable[[ml_collections.ConfigDict], str]


_RANDOM = Spec(('sigma', 'num_features', 'seed', 'normalize'),
               lambda c, d: 2 * c.num_features,
               lambda c: f'sigma={c.sigma:g}, m={c.num_features}')
SPECS = {
    'none': Spec((), lambda c, d: d, lambda c: ''),
    'basic': Spec(('normalize',), lambda c, d: 2 * d, lambda c: ''),
    'positional/octave': Spec(
        ('spacing', 'num_freqs', 'normalize'),
        lambda c, d: 2 * d * c.num_freqs,
        lambda c: f'octave spacing, L={c.num_freqs}'),
    'positional/log_linear': Spec(
        ('spacing', 'sigma_p', 'num_features', 'normalize'),
        lambda c, d: 2 * d * (c.num_features // d),
        lambda c: f'log_linear spacing, sigma_p={c.sigma_p:g}, '
                  f'm={c.num_features}'),
    'gaussian': _RANDOM,
    'uniform': _RANDOM,
    'laplacian': _RANDOM,
    'uniform_log': Spec(('max_freq', 'num_features', 'seed', 'normalize'),
                        lambda c, d: 2 * c.num_features,
                        lambda c: f'max_freq={c.max_freq:g}, '
                                  f'm={c.num_features}'),
    'linear_sin': Spec(('num_freqs',), lambda c, d: 2 * c.num_freqs,
                       lambda c: f'k=1..{c.num_freqs}'),
    'seed_gaussian': Spec(('variance', 'num_features', 'seed'),
                          lambda c, d: 4 * c.num_features,
                          lambda c: f'variance={c.variance:g}, '
                                    f'm={c.num_features}'),
}


def kind(config: ml_collections.ConfigDict) -> str:
  """The SPECS key of the `encoding` block: its name, with positional's spacing.

  Raises:
    CppnError: an unknown name or spacing.
  """
  if config.name not in ENCODINGS:
    raise CppnError(f'unknown encoding.name {config.name!r}; choose one of: '
                    + ', '.join(ENCODINGS))
  if config.name != 'positional':
    return config.name
  if config.spacing not in POSITIONAL_SPACINGS:
    raise CppnError(f'unknown encoding.spacing {config.spacing!r}; choose one '
                    'of: ' + ', '.join(POSITIONAL_SPACINGS))
  return f'positional/{config.spacing}'


def spec(config: ml_collections.ConfigDict) -> Spec:
  """The Spec of the `encoding` block's encoding."""
  return SPECS[kind(config)]


def reads(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The `encoding` fields the chosen encoding reads, `name` included."""
  return ('name',) + spec(config).reads


def width(config: ml_collections.ConfigDict, dim: int = 2) -> int:
  """F, the number of features the encoding makes per d-dim coordinate."""
  return spec(config).width(config, dim)


DIMENSIONS = (1, 2, 3)  # coordinate axes d a fit can have


def validate_encoding_config(config: ml_collections.ConfigDict, dim: int = 2):
  """Raises CppnError naming the first bad field of `config` (the `encoding`
  block), or a dimension d the encoding cannot take."""
  for field in spec(config).reads:
    test, rule = FIELD_RULES[field]
    value = field_value(config, field)
    _check(test(value), field, rule, value)
  if dim not in DIMENSIONS:
    raise CppnError(f'coordinates have {dim} axes; encodings take 1, 2 or 3')
  if config.name in PIXEL_ENCODINGS and dim != 2:
    raise CppnError(f'encoding {config.name!r} acts on 2-D pixel indices and '
                    f'cannot take {dim}-D coordinates; choose one of: none, '
                    + ', '.join(FOURIER_ENCODINGS))
  if kind(config) == 'positional/log_linear':
    _check(config.num_features >= dim, 'num_features',
           f'must be >= {dim} for the log_linear positional encoding in {dim}-D'
           f' (m // {dim} frequencies per axis)', config.num_features)


def init_encoding(config: ml_collections.ConfigDict, resolution: int,
                  dim: int = 2) -> Params:
  """Builds an encoding's frozen parameters from the `encoding` config block.

  Args:
    config: the `encoding` block; only the fields `reads(config)` are read.
    resolution: N, the side of the training image in pixels; the seed's
      encodings act on pixel indices v * N.
    dim: d, the coordinates' number of axes (1, 2 or 3).

  Returns:
    {} for none; {'b': (m, d), 'a': (m,)} for the Fourier encodings (a =
    1, or 1 / sqrt(m) with config.normalize);
    {'k': (m, 2), 'pixels_per_unit': ()} for the seed's, all float32.

  Raises:
    CppnError: a bad field, or a dimension the encoding cannot take.
  """
  validate_encoding_config(config, dim)
  name = config.name
  if name == 'none':
    return {}
  if name == 'linear_sin':
    k = linear_sin_matrix(config.num_freqs)
  elif name == 'seed_gaussian':
    k = seed_gaussian_matrix(jax.random.PRNGKey(config.seed), config.variance,
                             config.num_features)
  if name in PIXEL_ENCODINGS:
    return {'k': jnp.asarray(k, jnp.float32),
            'pixels_per_unit': jnp.asarray(resolution, jnp.float32)}
  if name == 'basic':
    b = np.eye(dim)
  elif kind(config) == 'positional/octave':
    b = positional_octave_matrix(config.num_freqs, dim)
  elif name == 'positional':
    b = positional_log_linear_matrix(config.sigma_p, config.num_features, dim)
  elif name == 'uniform_log':
    b = random_matrix(name, jax.random.PRNGKey(config.seed), config.max_freq,
                      config.num_features, dim)
  else:
    b = random_matrix(name, jax.random.PRNGKey(config.seed), config.sigma,
                      config.num_features, dim)
  b = jnp.asarray(b, jnp.float32)
  a = np.ones(b.shape[0])
  if field_value(config, 'normalize'):
    a /= np.linalg.norm(a)
  return {'b': b, 'a': jnp.asarray(a, jnp.float32)}


def encode(name: str, params: Params, coords):
  """gamma(v) for encoding `name`: (..., d) coordinates in [0, 1) ->
  (..., F)."""
  if name == 'none':
    return coords
  if name == 'linear_sin':
    return pixel_sin_features(coords * params['pixels_per_unit'], params['k'])
  if name == 'seed_gaussian':
    return pixel_fourier_features(coords * params['pixels_per_unit'],
                                  params['k'])
  return fourier_features(coords, params['b'], params['a'])


def feature_axes(name: str, params: Params, dim: int) -> np.ndarray | None:
  """The coordinate axis each feature of encoding `name` varies along: (F,)
  int in [-1, d), -1 for a constant feature (a zero frequency); None when
  some feature varies along more than one axis (a random B)."""
  if name == 'none':
    return np.arange(dim)
  rows = np.asarray(params['b'] if 'b' in params else params['k']) != 0
  if np.any(rows.sum(axis=1) > 1):
    return None
  row_axes = np.where(rows.any(axis=1), rows.argmax(axis=1), -1)
  return row_axes if name == 'linear_sin' else np.tile(row_axes, 2)


def grid_tables(name: str, params: Params,
                grid: np.ndarray) -> tuple[np.ndarray, ...] | None:
  """gamma on a full coordinate grid, factored per grid dimension, or None
  when some feature varies along more than one axis (feature_axes).

  Args:
    name, params: the encoding.
    grid: (N_0, ..., N_{d-1}, d) coordinates (data.coordinate_grid) whose
      component varying along grid dimension g is the same at every point.

  Returns:
    One (F, N_g) float32 table per grid dimension g: the features that vary
    along g (and, in table 0, the constant ones) on that dimension's
    coordinates, zero in every other row; so gamma(grid[i_0, ..., i_{d-1}])
    = sum_g table_g[:, i_g], exactly (each feature depends on its own axis
    alone).
  """
  dim = grid.shape[-1]
  axes = feature_axes(name, params, dim)
  if axes is None:
    return None
  tables = []
  for g in range(grid.ndim - 1):
    line = grid[tuple(slice(None) if h == g else 0
                      for h in range(grid.ndim - 1))]  # (N_g, d)
    varying = np.flatnonzero(np.ptp(line, axis=0))
    component = varying[0] if varying.size else -2
    rows = (axes == component) | ((axes == -1) & (g == 0))
    features = np.asarray(encode(name, params, jnp.asarray(line)), np.float32)
    tables.append(np.where(rows[:, None], features.T, np.float32(0)))
  return tuple(tables)


def describe(config: ml_collections.ConfigDict, dim: int = 2) -> str:
  """One line saying what the encoding is, for logs: name, settings, width."""
  detail = spec(config).detail(config)
  if 'normalize' in spec(config).reads and field_value(config, 'normalize'):
    detail += (', ' if detail else '') + 'a / ||a||'
  return (f'{config.name}' + (f' ({detail})' if detail else '')
          + f': {width(config, dim)} features')
