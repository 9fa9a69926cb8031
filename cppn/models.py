"""Coordinate MLPs (Flax Linen): encoded features -> RGB.

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
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from cppn.errors import CppnError

MODELS = ('mlp', 'pyramid')
ACTIVATIONS = {
    'relu': nn.relu,
    'gelu': nn.gelu,
    'tanh': jnp.tanh,
    'softplus': nn.softplus,
    'sigmoid': nn.sigmoid,
    'identity': lambda x: x,
}


class MLP(nn.Module):
  """The paper's MLP: (..., F) features -> (..., out_dim) colours."""
  depth: int = 4  # number of Dense layers, the output layer included
  width: int = 256  # units of each hidden layer
  activation: str = 'relu'  # hidden activation, a key of ACTIVATIONS
  output_activation: str = 'sigmoid'  # maps the output to (0, 1)
  out_dim: int = 3  # RGB

  @nn.compact
  def __call__(self, x):
    dense = lambda units: nn.Dense(
        units, kernel_init=nn.initializers.glorot_normal(),
        bias_init=nn.initializers.normal(stddev=1e-2))
    for _ in range(self.depth - 1):
      x = ACTIVATIONS[self.activation](dense(self.width)(x))
    return ACTIVATIONS[self.output_activation](dense(self.out_dim)(x))


def pyramid_widths(num_inputs: int, out_dim: int = 3) -> list[int]:
  """Layer widths of the seed's pyramid MLP for n = num_inputs features."""
  num_halvings = math.ceil(math.log2(num_inputs)) if num_inputs > 1 else 1
  return [num_inputs] + [max(out_dim, num_inputs // 2**i)
                         for i in range(num_halvings)]


class PyramidMLP(nn.Module):
  """The seed's pyramid MLP: (..., n) features -> (..., 3), ReLU throughout."""
  out_dim: int = 3  # RGB; also the floor on every layer's width

  @nn.compact
  def __call__(self, x):
    for units in pyramid_widths(x.shape[-1], self.out_dim):
      x = nn.relu(nn.Dense(
          units, kernel_init=nn.initializers.glorot_uniform())(x))
    return x


def validate_model_config(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of the `model` block."""
  if config.name not in MODELS:
    raise CppnError(f'unknown model.name {config.name!r}; choose one of: '
                    + ', '.join(MODELS))
  if config.name == 'mlp':
    if config.depth < 1:
      raise CppnError(f'model.depth must be >= 1, got {config.depth}')
    if config.width < 1:
      raise CppnError(f'model.width must be >= 1, got {config.width}')
    for field in ('activation', 'output_activation'):
      if config[field] not in ACTIVATIONS:
        raise CppnError(f'unknown model.{field} {config[field]!r}; choose one '
                        'of: ' + ', '.join(ACTIVATIONS))


def make_model(config: ml_collections.ConfigDict) -> nn.Module:
  """The Flax module named by the `model` config block."""
  validate_model_config(config)
  if config.name == 'pyramid':
    return PyramidMLP()
  return MLP(depth=config.depth, width=config.width,
             activation=config.activation,
             output_activation=config.output_activation)


def count_params(params) -> int:
  """Number of scalars in a parameter pytree."""
  return sum(int(x.size) for x in jax.tree_util.tree_leaves(params))
