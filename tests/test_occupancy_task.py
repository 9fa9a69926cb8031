"""The occupancy task through the engine, and the engine pieces it added: a
decaying learning rate and features divided by ||a||."""

import json
import pathlib

import imageio.v3 as iio
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cppn
from configs import occupancy as occupancy_config
from cppn import encodings
from cppn import models
from cppn import steps
from cppn import train
from cppn.errors import CppnError
from cppn.tasks.occupancy import OccupancyLoss

REPO = pathlib.Path(__file__).resolve().parents[1]

# The paper's protocol shrunk to seconds: a sphere, 3 x 64, 1024 points a
# step, 2048 test points per set, 16^3 marching cubes.
TINY = {'data.image': 'sphere', 'data.resolution': 16,
        'task.points_per_step': 1024, 'task.test_points': 2048,
        'model.depth': 3, 'model.width': 64, 'encoding.num_features': 16,
        'encoding.sigma': 2.0, 'train.num_steps': 100,
        'train.eval_every_steps': 50, 'train.learning_rate': 1e-2,
        'train.lr_decay_steps': 100}


@pytest.mark.parametrize('step', [0, 2500, 7500])
def test_decayed_rate_is_base_times_rate_to_step_over_steps(step):
  # Adam's first update is -lr * g / (|g| + eps) per parameter (bias-corrected
  # moments of one gradient), so the update shows the step's rate.
  model = models.MLP(depth=2, width=8, out_dim=1)
  state = steps.create_train_state(model, 4, 5e-4, jax.random.PRNGKey(0))
  state = state.replace(step=jnp.asarray(step, state.step.dtype))
  rng = np.random.default_rng(0)
  batch = steps.prepare_batch(rng.normal(size=(16, 4)),
                              rng.uniform(size=(16, 1)), 0)
  batch.update(lr_decay_rate=np.float32(0.1), lr_decay_steps=np.float32(5000))
  _, grads = steps.loss_and_grad(state.params, state.apply_fn, batch)
  old_params = jax.tree_util.tree_map(np.asarray, state.params)
  new_state, _ = steps.train_steps(state, batch, jax.random.PRNGKey(1),
                                   num_steps=1)
  rate = 5e-4 * 0.1 ** (step / 5000)
  for old, new, g in zip(*(jax.tree_util.tree_leaves(t) for t in (
      old_params, new_state.params, grads))):
    g = np.asarray(g, np.float64)
    np.testing.assert_allclose(np.asarray(new) - np.asarray(old),
                               -rate * g / (np.abs(g) + 1e-8),
                               rtol=1e-3, atol=1e-9)


def test_a_constant_rate_unless_the_config_decays():
  config = occupancy_config.get_config()
  config.train.lr_decay_rate = 1.0
  batch = train.training_batch(config, _tiny_task(), {})
  assert 'lr_decay_rate' not in batch
  config.train.lr_decay_rate = 0.0
  with pytest.raises(CppnError, match=r'train.lr_decay_rate must be in'):
    train.validate_config(config)


def test_normalize_divides_the_features_by_the_norm_of_a():
  config = occupancy_config.get_config().encoding
  config.num_features = 12
  params = encodings.init_encoding(config, 16, 3)
  coords = np.random.default_rng(0).uniform(size=(5, 3))
  phase = 2 * np.pi * coords @ np.asarray(params['b'], np.float64).T
  expected = np.concatenate([np.sin(phase), np.cos(phase)], -1) / np.sqrt(12)
  np.testing.assert_allclose(encodings.encode('gaussian', params, coords),
                             expected, atol=2e-5)
  config.normalize = False
  assert np.all(np.asarray(encodings.init_encoding(config, 16, 3)['a']) == 1)


def _tiny_task():
  return train.make_task(cppn.api.make_config(
      'configs/occupancy.py', TINY))


def test_tiny_fit_raises_iou_and_writes_its_outputs(tmp_path):
  result = cppn.fit(str(REPO / 'configs/occupancy.py'), workdir=tmp_path,
                    overrides=TINY)
  first, last = result.history[0], result.history[-1]
  assert first['step'] == 0 and last['step'] == 100
  assert last['iou_surface'] > first['iou_surface'] + 0.3
  assert last['iou_uniform'] > 0.85
  summary = json.loads((tmp_path / 'summary.json').read_text())
  assert summary['task'] == 'occupancy' and summary['shape'] == 'sphere'
  assert summary['iou_surface'] == last['iou_surface']
  assert 'test_psnr' not in summary
  vertices = [line for line in (tmp_path / 'fit.obj').read_text().splitlines()
              if line.startswith('v ')]
  assert len(vertices) > 100
  assert iio.imread(tmp_path / 'shape.png').shape == (32, 64, 3)
  assert iio.imread(tmp_path / 'turntable.gif').shape[0] == 24
  assert iio.imread(tmp_path / 'progress.gif').shape[0] == 3


def test_a_mesh_steps_on_draws_from_its_labelled_pool():
  pool = np.random.default_rng(0).uniform(size=(50, 3)).astype(np.float32)
  labels = (pool[:, 0] > 0.5).astype(np.float32)
  batch = {'x': np.zeros((2, 3, 8), np.float32), 'w': np.ones((2, 8)),
           'pool_points': pool, 'pool_labels': labels}
  step = OccupancyLoss('bunny').sample(batch, jax.random.PRNGKey(0))
  points = np.swapaxes(np.asarray(step['x']), 1, 2).reshape(-1, 3)
  index = [int(np.flatnonzero((pool == p).all(1))[0]) for p in points]
  np.testing.assert_array_equal(np.asarray(step['y']).reshape(-1),
                                labels[index])
  assert len(set(index)) > 8  # draws spread over the pool


def test_a_logit_is_required(tmp_path):
  config = cppn.api.make_config('configs/occupancy.py', TINY)
  config.model.output_activation = 'sigmoid'
  with pytest.raises(CppnError, match="model.output_activation='identity'"):
    train.make_task(config)


def test_an_open_mesh_is_a_cppn_error(tmp_path):
  # One triangle: readable, not watertight.
  (tmp_path / 'open.obj').write_text('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n')
  with pytest.raises(CppnError, match='not watertight'):
    cppn.fit('configs/occupancy.py', overrides={
        **TINY, 'data.image': str(tmp_path / 'open.obj')},
             workdir=tmp_path / 'run')
  assert not (tmp_path / 'run' / 'summary.json').exists()


def test_an_unreadable_mesh_is_a_cppn_error(tmp_path):
  (tmp_path / 'broken.stl').write_bytes(b'\x00\x01 not a mesh')
  with pytest.raises(CppnError, match='mesh'):
    cppn.fit('configs/occupancy.py', overrides={
        **TINY, 'data.image': str(tmp_path / 'broken.stl')},
             workdir=tmp_path / 'run')
  assert not (tmp_path / 'run' / 'summary.json').exists()


def test_a_sweep_tabulates_and_plots_the_tasks_scores(tmp_path):
  from cppn import outputs, sweep  # pylint: disable=g-import-not-at-top
  config = cppn.api.make_config('configs/occupancy.py', TINY)
  members = sweep.plan(config, [{'encoding.sigma': s} for s in (1.0, 4.0)],
                       tmp_path)
  results = []
  for member, iou in zip(members, (0.5, 0.7)):
    member.workdir.mkdir(parents=True)
    rows = [{'step': 0, 'loss': 0.7, 'iou_uniform': 0.1, 'iou_surface': 0.1},
            {'step': 100, 'loss': 0.1, 'iou_uniform': 0.9, 'iou_surface': iou}]
    outputs.write_metrics(member.workdir / 'metrics.jsonl', rows)
    results.append({**rows[-1], 'num_params': 10, 'wall_seconds': 1.0})
  rows = sweep.result_rows(members, results)
  sweep.write_results_csv(tmp_path / 'results.csv', members, rows)
  sweep.write_figures(tmp_path, members, rows)
  header, first, second = (tmp_path / 'results.csv').read_text().splitlines()
  assert header.split(',')[2:5] == ['status', 'iou_uniform', 'iou_surface']
  assert first.split(',')[4] == '0.5' and second.split(',')[4] == '0.7'
  assert (tmp_path / 'curves.png').exists()
  assert (tmp_path / 'iou_surface_vs_sigma.png').exists()


def test_a_fit_in_memory_has_the_tasks_scores():
  result = cppn.fit('configs/occupancy.py', overrides={
      **TINY, 'train.num_steps': 2, 'train.eval_every_steps': 1})
  assert [row['step'] for row in result.history] == [0, 1, 2]
  assert set(result.metrics) >= {'iou_uniform', 'iou_surface', 'num_params'}
  assert 0 <= result.metrics['iou_surface'] <= 1 and result.workdir is None
