"""Tests for cppn.quantize: round-trip error bounds, byte counts, QAT steps."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cppn import models
from cppn import quantize
from cppn import train
from cppn.errors import CppnError


def make_params(seed=0):
  """A 3-layer MLP's params (glorot weights, N(0, 0.01^2) biases) plus an all-zero leaf."""
  model = models.MLP(depth=3, width=24)
  params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, 10)))['params']
  params = jax.tree_util.tree_map(np.asarray, params)
  params['Dense_1']['bias'] = np.zeros_like(params['Dense_1']['bias'])
  return params


def leaves(tree):
  """The leaves of a pytree as numpy arrays."""
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_int8_error_is_at_most_half_a_step_per_weight():
  params = make_params()
  stored, num_bytes = quantize.quantize(params, 'int8')
  restored = quantize.dequantize(stored, 'int8')
  for w, q, s, r in zip(leaves(params), leaves(stored['values']),
                        leaves(stored['scales']), leaves(restored)):
    assert q.dtype == np.int8 and s.shape == () and s.dtype == np.float32
    assert np.abs(q).max() <= 127
    # Independent step: max|w| / 127 in float64.
    np.testing.assert_allclose(s, np.abs(w).max() / 127, rtol=1e-6)
    assert r.dtype == np.float32 and r.shape == w.shape
    assert np.all(np.abs(r - w) <= s / 2 * (1 + 1e-5) + 1e-12)
  num_weights = sum(w.size for w in leaves(params))
  assert num_bytes == num_weights + 4 * len(leaves(params))


def test_all_zero_leaf_survives_int8():
  stored, _ = quantize.quantize(make_params(), 'int8')
  assert float(stored['scales']['Dense_1']['bias']) == 0
  restored = quantize.dequantize(stored, 'int8')
  assert np.all(np.asarray(restored['Dense_1']['bias']) == 0)


@pytest.mark.parametrize('precision,dtype,rtol,itemsize', [
    ('fp32', np.float32, 0, 4),
    ('fp16', np.float16, 1e-3, 2),
    ('bf16', jnp.bfloat16, 2 ** -8, 2),
])
def test_float_round_trips_within_relative_error(precision, dtype, rtol,
                                                 itemsize):
  params = make_params()
  stored, num_bytes = quantize.quantize(params, precision)
  assert 'scales' not in stored
  assert all(v.dtype == dtype for v in leaves(stored['values']))
  restored = quantize.dequantize(stored, precision)
  for w, r in zip(leaves(params), leaves(restored)):
    assert r.dtype == np.float32
    np.testing.assert_allclose(r, w, rtol=rtol, atol=0)
  assert num_bytes == itemsize * sum(w.size for w in leaves(params))


def test_round_trip_is_dequantize_of_quantize():
  params = make_params()
  stored, _ = quantize.quantize(params, 'int8')
  for a, b in zip(leaves(quantize.round_trip(params, 'int8')),
                  leaves(quantize.dequantize(stored, 'int8'))):
    np.testing.assert_array_equal(a, b)


def test_unknown_precision_names_the_choices():
  with pytest.raises(CppnError, match="unknown precision 'int4'; choose one "
                     'of: fp32, fp16, bf16, int8'):
    quantize.quantize(make_params(), 'int4')


def test_finetune_lowers_the_quantised_loss():
  rng = np.random.default_rng(0)
  features = rng.normal(size=(256, 10)).astype(np.float32)
  pixels = rng.uniform(size=(256, 3)).astype(np.float32)
  batch = train.prepare_batch(features, pixels, chunk_size=100)
  state = train.create_train_state(
      models.MLP(depth=3, width=24), 10,
      ml_collections.ConfigDict({'learning_rate': 3e-3}),
      jax.random.PRNGKey(0))
  tuned, losses = quantize.finetune(state, batch, 'int8', 40)
  assert losses.shape == (40,) and int(tuned.step) == 40
  # The first loss is that of the int8 network, computed here directly.
  quantised = quantize.round_trip(state.params, 'int8')
  pred = state.apply_fn({'params': quantised}, features)
  np.testing.assert_allclose(losses[0], 0.5 * np.mean((pred - pixels) ** 2),
                             rtol=1e-5)
  tuned_pred = state.apply_fn(
      {'params': quantize.round_trip(tuned.params, 'int8')}, features)
  assert np.mean((tuned_pred - pixels) ** 2) < 0.9 * np.mean(
      (pred - pixels) ** 2)
