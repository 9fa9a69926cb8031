"""Coordinate-network families beside the paper's mlp, chosen by model.name.

  siren, finer, gauss    activation MLPs (families/periodic.py)
  wire, wire2d           complex Gabor wavelets (families/wire.py)
  fourier_net, gabor_net multiplicative filter networks (families/mfn.py)
  hashgrid, grid         trainable grids (families/grids.py)
  c2f, lff               BARF's coarse-to-fine window, learned Fourier
                         features (families/fourier.py)

Every family takes raw coordinates (encoding 'none': v in [0, 1)^d, any d)
and returns colours in [0, 1]; its own coordinate and target conventions
stay inside it. Its trainable encodings (hash tables, grids, B) are
parameters of the model, so they live in the TrainState: checkpoints,
resume, groups, export and render need nothing else. Each family reads only
its fields of the `model` block (FAMILIES[name].reads); configs/<name>.py
holds its published settings.

  FAMILIES   name -> Family (fields read, the module it builds, the field a
             parameter budget solves)
  validate   raises CppnError naming the first bad field
  make       the Flax module of a `model` block
  check_encoding  families take coordinates: encoding.name must be 'none'
"""

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import ml_collections

from cppn import models
from cppn.errors import CppnError
from cppn.families import fourier
from cppn.families import grids
from cppn.families import mfn
from cppn.families import periodic
from cppn.families import wire


@dataclasses.dataclass(frozen=True)
class Family:
  """One family: what it reads and builds.

  reads: the `model` fields it reads besides `name`.
  build: (model block, out_dim) -> its Flax module.
  size_field: the field a parameter budget solves for (budget.py).
  min_depth: the fewest Dense layers it can have.
  """
  reads: tuple[str, ...]
  build: Callable[[ml_collections.ConfigDict, int], nn.Module]
  size_field: str
  min_depth: int = 1


def _fields(config, names):
  return {name: config[name] for name in names}


def _periodic(activation, names):
  return lambda c, out_dim: periodic.PeriodicNet(
      activation, out_dim=out_dim, **_fields(c, names))


def _wire(two_d, names):
  return lambda c, out_dim: wire.Wire(two_d=two_d, out_dim=out_dim,
                                      **_fields(c, names))


def _mfn(gabor, names):
  return lambda c, out_dim: mfn.MFN(gabor, out_dim=out_dim,
                                    **_fields(c, names))


_NET = ('depth', 'width', 'matmul_precision')
_OMEGAS = ('omega_first', 'omega_hidden')
_SIREN = _NET + _OMEGAS
_FINER = _SIREN + ('first_bias_scale',)
_GAUSS = _NET + ('gaussian_scale',)
_WIRE = _SIREN + ('gaussian_scale',)
_FOURIER_NET = _NET + ('input_scale', 'weight_scale')
_GABOR_NET = _FOURIER_NET + ('gabor_alpha', 'gabor_beta')
_HASHGRID = _NET + ('num_levels', 'features_per_level', 'table_size',
                    'base_resolution', 'growth_factor')
_GRID = ('grid_resolution',)
_C2F = _NET + ('num_bands', 'c2f_start', 'c2f_end')
_LFF = _NET + ('activation', 'output_activation', 'num_fourier_features',
               'fourier_sigma')

FAMILIES = {
    'siren': Family(_SIREN, _periodic('siren', _SIREN), 'width', 2),
    'finer': Family(_FINER, _periodic('finer', _FINER), 'width', 2),
    'gauss': Family(_GAUSS, _periodic('gauss', _GAUSS), 'width', 2),
    'wire': Family(_WIRE, _wire(False, _WIRE), 'width', 2),
    'wire2d': Family(_WIRE, _wire(True, _WIRE), 'width', 2),
    'fourier_net': Family(_FOURIER_NET, _mfn(False, _FOURIER_NET), 'width'),
    'gabor_net': Family(_GABOR_NET, _mfn(True, _GABOR_NET), 'width'),
    'hashgrid': Family(_HASHGRID, lambda c, out_dim: grids.HashGrid(
        out_dim=out_dim, **_fields(c, _HASHGRID)), 'table_size'),
    'grid': Family(_GRID, lambda c, out_dim: grids.Grid(
        out_dim=out_dim, **_fields(c, _GRID)), 'grid_resolution'),
    'c2f': Family(_C2F, lambda c, out_dim: fourier.CoarseToFine(
        out_dim=out_dim, **_fields(c, _C2F)), 'width'),
    'lff': Family(_LFF, lambda c, out_dim: fourier.LearnedFourier(
        out_dim=out_dim, **_fields(c, _LFF)), 'width'),
}
NAMES = tuple(FAMILIES)


def _power_of_two(value) -> bool:
  return isinstance(value, int) and value >= 1 and value & (value - 1) == 0


# field -> (test, rule) for every field a family may read (depth: Family).
FIELD_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    'width': (lambda v: v >= 1, 'must be >= 1'),
    'matmul_precision': (lambda v: True, ''),  # checked by models
    'omega_first': (lambda v: v > 0, 'must be > 0'),
    'omega_hidden': (lambda v: v > 0, 'must be > 0'),
    'first_bias_scale': (lambda v: v >= 0,
                         'must be >= 0 (0: PyTorch default bias)'),
    'gaussian_scale': (lambda v: v > 0, 'must be > 0'),
    'input_scale': (lambda v: v > 0, 'must be > 0'),
    'weight_scale': (lambda v: v > 0, 'must be > 0'),
    'gabor_alpha': (lambda v: v > 0, 'must be > 0'),
    'gabor_beta': (lambda v: v > 0, 'must be > 0'),
    'num_levels': (lambda v: v >= 1, 'must be >= 1'),
    'features_per_level': (lambda v: v >= 1, 'must be >= 1'),
    'table_size': (_power_of_two, 'must be a power of two'),
    'base_resolution': (lambda v: v >= 2, 'must be >= 2'),
    'growth_factor': (lambda v: v >= 1, 'must be >= 1'),
    'grid_resolution': (lambda v: v >= 2, 'must be >= 2'),
    'num_bands': (lambda v: v >= 1, 'must be >= 1'),
    'c2f_start': (lambda v: 0 <= v < 1, 'must be in [0, 1)'),
    'c2f_end': (lambda v: 0 < v <= 1, 'must be in (0, 1]'),
    'num_fourier_features': (lambda v: v >= 1, 'must be >= 1'),
    'fourier_sigma': (lambda v: v > 0, 'must be > 0'),
    'activation': (lambda v: v in models.ACTIVATIONS,
                   'must be one of: ' + ', '.join(models.ACTIVATIONS)),
    'output_activation': (lambda v: v in models.ACTIVATIONS,
                          'must be one of: ' + ', '.join(models.ACTIVATIONS)),
}


def validate(config: ml_collections.ConfigDict):
  """Raises CppnError naming the first bad field of a family's `model` block."""
  family = FAMILIES[config.name]
  for field in family.reads:
    if field == 'depth':
      test, rule = (lambda v: v >= family.min_depth,
                    f'must be >= {family.min_depth} for {config.name}')
    else:
      test, rule = FIELD_RULES[field]
    if not test(config[field]):
      raise CppnError(f'model.{field} {rule}, got {config[field]!r}')
  if 'c2f_end' in family.reads and config.c2f_end <= config.c2f_start:
    raise CppnError(f'model.c2f_end must be > model.c2f_start '
                    f'({config.c2f_start}), got {config.c2f_end}')


def make(config: ml_collections.ConfigDict, out_dim: int = 3) -> nn.Module:
  """The Flax module of a family's `model` block (validated)."""
  validate(config)
  return FAMILIES[config.name].build(config, out_dim)


def takes_progress(config: ml_collections.ConfigDict) -> bool:
  """Whether the model's apply takes `progress` (training fraction done)."""
  return config.name == 'c2f'


def check_encoding(config: ml_collections.ConfigDict):
  """Raises CppnError when a family is given encoded features: families
  take coordinates (encoding 'none') and encode inside."""
  if config.model.name in FAMILIES and config.encoding.name != 'none':
    raise CppnError(f"model {config.model.name} takes raw coordinates; set "
                    f"encoding.name='none' (got {config.encoding.name!r})")
