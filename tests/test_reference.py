"""Tests for experiments/reference.py, the plain-JAX reference of the paper."""

import json

import jax
import numpy as np
import pytest

import configs.test
from cppn import data
from cppn import models
from cppn import train
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
  init = jax.jit(reference.init_mlp, static_argnums=(1, 2, 3))
  params = init(jax.random.PRNGKey(0), 512, 4, 256)
  assert [w.shape for w, _ in params] == [(512, 256), (256, 256), (256, 256),
                                          (256, 3)]
  assert sum(w.size + b.size for w, b in params) == 263_683
  assert 0.005 < np.std(params[0][1]) < 0.02  # biases ~ N(0, 1e-2^2)
  out = reference.apply_mlp(params, np.ones((5, 512), np.float32))
  assert out.shape == (5, 3)
  assert np.all((out > 0) & (out < 1))


def test_load_image_is_a_square_float_image():
  image = reference.load_image('astronaut', 32)
  assert image.shape == (32, 32, 3) and image.dtype == np.float32
  assert 0 <= image.min() and image.max() <= 1 and image.std() > 0.05


# cppn against the reference at configs/test.py (32 px, Gaussian features,
# 2 x 32 MLP, 60 full-batch Adam steps): the claim of reference.py's
# docstring, the same test PSNR within 0.5 dB.


@pytest.fixture(scope='module')
def cppn_run(tmp_path_factory):
  """cppn's fit of configs/test.py through train.train_and_evaluate.

  Returns:
    {'config', 'summary' (summary.json), 'metrics' (metrics.jsonl rows),
    'b', 'a' (encoding.npz), 'init' ([(W, b)] the fit started from),
    'image' (the target it fitted)}.
  """
  config = configs.test.get_config()
  assert (config.encoding.name, config.model.name, config.data.split,
          config.train.batch_size) == ('gaussian', 'mlp', 'paper', 0)
  workdir = tmp_path_factory.mktemp('cppn')
  train.train_and_evaluate(config, workdir, progress=False)
  summary = json.loads((workdir / 'summary.json').read_text())
  metrics = [json.loads(line) for line in
             (workdir / 'metrics.jsonl').read_text().splitlines()]
  encoding = np.load(workdir / 'encoding.npz')
  params = train.initial_state(config, models.make_model(config.model)).params
  init = [(np.asarray(params[f'Dense_{i}']['kernel']),
           np.asarray(params[f'Dense_{i}']['bias']))
          for i in range(config.model.depth)]
  return {'config': config, 'summary': summary, 'metrics': metrics,
          'b': encoding['b'],
          'a': encoding['a'], 'init': init,
          'image': data.load_target(config.data.image, config.data.resolution,
                                    config.data.crop)}


def reference_fit(run, **kwargs):
  """reference.fit at the settings of cppn_run's config."""
  config = run['config']
  return reference.fit(
      run['image'], encoding='gaussian',
      scale=config.encoding.sigma,
      num_features=config.encoding.num_features, depth=config.model.depth,
      width=config.model.width, learning_rate=config.train.learning_rate,
      num_steps=config.train.num_steps, **kwargs)


def test_reference_from_cppn_start_reproduces_its_fit(cppn_run, monkeypatch):
  # The reference started from cppn's frequencies and initial weights: the
  # two trainers then compute the same fit, so a difference in the loss,
  # the optimiser, the features, the split or the step count shows. Measured:
  # the evaluations at steps 0, 20, 40 agree to 3e-5 dB; after the last
  # step train PSNR to 2e-4 dB and test PSNR to 3e-3 dB. For scale: one
  # extra step moves train PSNR by 0.14 dB, a 10% larger learning rate
  # test PSNR by 0.1 dB, Adam's b2 = 0.99 by 0.03 dB.
  b, a, init = cppn_run['b'], cppn_run['a'], cppn_run['init']
  np.testing.assert_array_equal(a, 1)  # the reference has no amplitudes
  monkeypatch.setattr(reference, 'frequency_matrix', lambda *args: b)
  monkeypatch.setattr(reference, 'init_mlp', lambda *args: init)
  result = reference_fit(cppn_run, seed=0, eval_every=20)
  # The reference evaluates before steps 0, 20, 40, i.e. after that many
  # updates, as cppn's rows of those steps.
  cppn_rows = {row['step']: row for row in cppn_run['metrics']}
  assert sorted(cppn_rows) == [0, 20, 40, 60]
  assert [h['step'] for h in result['history']] == [0, 20, 40]
  for ours in result['history']:
    theirs = cppn_rows[ours['step']]
    assert abs(ours['train_psnr'] - theirs['train_psnr']) < 1e-3
    assert abs(ours['test_psnr'] - theirs['test_psnr']) < 1e-3
  summary = cppn_run['summary']
  assert abs(result['train_psnr'] - summary['train_psnr']) < 0.01
  assert abs(result['test_psnr'] - summary['test_psnr']) < 0.01


def test_reference_matches_cppn_within_half_a_db(cppn_run):
  # Independent randomness (the reference draws its own frequencies and
  # weights from its seed): the claim of reference.py. Over seeds 0-3 the
  # two differ by 0.14-0.39 dB at this tiny setting (seed spread: cppn
  # 0.13 dB, reference 0.25 dB), less at the paper's size.
  result = reference_fit(cppn_run, seed=0, eval_every=20)
  assert abs(result['test_psnr'] - cppn_run['summary']['test_psnr']) < 0.5
  # The reference's own bookkeeping.
  assert [h['step'] for h in result['history']] == [0, 20, 40]
  assert result['test_psnr'] > result['history'][0]['test_psnr'] + 3
  config = cppn_run['config']
  width, num_inputs = config.model.width, 2 * config.encoding.num_features
  assert result['num_params'] == (num_inputs + 1) * width + (width + 1) * 3
  assert result['seconds'] > 0 and result['steps_per_second'] > 0
