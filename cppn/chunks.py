"""A function applied to an array's leading axis in chunks, inside jit.

Bounded memory for large evaluations (whole views of rays, grids of points):
only one chunk's intermediates live at a time (lax.map), the last chunk is
zero-padded and the padding dropped from the result.
"""

import jax
import jax.numpy as jnp


def map_in_chunks(fn, x, chunk_size: int):
  """fn over chunks of x's leading axis: x (P, ...) -> fn's pytree of (P, ...).

  fn maps (c, ...) to a pytree of arrays with leading axis c; chunk_size
  <= 0 or >= P means one chunk.
  """
  num_rows = x.shape[0]
  chunk = num_rows if chunk_size <= 0 else min(chunk_size, num_rows)
  num_chunks = -(-num_rows // chunk)
  padded = jnp.pad(x, [(0, num_chunks * chunk - num_rows)]
                   + [(0, 0)] * (x.ndim - 1))
  out = jax.lax.map(fn, padded.reshape(num_chunks, chunk, *x.shape[1:]))
  return jax.tree_util.tree_map(
      lambda a: a.reshape(num_chunks * chunk, *a.shape[2:])[:num_rows], out)
