"""Tests for cppn.quantize against NumPy, hand-picked values and bit arithmetic.

The expected values are computed here from the module docstring's formulas,
never by calling quantize again: int8 as s = max|w| / 127 and
q = round(w / s) (round half to even, as NumPy) in NumPy float32; fp16 as
NumPy's float16 cast; bf16 by rounding the float32 bit pattern to its top 16
bits, to nearest, ties to even.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cppn import models
from cppn import quantize
from cppn import steps
from cppn.errors import CppnError


@functools.cache
def mlp_params():
  """A 3-layer MLP's params (glorot weights, N(0, 0.01^2) biases), NumPy."""
  model = models.MLP(depth=3, width=24)
  params = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 10)))
  return jax.tree_util.tree_map(np.asarray, params['params'])


def make_params():
  """A fresh copy of mlp_params() with one all-zero leaf (Dense_1's bias)."""
  params = jax.tree_util.tree_map(np.copy, mlp_params())
  params['Dense_1']['bias'] = np.zeros_like(params['Dense_1']['bias'])
  return params


def leaves(tree):
  """The leaves of a pytree as numpy arrays."""
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def numpy_int8(w):
  """(q int8, s float32) of one leaf by the documented formula, in NumPy."""
  w = np.asarray(w, np.float32)
  s = np.float32(np.abs(w).max()) / np.float32(127)
  q = np.round(w / s) if s > 0 else np.zeros_like(w)
  return np.clip(q, -127, 127).astype(np.int8), np.float32(s)


def numpy_bf16(w):
  """float32 -> nearest bfloat16 (ties to even), as float32, by bit arithmetic."""
  bits = np.asarray(w, np.float32).view(np.uint32).astype(np.uint64)
  lsb = (bits >> 16) & 1  # the last bit kept: ties go to make it 0
  rounded = ((bits + 0x7FFF + lsb) & 0xFFFF0000).astype(np.uint32)
  return rounded.view(np.float32)


# Hand-picked values.


def test_int8_of_hand_picked_values():
  # max|w| = 127 / 128, so s = 1 / 128 exactly and w / s is exact.
  w = np.array([127, -63.5, 0, 31.75, -127, 2.5, 3.5, -0.5], np.float32) / 128
  stored, num_bytes = quantize.quantize({'w': w}, 'int8')
  assert float(stored['scales']['w']) == 1 / 128
  # Round half to even: -63.5 -> -64, 2.5 -> 2, 3.5 -> 4, -0.5 -> 0.
  np.testing.assert_array_equal(stored['values']['w'],
                                [127, -64, 0, 32, -127, 2, 4, 0])
  assert stored['values']['w'].dtype == np.int8
  assert num_bytes == 8 + 4
  np.testing.assert_array_equal(
      quantize.dequantize(stored, 'int8')['w'],
      np.array([127, -64, 0, 32, -127, 2, 4, 0], np.float32) / 128)


def test_int8_scale_follows_the_largest_magnitude():
  # max|w| = 0.5 (a negative weight): s = 0.5 / 127; w / s = 127, -63.5, 25.4.
  w = np.array([0.25, -0.5, 0.1], np.float32)
  stored, _ = quantize.quantize({'w': w}, 'int8')
  assert float(stored['scales']['w']) == pytest.approx(0.5 / 127, rel=1e-7)
  np.testing.assert_array_equal(stored['values']['w'], [64, -127, 25])
  # 0.25 / s = 63.5 in exact arithmetic; in float32 it lands just above.
  restored = np.asarray(quantize.round_trip({'w': w}, 'int8')['w'])
  np.testing.assert_allclose(restored, np.array([64, -127, 25]) * 0.5 / 127,
                             rtol=1e-6)


@pytest.mark.parametrize('w,expected', [
    (1.0, 1.0),
    (1 + 2**-11, 1.0),  # a tie between 1 and 1 + 2^-10: to the even 1
    (1 + 3 * 2**-11, 1 + 2**-9),  # a tie between odd and even: up
    (1 + 2**-10, 1 + 2**-10),  # representable
    (65504.0, 65504.0),  # the largest half
    (65519.0, 65504.0),  # below the midpoint to 2^16: stays finite
    (65520.0, np.inf),  # the midpoint: rounds to 2^16, out of range
    (-3e5, -np.inf),
    (2.0**-24, 2.0**-24),  # the smallest subnormal half
    (2.0**-26, 0.0),  # below half of it
])
def test_fp16_of_hand_picked_values(w, expected):
  restored = quantize.round_trip({'w': np.float32(w)}, 'fp16')['w']
  assert float(restored) == expected


@pytest.mark.parametrize('w,expected', [
    (1 + 2**-8, 1.0),  # a tie between 1 and 1 + 2^-7: to the even 1
    (1 + 3 * 2**-8, 1 + 2**-6),  # a tie between odd and even: up
    (1 + 2**-8 + 2**-20, 1 + 2**-7),  # just above the tie: up
    (-(1 + 2**-7), -(1 + 2**-7)),  # representable
    # float32's range, 8 significant bits: 3e38 = 1.7632 * 2^127 and
    # 1e-30 = 1.2677 * 2^-100, to the nearest multiple of 2^-7 of the mantissa.
    (3e38, 226 * 2.0**120),  # 1.7632 * 128 = 225.7 -> 226
    (1e-30, 162 * 2.0**-107),  # 1.2677 * 128 = 162.3 -> 162
])
def test_bf16_of_hand_picked_values(w, expected):
  restored = quantize.round_trip({'w': np.float32(w)}, 'bf16')['w']
  assert float(restored) == expected
  assert float(numpy_bf16(np.float32(w))) == expected


# Whole parameter pytrees against the NumPy formulas.


def test_int8_matches_numpy_leaf_by_leaf():
  params = make_params()
  stored, num_bytes = quantize.quantize(params, 'int8')
  restored = quantize.round_trip(params, 'int8')
  for w, q, s, r in zip(leaves(params), leaves(stored['values']),
                        leaves(stored['scales']), leaves(restored)):
    want_q, want_s = numpy_int8(w)
    assert q.dtype == np.int8 and s.shape == () and s.dtype == np.float32
    assert s == want_s
    np.testing.assert_array_equal(q, want_q)
    assert r.dtype == np.float32 and r.shape == w.shape
    np.testing.assert_array_equal(r, want_q.astype(np.float32) * want_s)
  num_weights = sum(w.size for w in leaves(params))
  assert num_bytes == num_weights + 4 * len(leaves(params))


def test_int8_error_is_at_most_half_a_step_and_reaches_it():
  params = make_params()
  restored = quantize.round_trip(params, 'int8')
  for w, r in zip(leaves(params), leaves(restored)):
    step = np.abs(w.astype(np.float64)).max() / 127
    error = np.abs(r.astype(np.float64) - w)
    assert error.max() <= step / 2 * (1 + 1e-5) + 1e-12
    if w.size > 100:  # many weights: some land near a midpoint
      assert error.max() > 0.4 * step
      # The largest weight is stored exactly (to float32 rounding).
      big = np.argmax(np.abs(w))
      assert error.flat[big] <= 1e-6 * np.abs(w).max()


def test_all_zero_leaf_survives_int8():
  stored, _ = quantize.quantize(make_params(), 'int8')
  assert float(stored['scales']['Dense_1']['bias']) == 0
  restored = quantize.dequantize(stored, 'int8')
  assert np.all(np.asarray(restored['Dense_1']['bias']) == 0)


def test_fp16_matches_numpy_half():
  params = make_params()
  params['extremes'] = np.array([65504, 65519, 65520, -1e6, 6.1e-5, 1e-6,
                                 2**-25, 0.1, -0.3], np.float32)
  stored, num_bytes = quantize.quantize(params, 'fp16')
  assert 'scales' not in stored
  for w, v, r in zip(leaves(params), leaves(stored['values']),
                     leaves(quantize.round_trip(params, 'fp16'))):
    assert v.dtype == np.float16 and r.dtype == np.float32
    with np.errstate(over='ignore'):  # 65520 and -1e6 overflow to +-inf
      half = w.astype(np.float16)
    np.testing.assert_array_equal(v, half)
    np.testing.assert_array_equal(r, half.astype(np.float32))
  assert num_bytes == 2 * sum(w.size for w in leaves(params))


def test_bf16_matches_bit_rounding():
  params = make_params()
  rng = np.random.default_rng(0)
  # Every float32 exponent's worth of magnitudes, both signs.
  params['wide'] = (rng.choice([-1, 1], 4000) * 10.0 ** rng.uniform(
      -35, 35, 4000)).astype(np.float32)
  stored, num_bytes = quantize.quantize(params, 'bf16')
  assert 'scales' not in stored
  for w, v, r in zip(leaves(params), leaves(stored['values']),
                     leaves(quantize.round_trip(params, 'bf16'))):
    assert v.dtype == jnp.bfloat16 and r.dtype == np.float32
    np.testing.assert_array_equal(r, numpy_bf16(w))
  assert num_bytes == 2 * sum(w.size for w in leaves(params))


@pytest.mark.parametrize('precision,bound', [
    ('fp16', 2.0**-11), ('bf16', 2.0**-8)])
def test_float_relative_error_bounds_of_the_docstring(precision, bound):
  # Normal-range magnitudes (fp16: 6.1e-5 .. 65504): |r - w| <= bound |w|,
  # and the bound is nearly reached over many values.
  rng = np.random.default_rng(1)
  w = (rng.choice([-1, 1], 20000) * 10.0 ** rng.uniform(-4.2, 4.8, 20000)
       ).astype(np.float32)
  r = np.asarray(quantize.round_trip({'w': w}, precision)['w'], np.float64)
  relative = np.abs(r - w) / np.abs(w.astype(np.float64))
  assert relative.max() <= bound
  assert relative.max() > 0.9 * bound


def test_fp32_is_the_identity():
  params = make_params()
  stored, num_bytes = quantize.quantize(params, 'fp32')
  for w, r in zip(leaves(params), leaves(quantize.dequantize(stored, 'fp32'))):
    assert r.dtype == np.float32
    np.testing.assert_array_equal(r, w)
  assert num_bytes == 4 * sum(w.size for w in leaves(params))


def test_round_trip_runs_inside_jit():
  params = make_params()
  jitted = jax.jit(quantize.round_trip, static_argnames='precision')
  for w, r in zip(leaves(params), leaves(jitted(params, precision='int8'))):
    q, s = numpy_int8(w)
    # Compiled, XLA divides by the constant 127 as a multiplication by its
    # reciprocal: the step, and so q s, may move by a float32 rounding.
    np.testing.assert_allclose(r, q.astype(np.float32) * s, rtol=3e-7, atol=0)


def test_unknown_precision_names_the_choices():
  with pytest.raises(CppnError, match="unknown precision 'int4'; choose one "
                     'of: fp32, fp16, bf16, int8'):
    quantize.quantize(make_params(), 'int4')


def test_finetune_lowers_the_quantised_loss():
  rng = np.random.default_rng(0)
  features = rng.normal(size=(256, 10)).astype(np.float32)
  pixels = rng.uniform(size=(256, 3)).astype(np.float32)
  batch = steps.prepare_batch(features, pixels, chunk_size=100)
  model = models.MLP(depth=3, width=24)
  state = steps.create_train_state(model, 10, 3e-3, jax.random.PRNGKey(0))
  tuned, losses = quantize.finetune(state, batch, 'int8', 40)
  assert losses.shape == (40,) and int(tuned.step) == 40

  def int8_loss(params):
    """0.5 * MSE of the network whose leaves are int8-rounded in NumPy."""
    quantised = jax.tree_util.tree_map(
        lambda w: (lambda q, s: q.astype(np.float32) * s)(*numpy_int8(w)),
        params)
    pred = np.asarray(model.apply({'params': quantised}, features))
    return 0.5 * np.mean((pred - pixels) ** 2)

  # The first loss is that of the int8 network before any step.
  np.testing.assert_allclose(losses[0], int8_loss(state.params), rtol=1e-5)
  assert int8_loss(tuned.params) < 0.9 * int8_loss(state.params)
