"""Tests for cppn.ntk: analytic ReLU NTK, empirical NTK, linear dynamics."""

import math

import jax
from jax import flatten_util
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import scipy.linalg

from cppn import encodings
from cppn import models
from cppn import ntk
from cppn.errors import CppnError


def arc_cosine_one_hidden_layer(x1, x2, w_std, b_std):
  """Independent NTK of Dense-ReLU-Dense, pair by pair (Cho & Saul's J0, J1)."""
  d = x1.shape[1]
  out = np.zeros((len(x1), len(x2)))
  for i, u in enumerate(x1):
    for j, v in enumerate(x2):
      s_uv = w_std**2 * np.dot(u, v) / d + b_std**2
      s_uu = w_std**2 * np.dot(u, u) / d + b_std**2
      s_vv = w_std**2 * np.dot(v, v) / d + b_std**2
      theta = math.acos(max(-1.0, min(1.0, s_uv / math.sqrt(s_uu * s_vv))))
      j0 = math.pi - theta
      j1 = math.sin(theta) + (math.pi - theta) * math.cos(theta)
      # Read-out layer: its weights see E[relu relu], its bias b_std^2; the
      # first layer's parameters come back through E[relu' relu'].
      nngp = w_std**2 * math.sqrt(s_uu * s_vv) * j1 / (2 * math.pi) \
          + b_std**2
      out[i, j] = nngp + w_std**2 * j0 / (2 * math.pi) * s_uv
  return out


def test_analytic_ntk_one_hidden_layer_matches_numpy_formula():
  rng = np.random.default_rng(0)
  x1, x2 = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
  for w_std, b_std in ((1.0, 0.0), (1.5, 0.3)):
    np.testing.assert_allclose(
        ntk.relu_ntk(x1, x2, depth=2, w_std=w_std, b_std=b_std),
        arc_cosine_one_hidden_layer(x1, x2, w_std, b_std), rtol=1e-12)


def test_analytic_kernels_basic_properties():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(6, 4))
  nngp, kernel = ntk.relu_kernels(x, depth=4, w_std=1.2, b_std=0.1)
  np.testing.assert_allclose(kernel, kernel.T, rtol=1e-12)
  assert np.linalg.eigvalsh(kernel).min() > 0
  # depth 1 is a linear model: NNGP = NTK = W_std^2 x.x' / d + b_std^2.
  linear = ntk.relu_ntk(x, depth=1, w_std=2.0, b_std=0.5)
  np.testing.assert_allclose(linear, 4.0 * x @ x.T / 4 + 0.25, rtol=1e-12)
  # The NNGP is the output covariance: Monte Carlo over random networks.
  model = ntk.NTKMLP(depth=4, width=128, w_std=1.2, b_std=0.1)
  outputs = jax.lax.map(lambda key: model.apply(
      model.init(key, x[:1]), x.astype(np.float32))[:, 0],
                        jax.random.split(jax.random.PRNGKey(0), 4000),
                        batch_size=500)
  empirical = np.cov(np.asarray(outputs), rowvar=False, bias=True)
  assert np.linalg.norm(empirical - nngp) / np.linalg.norm(nngp) < 0.08
  with pytest.raises(CppnError, match='depth'):
    ntk.relu_ntk(x, depth=0)


def explicit_ntk(fn, params, x1, x2):
  """J(x1) J(x2)^T per channel through a flattened parameter vector."""
  flat, unravel = flatten_util.ravel_pytree(params)
  jac = lambda x: jax.jacfwd(lambda p: fn(unravel(p), x))(flat)  # (n, C, P)
  return np.einsum('icp,jcp->ijc', jac(x1), jac(x2))


def test_empirical_ntk_equals_explicit_jacobian_product():
  model = models.MLP(depth=3, width=16)
  config = ml_collections.ConfigDict(dict(
      name='gaussian', sigma=3.0, num_features=4, seed=0))
  encoding_params = encodings.init_encoding(config, 32)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8)))['params']
  fn = ntk.model_fn(model, 'gaussian', encoding_params)
  rng = np.random.default_rng(2)
  x1 = rng.uniform(size=(7, 2)).astype(np.float32)
  x2 = rng.uniform(size=(5, 2)).astype(np.float32)
  expected = explicit_ntk(fn, params, x1, x2)  # (7, 5, 3)
  per_channel = ntk.empirical_ntk(fn, params, x1, x2, block_size=3,
                                  channels='per_channel')
  np.testing.assert_allclose(per_channel, expected, rtol=1e-4, atol=1e-6)
  summed = ntk.empirical_ntk(fn, params, x1, x2, block_size=4)
  np.testing.assert_allclose(summed, expected.sum(-1), rtol=1e-4, atol=1e-6)
  # x2 = None mirrors the blocks below the diagonal.
  square = ntk.empirical_ntk(fn, params, x1, block_size=3)
  np.testing.assert_allclose(square, explicit_ntk(fn, params, x1, x1).sum(-1),
                             rtol=1e-4, atol=1e-6)
  with pytest.raises(CppnError, match='channels'):
    ntk.empirical_ntk(fn, params, x1, channels='trace')


def test_empirical_ntk_approaches_analytic_with_width():
  """NTK parameterisation: relative error ~ 1/sqrt(width), under 10% at 1024
  (the mean kernel of 3 initialisations: 0.35, 0.10, 0.035 at 16, 128, 1024)."""
  b = encodings.random_matrix('gaussian', jax.random.PRNGKey(0), 2.0, 8)
  a = jnp.ones(8)
  coords = np.random.default_rng(3).uniform(size=(10, 2)).astype(np.float32)
  features = np.asarray(encodings.fourier_features(coords, b, a))
  depth, w_std, b_std = 3, math.sqrt(2), 0.2
  analytic = ntk.relu_ntk(features, depth=depth, w_std=w_std, b_std=b_std)
  errors = []
  for width in (16, 128, 1024):
    model = ntk.NTKMLP(depth=depth, width=width, w_std=w_std, b_std=b_std)
    apply = lambda p, x: model.apply({'params': p}, x)
    kernels = [ntk.empirical_ntk(apply, model.init(
        jax.random.PRNGKey(seed), features[:1])['params'], features,
                                 block_size=10) for seed in range(3)]
    errors.append(np.linalg.norm(np.mean(kernels, 0) - analytic)
                  / np.linalg.norm(analytic))
  assert errors[0] > errors[1] > errors[2]
  assert errors[2] < 0.1


def test_linear_dynamics_matches_matrix_exponential():
  rng = np.random.default_rng(4)
  features = rng.normal(size=(12, 20))
  k_all = features @ features.T / 20
  k_train, k_test_train = k_all[:8, :8], k_all[8:, :8]
  y = rng.normal(size=8)
  times = np.array([0.0, 0.5, 3.0, 1e6])
  f_train, f_test = ntk.linear_dynamics(k_train, k_test_train, y, times)
  for s, train_s, test_s in zip(times[:3], f_train, f_test):
    expected = (np.eye(8) - scipy.linalg.expm(-k_train * s)) @ y
    np.testing.assert_allclose(train_s, expected, atol=1e-10)
    np.testing.assert_allclose(
        test_s, k_test_train @ np.linalg.solve(k_train, expected), atol=1e-8)
  np.testing.assert_allclose(f_train[-1], y, atol=1e-8)  # converged
  np.testing.assert_allclose(f_train[0], 0.0)


def test_linear_dynamics_predicts_gradient_descent_of_a_linear_model():
  """A linear model's NTK is constant: GD with a small step follows it."""
  rng = np.random.default_rng(5)
  phi = rng.normal(size=(10, 30)) / math.sqrt(30)
  phi_test = rng.normal(size=(4, 30)) / math.sqrt(30)
  y = rng.normal(size=10)
  eta, steps = 1e-3, 2000
  w = np.zeros(30)
  for _ in range(steps):
    w -= eta * phi.T @ (phi @ w - y)  # gradient of 0.5 * sum (f - y)^2
  # Gradient descent stays in the row space of phi, where K^-1 is exact.
  f_train, f_test = ntk.linear_dynamics(phi @ phi.T, phi_test @ phi.T, y,
                                        [eta * steps])
  np.testing.assert_allclose(f_train[0], phi @ w, atol=2e-3)
  np.testing.assert_allclose(f_test[0], phi_test @ w, atol=2e-3)
