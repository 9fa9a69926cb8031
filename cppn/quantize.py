"""Post-training weight quantisation of a parameter pytree, and its fine-tuning.

A network fitted to one image is a codec whose code is its weights; storing
them at a lower precision shrinks the code. Precisions:

  fp32  float32, 4 bytes per weight: the trained network itself
  fp16  IEEE half, 2 bytes; relative rounding error <= 2^-11 for
        6.1e-5 <= |w| <= 65504
  bf16  bfloat16, 2 bytes; float32's range, relative error <= 2^-8
  int8  symmetric, one scale per leaf (each kernel and each bias):
        s = max|w| / 127, q = round(w / s) in [-127, 127]; 1 byte per weight
        plus one float32 s per leaf; |w - q s| <= s / 2

`quantize` and `dequantize` are pure jnp functions of a pytree, so
`round_trip` (quantise, then dequantise) can sit inside a jitted loss:
`finetune` runs quantisation-aware Adam steps with the straight-through
estimator (the forward pass uses round_trip(w); the gradient with respect to
round_trip(w) is applied to w, as if round_trip were the identity).
"""

import functools
from typing import Any

import jax
import jax.numpy as jnp

from cppn import steps
from cppn.errors import CppnError

PRECISIONS = ('fp32', 'fp16', 'bf16', 'int8')
FLOAT_DTYPES = {'fp32': jnp.float32, 'fp16': jnp.float16,
                'bf16': jnp.bfloat16}
INT8_LEVELS = 127  # q in [-127, 127]: symmetric, -128 unused

Params = Any  # a pytree of float arrays (Flax Linen params)
Stored = dict[str, Any]  # {'values': pytree[, 'scales': pytree]}


def validate_precision(precision: str):
  """Raises CppnError unless `precision` is one of PRECISIONS."""
  if precision not in PRECISIONS:
    raise CppnError(f'unknown precision {precision!r}; choose one of: '
                    + ', '.join(PRECISIONS))


def stored_bytes(stored: Stored) -> int:
  """Bytes of every array in a stored pytree (values and scales)."""
  return sum(int(leaf.size) * leaf.dtype.itemsize
             for leaf in jax.tree_util.tree_leaves(stored))


def int8_scale(w):
  """The symmetric int8 step of one leaf, max|w| / 127: (...) -> () float32."""
  return jnp.max(jnp.abs(w)).astype(jnp.float32) / INT8_LEVELS


def quantize(params: Params, precision: str) -> tuple[Stored, int]:
  """Stores every leaf of `params` at `precision`.

  Args:
    params: pytree of float arrays.
    precision: one of PRECISIONS.

  Returns:
    (stored, num_bytes). stored['values'] has the structure of `params`, its
    leaves cast to float32 / float16 / bfloat16, or int8 for 'int8', where
    stored['scales'] holds one () float32 step per leaf (0 for an all-zero
    leaf). num_bytes counts every array in `stored`.
  """
  validate_precision(precision)
  if precision in FLOAT_DTYPES:
    stored = {'values': jax.tree_util.tree_map(
        lambda w: jnp.asarray(w).astype(FLOAT_DTYPES[precision]), params)}
  else:
    scales = jax.tree_util.tree_map(int8_scale, params)
    values = jax.tree_util.tree_map(
        lambda w, s: jnp.clip(jnp.round(w / jnp.where(s > 0, s, 1)),
                              -INT8_LEVELS, INT8_LEVELS).astype(jnp.int8),
        params, scales)
    stored = {'values': values, 'scales': scales}
  return stored, stored_bytes(stored)


def dequantize(stored: Stored, precision: str) -> Params:
  """float32 params from `quantize`'s stored pytree: q * s for int8, a cast otherwise."""
  validate_precision(precision)
  if precision == 'int8':
    return jax.tree_util.tree_map(lambda q, s: q.astype(jnp.float32) * s,
                                  stored['values'], stored['scales'])
  return jax.tree_util.tree_map(lambda v: v.astype(jnp.float32),
                                stored['values'])


def round_trip(params: Params, precision: str) -> Params:
  """dequantize(quantize(params)): the float32 weights a stored network computes with."""
  return dequantize(quantize(params, precision)[0], precision)


@functools.partial(jax.jit, static_argnames=('precision', 'num_steps'))
def finetune(state: steps.TrainState, batch: steps.Batch, precision: str,
             num_steps: int):
  """Quantisation-aware fine-tuning: `num_steps` full-batch straight-through steps.

  Args:
    state: a TrainState (its optimiser and learning rate are used as they are).
    batch: the training set from `steps.prepare_batch`.
    precision: one of PRECISIONS.
    num_steps: number of Adam steps.

  Returns:
    The new state (float32 weights; quantise them to store the network) and
    losses (num_steps,): 0.5 * MSE of the quantised network before each step.
  """
  def step(state, _):
    loss, grads = steps.loss_and_grad(round_trip(state.params, precision),
                                      state.apply_fn, batch)
    return state.apply_gradients(grads=grads), loss

  return jax.lax.scan(step, state, None, length=num_steps)
