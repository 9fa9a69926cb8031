"""Tests for cppn.encodings against independent NumPy float64 formulas.

Each reference below is written from the formulas in the module docstring and
GUIDE.md section 1, not from the module's helpers. The random encodings share
only the raw PRNG draw with the module (the same jax.random call on
PRNGKey(encoding.seed)); the scaling and the features are recomputed here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cppn import data
from cppn import encodings
from cppn.errors import CppnError
import configs.default

RESOLUTION = 32  # a power of two, so v * N is an exact integer in float32
M = 256  # rows of the random B; one shape keeps XLA recompiles (and time) low
M_LARGE = 4096  # rows for the distribution checks
RANDOM_SAMPLERS = ('gaussian', 'uniform', 'uniform_log', 'laplacian')
TWO_PI = 2 * np.pi


def make_config(name, **fields):
  """The default `encoding` block with `name` and the given fields set."""
  config = configs.default.get_config().encoding
  config.name = name
  for field, value in fields.items():
    config[field] = value
  return config


def sample_coords():
  """(P, 2) float32: the coordinate grid plus a few random off-grid points."""
  grid = data.coordinate_grid(RESOLUTION).reshape(-1, 2)
  off_grid = np.random.default_rng(0).random((16, 2)).astype(np.float32)
  return np.concatenate([grid, off_grid], axis=0)


def apply(config, coords, resolution=RESOLUTION):
  """Features from the module: init_encoding then encode, as float64."""
  params = encodings.init_encoding(config, resolution)
  return np.asarray(encodings.encode(config.name, params, jnp.asarray(coords)),
                    np.float64)


def raw_sample(name, seed, shape):
  """The unscaled draw the sampler `name` makes from PRNGKey(seed)."""
  key = jax.random.PRNGKey(seed)
  sampler = {'gaussian': jax.random.normal, 'uniform': jax.random.uniform,
             'uniform_log': jax.random.uniform,
             'laplacian': jax.random.laplace}[name]
  return np.asarray(sampler(key, shape), np.float64)


def per_axis_sin_cos(coords, freqs, factor):
  """[sin(f x), sin(f y), cos(f x), cos(f y)] with f = factor * freqs."""
  x = coords[:, :1] * factor * freqs[None, :]
  y = coords[:, 1:] * factor * freqs[None, :]
  return np.concatenate([np.sin(x), np.sin(y), np.cos(x), np.cos(y)], axis=1)


# Independent references: (config, float64 coords (P, 2)) -> (P, F).


def ref_none(config, v):
  """gamma(v) = v."""
  return v


def ref_basic(config, v):
  """B = I_2: [sin 2 pi x, sin 2 pi y, cos 2 pi x, cos 2 pi y]."""
  return np.stack([np.sin(TWO_PI * v[:, 0]), np.sin(TWO_PI * v[:, 1]),
                   np.cos(TWO_PI * v[:, 0]), np.cos(TWO_PI * v[:, 1])], -1)


def ref_positional(config, v):
  """Axis-aligned 2^k (octave) or 2^linspace(0, sigma_p, m/2) - 1."""
  if config.spacing == 'octave':
    freqs = np.array([2.0 ** k for k in range(config.num_freqs)])
  else:
    freqs = 2.0 ** np.linspace(0, config.sigma_p, config.num_features // 2) - 1
  return per_axis_sin_cos(v, freqs, TWO_PI)


def ref_random(config, v):
  """[sin 2 pi v.b_j, cos 2 pi v.b_j] for B = sigma * raw (max_freq ** raw)."""
  raw = raw_sample(config.name, config.seed, (config.num_features, 2))
  if config.name == 'uniform_log':
    b = config.max_freq ** raw
  else:
    b = config.sigma * raw
  phase = TWO_PI * (v[:, :1] * b[None, :, 0] + v[:, 1:] * b[None, :, 1])
  return np.concatenate([np.sin(phase), np.cos(phase)], axis=1)


def ref_linear_sin(config, v):
  """sin(k p), k = 1 .. L, on pixel indices p = v N: x block, y block."""
  pixels = v * RESOLUTION
  k = np.arange(1, config.num_freqs + 1, dtype=np.float64)
  return np.concatenate([np.sin(pixels[:, :1] * k), np.sin(pixels[:, 1:] * k)],
                        axis=1)


def ref_seed_gaussian(config, v):
  """sin, cos of b p, b = sqrt(variance) * N(0, 1) shared by both axes."""
  b = np.sqrt(config.variance) * raw_sample('gaussian', config.seed,
                                         (config.num_features,))
  return per_axis_sin_cos(v * RESOLUTION, b, 1.0)


REFERENCES = {
    'none': ref_none, 'basic': ref_basic, 'positional': ref_positional,
    'gaussian': ref_random, 'uniform': ref_random, 'uniform_log': ref_random,
    'laplacian': ref_random, 'linear_sin': ref_linear_sin,
    'seed_gaussian': ref_seed_gaussian,
}

# Per encoding: (config fields, absolute tolerance). Phases reach ~2 pi * 128
# (octave), ~2 pi * 60 (log_linear, sigma_p 6), a few hundred radians
# (gaussian sigma 10) and ~1000 radians (linear_sin on 32 px) in float32.
CASES = {
    'none': ({}, 1e-7),
    'basic': ({}, 1e-5),
    'positional': ({'spacing': 'log_linear', 'sigma_p': 6.0,
                    'num_features': M}, 1e-4),
    'gaussian': ({'sigma': 10.0, 'num_features': M}, 1e-4),
    'uniform': ({'sigma': 10.0, 'num_features': M}, 1e-4),
    'uniform_log': ({'max_freq': 10.0, 'num_features': M}, 1e-4),
    'laplacian': ({'sigma': 10.0, 'num_features': M}, 2e-4),
    'linear_sin': ({'num_freqs': 32}, 2e-4),
    'seed_gaussian': ({'variance': 10.0, 'num_features': M}, 1e-4),
}

WIDTHS = [
    ('none', {}, 2),
    ('basic', {}, 4),
    ('positional', {'spacing': 'octave', 'num_freqs': 5}, 20),
    ('positional', {'spacing': 'log_linear', 'num_features': M}, 512),
    ('positional', {'spacing': 'log_linear', 'num_features': 6}, 12),
    ('gaussian', {'num_features': M}, 2 * M),
    ('uniform', {'num_features': M}, 2 * M),
    ('uniform_log', {'num_features': M}, 2 * M),
    ('laplacian', {'num_features': M}, 2 * M),
    ('linear_sin', {'num_freqs': 32}, 64),
    ('linear_sin', {'num_freqs': 1}, 2),
    ('seed_gaussian', {'num_features': M}, 4 * M),
]


# Features against the references.


def test_every_encoding_has_a_reference():
  assert set(REFERENCES) == set(encodings.ENCODINGS) == set(CASES)


@pytest.mark.parametrize('name', encodings.ENCODINGS)
def test_matches_numpy_reference(name):
  fields, atol = CASES[name]
  config = make_config(name, **fields)
  coords = sample_coords()
  expected = REFERENCES[name](config, coords.astype(np.float64))
  got = apply(config, coords)
  assert got.shape == expected.shape
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=atol)


def test_none_returns_coords_unchanged():
  coords = sample_coords()
  np.testing.assert_array_equal(apply(make_config('none'), coords), coords)


def test_basic_order_is_sin_x_sin_y_cos_x_cos_y():
  coords = np.array([[0.25, 0.0], [0.0, 0.25]], np.float32)
  expected = [[1, 0, 0, 1], [0, 1, 1, 0]]
  np.testing.assert_allclose(apply(make_config('basic'), coords), expected,
                             atol=1e-6)


@pytest.mark.parametrize('num_freqs', [1, 8])
def test_positional_octave_uses_powers_of_two(num_freqs):
  config = make_config('positional', spacing='octave', num_freqs=num_freqs)
  coords = sample_coords()
  freqs = 2.0 ** np.arange(num_freqs)
  x, y = coords[:, 0:1].astype(np.float64), coords[:, 1:2].astype(np.float64)
  expected = np.concatenate([np.sin(TWO_PI * x * freqs),
                             np.sin(TWO_PI * y * freqs),
                             np.cos(TWO_PI * x * freqs),
                             np.cos(TWO_PI * y * freqs)], axis=1)
  got = apply(config, coords)
  assert got.shape == (len(coords), 4 * num_freqs)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('sigma_p,num_features', [(6.0, M), (5.0, M)])
def test_positional_log_linear_spacing(sigma_p, num_features):
  config = make_config('positional', spacing='log_linear', sigma_p=sigma_p,
                       num_features=num_features)
  params = encodings.init_encoding(config, RESOLUTION)
  half = num_features // 2
  freqs = 2.0 ** np.linspace(0, sigma_p, half) - 1
  b = np.asarray(params['b'], np.float64)
  np.testing.assert_allclose(b[:half, 0], freqs, rtol=1e-6)
  np.testing.assert_allclose(b[half:, 1], freqs, rtol=1e-6)
  np.testing.assert_array_equal(b[:half, 1], 0)
  np.testing.assert_array_equal(b[half:, 0], 0)
  assert freqs[0] == 0 and freqs[-1] == 2.0 ** sigma_p - 1
  # The first frequency is 0: its sin columns are 0, its cos columns are 1.
  got = apply(config, sample_coords())
  assert got.shape[-1] == 2 * num_features
  for column in (0, half):
    np.testing.assert_array_equal(got[:, column], 0)
    np.testing.assert_array_equal(got[:, num_features + column], 1)


@pytest.mark.parametrize('name', RANDOM_SAMPLERS)
@pytest.mark.parametrize('seed', [0, 3])
def test_random_b_is_scaled_prng_draw(name, seed):
  config = make_config(name, sigma=7.0, max_freq=7.0, num_features=M,
                       seed=seed)
  raw = raw_sample(name, seed, (M, 2))
  expected = 7.0 ** raw if name == 'uniform_log' else 7.0 * raw
  params = encodings.init_encoding(config, RESOLUTION)
  np.testing.assert_allclose(params['b'], expected, rtol=1e-6)
  np.testing.assert_array_equal(params['a'], np.ones(M))


def test_linear_sin_on_integer_pixels():
  config = make_config('linear_sin', num_freqs=8)
  resolution = 16
  coords = data.coordinate_grid(resolution).reshape(-1, 2)
  rows, cols = np.indices((resolution, resolution))
  px, py = cols.reshape(-1, 1), rows.reshape(-1, 1)
  k = np.arange(1, 9)
  expected = np.concatenate([np.sin(k * px), np.sin(k * py)], axis=1)
  got = apply(config, coords, resolution=resolution)
  assert got.shape == (resolution ** 2, 16)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_seed_gaussian_b_is_shared_with_variance_scale():
  m = M_LARGE
  config = make_config('seed_gaussian', variance=10.0, num_features=m, seed=1)
  params = encodings.init_encoding(config, RESOLUTION)
  k = np.asarray(params['k'], np.float64)
  assert k.shape == (2 * m, 2)
  np.testing.assert_array_equal(k[:m, 0], k[m:, 1])
  np.testing.assert_array_equal(k[:m, 1], 0)
  np.testing.assert_array_equal(k[m:, 0], 0)
  expected = np.sqrt(10.0) * raw_sample('gaussian', 1, (m,))
  np.testing.assert_allclose(k[:m, 0], expected, rtol=1e-6)
  assert abs(k[:m, 0].std() / np.sqrt(10.0) - 1) < 0.05
  assert float(params['pixels_per_unit']) == RESOLUTION


# Distributions of the random B at m = 4096.


def sample_b(name, scale, num_features=M_LARGE):
  """B of `name` with its scale field (sigma, or max_freq) set to `scale`."""
  config = make_config(name, sigma=scale, max_freq=scale,
                       num_features=num_features)
  return np.asarray(encodings.init_encoding(config, RESOLUTION)['b'],
                    np.float64)


@pytest.mark.parametrize('scale', [1.0, 10.0])
def test_gaussian_b_std_is_scale(scale):
  b = sample_b('gaussian', scale)
  assert b.shape == (M_LARGE, 2)
  assert abs(b.std() / scale - 1) < 0.05
  assert abs(b.mean()) < 0.05 * scale


def test_uniform_b_in_zero_to_scale():
  b = sample_b('uniform', 10.0)
  assert b.min() >= 0 and b.max() < 10.0
  assert abs(b.mean() / 5.0 - 1) < 0.05
  assert b.max() > 9.9  # fills the range, not U[0, 1)


def test_uniform_log_b_in_one_to_scale():
  b = sample_b('uniform_log', 10.0)
  assert b.min() >= 1 and b.max() < 10.0
  # log_sigma(b) is U[0, 1): mean 1/2.
  assert abs(np.log(b).mean() / np.log(10.0) - 0.5) < 0.025


def test_laplacian_b_mean_abs_is_scale():
  b = sample_b('laplacian', 10.0)
  assert abs(np.abs(b).mean() / 10.0 - 1) < 0.05
  assert abs(np.median(b)) < 0.5


# Widths, seeds.


@pytest.mark.parametrize('name,fields,width', WIDTHS)
def test_output_width(name, fields, width):
  config = make_config(name, **fields)
  params = encodings.init_encoding(config, RESOLUTION)
  shape_of = lambda coords: jax.eval_shape(
      lambda p, v: encodings.encode(name, p, v), params, coords).shape
  assert shape_of(jnp.asarray(data.coordinate_grid(8))) == (8, 8, width)
  assert shape_of(jnp.zeros((2,))) == (width,)


@pytest.mark.parametrize('name', RANDOM_SAMPLERS + ('seed_gaussian',))
def test_seed_selects_b(name):
  param = 'k' if name == 'seed_gaussian' else 'b'
  draw = lambda seed: np.asarray(encodings.init_encoding(
      make_config(name, num_features=M, seed=seed), RESOLUTION)[param])
  np.testing.assert_array_equal(draw(5), draw(5))
  assert not np.allclose(draw(5), draw(6))


def test_seed_leaves_deterministic_encodings_alone():
  for name, fields in [('basic', {}), ('positional', {}),
                       ('linear_sin', {'num_freqs': 5})]:
    a = encodings.init_encoding(make_config(name, seed=0, **fields), 8)
    b = encodings.init_encoding(make_config(name, seed=9, **fields), 8)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


# Validation.


@pytest.mark.parametrize('name,fields,pattern', [
    ('fourier', {}, r"'fourier'"),
    ('positional', {'spacing': 'cubic'},
     r"spacing 'cubic'.*octave.*log_linear"),
    ('gaussian', {'num_features': 0}, r'num_features.*got 0'),
    ('gaussian', {'num_features': -3}, r'num_features.*got -3'),
    ('seed_gaussian', {'num_features': 0}, r'num_features.*got 0'),
    ('positional', {'spacing': 'log_linear', 'num_features': 0},
     r'num_features.*got 0'),
    ('positional', {'spacing': 'log_linear', 'num_features': 1},
     r'num_features.*>= 2.*got 1'),
    ('positional', {'spacing': 'octave', 'num_freqs': 0},
     r'num_freqs.*got 0'),
    ('linear_sin', {'num_freqs': 0}, r'num_freqs.*got 0'),
    ('gaussian', {'sigma': 0.0}, r'sigma.*got 0\.0'),
    ('gaussian', {'sigma': -2.0}, r'sigma.*got -2\.0'),
    ('laplacian', {'sigma': 0.0}, r'sigma.*got 0\.0'),
    ('positional', {'sigma_p': 0.0}, r'sigma_p.*got 0\.0'),
    ('uniform_log', {'max_freq': 1.0}, r'max_freq.*> 1.*got 1\.0'),
    ('seed_gaussian', {'variance': -1.0}, r'variance.*got -1\.0'),
])
def test_validate_rejects_bad_config(name, fields, pattern):
  config = make_config(name, **fields)
  with pytest.raises(CppnError, match=pattern):
    encodings.validate_encoding_config(config)
  with pytest.raises(CppnError, match=pattern):
    encodings.init_encoding(config, RESOLUTION)


def test_unknown_name_lists_valid_names():
  with pytest.raises(CppnError) as info:
    encodings.validate_encoding_config(make_config('fourier'))
  for name in encodings.ENCODINGS:
    assert name in str(info.value)


def test_validate_accepts_defaults_of_every_encoding():
  for name in encodings.ENCODINGS:
    encodings.validate_encoding_config(make_config(name))


# Transformations.


@pytest.mark.parametrize('name', encodings.ENCODINGS)
def test_encode_under_jit_matches_eager(name):
  config = make_config(name, **CASES[name][0])
  params = encodings.init_encoding(config, RESOLUTION)
  coords = jnp.asarray(sample_coords())
  jitted = jax.jit(encodings.encode, static_argnums=0)(name, params, coords)
  eager = encodings.encode(name, params, coords)
  np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-5)


def test_encode_vmaps_over_stacked_params():
  coords = jnp.asarray(sample_coords())
  members = [encodings.init_encoding(
      make_config('gaussian', num_features=M, seed=seed), RESOLUTION)
             for seed in (0, 1)]
  stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *members)
  assert stacked['b'].shape == (2, M, 2)
  batched = jax.vmap(lambda p: encodings.encode('gaussian', p, coords))(
      stacked)
  assert batched.shape == (2, len(coords), 2 * M)
  for i, params in enumerate(members):
    np.testing.assert_allclose(
        batched[i], encodings.encode('gaussian', params, coords),
        rtol=1e-5, atol=1e-4)  # phases reach ~300 rad at sigma 10
  assert not np.allclose(batched[0], batched[1])


# The table of what each encoding reads, how wide it is, how it is described.

# A changed value for every field an encoding may read.
OTHER_VALUES = {'sigma': 3.0, 'sigma_p': 4.0, 'max_freq': 3.0, 'variance': 3.0,
                'num_features': 8, 'num_freqs': 3, 'seed': 7,
                'spacing': 'octave', 'normalize': True}
KINDS = [('none', {}), ('basic', {}),
         ('positional', {'spacing': 'octave'}),
         ('positional', {'spacing': 'log_linear'}),
         ('gaussian', {}), ('uniform', {}), ('laplacian', {}),
         ('uniform_log', {}), ('linear_sin', {}), ('seed_gaussian', {})]


def params_of(config):
  return jax.tree_util.tree_map(
      np.asarray, encodings.init_encoding(config, RESOLUTION))


def same_params(a, b):
  return (a.keys() == b.keys() and all(
      a[k].shape == b[k].shape and np.array_equal(a[k], b[k]) for k in a))


@pytest.mark.parametrize('name,fields', KINDS)
def test_fields_outside_reads_change_nothing(name, fields):
  config = make_config(name, **fields)
  reads = encodings.reads(config)
  base = params_of(config)
  for field, value in OTHER_VALUES.items():
    changed = make_config(name, **{**fields, field: value})
    if field == 'spacing' and name == 'positional':
      continue  # spacing picks the kind itself
    if field in reads:
      assert not same_params(base, params_of(changed)), field
    else:
      assert same_params(base, params_of(changed)), field


@pytest.mark.parametrize('name,fields', KINDS)
def test_width_and_describe_from_the_config(name, fields):
  config = make_config(name, **fields, num_features=12, num_freqs=5)
  params = encodings.init_encoding(config, RESOLUTION)
  actual = encodings.encode(name, params, jnp.zeros((1, 2))).shape[-1]
  assert encodings.width(config) == actual
  described = encodings.describe(config)
  assert described.startswith(name) and described.endswith(
      f': {actual} features')


def test_widths_by_hand():
  width = lambda name, **f: encodings.width(make_config(name, **f))
  assert width('positional', spacing='octave', num_freqs=6) == 24
  assert width('positional', spacing='log_linear', num_features=256) == 512
  assert width('linear_sin', num_freqs=32) == 64
  assert width('seed_gaussian', num_features=10) == 40
  assert width('none') == 2 and width('basic') == 4


@pytest.mark.parametrize('dim', [1, 2, 3])
@pytest.mark.parametrize('name', ['none', 'basic', 'positional'])
def test_grid_tables_sum_to_the_features_of_every_grid_point(name, dim):
  config = make_config(name, spacing='log_linear', sigma_p=3.0,
                       num_features=12)
  params = encodings.init_encoding(config, 8, dim)
  grid = data.coordinate_grid(8, dim)
  tables = encodings.grid_tables(name, params, grid)
  width = encodings.width(config, dim)
  assert [t.shape for t in tables] == [(width, 8)] * dim
  # NumPy: point (i_0, ..., i_{d-1}) sums column i_g of table g.
  summed = np.zeros((8,) * dim + (width,), np.float32)
  for index in np.ndindex(*(8,) * dim):
    summed[index] = sum(t[:, i] for t, i in zip(tables, index))
  features = np.asarray(encodings.encode(name, params, jnp.asarray(grid)))
  np.testing.assert_array_equal(summed, features)


def test_feature_axes_of_the_positional_encoding_and_a_random_one():
  params = encodings.init_encoding(
      make_config('positional', spacing='log_linear', sigma_p=3.0,
                  num_features=8), 8, 2)
  # 4 frequencies per axis, the first 0 (a constant): sin rows then cos rows.
  per_sin = [-1, 0, 0, 0, -1, 1, 1, 1]
  np.testing.assert_array_equal(
      encodings.feature_axes('positional', params, 2), per_sin * 2)
  np.testing.assert_array_equal(encodings.feature_axes('none', {}, 3),
                                [0, 1, 2])
  gaussian = encodings.init_encoding(make_config('gaussian'), 8, 2)
  assert encodings.feature_axes('gaussian', gaussian, 2) is None
  assert encodings.grid_tables('gaussian', gaussian,
                               data.coordinate_grid(8, 2)) is None
