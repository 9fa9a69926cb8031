"""Tests for cppn.steps: gradient chunking, compiled steps, Adam, minibatches."""

import jax
import jax.numpy as jnp
import numpy as np

from cppn import models
from cppn import steps
import configs.test


def tiny_problem(num_pixels=300, num_features=8, chunk_size=0,
                 learning_rate=1e-2):
  """A random regression problem and a fresh TrainState on it."""
  rng = np.random.default_rng(0)
  features = rng.normal(size=(num_pixels, num_features)).astype(np.float32)
  pixels = rng.uniform(size=(num_pixels, 3)).astype(np.float32)
  model = models.make_model(configs.test.get_config().model)
  state = steps.create_train_state(model, num_features, learning_rate,
                                   jax.random.PRNGKey(0))
  return state, steps.prepare_batch(features, pixels, chunk_size), (
      features, pixels)


def copy(tree):
  return jax.tree_util.tree_map(jnp.copy, tree)


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
  loss_a, grads_a = steps.loss_and_grad(state.params, state.apply_fn,
                                        one_chunk)
  loss_b, grads_b = steps.loss_and_grad(state.params, state.apply_fn, chunked)
  # Independent value: 0.5 * mean squared error of a direct forward pass.
  pred = state.apply_fn({'params': state.params}, features)
  np.testing.assert_allclose(loss_a, 0.5 * np.mean((pred - pixels) ** 2),
                             rtol=1e-5)
  np.testing.assert_allclose(loss_a, loss_b, rtol=1e-5)
  for a, b in zip(jax.tree_util.tree_leaves(grads_a),
                  jax.tree_util.tree_leaves(grads_b)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def plain_adam(params, apply_fn, features, pixels, learning_rate, num_steps):
  """Full-batch Adam written from Kingma & Ba (optax's defaults: b1 0.9,
  b2 0.999, eps 1e-8 outside the square root), without optax or steps.

  The gradient is jax.grad of 0.5 * mean squared error of a direct forward
  pass; the moments and the update are float64 NumPy.
  """
  b1, b2, eps = 0.9, 0.999, 1e-8
  loss = lambda p: 0.5 * jnp.mean(
      (apply_fn({'params': p}, features) - pixels) ** 2)
  grad = jax.jit(jax.grad(loss))
  as64 = lambda tree: jax.tree_util.tree_map(
      lambda x: np.asarray(x, np.float64), tree)
  params = as64(params)
  mu = jax.tree_util.tree_map(np.zeros_like, params)
  nu = jax.tree_util.tree_map(np.zeros_like, params)
  for t in range(1, num_steps + 1):
    g = as64(grad(jax.tree_util.tree_map(
        lambda x: jnp.asarray(x, jnp.float32), params)))
    mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, mu, g)
    nu = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, nu, g)
    params = jax.tree_util.tree_map(
        lambda p, m, v: p - learning_rate * (m / (1 - b1**t)) / (
            np.sqrt(v / (1 - b2**t)) + eps), params, mu, nu)
  return params


def test_train_steps_are_full_batch_adam():
  learning_rate = 1e-2
  state, batch, (features, pixels) = tiny_problem(chunk_size=64,
                                                  learning_rate=learning_rate)
  expected = plain_adam(state.params, state.apply_fn, features, pixels,
                        learning_rate, num_steps=5)
  trained, step_metrics = steps.train_steps(copy(state), batch,
                                            jax.random.PRNGKey(1), num_steps=5)
  assert int(trained.step) == 5
  assert step_metrics['loss'].shape == (5,)
  moved = 0.0
  for got, want, start in zip(jax.tree_util.tree_leaves(trained.params),
                              jax.tree_util.tree_leaves(expected),
                              jax.tree_util.tree_leaves(state.params)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    moved = max(moved, float(np.abs(want - start).max()))
  assert moved > 4 * learning_rate  # five Adam steps move a weight by up to 5 lr


def test_scanned_steps_equal_single_steps():
  state, batch, _ = tiny_problem(chunk_size=100)
  key = jax.random.PRNGKey(1)
  single = state
  for _ in range(5):
    single, _ = jax.jit(steps.train_step, static_argnums=3)(
        single, batch, key, 0)
  scanned, step_metrics = steps.train_steps(copy(state), batch, key,
                                            num_steps=5)
  assert step_metrics['loss'][-1] < step_metrics['loss'][0]
  for a, b in zip(jax.tree_util.tree_leaves(single.params),
                  jax.tree_util.tree_leaves(scanned.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_learning_rate_is_a_float_in_the_optimiser_state():
  state, _, _ = tiny_problem(learning_rate=3e-3)
  assert float(state.opt_state.hyperparams['learning_rate']) == np.float32(3e-3)


def test_minibatches_are_deterministic_and_draw_real_pixels():
  state, batch, (features, pixels) = tiny_problem(num_pixels=300,
                                                  chunk_size=128)
  key = jax.random.PRNGKey(2)
  drawn = steps.sample_minibatch(batch, key, 64)
  assert drawn['x'].shape == (1, 8, 64)
  assert drawn['y'].shape == (1, 3, 64)
  assert np.all(drawn['w'] == 1)
  # Every draw is a real pixel (never the zero padding), features and colour
  # of the same pixel.
  for x, y in zip(np.asarray(drawn['x'][0]).T, np.asarray(drawn['y'][0]).T):
    index = np.flatnonzero(np.all(features == x, axis=1))
    assert index.size == 1
    np.testing.assert_array_equal(pixels[index[0]], y)
  run = lambda s: steps.train_steps(s, batch, key, num_steps=3,
                                    batch_size=16)[0]
  a = run(copy(state))
  b = run(copy(state))
  for x, y in zip(jax.tree_util.tree_leaves(a.params),
                  jax.tree_util.tree_leaves(b.params)):
    np.testing.assert_array_equal(x, y)
