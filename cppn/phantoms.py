"""Perturbed Shepp-Logan phantoms, the paper's CT and MRI test signals.

The Fourier-features paper's CT and MRI notebooks draw phantoms from
phantominator's modified Shepp-Logan parameters (2D: 10 ellipses x [grey,
semi-axes a, b, centre x, y, angle]; 3D: 10 ellipsoids x [grey, 3 semi-axes,
3 centres, angle]) with every entry perturbed by N(0, perturbation^2),
rendered on [-1, 1]^d and clipped to [0, 1]. Phantom K's noise is drawn as
the notebooks draw their K-th sample: from the subkey of the (K+1)-th
`key, subkey = jax.random.split(key)` starting at PRNGKey(10) (their exact
2020 bits are not reproducible: JAX's threefry default changed since).
phantominator renders them: it is the package the notebooks used.

A phantom source is 'shepp:K' (data.image of the ct and mri tasks), K >= 0.
"""

import re

import jax
import numpy as np
import phantominator

from cppn.errors import CppnError

PHANTOM_KEY = 10  # the notebooks' base PRNG key
# The notebooks' 3D phantoms span z in [-0.25, 0.25] of the ellipsoids' frame.
Z_LIMITS = (-0.25, 0.25)
_SOURCE = re.compile(r'shepp:(?P<index>\d+)')


def phantom_index(source: str) -> int | None:
  """K of a 'shepp:K' source, or None for any other source."""
  match = _SOURCE.fullmatch(source)
  if match is None:
    if source.startswith('shepp'):
      raise CppnError(f"bad phantom source '{source}'; expected shepp:K with "
                      'K a non-negative integer')
    return None
  return int(match['index'])


def perturbed_params(dim: int, index: int, perturbation: float) -> np.ndarray:
  """The modified Shepp-Logan parameters of phantom `index`, each entry plus
  N(0, perturbation^2): (10, 6) for dim 2, (10, 8) for dim 3, float64."""
  params = (phantominator.ct_modified_shepp_logan_params_2d() if dim == 2
            else phantominator.ct_modified_shepp_logan_params_3d())
  key = jax.random.PRNGKey(PHANTOM_KEY)
  for _ in range(index + 1):
    key, subkey = jax.random.split(key)
  noise = np.asarray(jax.random.normal(subkey, params.shape), np.float64)
  return params + perturbation * noise


def shepp_logan(dim: int, resolution: int, index: int,
                perturbation: float) -> np.ndarray:
  """Phantom `index` on an N^d grid: (N, N) or (N, N, N) float32 in [0, 1]."""
  if dim not in (2, 3):
    raise CppnError(f'Shepp-Logan phantoms are 2D or 3D, not {dim}D')
  params = perturbed_params(dim, index, perturbation)
  if dim == 2:
    image = phantominator.ct_shepp_logan(resolution, E=params)
  else:
    image = phantominator.ct_shepp_logan((resolution,) * 3, E=params,
                                         zlims=Z_LIMITS)
  return np.clip(image, 0, 1).astype(np.float32)
