"""Training speed of each coordinate-network family (benchmark.py's rows).

For each family (configs/<family>.py, its published size) on the paper
split of an N x N image (N^2 / 4 training pixels): steps/s of the compiled
training call (train.build_fit, fit.train), in rounds each between two
burst matmul timings (benchmark.timed_rounds), and

  matmul GFLOP/s   6 x the multiply-adds of its matmuls per pixel (a
                   complex kernel's real and imaginary parts each enter two
                   real matmuls) x pixels x steps/s, and its fraction of the
                   burst fp32 matmul rate: near 1 only for a matmul-bound
                   family
  grid GB/s        hash grid and dense grid: bytes its lookups move per
                   step (the forward gather of L 2^d F floats per pixel,
                   the backward scatter-add reading and writing as many),
                   against the machine's copy bandwidth (a jitted a + 1 over
                   256 MiB: read and write)
  lookup share     hash grid and dense grid: seconds of the lookup's
                   forward and backward alone (its gradient with respect to
                   the table, i.e. the scatter-add) over seconds of a whole
                   step
"""

import time

import jax
import jax.numpy as jnp

COPY_BYTES = 256 * 2**20


def copy_gbytes_per_second(repeats: int = 5) -> float:
  """Best rate of a jitted a + 1 over COPY_BYTES of float32 (read + write)."""
  a = jnp.zeros(COPY_BYTES // 4, jnp.float32)
  add = jax.jit(lambda x: x + 1)
  add(a).block_until_ready()
  best = float('inf')
  for _ in range(repeats):
    tic = time.perf_counter()
    add(a).block_until_ready()
    best = min(best, time.perf_counter() - tic)
  return 2 * COPY_BYTES / best / 1e9


def matmul_flops_per_pixel(params) -> int:
  """6 x the multiply-adds of a network's matmuls per pixel per step."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  macs = 0
  for path, leaf in flat:
    name = str(path[-1].key)
    if name == 'kernel':
      macs += leaf.size
    elif name in ('kernel_re', 'kernel_im'):
      macs += 2 * leaf.size
  return 6 * macs


def lookup_bytes_per_pixel(config, dim: int = 2) -> int:
  """Bytes a grid family's lookups move per pixel per step (0 otherwise):
  gather 4 L 2^d F, scatter-add twice that."""
  if config.model.name == 'hashgrid':
    floats = (config.model.num_levels * 2**dim
              * config.model.features_per_level)
  elif config.model.name == 'grid':
    floats = 2**dim * 3
  else:
    return 0
  return 3 * 4 * floats


def lookup_seconds(fit, repeats: int = 5) -> float:
  """Best seconds of the grid lookup's forward and table gradient alone on
  the fit's training coordinates."""
  from cppn.families import grids  # pylint: disable=g-import-not-at-top
  model = fit.config.model
  coords = jnp.asarray(fit.dataset.train_coords.T)
  if model.name == 'hashgrid':
    plan = grids.level_plan(2, model.num_levels, model.table_size,
                            model.base_resolution, model.growth_factor)
    table = fit.state.params['table']
    lookup = lambda t: grids.hash_features(t, coords, plan)
  else:
    table = fit.state.params['values']

    def lookup(t):
      rows, weights = grids.grid_lookup(coords, model.grid_resolution)
      return jnp.einsum('cp,cpo->op', weights, t[rows])

  cotangent = jnp.ones_like(jax.eval_shape(lookup, table))
  grad = jax.jit(jax.grad(lambda t: jnp.sum(lookup(t) * cotangent)))
  grad(table).block_until_ready()
  best = float('inf')
  for _ in range(repeats):
    tic = time.perf_counter()
    grad(table).block_until_ready()
    best = min(best, time.perf_counter() - tic)
  return best


def family_row(name: str, size: int, num_rounds: int, round_seconds: float):
  """One family's measurement at N = size (see the module docstring)."""
  # Imported here: benchmark imports this module.
  import importlib  # pylint: disable=g-import-not-at-top
  from cppn import models  # pylint: disable=g-import-not-at-top
  from cppn import train  # pylint: disable=g-import-not-at-top
  from experiments import benchmark  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.{name}').get_config()
  config.data.resolution = size
  fit = train.build_fit(config)
  fit.train(1)  # compiles the one-step call
  tic = time.perf_counter()
  fit.train(1)
  num_steps = max(1, round(round_seconds / (time.perf_counter() - tic)))
  fit.train(num_steps)  # compiles the round's call

  def run_round():
    tic = time.perf_counter()
    fit.train(num_steps)
    return num_steps / (time.perf_counter() - tic)

  rounds = benchmark.timed_rounds(run_round, num_rounds)
  pixels = fit.dataset.train_coords.shape[0]
  flops = matmul_flops_per_pixel(fit.state.params)
  rates = rounds['steps_per_second']
  row = {
      'family': name, 'size': size, 'train_pixels': pixels,
      'params': models.count_params(fit.state.params),
      'steps_per_round': num_steps,
      'steps_per_second': benchmark.median(rates),
      'matmul_flops_per_pixel': flops,
      'matmul_gflops': benchmark.median(rounds['matmul_gflops']),
      'fraction_of_matmul': benchmark.median(
          [r * pixels * flops / 1e9 / m
           for r, m in zip(rates, rounds['matmul_gflops'])]),
  }
  lookup_bytes = lookup_bytes_per_pixel(config)
  if lookup_bytes:
    step_seconds = 1 / row['steps_per_second']
    row.update(lookup_gbytes_per_second=(lookup_bytes * pixels
                                         * row['steps_per_second'] / 1e9),
               copy_gbytes_per_second=copy_gbytes_per_second(),
               lookup_share_of_step=lookup_seconds(fit) / step_seconds)
  return row


def markdown(rows) -> list[str]:
  """The families' table, as markdown lines."""
  lines = ['| family | image | params | steps/s | matmul GFLOP/s | of burst '
           'matmul | lookup GB/s | of copy bandwidth | lookup share of step |',
           '|---' * 9 + '|']
  for r in rows:
    gflops = r['steps_per_second'] * r['train_pixels'] * r[
        'matmul_flops_per_pixel'] / 1e9
    lookup = ('-', '-', '-')
    if 'lookup_gbytes_per_second' in r:
      lookup = (f"{r['lookup_gbytes_per_second']:.1f}",
                f"{r['lookup_gbytes_per_second'] / r['copy_gbytes_per_second']:.0%}",
                f"{r['lookup_share_of_step']:.0%}")
    lines.append(f"| {r['family']} | {r['size']} px | {r['params']:,} | "
                 f"{r['steps_per_second']:.2f} | {gflops:.1f} | "
                 f"{r['fraction_of_matmul']:.0%} | " + ' | '.join(lookup)
                 + ' |')
  return lines


def measure(names, size: int, num_rounds: int, round_seconds: float):
  """family_row for every family name, printed as it goes."""
  rows = []
  for name in names:
    rows.append(family_row(name, size, num_rounds, round_seconds))
    print({k: (round(v, 3) if isinstance(v, float) else v)
           for k, v in rows[-1].items()}, flush=True)
  return rows

