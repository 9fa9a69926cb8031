r"""Neural tangent kernels: empirical (any Flax Linen model) and analytic (ReLU MLP).

The NTK of a network f(x; theta) is Theta(x, x') = <df(x)/dtheta, df(x')/dtheta>,
summed over every parameter. Under gradient descent on 0.5 * sum (f - y)^2
with step eta, a wide network moves like its linearisation:

  train  f_t = (I - exp(-eta K t)) y                     (K = Theta(X, X))
  test   f_t(X*) = Theta(X*, X) K^-1 (I - exp(-eta K t)) y

(for an output that starts at 0; `linear_dynamics` evaluates both).

Empirical NTK (`empirical_ntk`): the Jacobian of the outputs with respect to
the parameter pytree, contracted leaf by leaf, one block of inputs at a time
so that only two blocks of Jacobians (block x outputs x parameters) live in
memory. `model_fn` wraps a cppn model and encoding as fn(params, coords).

Analytic NTK (`relu_ntk`): the infinite-width limit of a ReLU MLP by the
arc-cosine recursion (Cho & Saul 2009; Jacot et al. 2018; Arora et al. 2019).
Parameterisation and scaling, as neural-tangents' stax.Dense(W_std, b_std):

  h^1     = W_std / sqrt(d) * x W^1 + b_std * b^1
  h^(l+1) = W_std / sqrt(n) * relu(h^l) W^(l+1) + b_std * b^(l+1)
  f       = h^depth (linear read-out), every W, b entry ~ N(0, 1)

This is the NTK parameterisation. At initialisation it is the same random
function as the standard parameterisation with weights ~ N(0, W_std^2 /
fan_in) and biases ~ N(0, b_std^2), so both share the NNGP kernel; their
NTKs differ only in the weight terms, by the factor fan_in / W_std^2 of each
layer (the NTK-parameterisation one is what standard-parameterisation
training with per-layer learning rates eta * W_std^2 / fan_in sees). As the
width grows, the empirical NTK of `NTKMLP` converges to `relu_ntk`
(tests/test_ntk.py measures it).

models.MLP, the paper's network, is not that standard-parameterised twin:
it is initialised like stax.Dense, glorot-normal weights (a normal truncated
at 2 std and rescaled to variance 2 / (fan_in + fan_out), which no one
W_std / sqrt(fan_in) matches: hidden n x n layers get 1 / n, W_std = 1, the
first d x n layer 2 / (d + n)) and N(0, 0.01^2) biases, with (by default) a
sigmoid on its 3 outputs. `relu_ntk` is the kernel of `NTKMLP`; a cppn
model's own kernel is its empirical NTK (`model_fn`, `empirical_ntk`).

The recursion, with Sigma the NNGP covariance and E over (u, v) ~
N(0, Sigma^l restricted to x, x'):

  Sigma^1 = Theta^1 = W_std^2 x.x' / d + b_std^2
  Sigma^(l+1) = W_std^2 E[relu(u) relu(v)] + b_std^2
              = W_std^2 sqrt(S_xx S_x'x') (sin t + (pi - t) cos t) / (2 pi) + b_std^2
  Theta^(l+1) = Sigma^(l+1) + W_std^2 E[relu'(u) relu'(v)] Theta^l
              = Sigma^(l+1) + W_std^2 (pi - t) / (2 pi) Theta^l
  with cos t = Sigma^l(x, x') / sqrt(Sigma^l(x, x) Sigma^l(x', x')).

It is computed in float64 NumPy: no gradients are needed, and kernel spectra
span many decades. One output channel; a network with C outputs has this
kernel on each channel and 0 between channels.
"""

import functools
import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cppn import encodings
from cppn.errors import CppnError

CHANNEL_MODES = ('sum', 'per_channel')


class NTKMLP(nn.Module):
  """A ReLU MLP in the NTK parameterisation: (..., d) -> (..., out_dim).

  (depth - 1) hidden ReLU layers of `width` units and a linear read-out;
  every weight and bias is N(0, 1), scaled in the forward pass by
  w_std / sqrt(fan_in) and b_std (see the module docstring).
  """
  depth: int = 4  # Dense layers, the read-out included
  width: int = 1024  # units per hidden layer
  out_dim: int = 1
  w_std: float = 1.0
  b_std: float = 0.0

  @nn.compact
  def __call__(self, x):
    normal = nn.initializers.normal(stddev=1.0)
    for index in range(self.depth):
      units = self.out_dim if index == self.depth - 1 else self.width
      kernel = self.param(f'kernel_{index}', normal, (x.shape[-1], units))
      bias = self.param(f'bias_{index}', normal, (units,))
      x = (self.w_std / math.sqrt(x.shape[-1])) * (x @ kernel) \
          + self.b_std * bias
      if index < self.depth - 1:
        x = nn.relu(x)
    return x


def model_fn(model: nn.Module, encoding_name: str,
             encoding_params) -> Callable[..., jax.Array]:
  """fn(params, coords (n, d)) -> (n, C): a cppn model behind its encoding."""

  def fn(params, coords):
    features = encodings.encode(encoding_name, encoding_params, coords)
    return model.apply({'params': params}, features)

  return fn


def _flat_jacobian(fn, params, x):
  """Per leaf, d fn(params, x) / d leaf reshaped to (n, C, leaf size)."""
  jacobian = jax.jacrev(fn)(params, x)
  return [leaf.reshape(leaf.shape[0], leaf.shape[1], -1)
          for leaf in jax.tree_util.tree_leaves(jacobian)]


def _contract(jacobians1, jacobians2, channels):
  """Sum over leaves of J1 J2^T: (b1, b2), or (b1, b2, C) per channel."""
  pattern = 'icp,jcp->ij' if channels == 'sum' else 'icp,jcp->ijc'
  return sum(jnp.einsum(pattern, a, b) for a, b in zip(jacobians1, jacobians2))


@functools.partial(jax.jit, static_argnums=(0, 4))
def _ntk_block(fn, params, x1, x2, channels):
  """The kernel between two blocks of inputs."""
  return _contract(_flat_jacobian(fn, params, x1),
                   _flat_jacobian(fn, params, x2), channels)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _ntk_self_block(fn, params, x, channels):
  """The kernel of a block of inputs with itself (one Jacobian)."""
  jacobians = _flat_jacobian(fn, params, x)
  return _contract(jacobians, jacobians, channels)


def _blocks(x, block_size):
  """x cut into equal blocks of block_size rows, the last one zero-padded."""
  num_blocks = -(-x.shape[0] // block_size)
  padded = np.zeros((num_blocks * block_size,) + x.shape[1:], np.float32)
  padded[:x.shape[0]] = x
  return padded.reshape(num_blocks, block_size, *x.shape[1:])


def empirical_ntk(fn: Callable[..., jax.Array], params, x1, x2=None,
                  block_size: int = 64, channels: str = 'sum') -> np.ndarray:
  """The empirical NTK sum_theta df(x1)/dtheta df(x2)/dtheta of fn at params.

  Args:
    fn: fn(params, x (n, d)) -> (n, C), e.g. `model_fn(...)` or
      lambda p, x: module.apply({'params': p}, x). A new function object
      compiles anew: pass the same one to repeated calls.
    params: the parameter pytree the kernel is taken with respect to.
    x1: (n1, d) inputs.
    x2: (n2, d) inputs; None means x1 (then only blocks on and above the
      diagonal are computed).
    block_size: inputs per Jacobian block. Peak memory is about
      2 * block_size * C * (number of parameters) * 4 bytes.
    channels: 'sum' traces over the C output channels; 'per_channel' keeps
      each channel's kernel (the diagonal of the C x C block).

  Returns:
    float32 (n1, n2) for 'sum', (n1, n2, C) for 'per_channel'.
  """
  if channels not in CHANNEL_MODES:
    raise CppnError(f'unknown channels {channels!r}; choose one of: '
                    + ', '.join(CHANNEL_MODES))
  if block_size < 1:
    raise CppnError(f'block_size must be >= 1, got {block_size}')
  x1 = np.asarray(x1, np.float32)
  symmetric = x2 is None
  x2 = x1 if symmetric else np.asarray(x2, np.float32)
  blocks1 = _blocks(x1, min(block_size, x1.shape[0]))
  blocks2 = blocks1 if symmetric else _blocks(x2, min(block_size, x2.shape[0]))
  grid = [[None] * len(blocks2) for _ in blocks1]
  for i, block1 in enumerate(blocks1):
    for j, block2 in enumerate(blocks2):
      if symmetric and j < i:
        grid[i][j] = np.swapaxes(grid[j][i], 0, 1)
      elif symmetric and j == i:
        grid[i][j] = np.asarray(_ntk_self_block(fn, params, block1, channels))
      else:
        grid[i][j] = np.asarray(_ntk_block(fn, params, block1, block2,
                                           channels))
  kernel = np.concatenate([np.concatenate(row, axis=1) for row in grid], 0)
  return kernel[:x1.shape[0], :x2.shape[0]]


def _relu_expectations(cov, var1, var2):
  """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for (u, v) ~ N(0, Sigma).

  Args:
    cov: (n1, n2) Sigma(x, x'); var1: (n1,) Sigma(x, x); var2: (n2,).

  Returns:
    Two (n1, n2) arrays.
  """
  norm = np.sqrt(np.outer(var1, var2))
  cos = np.clip(np.divide(cov, norm, out=np.zeros_like(cov), where=norm > 0),
                -1.0, 1.0)
  angle = np.arccos(cos)
  e_relu = norm * (np.sin(angle) + (np.pi - angle) * cos) / (2 * np.pi)
  return e_relu, (np.pi - angle) / (2 * np.pi)


def relu_kernels(x1, x2=None, depth: int = 4, w_std: float = 1.0,
                 b_std: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
  """The infinite-width NNGP and NTK of a ReLU MLP (see the module docstring).

  Args:
    x1: (n1, d) inputs; x2: (n2, d) inputs, None means x1.
    depth: Dense layers including the linear read-out (>= 1), as
      models.MLP.depth and NTKMLP.depth.
    w_std, b_std: weight and bias standard deviations (weights scaled by
      1 / sqrt(fan_in)).

  Returns:
    (nngp, ntk), each float64 (n1, n2).
  """
  if depth < 1:
    raise CppnError(f'depth must be >= 1, got {depth}')
  x1 = np.asarray(x1, np.float64)
  x2 = x1 if x2 is None else np.asarray(x2, np.float64)
  if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
    raise CppnError(f'relu_kernels needs (n1, d) and (n2, d) inputs, got '
                    f'{x1.shape} and {x2.shape}')
  scale = w_std**2 / x1.shape[1]
  cov = scale * x1 @ x2.T + b_std**2
  var1 = scale * np.sum(x1**2, -1) + b_std**2
  var2 = scale * np.sum(x2**2, -1) + b_std**2
  ntk = cov
  for _ in range(depth - 1):
    e_relu, e_step = _relu_expectations(cov, var1, var2)
    cov = w_std**2 * e_relu + b_std**2
    ntk = cov + w_std**2 * e_step * ntk
    # On the diagonal the angle is 0: E[relu(u)^2] = Sigma(x, x) / 2.
    var1 = w_std**2 * var1 / 2 + b_std**2
    var2 = w_std**2 * var2 / 2 + b_std**2
  return cov, ntk


def relu_ntk(x1, x2=None, depth: int = 4, w_std: float = 1.0,
             b_std: float = 0.0) -> np.ndarray:
  """The infinite-width ReLU NTK: (n1, d), (n2, d) -> float64 (n1, n2)."""
  return relu_kernels(x1, x2, depth, w_std, b_std)[1]


def linear_dynamics(k_train, k_test_train, y_train, times):
  """The NTK prediction of gradient descent from a zero output.

  Loss 0.5 * sum (f - y)^2, step eta: f_t = (I - exp(-eta K t)) y on the
  training inputs, Theta(X*, X) K^-1 (I - exp(-eta K t)) y on the test ones,
  through K's eigendecomposition (K^-1 (1 - exp(-lambda s)) -> s as
  lambda -> 0, so a singular K is fine).

  Args:
    k_train: (n, n) symmetric PSD kernel on the training inputs.
    k_test_train: (q, n) kernel between test and training inputs.
    y_train: (n,) targets.
    times: (T,) values of eta * t (step size times number of steps).

  Returns:
    (f_train (T, n), f_test (T, q)), float64.
  """
  eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(k_train, np.float64))
  eigenvalues = np.maximum(eigenvalues, 0.0)
  times = np.asarray(times, np.float64)[:, None]
  projection = eigenvectors.T @ np.asarray(y_train, np.float64)  # (n,)
  decayed = -np.expm1(-eigenvalues * times)  # (T, n): 1 - exp(-lambda s)
  # (1 - exp(-lambda s)) / lambda, with its limit s where lambda is 0.
  safe = np.where(eigenvalues > 0, eigenvalues, 1.0)
  inverse = np.where(eigenvalues > 0, decayed / safe, times)
  f_train = (decayed * projection) @ eigenvectors.T
  f_test = (inverse * projection) @ (np.asarray(k_test_train, np.float64)
                                     @ eigenvectors).T
  return f_train, f_test
