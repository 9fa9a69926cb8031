"""Tests for cppn/families: formulas, initialisation, counts, fits, bad input.

Every reference here is written separately from the code under test: the
activations and encodings in NumPy (complex NumPy for WIRE), the hash grid's
indices and weights worked by hand on a 2-level example and its level plan
against tiny-cuda-nn's numbers for its image sample, the budgets' counts by
closed-form sums (SIREN's widths are the INR benchmark's), the initial
distributions by Kolmogorov-Smirnov tests against scipy.stats.
"""

import functools
import importlib
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from cppn import families
from cppn import group
from cppn import models
from cppn import steps
from cppn import train
from cppn.errors import CppnError
from cppn.families import budget
from cppn.families import fourier
from cppn.families import grids
from cppn.families import periodic
from cppn.families import wire
import configs.default


def family_model(name, **fields):
  """configs/<name>.py's `model` block with fields set."""
  config = importlib.import_module(f'configs.{name}').get_config().model
  for field, value in fields.items():
    config[field] = value
  return config


@functools.lru_cache(maxsize=None)
def init_params(config_json, num_inputs=2, seed=0):
  """Initial params of a model block (as JSON), float64 NumPy leaves."""
  import json  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  model = models.make_model(ml_collections.ConfigDict(json.loads(config_json)))
  params = jax.jit(model.init)(jax.random.PRNGKey(seed),
                               jnp.zeros((1, num_inputs)))['params']
  return model, jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64),
                                       params)


def model_and_params(config, num_inputs=2, seed=0):
  return init_params(config.to_json(), num_inputs, seed)


# One small network per family, shared by the forward and the
# initialisation tests (initialising compiles, most of these tests' cost).
SHARED = {
    'siren': dict(depth=3, width=64, omega_first=5.0, omega_hidden=20.0),
    'finer': dict(depth=3, width=64, omega_first=5.0, omega_hidden=20.0,
                  first_bias_scale=5.0),
    'wire': dict(depth=3, width=48, omega_first=3.0, omega_hidden=2.0,
                 gaussian_scale=1.5),
    'wire2d': dict(depth=3, width=5, omega_first=3.0, omega_hidden=2.0,
                   gaussian_scale=1.5),
    'gabor_net': dict(depth=3, width=256, input_scale=8.0, gabor_alpha=6.0,
                      gabor_beta=2.0),
}


def shared(name):
  """(model, params) of SHARED[name]."""
  return model_and_params(family_model(name, **SHARED[name]))


# --- Activations and encodings against NumPy --------------------------------


def test_activations_match_their_formulas_and_finer_scale_has_no_gradient():
  z = np.linspace(-2, 2, 41)
  np.testing.assert_allclose(periodic.sine(z, 30.0), np.sin(30 * z),
                             atol=1e-5)
  np.testing.assert_allclose(periodic.finer(z, 3.0),
                             np.sin(3 * (np.abs(z) + 1) * z), atol=1e-5)
  np.testing.assert_allclose(periodic.gauss(z, 2.0), np.exp(-(2 * z)**2),
                             atol=1e-6)
  # d/dz sin(w c z) with c = |z| + 1 held constant: w c cos(w c z).
  grad = jax.vmap(jax.grad(lambda v: periodic.finer(v, 2.0)))(z)
  c = np.abs(z) + 1
  np.testing.assert_allclose(grad, 2 * c * np.cos(2 * c * z), rtol=1e-4,
                             atol=1e-4)


def test_c2f_window_at_several_progress_values():
  # L = 8 bands opened over progress [0, 0.4]: alpha = 20 progress.
  window = lambda p: np.asarray(fourier.c2f_window(p, 8, 0.0, 0.4))
  np.testing.assert_allclose(window(0.0), np.zeros(8), atol=1e-7)
  np.testing.assert_allclose(window(0.4), np.ones(8), atol=1e-7)
  np.testing.assert_allclose(window(1.0), np.ones(8), atol=1e-7)
  np.testing.assert_allclose(window(0.2), [1, 1, 1, 1, 0, 0, 0, 0], atol=1e-6)
  # alpha = 4.5: band 4 half open, (1 - cos(pi / 2)) / 2 = 0.5.
  np.testing.assert_allclose(window(0.225), [1, 1, 1, 1, 0.5, 0, 0, 0],
                             atol=1e-6)
  for p in (0.05, 0.13, 0.31):
    alpha = 8 * p / 0.4
    expected = [(1 - math.cos(math.pi * min(max(alpha - k, 0), 1))) / 2
                for k in range(8)]
    np.testing.assert_allclose(window(p), expected, atol=1e-6)


def test_barf_encoding_layout():
  x = np.array([[0.3, -0.7], [0.1, 0.9]], np.float32)  # (d=2, P=2)
  weights = np.array([1.0, 0.5, 0.0], np.float32)
  encoded = np.asarray(fourier.barf_encoding(x, weights))
  expected = []
  for point in x.T:
    row = list(point)
    for xj in point:
      row += [w * math.sin(2**k * math.pi * xj) for k, w in enumerate(weights)]
      row += [w * math.cos(2**k * math.pi * xj) for k, w in enumerate(weights)]
    expected.append(row)
  np.testing.assert_allclose(encoded.T, expected, atol=1e-5)


def wire_numpy(params, coords, depth, omega_first, omega_hidden, scale,
               two_d):
  """WIRE written with NumPy's complex numbers: (P, d) -> (P, out)."""

  def linear(layer, h):
    if 'kernel' in layer:
      return h @ layer['kernel'] + layer['bias']
    kernel = layer['kernel_re'] + 1j * layer['kernel_im']
    return h @ kernel + layer['bias_re'] + 1j * layer['bias_im']

  h = (2 * coords - 1).astype(np.complex128)
  for index in range(depth - 1):
    omega = omega_first if index == 0 else omega_hidden
    z = linear(params[f'Dense_{index}'], h)
    if two_d:
      z2 = linear(params[f'Orthogonal_{index}'], h)
      h = np.exp(1j * omega * z) * np.exp(
          -scale**2 * (np.abs(z)**2 + np.abs(z2)**2))
    else:
      h = np.exp(1j * omega * z - np.abs(scale * z)**2)
  return linear(params[f'Dense_{depth - 1}'], h).real


@pytest.mark.parametrize('name', ['wire', 'wire2d'])
def test_wire_matches_complex_numpy(name):
  model, params = shared(name)
  coords = np.random.default_rng(0).uniform(size=(7, 2))
  expected = wire_numpy(params, coords, 3, 3.0, 2.0, 1.5, name == 'wire2d')
  got = model.apply({'params': params}, coords.astype(np.float32))
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
  # The complex Gabor activation alone.
  z = np.array([0.3 - 0.2j, -0.5 + 0.1j, 0.0j])
  re, im = wire.gabor(z.real, z.imag, 4.0, 2.0)
  np.testing.assert_allclose(re + 1j * np.asarray(im),
                             np.exp(1j * 4 * z - np.abs(2 * z)**2), atol=1e-6)


def test_siren_and_finer_forward_match_numpy():
  for name in ('siren', 'finer'):
    model, params = shared(name)
    coords = np.random.default_rng(1).uniform(size=(5, 2))
    h = 2 * coords - 1
    for index, omega in enumerate((5.0, 20.0)):
      z = h @ params[f'Dense_{index}']['kernel'] + params[f'Dense_{index}'][
          'bias']
      h = np.sin(omega * z) if name == 'siren' else np.sin(
          omega * (np.abs(z) + 1) * z)
    out = h @ params['Dense_2']['kernel'] + params['Dense_2']['bias']
    np.testing.assert_allclose(
        model.apply({'params': params}, coords.astype(np.float32)),
        (out + 1) / 2, rtol=1e-4, atol=1e-5)


def test_gabor_net_forward_matches_numpy():
  model, params = shared('gabor_net')
  coords = np.random.default_rng(2).uniform(size=(6, 2))
  x = 2 * coords - 1

  def filter_(layer):
    envelope = np.exp(-0.5 * layer['gamma'] * (
        (x[:, None, :] - layer['mu'][None])**2).sum(-1))
    return np.sin(x @ layer['kernel'] + layer['bias']) * envelope

  z = filter_(params['Filter_0'])
  for index in (1, 2):
    dense = params[f'Dense_{index - 1}']
    z = filter_(params[f'Filter_{index}']) * (z @ dense['kernel']
                                               + dense['bias'])
  out = z @ params['Dense_2']['kernel'] + params['Dense_2']['bias']
  np.testing.assert_allclose(
      model.apply({'params': params}, coords.astype(np.float32)),
      (out + 1) / 2, rtol=1e-4, atol=1e-4)


# --- Grids ------------------------------------------------------------------


def test_hash_grid_two_level_example_by_hand():
  # d = 2, L = 2, T = 8, N_min = 2, b = 2: level 0 has s = 1, 2 x 2 vertices
  # (dense, 8 entries); level 1 has s = 3, 4 x 4 = 16 vertices > 8: hashed.
  plan = grids.level_plan(2, 2, 8, 2, 2.0)
  assert [(l.resolution, l.entries, l.dense, l.offset) for l in plan] == [
      (2, 8, True, 0), (4, 8, False, 8)]
  x = jnp.array([[0.3], [0.6]], jnp.float32)  # one point (0.3, 0.6)
  # Level 0: p = x + 0.5 = (0.8, 1.1), cell (0, 1), frac (0.8, 0.1); corners
  # (0,1) (1,1) (0,2) (1,2) -> dense rows x + 2 y = 2, 3, 4, 5.
  rows, weights = grids.level_lookup(x, plan[0])
  assert rows[:, 0].tolist() == [2, 3, 4, 5]
  np.testing.assert_allclose(weights[:, 0], [0.18, 0.72, 0.02, 0.08],
                             atol=1e-6)
  # Level 1: p = 3x + 0.5 = (1.4, 2.3), cell (1, 2), frac (0.4, 0.3); the
  # hash x * 1 xor y * 2654435761 keeps x xor y in its low 3 bits (the prime
  # is 1 mod 8): (1,2) -> 3, (2,2) -> 0, (1,3) -> 2, (2,3) -> 1, plus 8.
  rows, weights = grids.level_lookup(x, plan[1])
  assert rows[:, 0].tolist() == [11, 8, 10, 9]
  np.testing.assert_allclose(weights[:, 0], [0.42, 0.28, 0.18, 0.12],
                             atol=1e-5)
  table = jnp.arange(16, dtype=jnp.float32)[:, None]  # entry i holds i
  features = grids.hash_features(table, x, plan)
  np.testing.assert_allclose(features[:, 0], [
      0.18 * 2 + 0.72 * 3 + 0.02 * 4 + 0.08 * 5,
      0.42 * 11 + 0.28 * 8 + 0.18 * 10 + 0.12 * 9], rtol=1e-5)


def test_hash_wraps_around_like_uint32():
  rng = np.random.default_rng(3)
  cells = rng.integers(0, 2**20, size=(3, 50), dtype=np.uint64)
  primes = (1, 2654435761, 805459861)
  expected = [functools.reduce(lambda a, b: a ^ b,
                               [int(c) * p % 2**32 for c, p in
                                zip(column, primes)])
              for column in cells.T]
  got = grids.hash_index(jnp.asarray(cells.astype(np.uint32)))
  assert np.asarray(got).astype(np.int64).tolist() == expected


def test_hash_grid_levels_follow_tiny_cuda_nn():
  # tiny-cuda-nn's image sample (2-D, b = 1.5, N_min = 16, T = 2^15):
  # levels 0-5 dense at 16, 24, 36, 54 or 55, 81, 122 vertices per axis,
  # levels 6-15 hashed from 183 to 7007; about 708.4-708.6k parameters.
  plan = grids.level_plan(2, 16, 2**15, 16, 1.5)
  resolutions = [l.resolution for l in plan]
  assert resolutions[:3] + resolutions[4:7] == [16, 24, 36, 81, 122, 183]
  assert resolutions[3] in (54, 55) and resolutions[-1] == 7007
  assert [l.dense for l in plan] == [True] * 6 + [False] * 10
  assert all(l.entries == 2**15 for l in plan[6:])
  assert 708_368 <= 2 * sum(l.entries for l in plan) <= 708_592
  # The rule: a level is dense exactly when res^d entries fit in the table.
  for dim, size in ((1, 2**4), (3, 2**12)):
    for level in grids.level_plan(dim, 8, size, 4, 2.0):
      assert level.dense == (level.resolution**dim <= size)
      assert level.entries == min(-(-level.resolution**dim // 8) * 8, size)


def test_dense_grid_is_bilinear_with_clamped_border():
  # 3 vertices per axis at 0, 0.5, 1; x = (0.25, 1.0) lies halfway between
  # vertices (0, 2) and (1, 2) of the top row: rows 0 + 3 * 2 and 1 + 3 * 2.
  rows, weights = grids.grid_lookup(jnp.array([[0.25], [1.0]]), 3)
  picked = {int(r): float(w) for r, w in zip(rows[:, 0], weights[:, 0])
            if w > 0}
  assert picked.keys() == {6, 7}
  np.testing.assert_allclose(list(picked.values()), [0.5, 0.5], atol=1e-6)


# --- Initialisation ---------------------------------------------------------


def assert_uniform(values, bound):
  values = np.ravel(values)
  assert np.abs(values).max() <= bound * (1 + 1e-6)
  assert scipy.stats.kstest(values, 'uniform', (-bound, 2 * bound)).pvalue > 1e-3


def test_siren_and_finer_initialisation():
  _, params = shared('siren')
  assert_uniform(params['Dense_0']['kernel'], 1 / 2)  # 1 / fan_in
  assert_uniform(params['Dense_0']['bias'], 1 / math.sqrt(2))
  assert_uniform(params['Dense_1']['kernel'], math.sqrt(6 / 64) / 20)
  assert_uniform(params['Dense_1']['bias'], 1 / 8)
  assert_uniform(params['Dense_2']['kernel'], math.sqrt(6 / 64) / 20)
  _, params = shared('finer')
  assert_uniform(params['Dense_0']['bias'], 5.0)
  # A normal sample of the same spread fails the uniform test.
  normal = np.random.default_rng(0).normal(0, 0.5 / 3, 4096)
  assert scipy.stats.kstest(normal, 'uniform', (-0.5, 1)).pvalue < 1e-3


def test_wire_gauss_grid_lff_gabor_initialisation():
  _, params = shared('wire')
  hidden = params['Dense_1']
  for part in ('kernel_re', 'kernel_im', 'bias_re', 'bias_im'):
    assert_uniform(hidden[part], 1 / math.sqrt(48))
  assert abs(np.corrcoef(hidden['kernel_re'].ravel(),
                         hidden['kernel_im'].ravel())[0, 1]) < 0.1
  _, params = model_and_params(family_model('gauss', depth=3, width=64))
  assert_uniform(params['Dense_1']['kernel'], 1 / 8)  # PyTorch's default
  _, params = model_and_params(family_model('hashgrid', num_levels=2,
                                            table_size=2**10))
  assert_uniform(params['table'], 1e-4)
  assert_uniform(params['Dense_0']['kernel'], math.sqrt(6 / (16 + 64)))
  assert_uniform(params['Dense_2']['kernel'], math.sqrt(6 / (64 + 16)))
  _, params = model_and_params(family_model('lff', num_fourier_features=512,
                                            fourier_sigma=4.0, width=8))
  assert scipy.stats.kstest(params['b'].ravel(), 'norm', (0, 4.0)).pvalue > 1e-3
  _, params = shared('gabor_net')  # gamma ~ Gamma(6 / depth, rate 2)
  gamma = params['Filter_0']['gamma']
  assert scipy.stats.kstest(gamma, 'gamma', (6.0 / 3, 0, 1 / 2.0)
                            ).pvalue > 1e-3
  assert_uniform(params['Filter_0']['mu'], 1.0)
  assert_uniform(params['Filter_0']['bias'], math.pi)


# --- Parameter budgets -------------------------------------------------------


def siren_count(width):
  return 2 * width + width + 3 * (width**2 + width) + 3 * width + 3


def wire_count(width):
  return 3 * width + 3 * 2 * (width**2 + width) + 2 * (3 * width + 3)


@pytest.mark.parametrize('target,siren_width', [(3e4, 98), (1e5, 181),
                                                (3e5, 314)])
def test_budgets_solve_exact_counts(target, siren_width):
  siren = budget.solve(family_model('siren'), target)
  assert siren.width == siren_width  # the INR benchmark's widths
  assert budget.count_params(siren) == siren_count(siren_width)
  wire_config = budget.solve(family_model('wire'), target)
  assert wire_count(wire_config.width) <= target < wire_count(
      wire_config.width + 1)
  assert budget.count_params(wire_config) == wire_count(wire_config.width)
  grid = budget.solve(family_model('grid'), target)
  resolution = math.isqrt(int(target) // 3)
  assert grid.grid_resolution == resolution
  assert budget.count_params(grid) == 3 * resolution**2


def test_hash_grid_budget_counts_tables_and_bias_free_mlp():
  config = budget.solve(family_model('hashgrid'), 1e5)
  assert config.table_size == 2048
  # Levels at 16, 24, 36 vertices are dense (256, 576, 1296 entries), the
  # other 13 hold 2048; 2 features each; MLP 32 x 64, 64 x 64, 64 x 3.
  tables = 2 * (256 + 576 + 1296 + 13 * 2048)
  assert budget.count_params(config) == tables + 32 * 64 + 64 * 64 + 64 * 3


# --- Bad input ----------------------------------------------------------------


@pytest.mark.parametrize('fields,message', [
    (dict(name='sirenn'), "unknown model.name 'sirenn'"),
    (dict(name='siren', omega_first=0.0), 'model.omega_first must be > 0'),
    (dict(name='wire', omega_hidden=-1.0), 'model.omega_hidden must be > 0'),
    (dict(name='hashgrid', table_size=1000),
     'model.table_size must be a power of two, got 1000'),
    (dict(name='hashgrid', num_levels=0), 'model.num_levels must be >= 1'),
    (dict(name='siren', depth=1), 'model.depth must be >= 2 for siren'),
    (dict(name='c2f', c2f_start=0.5, c2f_end=0.4),
     'model.c2f_end must be > model.c2f_start'),
])
def test_bad_model_fields_are_one_line_errors(fields, message):
  config = configs.default.get_config().model
  config.update(fields)
  with pytest.raises(CppnError, match=message) as error:
    models.validate_model_config(config)
  assert '\n' not in str(error.value)


def test_unmeetable_budget_and_encoded_input_are_errors():
  with pytest.raises(CppnError, match='no hashgrid fits a budget of 1000'):
    budget.solve(family_model('hashgrid'), 1000)
  config = configs.default.get_config()
  config.model.name = 'siren'
  with pytest.raises(CppnError, match="encoding.name='none'"):
    train.validate_config(config)
  assert 'siren' not in models.reads(configs.default.get_config().model)
  assert 'table_size' in models.reads(family_model('hashgrid'))
  assert 'omega_first' not in models.reads(family_model('hashgrid'))


# --- Fits ---------------------------------------------------------------------


def tiny_config(name):
  """configs/<name>.py on an 8 px image for 12 steps, small."""
  config = importlib.import_module(f'configs.{name}').get_config()
  config.data.resolution = 8
  config.data.split = 'memorize'
  config.train.num_steps = 12
  small = dict(depth=3, width=16, table_size=2**8, num_levels=4,
               grid_resolution=8, input_scale=8.0, fourier_sigma=2.0,
               num_fourier_features=8, num_bands=3)
  config.model.update({k: v for k, v in small.items()
                       if k in families.FAMILIES[name].reads})
  return config


@pytest.mark.parametrize('name', families.NAMES)
def test_tiny_fit_psnr_rises(name):
  config = tiny_config(name)
  if name in ('siren', 'c2f'):  # their published rates move little in 12 steps
    config.train.learning_rate *= 10
  fit = train.build_fit(config)
  start = jax.tree_util.tree_map(np.asarray, fit.state.params)
  losses = fit.train(config.train.num_steps)  # each before its step
  assert np.all(np.isfinite(losses)) and losses[-1] < 0.9 * losses[0]
  if name == 'c2f':  # the first step's loss is the fit at progress 0
    model = models.make_model(config.model)
    at_zero = model.apply({'params': start}, fit.dataset.train_coords,
                          progress=0.0)
    np.testing.assert_allclose(
        losses[0], 0.5 * np.mean((at_zero - fit.dataset.train_pixels)**2),
        rtol=1e-5)


@pytest.mark.parametrize('name', ['siren', 'hashgrid'])
def test_vmapped_members_equal_solo_runs(name):
  configs_ = [tiny_config(name), tiny_config(name)]
  configs_[1].train.learning_rate *= 3
  configs_[1].seed = 1
  fits = [train.build_fit(c) for c in configs_]
  run = functools.partial(steps.scan_train_steps, num_steps=2)
  stacked = jax.vmap(run)(group.stack([f.state for f in fits]),
                          group.stack([f.batch for f in fits]),
                          jnp.stack([f.key for f in fits]))[0]
  for index, fit in enumerate(fits):
    solo, _ = run(fit.state, fit.batch, fit.key)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6),
        group.unstack(stacked.params, index), solo.params)


def test_families_command_writes_its_report(tmp_path):
  from cppn import cli  # pylint: disable=g-import-not-at-top
  from experiments import families as families_experiment  # pylint: disable=g-import-not-at-top
  cli.call(families_experiment.COMMAND, [
      '--preset=tiny', f'--workdir={tmp_path}', '--families=grid',
      '--noprogress'])
  import json  # pylint: disable=g-import-not-at-top
  report = json.loads((tmp_path / 'families.json').read_text())
  rows = {row['task']: row for row in report['rows']}
  assert rows.keys() == {'memorize', 'paper'}
  for row in rows.values():
    # The budget of 1e4 at 3 colours per vertex: 57 x 57 vertices.
    assert row['params'] == 3 * 57**2 and row['tuned_lr'] == 0.1
    assert row['tuned_psnr'] == row['published_psnr']
  table = (tmp_path / 'families.md').read_text()
  assert '| memorize | grid | 10000 | 9747 |' in table
  for figure in ('families.png', 'families_crops.png'):
    assert (tmp_path / figure).stat().st_size > 0
