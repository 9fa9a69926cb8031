"""Trainable grids: the multiresolution hash encoding and a dense grid.

  hashgrid  Instant-NGP (Mueller et al. 2022) as tiny-cuda-nn computes it:
            `num_levels` grids of rising resolution, each a table of
            `features_per_level` trained features per entry, d-linearly
            interpolated at x in [0, 1]^d and concatenated level-major
            (feature l F + f), then tiny-cuda-nn's fully fused MLP (ReLU,
            no biases, linear output)
  grid      a dense grid of colours (out_dim per vertex), d-linearly
            interpolated (align-corners: vertices at 0 and 1, border
            clamp), no network: the "Grids Often Outperform INRs" baseline

Levels (`level_plan`, tiny-cuda-nn's float32 arithmetic): level l scales x
by s_l = 2^(l log2 b) N_min - 1 and has res_l = ceil(s_l) + 1 vertices per
axis (b = growth_factor, N_min = base_resolution); its position is p = s_l x
+ 1/2, cell floor(p), weights from p - floor(p). A level stores
min(roundup8(res_l^d), T) entries (T = table_size); it is dense (index
sum_i cell_i res_l^i, first axis fastest) when res_l^d entries fit, else
hashed (xor_i cell_i pi_i in uint32 arithmetic, tiny-cuda-nn's coherent
primes pi), each index taken modulo the level's entry count.

The levels' tables are one trained parameter `table` (total entries, F),
level l from its offset, as tiny-cuda-nn lays them out; entries start at
U(+-1e-4). All corners of all levels are one gather in the forward pass,
and one scatter-add into `table` in the backward pass.
"""

import dataclasses
import math

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from cppn import models
from cppn.families import layers

# tiny-cuda-nn's "CoherentPrime" hash factors, one per input dimension.
COHERENT_PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037,
                   1434869437, 2165219737)
TABLE_INIT = 1e-4  # table entries start at U(-1e-4, 1e-4)
MLP_PADDING = 16  # tiny-cuda-nn pads MLP inputs and outputs to multiples


@dataclasses.dataclass(frozen=True)
class Level:
  """One level of a hash grid."""
  scale: float  # s_l: position p = s_l x + 1/2
  resolution: int  # res_l, vertices per axis
  entries: int  # table entries stored for the level
  dense: bool  # direct index (else hashed)
  offset: int  # first entry of the level in the shared table


def level_plan(dim: int, num_levels: int, table_size: int,
               base_resolution: int, growth_factor: float) -> tuple[Level, ...]:
  """The levels of a hash grid, with tiny-cuda-nn's float32 scale formula."""
  log2_growth = np.float32(math.log2(growth_factor))
  plan, offset = [], 0
  for level in range(num_levels):
    scale = (np.exp2(np.float32(level) * log2_growth, dtype=np.float32)
             * np.float32(base_resolution) - np.float32(1))
    resolution = int(np.ceil(scale)) + 1
    vertices = resolution**dim
    entries = min(-(-min(vertices, 2**31 - 1) // 8) * 8, table_size)
    plan.append(Level(float(scale), resolution, entries, vertices <= entries,
                      offset))
    offset += entries
  return tuple(plan)


def corners(cell, frac):
  """The 2^d corners of the cells around points, and their weights.

  Args:
    cell: (d, P) uint32, each point's lower cell corner.
    frac: (d, P) float32 in [0, 1), the position within the cell.

  Returns:
    (2^d, d, P) uint32 corner cells (corner c steps +1 along axis i when bit
    i of c is set) and (2^d, P) d-linear weights prod_i (frac_i if stepped
    else 1 - frac_i).
  """
  dim = cell.shape[0]
  steps = (np.arange(2**dim)[:, None] >> np.arange(dim)[None, :]) & 1
  corner_cells = cell[None] + jnp.asarray(steps, jnp.uint32)[:, :, None]
  weights = jnp.prod(jnp.where(steps[:, :, None] == 1, frac[None],
                               1 - frac[None]), axis=1)
  return corner_cells, weights


def dense_index(corner_cells, resolution: int):
  """sum_i cell_i resolution^i, first axis fastest, uint32: (..., d, P) -> (..., P)."""
  dim = corner_cells.shape[-2]
  strides = np.array([resolution**i for i in range(dim)], np.uint64)
  strides = jnp.asarray(strides.astype(np.uint32))  # wraps like uint32
  return jnp.sum(corner_cells * strides[:, None], axis=-2, dtype=jnp.uint32)


def hash_index(corner_cells):
  """xor_i cell_i pi_i with uint32 wrap-around: (..., d, P) -> (..., P)."""
  dim = corner_cells.shape[-2]
  primes = jnp.asarray(COHERENT_PRIMES[:dim], jnp.uint32)
  products = corner_cells * primes[:, None]
  index = products[..., 0, :]
  for axis in range(1, dim):
    index = index ^ products[..., axis, :]
  return index


def level_lookup(x, level: Level):
  """Table rows and weights of one level at x: (d, P) -> (2^d, P) int32 rows
  (offset included), (2^d, P) weights."""
  position = level.scale * x + 0.5
  floor = jnp.floor(position)
  corner_cells, weights = corners(floor.astype(jnp.int32).astype(jnp.uint32),
                                  position - floor)
  index = (dense_index(corner_cells, level.resolution) if level.dense
           else hash_index(corner_cells))
  rows = (index % jnp.uint32(level.entries)).astype(jnp.int32) + level.offset
  return rows, weights


def hash_features(table, x, plan: tuple[Level, ...]):
  """The hash encoding: (E, F) table, (d, P) x in [0, 1] -> (L F, P)."""
  rows, weights = zip(*(level_lookup(x, level) for level in plan))
  rows, weights = jnp.stack(rows), jnp.stack(weights)  # (L, 2^d, P)
  gathered = table[rows]  # (L, 2^d, P, F)
  features = jnp.einsum('lcp,lcpf->lfp', weights, gathered)
  return features.reshape(-1, x.shape[1])


def padded(width: int) -> int:
  """A width rounded up to a multiple of MLP_PADDING."""
  return -(-width // MLP_PADDING) * MLP_PADDING


class BiasFreeDense(nn.Module):
  """tiny-cuda-nn's layer: kernel^T h, no bias, Xavier-uniform on the
  padded shape, U(+-sqrt(6 / (padded fan_in + padded fan_out)))."""
  units: int
  matmul_precision: str = 'float32'

  @nn.compact
  def __call__(self, h):
    bound = math.sqrt(6 / (padded(h.shape[0]) + padded(self.units)))
    kernel = self.param('kernel', layers.uniform(bound),
                        (h.shape[0], self.units))
    return models.dense(kernel, jnp.zeros((self.units,), jnp.float32), h,
                        self.matmul_precision)


class HashGrid(nn.Module):
  """(..., d) coordinates in [0, 1) -> (..., out_dim) colours.

  With feature_major=True: (d, P) -> (out_dim, P).
  """
  num_levels: int = 16  # L
  features_per_level: int = 2  # F
  table_size: int = 2**15  # T, entries per hashed level (a power of two)
  base_resolution: int = 16  # N_min
  growth_factor: float = 1.5  # b, the per-level scale
  depth: int = 3  # MLP layers, the linear output included
  width: int = 64  # MLP hidden units
  out_dim: int = 3
  matmul_precision: str = 'float32'

  @nn.compact
  def __call__(self, x, feature_major: bool = False):
    dim = x.shape[0] if feature_major else x.shape[-1]
    plan = level_plan(dim, self.num_levels, self.table_size,
                      self.base_resolution, self.growth_factor)
    table = self.param('table', layers.uniform(TABLE_INIT),
                       (plan[-1].offset + plan[-1].entries,
                        self.features_per_level))

    def net(coords):
      h = hash_features(table, coords, plan)
      for index in range(self.depth - 1):
        h = nn.relu(BiasFreeDense(self.width, self.matmul_precision,
                                  name=f'Dense_{index}')(h))
      return BiasFreeDense(self.out_dim, self.matmul_precision,
                           name=f'Dense_{self.depth - 1}')(h)

    return models.feature_major_call(net, x, feature_major)


def grid_lookup(x, resolution: int):
  """Rows and weights of a dense align-corners grid at x: (d, P) in [0, 1]
  -> (2^d, P) int32 rows, (2^d, P) weights; positions clamped to the
  border."""
  position = jnp.clip(x * (resolution - 1), 0, resolution - 1)
  cell = jnp.minimum(jnp.floor(position), resolution - 2)
  corner_cells, weights = corners(cell.astype(jnp.uint32), position - cell)
  return dense_index(corner_cells, resolution).astype(jnp.int32), weights


class Grid(nn.Module):
  """(..., d) coordinates in [0, 1) -> (..., out_dim) colours, no network.

  With feature_major=True: (d, P) -> (out_dim, P).
  """
  grid_resolution: int = 316  # vertices per axis (>= 2)
  out_dim: int = 3
  initial_value: float = 0.1  # every vertex starts at this colour

  @nn.compact
  def __call__(self, x, feature_major: bool = False):
    dim = x.shape[0] if feature_major else x.shape[-1]
    values = self.param('values', nn.initializers.constant(self.initial_value),
                        (self.grid_resolution**dim, self.out_dim))

    def net(coords):
      rows, weights = grid_lookup(coords, self.grid_resolution)
      return jnp.einsum('cp,cpo->op', weights, values[rows])

    return models.feature_major_call(net, x, feature_major)
