"""Tests for cppn.train: whole runs, groups, resume, divergence, build_fit."""

import json
import shutil

import types

import jax
import numpy as np
import pytest

from cppn import guards
from cppn import overrides
from cppn import train
from cppn.errors import CppnError
import configs.test


def tiny_config(**dotted):
  """configs/test.py with overrides, '.' written as '__'."""
  return overrides.apply_overrides(configs.test.get_config(), {
      key.replace('__', '.'): value for key, value in dotted.items()})


def run_test_config(workdir, **dotted):
  """Runs configs/test.py in-process with dotted overrides; returns summary."""
  return train.train_and_evaluate(tiny_config(**dotted), workdir,
                                  progress=False)


def metric_steps(workdir):
  return [json.loads(line)['step'] for line in
          (workdir / 'metrics.jsonl').read_text().splitlines()]


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
  assert metric_steps(crashed) == [0, 20, 40, 60]  # no duplicate, no gap


# configs/test.py's test PSNR on a CPU from the trainer before fits went
# through cppn/tasks (an image is now the identity operator of a task),
# recorded with this JAX version: XLA's rounding differs between versions
# (16.1213 under JAX 0.4.38), so the digits hold for it alone. On every
# version tests/test_reference.py checks the fit against an independent
# re-implementation of the image protocol.
IMAGE_TEST_PSNR_BEFORE_TASKS = 16.103151321411133
IMAGE_TEST_PSNR_JAX_VERSION = '0.10.2'


def test_finished_run_is_not_rerun(tmp_path):
  first = run_test_config(tmp_path)
  again = run_test_config(tmp_path)
  assert again == first
  if (jax.default_backend() == 'cpu'
      and jax.__version__ == IMAGE_TEST_PSNR_JAX_VERSION):
    assert first['test_psnr'] == pytest.approx(IMAGE_TEST_PSNR_BEFORE_TASKS,
                                               abs=1e-3)


def test_workdir_with_another_config_is_refused(tmp_path):
  run_test_config(tmp_path)
  with pytest.raises(CppnError, match='differs in: encoding.sigma'):
    run_test_config(tmp_path, encoding__sigma=3.0)


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


def test_a_run_too_large_for_the_device_is_refused_up_front(tmp_path,
                                                          monkeypatch):
  small_gpu = types.SimpleNamespace(
      platform='gpu', device_kind='Small GPU',
      memory_stats=lambda: {'bytes_limit': 2**30})
  monkeypatch.setattr(guards, 'training_device', lambda: small_gpu)
  with pytest.raises(CppnError, match=r'would need about [\d.]+ GiB; Small '
                     r'GPU memory is 1.0 GiB'):
    run_test_config(tmp_path, data__resolution=512, data__split='memorize',
                    train__chunk_size=0, model__width=2048)
  assert not (tmp_path / 'checkpoints').exists()


def test_running_out_of_device_memory_is_one_error(tmp_path, monkeypatch):
  def exhausted(*_):
    raise jax.errors.JaxRuntimeError(
        'RESOURCE_EXHAUSTED: Out of memory while trying to allocate 99 bytes.')
  monkeypatch.setattr(train.CompiledSteps, '__call__', exhausted)
  with pytest.raises(CppnError, match=r'^out of device memory '
                     r'\(RESOURCE_EXHAUSTED: .*99 bytes.\); lower'):
    run_test_config(tmp_path)
  assert not (tmp_path / 'summary.json').exists()


def test_other_runtime_errors_are_not_hidden(tmp_path, monkeypatch):
  def broken(*_):
    raise jax.errors.JaxRuntimeError('INTERNAL: something else')
  monkeypatch.setattr(train.CompiledSteps, '__call__', broken)
  with pytest.raises(jax.errors.JaxRuntimeError):
    run_test_config(tmp_path)


def test_a_group_whose_first_member_diverges_leaves_no_duplicate_rows(
    tmp_path):
  rates = (1e38, 1e-2, 2e-2)
  results = train.train_group(
      [tiny_config(train__learning_rate=rate) for rate in rates],
      [tmp_path / str(i) for i in range(3)], progress=False)
  assert 'diverged' in results[0]['error']
  for i in (1, 2):
    assert 'error' not in results[i]
    assert metric_steps(tmp_path / str(i)) == [0, 20, 40, 60]
  solo = run_test_config(tmp_path / 'solo', train__learning_rate=1e-2)
  assert results[1]['test_psnr'] == pytest.approx(solo['test_psnr'], abs=1e-3)


def test_a_loss_that_ends_above_its_start_is_a_divergence(tmp_path):
  # lr 1e6 saturates the sigmoid without a NaN: the loss only rises.
  with pytest.raises(CppnError, match='the loss rose from .* at step 0'):
    run_test_config(tmp_path, train__learning_rate=1e6)
  assert not (tmp_path / 'summary.json').exists()


def test_build_fit_steps_like_a_run(tmp_path):
  """build_fit + Fit.train reach the final PSNR a whole run reports."""
  config = tiny_config()
  run = train.train_and_evaluate(config, tmp_path, progress=False)
  fit = train.build_fit(config)
  losses = fit.train(config.train.num_steps)
  assert losses.shape == (config.train.num_steps,)
  assert losses[-1] < losses[0]
  assert int(fit.state.step) == config.train.num_steps
  pred = fit.predict(fit.dataset.test_coords)
  assert pred.shape == fit.dataset.test_pixels.shape
  mse = np.mean((pred - fit.dataset.test_pixels) ** 2)
  assert -10 * np.log10(mse) == pytest.approx(run['test_psnr'], abs=1e-3)


def test_build_fit_refuses_a_bad_config():
  with pytest.raises(CppnError, match='encoding.num_features must be >= 1'):
    train.build_fit(tiny_config(encoding__num_features=0))
