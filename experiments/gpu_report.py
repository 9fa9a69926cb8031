r"""What an accelerator must show, measured by one command within a time budget.

  python -m experiments.gpu_report --workdir=DIR [--budget_seconds=480] \
      [--items=environment,correctness,paper_fit,profile,chunk_size,sweep,table1] \
      [--table1_precisions=tensorfloat32,bfloat16,float32] [--preset=paper]

measures on whatever device JAX sees first (an accelerator, or the CPU) and
writes DIR/gpu_report.json and DIR/gpu_report.md after every item, so a run
cut short keeps what it measured. The items run in this order, the cheapest
and most telling first; one whose predicted time does not fit in what is
left of --budget_seconds is skipped and says so (--items picks a subset,
e.g. the float32 Table 1 rows another time):

  environment  JAX, jaxlib, the device and its memory; the matmul peak at
               float32 (HIGHEST), tensorfloat32 and bfloat16 (models.matmul,
               the network's own arithmetic: chained square matmuls in one
               compiled call) and the memory bandwidth (an elementwise pass)
  correctness  on the device: a small fit, a group of fits (vmapped on an
               accelerator, its member axis sharded over the devices),
               export and a 2x render, and a `cppn.main` run killed
               (SIGKILL) after a checkpoint, then rerun to the end; the fit,
               the group and the render run again on the CPU (a subprocess
               with JAX_PLATFORMS=cpu) and each result is compared with the
               CPU's within TOLERANCES
  paper_fit    one paper-protocol fit (configs/default.py: 512 px, 2000
               steps) through the trainer, against the paper notebooks'
               loop (experiments/reference.py)
  profile      where a step's time goes: XLA's cost analysis of one compiled
               step (FLOPs, bytes) against the measured peak and bandwidth,
               and a jax.profiler trace of a few steps under DIR/profile
  chunk_size   steps/s of the paper fit with train.chunk_size 0, 2048 and
               16384, and what the default (-1, cppn/backend.py) picks
  sweep        64 small fits (64 px, 200 steps, seeds 0-63) as one vmapped
               group against the same fits one after another in this
               process (as many as fit in SEQUENTIAL_SHARE of what is left;
               the rest projected from their mean)
  table1       experiments/table1.py's fits at its preset (paper: 512 px,
               2000 steps), one encoding group at a time, per matmul
               precision: wall seconds, achieved TFLOP/s against the
               measured peak, test PSNR change against float32

and checks GOALS. Presets: paper (the sizes above, for a GPU; the default),
cpu (the same items at sizes a CPU finishes), tiny (seconds, the test's).
"""

import dataclasses
import importlib.metadata
import os
import pathlib
import platform
import subprocess
import time
from typing import Any, Callable

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from cppn import backend
from cppn import cli
from cppn import encodings
from cppn import guards
from cppn import models
from cppn import steps
from cppn import train
from cppn.errors import CppnError
from experiments import benchmark
from experiments import command
from experiments import common
from experiments import device_checks
from experiments import table1

ITEMS = ('environment', 'correctness', 'paper_fit', 'profile', 'chunk_size',
         'sweep', 'table1')
PRECISIONS = ('tensorfloat32', 'bfloat16', 'float32')  # Table 1's order
# Fraction of the peak matmul rate the time predictions assume a fit reaches.
ASSUMED_EFFICIENCY = 0.25
SEQUENTIAL_SHARE = 0.5  # of the time left, for the sweep's one-by-one fits
# The issue's goals on one H100/H200-class chip (benchmark figures).
GOALS = {'table1_tensorfloat32_seconds': 120, 'table1_float32_seconds': 360,
         'sweep_speedup': 10, 'paper_fit_train_seconds': 10}


@dataclasses.dataclass(frozen=True)
class Preset:
  """Sizes of every item."""
  matmul_size: int  # side of the square matmuls timed for the peak
  matmul_chain: int  # matmuls per timed compiled call
  bandwidth_mib: int  # array size of the bandwidth pass
  check_seconds: float  # predicted time of the correctness item
  fit_resolution: int  # paper_fit, profile and chunk_size image side
  fit_steps: int  # paper_fit steps
  chunk_steps: int  # steps per chunk_size timing
  chunk_sizes: tuple[int, ...]
  sweep_members: int
  sweep_resolution: int
  sweep_steps: int
  table1_preset: str  # experiments.table1 preset


PRESETS = {
    'paper': Preset(8192, 10, 1024, 120, 512, 2000, 200, (0, 2048, 16384), 64,
                    64, 200, 'paper'),
    'cpu': Preset(2048, 4, 256, 120, 128, 200, 20, (0, 2048, 16384), 16, 32,
                  50, 'tiny'),
    'tiny': Preset(256, 2, 16, 60, 32, 10, 3, (0, 64, 128), 3, 16, 4, 'tiny'),
}


class Budget:
  """Seconds left of --budget_seconds."""

  def __init__(self, seconds: float):
    self.deadline = time.monotonic() + seconds

  def left(self) -> float:
    return self.deadline - time.monotonic()


def timed(fn: Callable[[], Any], repeats: int = 3) -> float:
  """Best wall seconds of fn() (whose result is blocked on) over repeats,
  after one untimed call (compilation)."""
  jax.block_until_ready(fn())
  best = float('inf')
  for _ in range(repeats):
    tic = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - tic)
  return best


def bandwidth_gbps(mib: int) -> float:
  """GB/s of x * 2 + 1 over a float32 array of `mib` MiB (read and write)."""
  x = jnp.ones(mib * 2**18, jnp.float32)
  scale = jax.jit(lambda x: x * 2 + 1)
  return 2 * x.nbytes / timed(lambda: scale(x)) / 1e9


def environment(preset: Preset) -> dict[str, Any]:
  """Versions, the device, its memory, matmul peaks and bandwidth."""
  device = guards.training_device()
  memory, where = guards.memory_limit(device)
  peaks = {}
  for precision in models.MATMUL_PRECISIONS:
    unsupported = (models.tensorfloat32_unsupported(device)
                   if precision == 'tensorfloat32' else None)
    peaks[precision] = None if unsupported else 1e-3 * (
        benchmark.chained_matmul_gflops(preset.matmul_size,
                                        preset.matmul_chain, precision, 3))
  return {
      'jax': jax.__version__, 'jaxlib': importlib.metadata.version('jaxlib'),
      'python': platform.python_version(), 'backend': jax.default_backend(),
      'device': device.device_kind, 'device_count': jax.device_count(),
      'memory_gib': memory / 2**30, 'memory_of': where,
      'cpu_cores': os.cpu_count(), 'matmul_size': preset.matmul_size,
      'peak_tflops': peaks, 'bandwidth_gbps': bandwidth_gbps(
          preset.bandwidth_mib)}


def fit_flops(config, num_pixels: int) -> float:
  """Training FLOPs of one fit: steps x pixels x flops per pixel."""
  return (config.train.num_steps * num_pixels * benchmark.flops_per_pixel(
      config.model.depth, config.model.width, encodings.width(config.encoding)))


def paper_fit(preset: Preset, workdir: pathlib.Path) -> dict[str, Any]:
  """configs/default.py at the preset's size through the trainer, and the
  reference loop on the same image, each start to finish in this process."""
  config = common.paper_config(preset.fit_resolution, preset.fit_steps,
                               num_evals=preset.fit_steps // 100 or 1)
  tic = time.perf_counter()
  summary = train.train_and_evaluate(config, workdir / 'cppn', progress=False)
  cppn_seconds = time.perf_counter() - tic
  tic = time.perf_counter()
  reference = benchmark.reference_fit(benchmark.astronaut(
      preset.fit_resolution), preset.fit_steps)
  reference_seconds = time.perf_counter() - tic
  return {
      'resolution': preset.fit_resolution, 'steps': preset.fit_steps,
      'cppn': {'wall_seconds': cppn_seconds,
               'train_seconds': (preset.fit_steps
                                 / summary['steps_per_second']),
               'compile_seconds': summary['compile_seconds'],
               'steps_per_second': summary['steps_per_second'],
               'test_psnr': summary['test_psnr'],
               'chunk_size': summary['chunk_size']},
      'reference': {'wall_seconds': reference_seconds,
                    'steps_per_second': reference['steps_per_second'],
                    'test_psnr': reference['test_psnr']}}


def cost_analysis(compiled) -> dict[str, float]:
  """FLOPs and bytes accessed of a compiled call (a dict, or a list of one
  dict in older JAX)."""
  costs = compiled.cost_analysis()
  if isinstance(costs, (list, tuple)):
    costs = costs[0] if costs else {}
  return {'flops': float(costs.get('flops', 0.0)),
          'bytes_accessed': float(costs.get('bytes accessed', 0.0))}


def profile(preset: Preset, workdir: pathlib.Path,
            env: dict[str, Any]) -> dict[str, Any]:
  """One paper-fit step: its measured time against the time its FLOPs take
  at the float32 peak and its bytes at the measured bandwidth, and a
  jax.profiler trace of `chunk_steps` steps (DIR/profile)."""
  config = common.paper_config(preset.fit_resolution, preset.chunk_steps, 1)
  fit = train.build_fit(config)
  compiled = steps.train_steps.lower(
      fit.state, fit.batch, fit.key, num_steps=1, batch_size=0,
      encoding_name=train.encoded_on_the_fly(fit.config, fit.batch)).compile()
  costs = cost_analysis(compiled)
  step_seconds = timed(lambda: fit.train(preset.chunk_steps),
                       repeats=2) / preset.chunk_steps
  trace_dir = workdir / 'profile'
  try:
    with jax.profiler.trace(str(trace_dir)):
      fit.train(preset.chunk_steps)
    trace = str(trace_dir)
  except Exception as error:  # the profiler's plugins vary by install
    trace = f'no trace: {str(error).splitlines()[0][:200]}'
  compute = costs['flops'] / (env['peak_tflops']['float32'] * 1e12)
  memory = costs['bytes_accessed'] / (env['bandwidth_gbps'] * 1e9)
  return {'resolution': preset.fit_resolution,
          'chunk_size': fit.config.train.chunk_size, **costs,
          'model_flops': fit_flops(config, fit.dataset.train_coords.shape[0])
                         / config.train.num_steps,
          'step_seconds': step_seconds, 'compute_bound_seconds': compute,
          'memory_bound_seconds': memory,
          'other_seconds': max(0.0, step_seconds - max(compute, memory)),
          'trace': trace}


def chunk_sizes(preset: Preset) -> dict[str, Any]:
  """Steps/s of the preset's fit at each chunk size, and what AUTO picks."""
  rates = {}
  for chunk_size in preset.chunk_sizes:
    config = common.paper_config(preset.fit_resolution, preset.chunk_steps, 1,
                                 train__chunk_size=chunk_size)
    fit = train.build_fit(config)
    rates[str(chunk_size)] = preset.chunk_steps / timed(
        lambda: fit.train(preset.chunk_steps), repeats=2)
  default = common.paper_config(preset.fit_resolution, 1, 1)
  return {'resolution': preset.fit_resolution, 'steps': preset.chunk_steps,
          'steps_per_second': rates,
          'default_picks': backend.chunk_size(
              default, 1, preset.fit_resolution**2 // 4,
              encodings.width(default.encoding))}


def sweep(preset: Preset, workdir: pathlib.Path,
          budget: Budget) -> dict[str, Any]:
  """The preset's seed sweep as one group, then one fit at a time."""
  configs_ = [common.paper_config(preset.sweep_resolution, preset.sweep_steps,
                                  seed=seed)
              for seed in range(preset.sweep_members)]
  tic = time.perf_counter()
  grouped = common.train_all(configs_, [workdir / 'group' / f'seed_{i}'
                                        for i in range(len(configs_))], False)
  group_seconds = time.perf_counter() - tic
  stop = time.monotonic() + SEQUENTIAL_SHARE * budget.left()
  seconds = []
  for index, config in enumerate(configs_):
    if seconds and time.monotonic() + np.mean(seconds) > stop:
      break
    tic = time.perf_counter()
    train.train_and_evaluate(config, workdir / 'one_by_one' / f'seed_{index}',
                             progress=False)
    seconds.append(time.perf_counter() - tic)
  one_by_one = float(np.mean(seconds)) * len(configs_)
  return {'members': len(configs_), 'resolution': preset.sweep_resolution,
          'steps': preset.sweep_steps, 'group_seconds': group_seconds,
          'group_errors': sum('error' in r for r in grouped),
          'one_by_one_measured': len(seconds),
          'one_by_one_measured_seconds': float(np.sum(seconds)),
          'one_by_one_seconds': one_by_one,
          'one_by_one_projected': len(seconds) < len(configs_),
          'speedup': one_by_one / group_seconds}


def table1_groups(preset_name: str, precision: str, workdir: pathlib.Path):
  """experiments.table1's fits at a preset and precision, per encoding:
  [(encoding, table1.fit_keys of it, configs, run dirs)]."""
  preset = table1.PRESETS[preset_name]
  sets = table1.image_sets(preset)
  groups = []
  for encoding in table1.ENCODINGS:
    keys = table1.fit_keys(sets, (encoding,))
    groups.append((
        encoding, keys,
        [table1.fit_config(preset, *key, precision) for key in keys],
        [table1.run_dir(workdir, *key) for key in keys]))
  return groups


def group_flops(configs_) -> float:
  """Training FLOPs of fits on the paper split (N^2 / 4 pixels each)."""
  return sum(fit_flops(c, c.data.resolution**2 // 4) for c in configs_)


def table1_rows(preset_name: str, precisions, workdir: pathlib.Path,
                env: dict[str, Any], budget: Budget,
                report: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
  """Table 1's fits per precision, group by group while the budget lasts."""
  result = {'preset': preset_name, 'precisions': {}}
  for precision in precisions:
    peak = env['peak_tflops'].get(precision)
    if peak is None:
      result['precisions'][precision] = {'skipped': 'unsupported here'}
      continue
    row = result['precisions'][precision] = {
        'groups': [], 'psnr': {}, 'seconds': 0.0, 'flops': 0.0,
        'skipped_groups': []}
    for encoding, keys, configs_, run_dirs in table1_groups(
        preset_name, precision, workdir / precision):
      flops = group_flops(configs_)
      predicted = flops / (ASSUMED_EFFICIENCY * peak * 1e12) + 20
      if predicted > budget.left():
        row['skipped_groups'].append(encoding)
        continue
      tic = time.perf_counter()
      fitted = common.train_all(configs_, run_dirs, False)
      seconds = time.perf_counter() - tic
      row['groups'].append({'encoding': encoding, 'fits': len(configs_),
                            'seconds': seconds, 'flops': flops})
      row['seconds'] += seconds
      row['flops'] += flops
      row['psnr'].update({'/'.join(key): r.get('test_psnr')
                          for key, r in zip(keys, fitted)})
      row['tflops'] = row['flops'] / row['seconds'] / 1e12
      row['fraction_of_peak'] = row['tflops'] / peak
      report(result)
  baseline = result['precisions'].get('float32', {}).get('psnr', {})
  for precision, row in result['precisions'].items():
    common_keys = [k for k in row.get('psnr', {}) if k in baseline
                   and None not in (row['psnr'][k], baseline[k])]
    if precision != 'float32' and common_keys:
      changes = [row['psnr'][k] - baseline[k] for k in common_keys]
      row['psnr_change'] = {'fits': len(changes),
                            'mean': float(np.mean(changes)),
                            'max_abs': float(np.max(np.abs(changes)))}
  return result


def goals(result: dict[str, Any]) -> dict[str, Any]:
  """Each goal's measured value (None: unmeasured, partial, or another
  preset than paper, whose sizes the goals are for) and whether it is met."""
  if result['preset'] != 'paper':
    result = {}
  table = result.get('table1', {}).get('precisions', {})
  whole = lambda p: (table.get(p, {}).get('seconds')
                     if table.get(p, {}).get('groups')
                     and not table[p].get('skipped_groups') else None)
  measured = {
      'table1_tensorfloat32_seconds': whole('tensorfloat32'),
      'table1_float32_seconds': whole('float32'),
      'sweep_speedup': result.get('sweep', {}).get('speedup'),
      'paper_fit_train_seconds': result.get('paper_fit', {}).get(
          'cppn', {}).get('train_seconds')}
  met = lambda name, value: (value >= GOALS[name] if name == 'sweep_speedup'
                             else value <= GOALS[name])
  return {name: {'goal': GOALS[name], 'measured': value,
                 'met': None if value is None else met(name, value)}
          for name, value in measured.items()}


def environment_lines(env: dict[str, Any]) -> list[str]:
  """The environment section of the markdown report."""
  peaks = ', '.join(f'{p} {"unsupported" if v is None else f"{v:.3g}"}'
                    for p, v in env['peak_tflops'].items())
  return ['## Environment', '',
          f'JAX {env["jax"]}, jaxlib {env["jaxlib"]}, Python '
          f'{env["python"]}; {env["device_count"]} x {env["device"]} '
          f'({env["backend"]}), {env["memory_gib"]:.1f} GiB '
          f'({env["memory_of"]}), {env["cpu_cores"]} CPU cores.', '',
          f'Matmul peak ({env["matmul_size"]}^3, TFLOP/s): {peaks}; '
          f'memory bandwidth {env["bandwidth_gbps"]:.0f} GB/s.']


def correctness_lines(check: dict[str, Any]) -> list[str]:
  """The correctness section: each check's difference and tolerance."""
  resume = check['resume']
  return ['## Correctness against the CPU', '',
          '| check | difference | tolerance | passed |', '|---|---|---|---|'
          ] + [f'| {name} | '
               + ('no result' if value is None else f'{value:.3g}')
               + f' | {check["tolerance"][name]:g} | {check["passed"][name]} |'
               for name, value in check['difference'].items()] + [
                   '', 'fit and group: test PSNR (dB); render: colours of '
                   'one exported network; resume: killed after step '
                   f'{resume["killed_after_step"]}, resumed from '
                   f'{resume["resumed_from_step"]}, test PSNR against the '
                   'uninterrupted fit (dB).']


def paper_fit_lines(fit: dict[str, Any]) -> list[str]:
  """The paper-fit section: cppn against the reference loop."""
  cppn, ref = fit['cppn'], fit['reference']
  return ['## One paper-protocol fit', '',
          f'{fit["resolution"]} px, {fit["steps"]} steps: cppn '
          f'{cppn["wall_seconds"]:.1f} s wall ({cppn["train_seconds"]:.1f} s '
          f'training, {cppn["compile_seconds"]:.1f} s compiling, '
          f'{cppn["steps_per_second"]:.0f} steps/s, chunk '
          f'{cppn["chunk_size"]}, test PSNR {cppn["test_psnr"]:.2f} dB); '
          f'reference loop {ref["wall_seconds"]:.1f} s wall '
          f'({ref["steps_per_second"]:.0f} steps/s, test PSNR '
          f'{ref["test_psnr"]:.2f} dB).']


def profile_lines(prof: dict[str, Any]) -> list[str]:
  """The one-step section: measured time against compute and memory bounds."""
  ms = lambda seconds: f'{seconds * 1e3:.2f} ms'
  return ['## One step', '',
          f'{prof["resolution"]} px, chunk {prof["chunk_size"]}: '
          f'{ms(prof["step_seconds"])} a step; XLA counts '
          f'{prof["flops"] / 1e9:.1f} GFLOP ({prof["model_flops"] / 1e9:.1f} '
          f'in the model\'s matmuls) and {prof["bytes_accessed"] / 1e9:.2f} '
          f'GB: {ms(prof["compute_bound_seconds"])} at the float32 peak, '
          f'{ms(prof["memory_bound_seconds"])} at the measured bandwidth, '
          f'{ms(prof["other_seconds"])} beyond both. Trace: '
          f'{prof["trace"]}.']


def chunk_size_lines(chunk: dict[str, Any]) -> list[str]:
  """The chunk-size section: steps/s per chunk size."""
  rates = ', '.join(f'{size}: {rate:.1f}'
                    for size, rate in chunk['steps_per_second'].items())
  return ['## Chunk size', '',
          f'{chunk["resolution"]} px, steps/s at train.chunk_size {rates}; '
          f'the default (-1) picks {chunk["default_picks"]}.']


def sweep_lines(sw: dict[str, Any]) -> list[str]:
  """The sweep section: one group against one fit at a time."""
  how = (f'projected from {sw["one_by_one_measured"]} measured in '
         f'{sw["one_by_one_measured_seconds"]:.1f} s'
         if sw['one_by_one_projected'] else 'all measured')
  return ['## Sweep', '',
          f'{sw["members"]} fits ({sw["resolution"]} px, {sw["steps"]} '
          f'steps): one group {sw["group_seconds"]:.1f} s; one by one '
          f'{sw["one_by_one_seconds"]:.1f} s ({how}); speedup '
          f'{sw["speedup"]:.1f}x.']


def table1_lines(table: dict[str, Any]) -> list[str]:
  """The Table 1 section: a row per precision."""
  lines = ['## Table 1 image rows', '',
           f'experiments.table1 preset {table["preset"]}.', '',
           '| precision | fits | seconds | TFLOP/s | of peak | PSNR change '
           'against float32 (mean, max abs) | groups skipped |',
           '|---|---|---|---|---|---|---|']
  for precision, row in table['precisions'].items():
    if 'skipped' in row:
      lines.append(f'| {precision} | | | | | | {row["skipped"]} |')
      continue
    change = row.get('psnr_change')
    lines.append(
        f'| {precision} | {len(row["psnr"])} | {row["seconds"]:.1f} | '
        + (f'{row["tflops"]:.3g} | {row["fraction_of_peak"]:.0%} | '
           if 'tflops' in row else '| | ')
        + (f'{change["mean"]:+.3f}, {change["max_abs"]:.3f} dB | '
           if change else '| ')
        + (', '.join(row['skipped_groups']) or '-') + ' |')
  return lines


SECTIONS = {'environment': environment_lines,
            'correctness': correctness_lines, 'paper_fit': paper_fit_lines,
            'profile': profile_lines, 'chunk_size': chunk_size_lines,
            'sweep': sweep_lines, 'table1': table1_lines}


def markdown(result: dict[str, Any]) -> str:
  """The report as markdown: a section per measured item, the goals, and
  what was skipped or failed."""
  spent = ', '.join(f'{item} {seconds:.0f}'
                    for item, seconds in result['item_seconds'].items())
  lines = ['# GPU report', '',
           f'Preset {result["preset"]}, budget {result["budget_seconds"]:.0f}'
           f' s, {result["seconds"]:.0f} s used ({spent or "no item"}); '
           f'{result["machine"]}.', '']
  for item in ITEMS:
    if item in result:
      lines += SECTIONS[item](result[item]) + ['']
  lines += ['## Goals', '', '| goal | target | measured | met |',
            '|---|---|---|---|']
  for name, goal in result['goals'].items():
    value = goal['measured']
    lines.append(f'| {name} | {goal["goal"]} | '
                 f'{"unmeasured" if value is None else f"{value:.3g}"} | '
                 f'{"-" if goal["met"] is None else goal["met"]} |')
  if result['skipped'] or result['errors']:
    lines += ['', '## Not measured', '']
    lines += [f'- {item}: skipped, {why}'
              for item, why in result['skipped'].items()]
    lines += [f'- {item}: failed, {error}'
              for item, error in result['errors'].items()]
  return '\n'.join(lines) + '\n'


def predicted_seconds(item: str, preset: Preset, env: dict[str, Any]) -> float:
  """A conservative guess of an item's seconds (table1 is paced per group)."""
  peak = env['peak_tflops']['float32'] * 1e12 * ASSUMED_EFFICIENCY
  paper = common.paper_config(preset.fit_resolution, preset.fit_steps)
  pixels = preset.fit_resolution**2 // 4
  sweep_fit = common.paper_config(preset.sweep_resolution, preset.sweep_steps)
  return {
      'correctness': preset.check_seconds,
      'paper_fit': 2 * fit_flops(paper, pixels) / peak + 30,
      'profile': 20.0,
      'chunk_size': len(preset.chunk_sizes) * (
          15 + 3 * fit_flops(paper, pixels) * preset.chunk_steps
          / preset.fit_steps / peak),
      'sweep': 2 * (preset.sweep_members
                    * fit_flops(sweep_fit, preset.sweep_resolution**2 // 4)
                    / peak + 20),
      'table1': 20.0}[item]


def report(preset_name: str, workdir: pathlib.Path, budget_seconds: float,
           items, precisions) -> dict[str, Any]:
  """Runs the items in ITEMS order that are in `items`, writing the report
  after each."""
  start = time.monotonic()
  budget = Budget(budget_seconds)
  preset = PRESETS[preset_name]
  result = {'preset': preset_name, 'budget_seconds': budget_seconds,
            'machine': common.machine(), 'skipped': {}, 'errors': {},
            'item_seconds': {},
            'tolerances': device_checks.TOLERANCES}

  def write(partial=None):
    if partial is not None:
      result['table1'] = partial
    result['seconds'] = time.monotonic() - start
    result['goals'] = goals(result)
    common.write_report(workdir, 'gpu_report', result, markdown(result))

  env = result['environment'] = environment(preset)
  result['item_seconds']['environment'] = time.monotonic() - start
  write()
  runners = {
      'correctness': lambda: device_checks.correctness(
          workdir / 'correctness', budget.left()),
      'paper_fit': lambda: paper_fit(preset, workdir / 'paper_fit'),
      'profile': lambda: profile(preset, workdir, env),
      'chunk_size': lambda: chunk_sizes(preset),
      'sweep': lambda: sweep(preset, workdir / 'sweep', budget),
      'table1': lambda: table1_rows(preset.table1_preset, precisions,
                                    workdir / 'table1', env, budget, write)}
  for item in ITEMS[1:]:
    if item not in items:
      continue
    predicted = predicted_seconds(item, preset, env)
    if predicted > budget.left():
      result['skipped'][item] = (f'predicted {predicted:.0f} s, '
                                 f'{max(0, budget.left()):.0f} s left')
    else:
      tic = time.monotonic()
      try:
        result[item] = runners[item]()
      except (CppnError, subprocess.SubprocessError,
              jax.errors.JaxRuntimeError) as error:
        result['errors'][item] = str(error).splitlines()[0][:300]
      result['item_seconds'][item] = time.monotonic() - tic
    write()
  return result


def define_flags(flag_values: flags.FlagValues):
  """--budget_seconds, --items and --table1_precisions."""
  flags.DEFINE_float('budget_seconds', 480, 'Seconds the report may take; '
                     'items that would not fit are skipped.', lower_bound=1,
                     flag_values=flag_values)
  flags.DEFINE_list('items', list(ITEMS), 'Items to measure, of: '
                    + ', '.join(ITEMS) + ' (environment always runs).',
                    flag_values=flag_values)
  flags.register_validator(
      'items', lambda items: set(items) <= set(ITEMS),
      '--items takes names from: ' + ', '.join(ITEMS),
      flag_values=flag_values)
  flags.DEFINE_list('table1_precisions', list(PRECISIONS),
                    'model.matmul_precision values of the table1 item, in '
                    'order.', flag_values=flag_values)
  flags.register_validator(
      'table1_precisions',
      lambda values: set(values) <= set(models.MATMUL_PRECISIONS),
      '--table1_precisions takes: ' + ', '.join(models.MATMUL_PRECISIONS),
      flag_values=flag_values)


def run(preset_name: str, workdir: pathlib.Path, progress: bool,
        **options) -> dict[str, Any]:
  """Measures the items and writes gpu_report.json and gpu_report.md."""
  del progress  # no fit here shows a progress bar
  # Subprocesses share the accelerator: each takes memory as it needs it.
  os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
  result = report(preset_name, workdir, options['budget_seconds'],
                  options['items'], options['table1_precisions'])
  print(markdown(result))
  return result


COMMAND = command.experiment(run, define_flags, default_preset='paper')

if __name__ == '__main__':
  cli.run(COMMAND)
