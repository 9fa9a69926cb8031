"""Tests for experiments/reference.py, the plain-JAX reference of the paper."""

import jax
import numpy as np
import pytest

from experiments import reference


def _coords(n=8):
  """(n, n, 2) float64 grid on linspace(0, 1, n + 1)[:-1]."""
  c = np.linspace(0.0, 1.0, n + 1)[:-1]
  return np.stack(np.meshgrid(c, c), -1)


def _fourier(v, b):
  """NumPy [sin(2 pi v B^T), cos(2 pi v B^T)] for v (..., 2), B (m, 2)."""
  return np.concatenate([np.sin(2 * np.pi * v @ b.T),
                         np.cos(2 * np.pi * v @ b.T)], -1)


def test_encode_none_is_identity():
  v = _coords()
  out = reference.encode(v, 'none', None, 0.0, 0)
  np.testing.assert_allclose(out, v, rtol=1e-6)


def test_encode_basic():
  v = _coords()
  out = reference.encode(v, 'basic', None, 0.0, 0)
  expected = np.concatenate([np.sin(2 * np.pi * v), np.cos(2 * np.pi * v)], -1)
  assert out.shape == (8, 8, 4)
  np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize('m, sigma_p', [(16, 6.0), (256, 5.0)])
def test_encode_positional(m, sigma_p):
  v = _coords()
  out = np.asarray(reference.encode(v, 'positional', None, sigma_p, m))
  freqs = 2.0**np.linspace(0.0, sigma_p, m // 2) - 1.0
  b = np.concatenate([np.stack([freqs, 0 * freqs], -1),
                      np.stack([0 * freqs, freqs], -1)])
  assert out.shape == (8, 8, 2 * m)
  assert freqs[0] == 0.0
  np.testing.assert_allclose(out[..., 0], 0.0, atol=1e-6)  # sin of freq 0
  np.testing.assert_allclose(out[..., m], 1.0, atol=1e-6)  # cos of freq 0
  np.testing.assert_allclose(out, _fourier(v, b), atol=1e-4)


def test_encode_positional_rejects_odd_m():
  with pytest.raises(ValueError, match='even'):
    reference.encode(_coords(), 'positional', None, 6.0, 15)


def test_encode_gaussian():
  v = _coords()
  key = jax.random.PRNGKey(3)
  out = reference.encode(v, 'gaussian', key, 10.0, 64)
  b = 10.0 * np.asarray(jax.random.normal(key, (64, 2)), np.float64)
  assert out.shape == (8, 8, 128)
  np.testing.assert_allclose(out, _fourier(v, b), atol=1e-4)


def test_encode_rejects_unknown_name():
  with pytest.raises(ValueError, match='gaussian'):
    reference.encode(_coords(), 'fourier', None, 1.0, 4)


def test_mlp_shapes_params_and_range():
  params = reference.init_mlp(jax.random.PRNGKey(0), 512, 4, 256)
  assert [w.shape for w, _ in params] == [(512, 256), (256, 256), (256, 256),
                                          (256, 3)]
  assert sum(w.size + b.size for w, b in params) == 263_683
  assert 0.005 < np.std(params[0][1]) < 0.02  # biases ~ N(0, 1e-2^2)
  out = reference.apply_mlp(params, np.ones((5, 512), np.float32))
  assert out.shape == (5, 3)
  assert np.all((out > 0) & (out < 1))


def test_tiny_fit_improves_test_psnr():
  image = reference.load_image('astronaut', 32)
  assert image.shape == (32, 32, 3) and image.dtype == np.float32
  result = reference.fit(image, encoding='gaussian', scale=4.0,
                         num_features=16, depth=4, width=32,
                         learning_rate=1e-3, num_steps=100, seed=0,
                         eval_every=50)
  assert [h['step'] for h in result['history']] == [0, 50]
  assert np.isfinite(result['test_psnr'])
  assert result['test_psnr'] > result['history'][0]['test_psnr']
  assert result['num_params'] == 3 * (32 * 32 + 32) + 32 * 3 + 3
  assert result['seconds'] > 0 and result['steps_per_second'] > 0
