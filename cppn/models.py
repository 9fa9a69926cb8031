"""Coordinate MLPs (Flax Linen): encoded features -> RGB.

Activations flow feature-major, (units, pixels), inside every network (see
`dense`): the weight gradient of a layer then contracts the minor axes of
both operands, which XLA's CPU matmuls run ~1.5x faster than the pixel-major
form. Callers see (..., features) -> (..., 3) unless they pass feature-major
arrays themselves (`feature_major=True`, what the trainer does). The mlp
also takes GridFeatures: the features of every point of a grid as one table
per grid dimension, when each feature varies along one axis (grid_dense).

Linen keeps parameters as a plain pytree, so a sweep can stack many networks'
parameters and vmap over them, and an NTK is a Jacobian with respect to that
pytree; that is why this project uses Linen rather than NNX.

  mlp      the paper's network: (depth - 1) x [Dense(width), activation],
           Dense(3), output activation (sigmoid). Initialised like the
           paper's `stax.Dense`: glorot-normal weights, N(0, 0.01^2) biases.
  pyramid  the seed project's network: Dense(n), then ceil(log2 n) layers of
           max(3, n // 2^i) units (i = 0, 1, ...), ReLU after every layer,
           output included; n is the number of input features. Keras default
           initialisation (glorot-uniform weights, zero biases).

The other families (SIREN, WIRE, hash grids, ...) are in cppn/families;
`reads`, `validate_model_config` and `make_model` hand their names there.
"""

import functools
import math
from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from cppn.errors import CppnError

MODELS = ('mlp', 'pyramid')  # the keys of MODEL_FIELDS
# How every matmul of a network multiplies (forward and backward), always
# accumulating in float32:
#   float32        true float32 products (lax.Precision.HIGHEST; without it
#                  XLA uses TF32 on recent NVIDIA GPUs)
#   tensorfloat32  operands rounded to TF32 (10 mantissa bits) on the
#                  tensor cores; NVIDIA GPUs only (XLA's CPU dot has no TF32)
#   bfloat16       operands cast to bfloat16 (7 mantissa bits); any backend
MATMUL_PRECISIONS = ('float32', 'tensorfloat32', 'bfloat16')
ACTIVATIONS = {
    'relu': nn.relu,
    'gelu': nn.gelu,
    'tanh': jnp.tanh,
    'softplus': nn.softplus,
    'sigmoid': nn.sigmoid,
    'identity': lambda x: x,
}


def matmul(a, b, contract_a, contract_b, precision):
  """a and b (2-D) contracted over one axis each, float32 result.

  precision: one of MATMUL_PRECISIONS.
  """
  dims = (((contract_a,), (contract_b,)), ((), ()))
  if precision == 'bfloat16':
    return jax.lax.dot_general(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16),
                               dims, preferred_element_type=jnp.float32)
  algorithm = {'float32': jax.lax.Precision.HIGHEST,
               'tensorfloat32': jax.lax.DotAlgorithmPreset.TF32_TF32_F32}
  return jax.lax.dot_general(a, b, dims, precision=algorithm[precision],
                             preferred_element_type=jnp.float32)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def dense(kernel: jax.Array, bias: jax.Array, h: jax.Array,
          precision: str) -> jax.Array:
  """A dense layer on feature-major activations: kernel^T h + bias.

  Args:
    kernel: (I, O), the layout of flax.linen.Dense.
    bias: (O,).
    h: (I, P) inputs, one column per pixel.
    precision: one of MATMUL_PRECISIONS, for the forward and backward passes.

  Returns:
    (O, P), float32.

  Every matmul of the forward and backward pass has its pixel axis minor and
  a row-major weight operand: the forward pass multiplies a materialised
  kernel^T (O, I) with h; the backward pass (the transpose of the JVP below)
  forms kernel (I, O) @ dz for the input gradient and dz . h^T over pixels for
  the kernel gradient. Measured with XLA on 2 CPU cores at P = 8192: 280-300
  GFLOP/s for each, against 170-230 for the weight gradient and for a
  forward pass that contracts the kernel's leading axis. The optimisation
  barrier keeps XLA from folding the transpose back into the matmul.
  """
  kernel_t = jax.lax.optimization_barrier(kernel.T)
  return matmul(kernel_t, h, 1, 0, precision) + bias[:, None]


@dense.defjvp
def _dense_jvp(precision, primals, tangents):
  kernel, bias, h = primals
  kernel_dot, bias_dot, h_dot = tangents
  out_dot = (matmul(kernel_dot, h, 0, 0, precision)
             + matmul(kernel, h_dot, 0, 0, precision) + bias_dot[:, None])
  return dense(kernel, bias, h, precision), out_dot


class GridFeatures(NamedTuple):
  """Features of every point of a full grid, factored per grid dimension.

  tables[g]: (I, N_g), the features that vary along grid dimension g on its
  N_g coordinates, zero in the other rows (encodings.grid_tables). The
  point (i_0, ..., i_{d-1}), number i_0 N_1 ... N_{d-1} + ... + i_{d-1} (C
  order), has the features sum_g tables[g][:, i_g]. A Dense layer maps them
  to the (O, P) outputs of all P = N_0 ... N_{d-1} points with d (O, I, N_g)
  matmuls instead of one (O, I, P) matmul (see grid_dense).
  """
  tables: tuple[jax.Array, ...]


@jax.custom_vjp
def outer_sum(*parts: jax.Array) -> jax.Array:
  """sum_g parts[g] broadcast along the other grid dimensions: (O, N_g) each
  -> (O, N_0, ..., N_{d-1})."""
  num_dims = len(parts)
  return sum(jnp.expand_dims(part, [1 + h for h in range(num_dims) if h != g])
             for g, part in enumerate(parts))


def _outer_sum_fwd(*parts):
  return outer_sum(*parts), None


def _outer_sum_bwd(_, cotangent):
  """Each part's cotangent sums the output's over the other grid
  dimensions. The optimization barrier keeps XLA's CPU backend (jaxlib
  0.10) from fusing these sums into the matmuls that read them, a fusion
  that crashes it (SIGSEGV) at 256 x 16 x 16."""
  num_dims = cotangent.ndim - 1
  return jax.lax.optimization_barrier(tuple(
      jnp.sum(cotangent, axis=tuple(1 + h for h in range(num_dims) if h != g))
      for g in range(num_dims)))


outer_sum.defvjp(_outer_sum_fwd, _outer_sum_bwd)


def grid_dense(kernel: jax.Array, bias: jax.Array, h: GridFeatures,
               precision: str) -> jax.Array:
  """dense on GridFeatures: kernel^T (sum_g tables[g]) + bias on every point
  of the grid, (O, P) in C order. Equal to dense on the assembled (I, P)
  features up to rounding; the matmuls cost I O sum_g N_g instead of I O P.
  """
  zero = jnp.zeros_like(bias)
  parts = [dense(kernel, zero, table, precision) for table in h.tables]
  return outer_sum(*parts).reshape(kernel.shape[1], -1) + bias[:, None]


class Dense(nn.Module):
  """flax.linen.Dense's parameters, applied to feature-major (I, P) inputs
  or to GridFeatures."""
  units: int  # O, the number of outputs
  kernel_init: Callable = nn.initializers.lecun_normal()  # for (I, O)
  bias_init: Callable = nn.initializers.zeros_init()  # for (O,)
  matmul_precision: str = 'float32'  # one of MATMUL_PRECISIONS

  @nn.compact
  def __call__(self, h):
    grid = isinstance(h, GridFeatures)
    num_inputs = h.tables[0].shape[0] if grid else h.shape[0]
    kernel = self.param('kernel', self.kernel_init, (num_inputs, self.units))
    bias = self.param('bias', self.bias_init, (self.units,))
    if grid:
      return grid_dense(kernel, bias, h, self.matmul_precision)
    return dense(kernel, bias, h, self.matmul_precision)


def feature_major_call(layers: Callable, x: jax.Array,
                       feature_major: bool) -> jax.Array:
  """Runs `layers` ((F, P) -> (C, P)) on x, laid out as the caller has it.

  x is (F, P) when feature_major, else (..., F) and the result (..., C).
  """
  if feature_major:
    return layers(x)
  out = layers(x.reshape(-1, x.shape[-1]).T)
  return out.T.reshape(*x.shape[:-1], out.shape[0])


class MLP(nn.Module):
  """The paper's MLP: (..., F) features -> (..., out_dim) colours.

  With feature_major=True: (F, P) -> (out_dim, P), or GridFeatures of P
  points -> (out_dim, P).
  """
  depth: int = 4  # number of Dense layers, the output layer included
  width: int = 256  # units of each hidden layer
  activation: str = 'relu'  # hidden activation, a key of ACTIVATIONS
  output_activation: str = 'sigmoid'  # maps the output to (0, 1)
  out_dim: int = 3  # RGB
  matmul_precision: str = 'float32'  # one of MATMUL_PRECISIONS

  @nn.compact
  def __call__(self, x, feature_major: bool = False):
    # Named like nn.Dense's automatic names, so parameter trees (checkpoints,
    # exports) are those of a plain stack of nn.Dense layers.
    layer = lambda index, units: Dense(
        units, kernel_init=nn.initializers.glorot_normal(),
        bias_init=nn.initializers.normal(stddev=1e-2),
        matmul_precision=self.matmul_precision, name=f'Dense_{index}')

    def layers(h):
      for index in range(self.depth - 1):
        h = ACTIVATIONS[self.activation](layer(index, self.width)(h))
      return ACTIVATIONS[self.output_activation](
          layer(self.depth - 1, self.out_dim)(h))

    return feature_major_call(layers, x, feature_major)


def pyramid_widths(num_inputs: int, out_dim: int = 3) -> list[int]:
  """Layer widths of the seed's pyramid MLP for n = num_inputs features."""
  num_halvings = math.ceil(math.log2(num_inputs)) if num_inputs > 1 else 1
  return [num_inputs] + [max(out_dim, num_inputs // 2**i)
                         for i in range(num_halvings)]


class PyramidMLP(nn.Module):
  """The seed's pyramid MLP: (..., n) features -> (..., 3), ReLU throughout.

  With feature_major=True: (n, P) -> (3, P).
  """
  out_dim: int = 3  # RGB; also the floor on every layer's width
  matmul_precision: str = 'float32'  # one of MATMUL_PRECISIONS

  @nn.compact
  def __call__(self, x, feature_major: bool = False):
    num_inputs = x.shape[0] if feature_major else x.shape[-1]

    def layers(h):
      for index, units in enumerate(pyramid_widths(num_inputs, self.out_dim)):
        h = nn.relu(Dense(units, kernel_init=nn.initializers.glorot_uniform(),
                          matmul_precision=self.matmul_precision,
                          name=f'Dense_{index}')(h))
      return h

    return feature_major_call(layers, x, feature_major)


def tensorfloat32_unsupported(device) -> str | None:
  """Why `device` cannot run TF32 matmuls, or None if it can.

  TF32 tensor cores exist on NVIDIA GPUs from Ampere on (CUDA compute
  capability 8.0); XLA fails to compile a TF32 dot elsewhere (CPU, older
  NVIDIA GPUs, ROCm, whose capabilities read like 'gfx90a').
  """
  capability = str(getattr(device, 'compute_capability', ''))
  major = capability.split('.')[0]
  if device.platform != 'gpu' or not major.isdigit():
    return f'this run is on {device.platform} ({device.device_kind})'
  if int(major) < 8:
    return (f'this run is on {device.device_kind} (compute capability '
            f'{capability})')
  return None


# The fields of the `model` block each network reads.
MODEL_FIELDS = {
    'mlp': ('name', 'depth', 'width', 'activation', 'output_activation',
            'matmul_precision'),
    'pyramid': ('name', 'matmul_precision'),
}


def _check_name(config: ml_collections.ConfigDict):
  """Raises CppnError for a model.name that is neither here nor a family."""
  from cppn import families  # pylint: disable=g-import-not-at-top
  if config.name not in MODELS + families.NAMES:
    raise CppnError(f'unknown model.name {config.name!r}; choose one of: '
                    + ', '.join(MODELS + families.NAMES))


def reads(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The `model` fields the chosen network reads (cppn/families for the
  families beside mlp and pyramid)."""
  from cppn import families  # pylint: disable=g-import-not-at-top
  _check_name(config)
  if config.name in families.FAMILIES:
    return ('name',) + families.FAMILIES[config.name].reads
  return MODEL_FIELDS[config.name]


def validate_model_config(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of the `model` block."""
  from cppn import families  # pylint: disable=g-import-not-at-top
  _check_name(config)
  if config.matmul_precision not in MATMUL_PRECISIONS:
    raise CppnError(f'unknown model.matmul_precision '
                    f'{config.matmul_precision!r}; choose one of: '
                    + ', '.join(MATMUL_PRECISIONS))
  if config.matmul_precision == 'tensorfloat32':
    missing = tensorfloat32_unsupported(jax.devices()[0])
    if missing:
      raise CppnError(f"model.matmul_precision='tensorfloat32' needs an "
                      f"NVIDIA GPU of compute capability >= 8.0; {missing} "
                      "(use 'float32' or 'bfloat16')")
  if config.name in families.FAMILIES:
    families.validate(config)
  if config.name == 'mlp':
    if config.depth < 1:
      raise CppnError(f'model.depth must be >= 1, got {config.depth}')
    if config.width < 1:
      raise CppnError(f'model.width must be >= 1, got {config.width}')
    for field in ('activation', 'output_activation'):
      if config[field] not in ACTIVATIONS:
        raise CppnError(f'unknown model.{field} {config[field]!r}; choose one '
                        'of: ' + ', '.join(ACTIVATIONS))


def make_model(config: ml_collections.ConfigDict,
               out_dim: int = 3) -> nn.Module:
  """The Flax module named by the `model` config block, with out_dim
  outputs per point (the task's: 3 for RGB, 1 for a grey image or volume)."""
  from cppn import families  # pylint: disable=g-import-not-at-top
  validate_model_config(config)
  if config.name in families.FAMILIES:
    return families.make(config, out_dim)
  if config.name == 'pyramid':
    return PyramidMLP(out_dim=out_dim,
                      matmul_precision=config.matmul_precision)
  return MLP(depth=config.depth, width=config.width,
             activation=config.activation,
             output_activation=config.output_activation, out_dim=out_dim,
             matmul_precision=config.matmul_precision)


def count_params(params) -> int:
  """Number of scalars in a parameter pytree."""
  return sum(int(x.size) for x in jax.tree_util.tree_leaves(params))
