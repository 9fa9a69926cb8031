"""Tests for cppn.train: gradient chunking, compiled steps, resume, divergence."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cppn import models
from cppn import train
from cppn.errors import CppnError
import configs.test


def tiny_problem(num_pixels=300, num_features=8, chunk_size=0):
  """A random regression problem and a fresh TrainState on it."""
  rng = np.random.default_rng(0)
  features = rng.normal(size=(num_pixels, num_features)).astype(np.float32)
  pixels = rng.uniform(size=(num_pixels, 3)).astype(np.float32)
  config = configs.test.get_config()
  model = models.make_model(config.model)
  state = train.create_train_state(model, num_features, config.train,
                                   jax.random.PRNGKey(0))
  return state, train.prepare_batch(features, pixels, chunk_size), (
      features, pixels)


def test_prepare_batch_pads_last_chunk_with_zero_weight():
  _, batch, (features, _) = tiny_problem(num_pixels=300, chunk_size=128)
  assert batch['x'].shape == (3, 8, 128)  # chunks, features, pixels
  assert batch['y'].shape == (3, 3, 128)
  assert batch['w'].sum() == 300
  assert np.all(batch['w'].reshape(-1)[300:] == 0)
  for index in (0, 127, 128, 299):  # pixel p is column p % 128 of chunk p // 128
    np.testing.assert_array_equal(batch['x'][index // 128, :, index % 128],
                                  features[index])


def test_chunked_gradient_equals_full_batch_gradient():
  state, one_chunk, _ = tiny_problem(chunk_size=0)
  _, chunked, (features, pixels) = tiny_problem(chunk_size=64)
  loss_a, grads_a = train.loss_and_grad(state.params, state.apply_fn,
                                        one_chunk)
  loss_b, grads_b = train.loss_and_grad(state.params, state.apply_fn, chunked)
  # Independent value: 0.5 * mean squared error of a direct forward pass.
  pred = state.apply_fn({'params': state.params}, features)
  np.testing.assert_allclose(loss_a, 0.5 * np.mean((pred - pixels) ** 2),
                             rtol=1e-5)
  np.testing.assert_allclose(loss_a, loss_b, rtol=1e-5)
  for a, b in zip(jax.tree_util.tree_leaves(grads_a),
                  jax.tree_util.tree_leaves(grads_b)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_scanned_steps_equal_single_steps():
  state, batch, _ = tiny_problem(chunk_size=100)
  key = jax.random.PRNGKey(1)
  single = state
  for _ in range(5):
    single, _ = jax.jit(train.train_step, static_argnums=3)(
        single, batch, key, 0)
  scanned, step_metrics = train.train_steps(
      jax.tree_util.tree_map(jnp.copy, state), batch, key, num_steps=5)
  assert int(scanned.step) == 5
  assert step_metrics['loss'].shape == (5,)
  assert step_metrics['loss'][-1] < step_metrics['loss'][0]
  for a, b in zip(jax.tree_util.tree_leaves(single.params),
                  jax.tree_util.tree_leaves(scanned.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_minibatches_are_deterministic_and_draw_real_pixels():
  state, batch, (features, pixels) = tiny_problem(num_pixels=300,
                                                  chunk_size=128)
  key = jax.random.PRNGKey(2)
  drawn = train.sample_minibatch(batch, key, 64)
  assert drawn['x'].shape == (1, 8, 64)
  assert drawn['y'].shape == (1, 3, 64)
  assert np.all(drawn['w'] == 1)
  # Every draw is a real pixel (never the zero padding), features and colour
  # of the same pixel.
  for x, y in zip(np.asarray(drawn['x'][0]).T, np.asarray(drawn['y'][0]).T):
    index = np.flatnonzero(np.all(features == x, axis=1))
    assert index.size == 1
    np.testing.assert_array_equal(pixels[index[0]], y)
  run = lambda s: train.train_steps(s, batch, key, num_steps=3,
                                    batch_size=16)[0]
  a = run(jax.tree_util.tree_map(jnp.copy, state))
  b = run(jax.tree_util.tree_map(jnp.copy, state))
  for x, y in zip(jax.tree_util.tree_leaves(a.params),
                  jax.tree_util.tree_leaves(b.params)):
    np.testing.assert_array_equal(x, y)


def test_first_divergence_names_the_step():
  message = train.first_divergence(np.array([1.0, 0.5, np.nan, np.inf]), 10,
                                   1.0)
  assert 'diverged at step 12' in message
  assert train.first_divergence(np.array([1.0, 0.5]), 0, 1.0) is None


def run_test_config(workdir, **overrides):
  """Runs configs/test.py in-process with dotted overrides; returns summary."""
  config = configs.test.get_config()
  for dotted, value in overrides.items():
    block, field = dotted.split('__')
    config[block][field] = value
  return train.train_and_evaluate(config, workdir, progress=False)


def test_divergence_stops_with_the_step_and_no_summary(tmp_path):
  with pytest.raises(CppnError, match=r'diverged at step \d+.*learning_rate'):
    run_test_config(tmp_path, train__learning_rate=1e38)
  assert not (tmp_path / 'summary.json').exists()


def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path):
  full = run_test_config(tmp_path / 'full')
  crashed = tmp_path / 'crashed'
  shutil.copytree(tmp_path / 'full', crashed)
  # Simulate a crash just after step 40: the step-60 checkpoint, the step-60
  # evaluation and the summary never got written.
  (crashed / 'summary.json').unlink()
  shutil.rmtree(crashed / 'checkpoints' / '60')
  (crashed / 'frames' / 'step_00000060.png').unlink()
  resumed = run_test_config(crashed)
  assert resumed['resumed_from_step'] == 40
  assert resumed['test_psnr'] == pytest.approx(full['test_psnr'], abs=1e-4)
  steps = [json.loads(line)['step'] for line in
           (crashed / 'metrics.jsonl').read_text().splitlines()]
  assert steps == [0, 20, 40, 60]  # no duplicate, no gap


def test_finished_run_is_not_rerun(tmp_path):
  first = run_test_config(tmp_path)
  again = run_test_config(tmp_path)
  assert again == first


def test_workdir_with_another_config_is_refused(tmp_path):
  run_test_config(tmp_path)
  with pytest.raises(CppnError, match='differs in: encoding.scale'):
    run_test_config(tmp_path, encoding__scale=3.0)


@pytest.mark.parametrize('block,field,value,message', [
    ('train', 'num_steps', 0, 'train.num_steps must be >= 1, got 0'),
    ('train', 'eval_every_steps', -5, 'train.eval_every_steps must be >= 1'),
    ('train', 'learning_rate', -1e-3, 'train.learning_rate must be a positive'),
    ('train', 'batch_size', -1, 'train.batch_size must be >= 0'),
    ('model', 'width', 0, 'model.width must be >= 1, got 0'),
    ('model', 'depth', -2, 'model.depth must be >= 1, got -2'),
    ('model', 'name', 'resnet', "unknown model.name 'resnet'; choose one of"),
    ('encoding', 'name', 'wavelet', "unknown encoding.name 'wavelet'"),
    ('encoding', 'num_features', 0, 'encoding.num_features must be >= 1'),
    ('data', 'resolution', 0, 'resolution'),
    ('data', 'resolution', 1024, 'larger than the image'),
    ('data', 'split', 'random', "unknown data.split 'random'"),
    ('data', 'image', 'no/such/file.png', 'no/such/file.png'),
])
def test_bad_config_fails_with_a_clear_message(tmp_path, block, field, value,
                                               message):
  with pytest.raises(CppnError, match=message.replace('.', r'\.').replace(
      '(', r'\(')):
    run_test_config(tmp_path, **{f'{block}__{field}': value})
  assert not (tmp_path / 'summary.json').exists()


def test_on_the_fly_encoding_matches_precomputed_features(tmp_path):
  precomputed = run_test_config(tmp_path / 'a')
  on_the_fly = run_test_config(tmp_path / 'b', train__feature_cache_mb=0)
  assert on_the_fly['test_psnr'] == pytest.approx(precomputed['test_psnr'],
                                                  abs=1e-3)


def test_a_run_too_large_for_memory_is_refused_up_front(tmp_path):
  with pytest.raises(CppnError, match=r'would need about [\d.]+ GiB'):
    run_test_config(tmp_path, data__image='text:0', data__resolution=2048,
                    data__split='memorize', train__chunk_size=0,
                    model__width=4096)
  assert not (tmp_path / 'checkpoints').exists()


def test_a_loss_that_ends_above_its_start_is_a_divergence(tmp_path):
  # lr 1e6 saturates the sigmoid without a NaN: the loss only rises.
  with pytest.raises(CppnError, match='the loss rose from .* at step 0'):
    run_test_config(tmp_path, train__learning_rate=1e6)
  assert not (tmp_path / 'summary.json').exists()


def test_fast_path_matches_a_plain_step_loop_in_final_psnr(tmp_path):
  """scan + chunked gradient + precomputed features vs one jitted step a call."""
  from cppn import data, encodings, metrics  # pylint: disable=g-import-not-at-top
  config = configs.test.get_config()
  fast = train.train_and_evaluate(config, tmp_path, progress=False)
  dataset = data.make_dataset(
      data.load_target(config.data.image, config.data.resolution),
      config.data.split)
  encoding_params = encodings.init_encoding(config.encoding,
                                            config.data.resolution)
  encode = lambda coords: np.asarray(encodings.encode(
      config.encoding.name, encoding_params, coords))
  batch = train.prepare_batch(encode(dataset.train_coords),
                              dataset.train_pixels, 0)
  init_key, batch_key = jax.random.split(jax.random.PRNGKey(config.seed))
  state = train.create_train_state(models.make_model(config.model),
                                   batch['x'].shape[1], config.train, init_key)
  step = jax.jit(train.train_step, static_argnums=3)
  for _ in range(config.train.num_steps):
    state, _ = step(state, batch, batch_key, 0)
  pred = state.apply_fn({'params': state.params},
                        encode(dataset.test_coords))
  plain_psnr = float(metrics.psnr_from_mse(
      metrics.mse(pred, dataset.test_pixels)))
  assert fast['test_psnr'] == pytest.approx(plain_psnr, abs=0.05)
