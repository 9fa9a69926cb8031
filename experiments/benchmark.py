r"""Training speed against the machine's matmul ceiling and the reference loop.

  python -m experiments.benchmark --preset=cpu --workdir=runs/benchmark \
      [--sizes=64,128] [--rounds=10] [--round_seconds=0.6] [--cli] [--sweep] \
      [--paper_fit] [--table1=PRESET] [--table1_precisions=float32,bfloat16] \
      [--tasks=ct,mri,nerf] [--families=siren,hashgrid] [--family_size=512]

Presets: tiny (one 16 px size, 2 short rounds: the test's), cpu (64 to 512 px, every family's row at 512 px), paper (the same,
plus --paper_fit and --table1=paper at three matmul precisions: for a GPU);
a flag given overrides the preset's value. The family rows
(experiments/family_speed.py: steps/s, matmul rate, and for the grids the
lookup's bytes against the copy bandwidth and its share of a step) are
measured in this process.

Workload (the paper's): a 4 x 256 ReLU MLP on m = 256 Gaussian features (512
inputs), Adam, full batch, paper split of an N x N image (N^2 / 4 training
pixels). Minimal FLOPs per training pixel per step: 6 x (multiply-adds of all
layers) - 2 x (those of the first layer, which needs no input gradient) =
1.32 MFLOP. For each image size this times, each in a fresh subprocess (so
peak memory is per measurement):

  cppn       the project's trainer: one fit through `train.train_and_evaluate`
             (the whole path, so the peak memory is a fit's), then rounds of
             `fit.train(num_steps)` on `train.build_fit` of the same config
             (the compiled call the trainer makes: many steps in one
             lax.scan, the state donated)
  reference  experiments/reference.py: the paper notebooks' loop, a Python
             loop of jitted gradient + jitted Adam calls; each round a fit
             whose first step (compilation) is not timed

and prints a table: training pixels, steps/s of each, speedup, achieved
GFLOP/s, fraction of the fp32 matmul rate, peak resident memory. This
shared machine's speed drifts by up to 1.5x over minutes (another tenant on
the host), so only a rate taken beside the measurement makes the fraction
mean something: each measurement is --rounds rounds of --round_seconds
(default 0.6) of training, each round between two burst matmul timings (the
higher kept), and the table gives medians over the rounds. The matmul rate,
two ways:

  burst      best of 3-5 single 2048^3 fp32 matmuls (the goal's yardstick)
  sustained  20 chained 2048^3 matmuls in one compiled call, as a training
             run issues them back to back, measured before and after the
             rounds

With --cli it also times the command line itself at two step counts with
one evaluation each, so start-up, compilation and evaluation cancel, against
burst matmul timings before, between and after them. With
--sweep it also times the 8-member sigma sweep as one command against 8
separate commands (experiments/sweep_speed.py). With --paper_fit (preset
paper) it also times one whole paper-protocol fit (512 px, 2000 steps) of
cppn and of the reference, start to finish in its process. With
--table1=PRESET (preset paper: `paper`) it also times `python -m
experiments.table1` at that preset once per --table1_precisions entry
(model.matmul_precision), each into its own folder under --workdir, and
tabulates wall minutes beside the mean test PSNRs, so the PSNR cost of TF32
and bf16 matmuls stands beside their speed. With --tasks (preset paper:
ct,mri,nerf) it also times the paper's CT fit at 512 px (262,144 network
evaluations a step through the projection operator) and MRI fit at 96^3
(884,736 through the masked 3D FFT), configs/ct.py and configs/mri.py,
each in a fresh process: rounds of steps as above (the model's FLOPs, counted
as for an image fit, over each round's matmul rate; the exact chunked
gradient's second forward pass is not counted) and the process's peak
resident memory. The nerf row is configs/nerf.py's fit (NerfWorkload:
preset paper 1024 rays x 128 samples a step on 400 px synthetic views, the
others 512 rays x 32 samples on 64 px views; 4 outputs, so 1.32 MFLOP per
network evaluation, the encoding's sines and the compositing not counted):
its steps as above, with network evaluations/s (rays x samples per step),
and in a second fresh process one whole 400 px view rendered through the
task's chunked render (NerfTask.render), with that process's peak resident
memory before and after. Writes benchmark.json and
benchmark.md into --workdir. Run it on a quiet machine: a second busy
process of our own halves every number. The measurement processes import
no more of cppn than they measure (this module imports only absl,
cppn.cli and experiments.command at the top), so their peak memory is
their own.
"""

import dataclasses
import json
import os
import pathlib
import resource
import sys
import tempfile
import time

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from cppn import cli
from experiments import command
from experiments import family_speed

DEPTH, WIDTH, NUM_FEATURES = 4, 256, 256
NUM_ROUNDS = 10  # timing rounds per measurement
SECONDS_PER_ROUND = 0.6  # default training time of one round


# The paper's CT and MRI fits (--tasks): the side N of each (N^2 or N^3
# network evaluations a step) and its number of outputs.
TASK_SIZES = {'ct': 512, 'mri': 96}
TASK_OUTPUTS = 1
NERF_OUTPUTS = 4  # the NeRF network's raw RGB and density
TASKS = tuple(TASK_SIZES) + ('nerf',)  # the --tasks rows
# The side of the synthetic views of the fit whose network renders the one
# view: the training data play no part in a render, and the smallest keep
# the process's memory the render's.
RENDER_DATA_SIZE = 8


@dataclasses.dataclass(frozen=True)
class NerfWorkload:
  """The --tasks=nerf row: configs/nerf.py's fit with these fields, and one
  whole view rendered by its network through NerfTask.render."""
  rays_per_step: int  # task.rays_per_step
  num_samples: int  # task.num_samples (per ray, in training and the render)
  resolution: int  # data.resolution: the synthetic training views' side
  view_size: int = 400  # the rendered view's side (the paper's views)

  @property
  def points(self) -> int:
    """Network evaluations a training step."""
    return self.rays_per_step * self.num_samples


PAPER_NERF = NerfWorkload(rays_per_step=1024, num_samples=128, resolution=400)
CPU_NERF = NerfWorkload(rays_per_step=512, num_samples=32, resolution=64)


def flops_per_pixel(depth=DEPTH, width=WIDTH, num_inputs=2 * NUM_FEATURES,
                    out_dim=3):
  """Minimal training FLOPs per pixel per step of an MLP with out_dim
  outputs."""
  widths = [num_inputs] + [width] * (depth - 1) + [out_dim]
  macs = [a * b for a, b in zip(widths[:-1], widths[1:])]
  return 6 * sum(macs) - 2 * macs[0]


def fp32_matmul(x, y):
  """x @ y in true float32 (GPUs would otherwise use TF32)."""
  return jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST)


def matmul_gflops(size=2048, repeats=5):
  """Best fp32 matmul rate of XLA on this machine, in GFLOP/s."""
  a = jnp.ones((size, size), jnp.float32)
  matmul = jax.jit(lambda x: fp32_matmul(x, x))
  matmul(a).block_until_ready()
  best = float('inf')
  for _ in range(repeats):
    tic = time.perf_counter()
    matmul(a).block_until_ready()
    best = min(best, time.perf_counter() - tic)
  return 2 * size**3 / best / 1e9


def chained_matmul_gflops(size=2048, count=20, precision='float32',
                          repeats=1):
  """Rate of `count` chained (size, size) matmuls in one compiled call,
  multiplied as models.matmul does at `precision`, in GFLOP/s: the best of
  `repeats` calls, compiled ahead of time (no untimed call)."""
  from cppn import models  # pylint: disable=g-import-not-at-top
  x = jnp.full((size, size), 1.0 / size, jnp.float32)
  chain = jax.jit(lambda x: jax.lax.fori_loop(
      0, count, lambda _, y: models.matmul(y, x, 1, 0, precision), x)
                  ).lower(x).compile()
  best = float('inf')
  for _ in range(repeats):
    tic = time.perf_counter()
    chain(x).block_until_ready()
    best = min(best, time.perf_counter() - tic)
  return 2 * size**3 * count / best / 1e9


def steps_per_round(size, gflops, seconds=SECONDS_PER_ROUND):
  """Training steps that take about `seconds` at `gflops`."""
  seconds_per_step = flops_per_pixel() * size**2 / 4 / (gflops * 1e9)
  return max(2, round(seconds / seconds_per_step))


@dataclasses.dataclass(frozen=True)
class Preset:
  """The sizes, rounds and extra measurements of one benchmark run."""
  sizes: tuple[int, ...]  # image sides N; N^2 / 4 training pixels each
  num_rounds: int = NUM_ROUNDS  # timing rounds per measurement
  round_seconds: float = SECONDS_PER_ROUND  # training time of one round
  paper_fit: bool = False  # time one 512 px, 2000-step fit of each method
  table1: str | None = None  # time experiments.table1 at this preset
  table1_precisions: tuple[str, ...] = ('float32', 'bfloat16')
  tasks: tuple[str, ...] = ()  # time the paper's fits of these (TASKS)
  nerf: NerfWorkload = CPU_NERF  # the nerf row's steps and render
  families: tuple[str, ...] = ()  # one row each (experiments/family_speed.py)
  family_size: int = 512  # their image side N


ALL_FAMILIES = ('siren', 'finer', 'gauss', 'wire', 'wire2d', 'fourier_net',
                'gabor_net', 'hashgrid', 'grid', 'c2f', 'lff')
PRESETS = {
    'tiny': Preset(sizes=(16,), num_rounds=2, round_seconds=0.05),
    'cpu': Preset(sizes=(64, 128, 256, 512), families=ALL_FAMILIES),
    'paper': Preset(sizes=(64, 128, 256, 512), paper_fit=True, table1='paper',
                    table1_precisions=('float32', 'tensorfloat32',
                                       'bfloat16'), tasks=TASKS,
                    nerf=PAPER_NERF, families=ALL_FAMILIES),
}


def timed_rounds(run_round, num_rounds):
  """Alternates burst matmul timings with rounds of training.

  Args:
    run_round: trains for one round and returns its steps/s.
    num_rounds: how many rounds.

  Returns:
    {'steps_per_second': [...], 'matmul_gflops': [...]}, one entry per
    round; a round's matmul rate is the higher of the burst rates measured
    just before and just after it, so drift of the machine's speed over
    minutes cancels in the per-round ratio.
  """
  result = {'steps_per_second': [], 'matmul_gflops': []}
  for _ in range(num_rounds):
    before = matmul_gflops(repeats=3)
    result['steps_per_second'].append(run_round())
    result['matmul_gflops'].append(max(before, matmul_gflops(repeats=3)))
  return result


def cppn_rounds(size, num_steps, num_rounds):
  """Rounds of the compiled training call the trainer makes for one fit.

  A fit through `train.train_and_evaluate` comes first (the whole path,
  evaluation included, so the process's peak memory is a fit's); then
  `train.build_fit` of the same config is stepped by `fit.train(num_steps)`
  (one compiled call, the state donated), timed call by call after a first
  call that compiles. fit.train returns the losses on the host, so the
  steps have finished when it returns.
  """
  from cppn import train  # pylint: disable=g-import-not-at-top
  from experiments import common  # pylint: disable=g-import-not-at-top
  config = common.paper_config(size, num_steps, num_evals=1)
  with tempfile.TemporaryDirectory() as workdir:
    train.train_and_evaluate(config, workdir, progress=False)
  fit = train.build_fit(config)
  fit.train(num_steps)

  def run_round():
    tic = time.perf_counter()
    fit.train(num_steps)
    return num_steps / (time.perf_counter() - tic)

  return timed_rounds(run_round, num_rounds)


def task_points(task, size):
  """Network evaluations a step of the task's fit at side `size`."""
  return size ** {'ct': 2, 'mri': 3}[task]


def task_rounds(task, size, num_rounds, round_seconds):
  """Rounds of steps of the paper's CT or MRI fit (configs/ct.py, mri.py)
  at side `size` (see fit_rounds)."""
  import importlib  # pylint: disable=g-import-not-at-top
  config = importlib.import_module(f'configs.{task}').get_config()
  config.data.resolution = size
  return fit_rounds(config, task_points(task, size), TASK_OUTPUTS, num_rounds,
                    round_seconds)


def nerf_config(workload: NerfWorkload, resolution: int):
  """configs/nerf.py with the workload's rays and samples, on synthetic
  views of `resolution` px."""
  from configs import nerf  # pylint: disable=g-import-not-at-top
  config = nerf.get_config()
  config.task.rays_per_step = workload.rays_per_step
  config.task.num_samples = workload.num_samples
  config.data.resolution = resolution
  return config


def fit_rounds(config, points, out_dim, num_rounds, round_seconds):
  """Rounds of steps of the fit train.build_fit builds from config, after a
  first call that compiles; a round's steps take about round_seconds at
  `points` network evaluations a step (FLOPs of an MLP with out_dim
  outputs) and the burst matmul rate."""
  from cppn import train  # pylint: disable=g-import-not-at-top
  fit = train.build_fit(config)
  seconds_per_step = (points * flops_per_pixel(out_dim=out_dim)
                      / (matmul_gflops() * 1e9))
  num_steps = max(1, round(round_seconds / seconds_per_step))
  fit.train(num_steps)

  def run_round():
    tic = time.perf_counter()
    fit.train(num_steps)
    return num_steps / (time.perf_counter() - tic)

  return {**timed_rounds(run_round, num_rounds), 'steps_per_round': num_steps}


def nerf_rounds(workload: NerfWorkload, num_rounds, round_seconds):
  """Rounds of steps of the NeRF fit of the workload (see fit_rounds)."""
  return fit_rounds(nerf_config(workload, workload.resolution),
                    workload.points, NERF_OUTPUTS, num_rounds, round_seconds)


def nerf_render(workload: NerfWorkload):
  """One view_size px view (a camera at the paper's radius 4 and focal)
  rendered by an untrained network of the workload's fit through
  NerfTask.render (cppn/tasks/nerf.py's RENDER_POINTS samples a call of
  the network), after a first chunk that compiles.

  Returns:
    {'seconds' of the render, 'start_mb': the process's peak resident
    memory before it (JAX, the task, the network), 'peak_mb': after it,
    'device_peak_mb': the accelerator's peak memory in use (None where the
    device does not say, as on a CPU)}.
  """
  from cppn import nerf_data  # pylint: disable=g-import-not-at-top
  from cppn import rays  # pylint: disable=g-import-not-at-top
  from cppn import train  # pylint: disable=g-import-not-at-top
  from cppn.tasks import nerf  # pylint: disable=g-import-not-at-top
  fit = train.build_fit(nerf_config(workload, RENDER_DATA_SIZE))
  size = workload.view_size
  view = nerf.view_rays(size, size, nerf_data.paper_focal(size),
                        rays.turntable_poses(1, rays.PAPER_RADIUS))
  predict = lambda coords: fit.predict(coords)[None]
  fit.task.render(predict, view[:fit.task.chunk_rays])
  start_mb = peak_resident_mb()
  tic = time.perf_counter()
  fit.task.render(predict, view)
  seconds = time.perf_counter() - tic
  stats = jax.local_devices()[0].memory_stats()
  return {'seconds': seconds, 'start_mb': start_mb,
          'peak_mb': peak_resident_mb(),
          'device_peak_mb': stats['peak_bytes_in_use'] / 2**20
                            if stats and 'peak_bytes_in_use' in stats
                            else None}


def rate_row(points, flops, measured):
  """The rates of rounds of steps of `points` network evaluations of
  `flops` FLOPs each: medians of steps/s, evaluations/s and of each
  round's fraction of the matmul rate, achieved GFLOP/s, peak resident
  MB."""
  step_flops = points * flops
  fractions = [rate * step_flops / 1e9 / matmul for rate, matmul in zip(
      measured['steps_per_second'], measured['matmul_gflops'])]
  steps_per_second = median(measured['steps_per_second'])
  return {'points': points, 'steps_per_second': steps_per_second,
          'evaluations_per_second': steps_per_second * points,
          'gflops': steps_per_second * step_flops / 1e9,
          'matmul_gflops': median(measured['matmul_gflops']),
          'fraction_of_matmul': median(fractions),
          'fraction_of_matmul_range': [min(fractions), max(fractions)],
          'peak_mb': measured['peak_mb'], 'rounds': measured}


def task_row(task, size, measured):
  """A --tasks row of the CT or MRI fit at side `size` (rate_row)."""
  return {'task': task, 'size': size, **rate_row(
      task_points(task, size), flops_per_pixel(out_dim=TASK_OUTPUTS),
      measured)}


def nerf_row(workload: NerfWorkload, measured, render):
  """The --tasks=nerf row: the steps' rates (rate_row; FLOPs per
  evaluation as an image pixel's with 4 outputs, the encoding and the
  compositing not counted) and the render of one view (nerf_render:
  'render_seconds', 'render_start_mb', 'render_peak_mb',
  'render_device_peak_mb')."""
  return {'task': 'nerf', **dataclasses.asdict(workload),
          **rate_row(workload.points, flops_per_pixel(out_dim=NERF_OUTPUTS),
                     measured),
          **{f'render_{name}': value for name, value in render.items()}}


def task_result(task, preset_name, preset: Preset):
  """The --tasks row of one task, measured in fresh processes (the nerf
  row's steps and its render in one each)."""
  if task != 'nerf':
    size = TASK_SIZES[task]
    return task_row(task, size, measure_in_subprocess(
        task, size, preset.num_rounds, preset.round_seconds))
  measured, render = (measure_in_subprocess(
      method, preset.sizes[0], preset.num_rounds, preset.round_seconds,
      preset_name=preset_name) for method in ('nerf', 'nerf_render'))
  return nerf_row(preset.nerf, measured, render)


def peak_resident_mb():
  """This process's peak resident memory so far, in MB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def astronaut(size):
  """The benchmark's image: (size, size, 3) in [0, 1]."""
  from cppn import data  # pylint: disable=g-import-not-at-top
  return data.load_target('astronaut', size)


def reference_fit(image, num_steps):
  """The paper notebooks' loop on `image` (see reference.fit)."""
  from experiments import reference  # pylint: disable=g-import-not-at-top
  return reference.fit(image, encoding='gaussian', scale=10.0,
                       num_features=NUM_FEATURES, depth=DEPTH, width=WIDTH,
                       learning_rate=1e-3, num_steps=num_steps)


def reference_rounds(size, num_steps, num_rounds):
  """Rounds of the reference loop: each a fit of num_steps + 1 steps whose
  first step (compilation) is not timed."""
  image = astronaut(size)
  return timed_rounds(
      lambda: reference_fit(image, num_steps + 1)['steps_per_second'],
      num_rounds)


def cppn_fit_seconds(size, num_steps):
  """Wall seconds of one whole cppn fit through train.train_and_evaluate."""
  from cppn import train  # pylint: disable=g-import-not-at-top
  from experiments import common  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as workdir:
    tic = time.perf_counter()
    train.train_and_evaluate(common.paper_config(size, num_steps, num_evals=1),
                             workdir, progress=False)
    return time.perf_counter() - tic


def reference_fit_seconds(size, num_steps):
  """Wall seconds of one whole reference fit (image loading and compilation
  included)."""
  tic = time.perf_counter()
  reference_fit(astronaut(size), num_steps)
  return time.perf_counter() - tic


def measure(method, size, num_steps, num_rounds, round_seconds,
            nerf: NerfWorkload = CPU_NERF):
  """One measurement in this process (see measure_in_subprocess)."""
  if method == 'nerf_render':
    return nerf_render(nerf)
  if method == 'nerf':
    return {**nerf_rounds(nerf, num_rounds, round_seconds),
            'peak_mb': peak_resident_mb()}
  if method in TASK_SIZES:
    return {**task_rounds(method, size, num_rounds, round_seconds),
            'peak_mb': peak_resident_mb()}
  if num_steps:
    fit_seconds = {'cppn': cppn_fit_seconds, 'reference': reference_fit_seconds}
    return {'wall_seconds': fit_seconds[method](size, num_steps),
            'peak_mb': peak_resident_mb()}
  sustained = chained_matmul_gflops()
  num_steps = steps_per_round(size, matmul_gflops(), round_seconds)
  rounds = {'cppn': cppn_rounds, 'reference': reference_rounds}[method](
      size, num_steps, num_rounds)
  return {**rounds, 'steps_per_round': num_steps,
          'peak_mb': peak_resident_mb(),
          'sustained_matmul_gflops': max(sustained, chained_matmul_gflops())}


def measure_in_subprocess(method, size, num_rounds=NUM_ROUNDS,
                          round_seconds=SECONDS_PER_ROUND, num_steps=None,
                          preset_name=None):
  """Runs one measurement in a fresh process, so peak memory is its own.

  preset_name: the preset whose NeRF workload the nerf measurements take.

  Returns:
    With num_steps, one whole fit of that many steps: {'wall_seconds',
    'peak_mb'}. Without, `num_rounds` timing rounds of about
    `round_seconds` of training each (see timed_rounds):
    {'steps_per_second', 'matmul_gflops' (lists, one entry per round),
    'steps_per_round', 'peak_mb', 'sustained_matmul_gflops' (the higher of
    two measured before and after the rounds)}; for 'nerf', the rounds'
    entries; for 'nerf_render', nerf_render's dict.
  """
  # --workdir is required; a measurement writes nothing into it.
  argv = [sys.executable, '-m', 'experiments.benchmark',
          f'--measure={method}', f'--sizes={size}', f'--rounds={num_rounds}',
          f'--round_seconds={round_seconds}',
          f'--workdir={tempfile.gettempdir()}']
  if num_steps:
    argv.append(f'--steps={num_steps}')
  if preset_name:
    argv.append(f'--preset={preset_name}')
  from experiments import common  # pylint: disable=g-import-not-at-top
  output = common.run_command(argv)
  return json.loads(next(line for line in reversed(output.splitlines())
                         if line.startswith('{')))


def time_table1(preset, matmul_precision, workdir: pathlib.Path):
  """Wall minutes and mean test PSNRs of experiments.table1, as a command.

  Returns:
    {'preset', 'matmul_precision', 'minutes', 'psnr': {'set/encoding': dB}}.
  """
  from experiments import common  # pylint: disable=g-import-not-at-top
  tic = time.perf_counter()
  common.run_command(
      [sys.executable, '-m', 'experiments.table1', f'--preset={preset}',
       f'--workdir={workdir}', f'--matmul_precision={matmul_precision}',
       '--noprogress'])
  minutes = (time.perf_counter() - tic) / 60
  cells = json.loads((workdir / 'table1.json').read_text())['cells']
  return {'preset': preset, 'matmul_precision': matmul_precision,
          'minutes': minutes,
          'psnr': {key: cell['mean'] for key, cell in cells.items()}}


def cli_seconds(size, num_steps):
  """Wall seconds of `python -m cppn.main` on the paper config at `size`."""
  from experiments import common  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as workdir:
    tic = time.perf_counter()
    common.run_command(
        [sys.executable, '-m', 'cppn.main', '--config=configs/default.py',
         f'--workdir={workdir}', '--noprogress',
         f'--config.data.resolution={size}',
         f'--config.train.num_steps={num_steps}',
         f'--config.train.eval_every_steps={num_steps}'])
    return time.perf_counter() - tic


def cli_rate(size, num_steps):
  """The command line's steps/s from runs of num_steps and 3 * num_steps
  steps (one evaluation each: start-up, compilation and evaluation cancel),
  and the burst matmul rate measured before, between and after them (the
  highest kept)."""
  rates = [matmul_gflops()]
  short = cli_seconds(size, num_steps)
  rates.append(matmul_gflops())
  long = cli_seconds(size, 3 * num_steps)
  rates.append(matmul_gflops())
  return 2 * num_steps / (long - short), max(rates)


def median(values):
  """The median of a list of numbers."""
  return float(np.median(values))


def achieved_gflops(steps_per_second, train_pixels):
  """GFLOP/s of training at steps_per_second on train_pixels pixels."""
  return steps_per_second * train_pixels * flops_per_pixel() / 1e9


def table_row(size, num_rounds, ours, ref):
  """One row of the table from the two measurements (arithmetic only).

  Args:
    size: the image side N (N^2 / 4 training pixels).
    num_rounds: the rounds per measurement.
    ours, ref: the measurements of cppn and of the reference
      (measure_in_subprocess without num_steps).

  Returns:
    Medians over the rounds of steps/s and of the burst matmul rate; each
    round's achieved GFLOP/s over that round's matmul rate, the median of
    those fractions (and cppn's range); speedup, the ratio of the median
    steps/s; cppn's GFLOP/s at its median steps/s and its fraction of the
    sustained matmul rate; and both measurements as they are.
  """
  pixels = size**2 // 4
  fractions = lambda m: [achieved_gflops(rate, pixels) / matmul
                         for rate, matmul in zip(m['steps_per_second'],
                                                 m['matmul_gflops'])]
  ours_fractions, ref_fractions = fractions(ours), fractions(ref)
  row = {
      'size': size, 'train_pixels': pixels, 'rounds': num_rounds,
      'cppn_steps_per_round': ours['steps_per_round'],
      'reference_steps_per_round': ref['steps_per_round'],
      'cppn_steps_per_second': median(ours['steps_per_second']),
      'reference_steps_per_second': median(ref['steps_per_second']),
      'cppn_matmul_gflops': median(ours['matmul_gflops']),
      'reference_matmul_gflops': median(ref['matmul_gflops']),
      'cppn_fraction_of_matmul': median(ours_fractions),
      'cppn_fraction_of_matmul_range': [min(ours_fractions),
                                        max(ours_fractions)],
      'reference_fraction_of_matmul': median(ref_fractions),
      'cppn_sustained_matmul_gflops': ours['sustained_matmul_gflops'],
      'cppn_peak_mb': ours['peak_mb'], 'reference_peak_mb': ref['peak_mb'],
      'cppn_rounds': ours, 'reference_rounds': ref,
  }
  row['speedup'] = (row['cppn_steps_per_second']
                    / row['reference_steps_per_second'])
  row['cppn_gflops'] = achieved_gflops(row['cppn_steps_per_second'], pixels)
  row['cppn_fraction_of_sustained_matmul'] = (
      row['cppn_gflops'] / row['cppn_sustained_matmul_gflops'])
  return row


def benchmark(sizes, num_rounds, round_seconds, with_cli):
  """Rows of the table, one per image size, plus the highest matmul rate."""
  rows = []
  for size in sizes:
    ours = measure_in_subprocess('cppn', size, num_rounds, round_seconds)
    ref = measure_in_subprocess('reference', size, num_rounds, round_seconds)
    row = table_row(size, num_rounds, ours, ref)
    if with_cli:
      rate, matmul = cli_rate(size, 10 * ours['steps_per_round'])
      row.update(cli_steps_per_second=rate, cli_matmul_gflops=matmul,
                 cli_fraction_of_matmul=achieved_gflops(
                     rate, row['train_pixels']) / matmul)
    rows.append(row)
    print(json.dumps({k: v for k, v in row.items() if 'rounds' not in k}),
          flush=True)
  return {'matmul_gflops': max(max(r['cppn_rounds']['matmul_gflops']
                                   + r['reference_rounds']['matmul_gflops'])
                               for r in rows),
          'flops_per_pixel': flops_per_pixel(),
          'backend': jax.default_backend(),
          'device': str(jax.devices()[0].device_kind), 'rows': rows}


def task_label(row):
  """A --tasks row's fit, as the table names it."""
  if row['task'] == 'nerf':
    return (f'nerf {row["rays_per_step"]} rays x {row["num_samples"]} '
            f'samples, {row["resolution"]} px views')
  return f'{row["task"]} {row["size"]}'


def nerf_line(row):
  """The nerf row's evaluations/s and its render, in words."""
  device = (f', {row["render_device_peak_mb"]:.0f} MB peak on the device'
            if row['render_device_peak_mb'] is not None else '')
  size = row['view_size']
  return (f'\nnerf: {row["evaluations_per_second"]:,.0f} network '
          f'evaluations/s in training; one {size} px view ({size**2:,} rays x '
          f'{row["num_samples"]} samples) rendered through NerfTask.render in '
          f'{row["render_seconds"]:.1f} s, peak resident '
          f'{row["render_peak_mb"]:.0f} MB in its process '
          f'({row["render_start_mb"]:.0f} MB before the render){device}')


def markdown(result):
  """The result as a markdown table (and the sweep ratio, if measured)."""
  with_cli = 'cli_steps_per_second' in result['rows'][0]
  lines = [
      f'fp32 matmul: up to {result["matmul_gflops"]:.1f} GFLOP/s '
      f'({result["device"]}); {result["flops_per_pixel"] / 1e6:.2f} MFLOP '
      f'per training pixel per step; {result["rows"][0]["rounds"]} rounds '
      'per measurement, each between two burst matmul timings (medians; '
      'the range of cppn\'s per-round fraction in brackets)', '',
      '| image | train pixels | cppn steps/s | reference steps/s | speedup | '
      'cppn GFLOP/s | matmul burst GFLOP/s | cppn of burst | reference of '
      'burst | matmul sustained GFLOP/s | cppn of sustained | cppn peak MB | '
      'reference peak MB |' + (' CLI steps/s | CLI of burst |' if with_cli
                               else ''),
      '|---' * (13 + 2 * with_cli) + '|']
  for r in result['rows']:
    low, high = r['cppn_fraction_of_matmul_range']
    lines.append(
        f'| {r["size"]} px | {r["train_pixels"]:,} | '
        f'{r["cppn_steps_per_second"]:.2f} | '
        f'{r["reference_steps_per_second"]:.2f} | {r["speedup"]:.2f}x | '
        f'{r["cppn_gflops"]:.1f} | {r["cppn_matmul_gflops"]:.0f} | '
        f'{r["cppn_fraction_of_matmul"]:.0%} [{low:.0%}-{high:.0%}] | '
        f'{r["reference_fraction_of_matmul"]:.0%} | '
        f'{r["cppn_sustained_matmul_gflops"]:.0f} | '
        f'{r["cppn_fraction_of_sustained_matmul"]:.0%} | '
        f'{r["cppn_peak_mb"]:.0f} | {r["reference_peak_mb"]:.0f} |'
        + (f' {r["cli_steps_per_second"]:.2f} | '
           f'{r["cli_fraction_of_matmul"]:.0%} |' if with_cli else ''))
  if 'sweep' in result:
    sweep = result['sweep']
    lines += ['', f'sweep of {sweep["members"]} members: one command '
              f'{sweep["sweep_seconds"]:.1f} s, separate commands '
              f'{sweep["separate_seconds"]:.1f} s, ratio {sweep["ratio"]:.2f}x']
  if result.get('families'):
    lines += ['', 'families (configs/<family>.py at their published size, '
              'paper split; medians over rounds, in this process):', '']
    lines += family_speed.markdown(result['families'])
  if 'paper_fit' in result:
    fit = result['paper_fit']
    lines += ['', 'one paper-protocol fit (512 px, 2000 steps), wall seconds '
              f'in its process: cppn {fit["cppn"]:.1f}, reference '
              f'{fit["reference"]:.1f}']
  if result.get('tasks'):
    lines += ['', 'the paper\'s fits (model FLOPs per step over each '
              'round\'s burst matmul rate; medians, range in brackets):',
              '', '| fit | network evaluations a step | steps/s | GFLOP/s | '
              'matmul burst GFLOP/s | of burst | peak MB |',
              '|---' * 7 + '|']
    for r in result['tasks']:
      low, high = r['fraction_of_matmul_range']
      lines.append(
          f'| {task_label(r)} | {r["points"]:,} | '
          f'{r["steps_per_second"]:.3f} | {r["gflops"]:.1f} | '
          f'{r["matmul_gflops"]:.0f} | {r["fraction_of_matmul"]:.0%} '
          f'[{low:.0%}-{high:.0%}] | {r["peak_mb"]:.0f} |')
    lines += [nerf_line(r) for r in result['tasks'] if r['task'] == 'nerf']
  if result.get('table1'):
    keys = list(result['table1'][0]['psnr'])
    lines += ['', f'experiments.table1 --preset={result["table1"][0]["preset"]}'
              ' (wall minutes of the whole command; mean test PSNR, dB):', '',
              '| matmul precision | minutes | ' + ' | '.join(keys) + ' |',
              '|---' * (len(keys) + 2) + '|']
    for run in result['table1']:
      lines.append(f'| {run["matmul_precision"]} | {run["minutes"]:.2f} | '
                   + ' | '.join('failed' if run['psnr'][k] is None
                                else f'{run["psnr"][k]:.2f}' for k in keys)
                   + ' |')
  return '\n'.join(lines) + '\n'


def define_flags(flag_values: flags.FlagValues):
  """The benchmark's own flags; those left unset take the preset's value."""
  flags.DEFINE_list('sizes', None, 'Image sides N; N^2 / 4 training pixels '
                    'each.', flag_values=flag_values)
  flags.register_validator(
      'sizes', lambda sizes: sizes is None or all(
          s.isdigit() and int(s) > 0 for s in sizes),
      '--sizes takes positive integers, e.g. 64,128', flag_values=flag_values)
  flags.DEFINE_integer('rounds', None, 'Timing rounds per measurement.',
                       lower_bound=1, flag_values=flag_values)
  flags.DEFINE_float('round_seconds', None, 'Training time of one round, '
                     'sized by the burst matmul rate.', lower_bound=0,
                     flag_values=flag_values)
  flags.DEFINE_bool('cli', False, 'Also time the command line at two step '
                    'counts.', flag_values=flag_values)
  flags.DEFINE_bool('sweep', False, 'Also time a sweep against separate '
                    'runs.', flag_values=flag_values)
  flags.DEFINE_bool('paper_fit', None, 'Also time one 512 px, 2000-step fit '
                    'of cppn and of the reference.', flag_values=flag_values)
  flags.DEFINE_enum('table1', None, command.PRESET_NAMES,
                    'Also time experiments.table1 at this preset.',
                    flag_values=flag_values)
  flags.DEFINE_list('table1_precisions', None, 'model.matmul_precision '
                    'values for --table1.', flag_values=flag_values)
  flags.DEFINE_list('families', None, 'Families to time, one row each '
                    '(none: an empty list).', flag_values=flag_values)
  flags.DEFINE_integer('family_size', None, 'Image side N of the family '
                       'rows.', lower_bound=4, flag_values=flag_values)
  flags.DEFINE_list('tasks', None, 'Also time the paper\'s fits of these '
                    'tasks: ' + ', '.join(TASKS) + ' (at --sizes\' '
                    'first size when --measure is one).',
                    flag_values=flag_values)
  flags.register_validator(
      'tasks', lambda tasks: tasks is None or set(tasks) <= set(TASKS),
      '--tasks takes ' + ', '.join(TASKS), flag_values=flag_values)
  flags.DEFINE_enum('measure', None, ('cppn', 'reference') + TASKS
                    + ('nerf_render',),
                    'Internal: one measurement, printed as JSON (the '
                    'subprocesses).', flag_values=flag_values)
  flags.DEFINE_integer('steps', None, 'Internal: with --measure, one whole '
                       'fit of this many steps.', flag_values=flag_values)


def resolved_preset(preset_name: str, options: dict) -> Preset:
  """The preset with the flags given (not None) in place of its values."""
  sizes, precisions = options['sizes'], options['table1_precisions']
  given = {'sizes': sizes and tuple(int(s) for s in sizes),
           'num_rounds': options['rounds'],
           'round_seconds': options['round_seconds'],
           'paper_fit': options['paper_fit'], 'table1': options['table1'],
           'table1_precisions': precisions and tuple(precisions),
           'tasks': options['tasks'] and tuple(options['tasks']),
           'families': (None if options['families'] is None
                        else tuple(options['families'])),
           'family_size': options['family_size']}
  return dataclasses.replace(PRESETS[preset_name], **{
      field: value for field, value in given.items() if value is not None})


def run(preset_name: str, workdir: pathlib.Path, progress: bool,
        **options) -> dict:
  """Measures, then writes benchmark.json and benchmark.md into workdir.

  Args:
    preset_name, workdir, progress: the shared flags (no fit here shows a
      progress bar).
    **options: the values of the flags of define_flags, by name. With
      options['measure'] it makes only that one measurement (of the first
      size) and prints it as one JSON line (see measure_in_subprocess).
  """
  del progress
  preset = resolved_preset(preset_name, options)
  # On a GPU, JAX reserves most of its memory at the first operation; this
  # process and the measurements it starts (which inherit the setting) share
  # one GPU, so each takes memory only as it needs it.
  os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
  if options['measure']:
    result = measure(options['measure'], preset.sizes[0], options['steps'],
                     preset.num_rounds, preset.round_seconds, preset.nerf)
    print(json.dumps(result))
    return result
  result = benchmark(preset.sizes, preset.num_rounds, preset.round_seconds,
                     options['cli'])
  if options['sweep']:
    from experiments import sweep_speed  # pylint: disable=g-import-not-at-top
    with tempfile.TemporaryDirectory() as sweep_dir:
      result['sweep'] = sweep_speed.measure('configs/sweep_scale.py',
                                            pathlib.Path(sweep_dir))
  if preset.families:
    result['families'] = family_speed.measure(
        preset.families, preset.family_size, preset.num_rounds,
        preset.round_seconds)
  if preset.paper_fit:
    result['paper_fit'] = {
        method: measure_in_subprocess(method, 512,
                                      num_steps=2000)['wall_seconds']
        for method in ('cppn', 'reference')}
  if preset.tasks:
    result['tasks'] = [task_result(task, preset_name, preset)
                       for task in preset.tasks]
  if preset.table1:
    result['table1'] = [
        time_table1(preset.table1, precision, workdir / f'table1_{precision}')
        for precision in preset.table1_precisions]
  from experiments import common  # pylint: disable=g-import-not-at-top
  table = markdown(result)
  common.write_report(workdir, 'benchmark', result, table)
  print(table)
  return result


COMMAND = command.experiment(run, define_flags)

if __name__ == '__main__':
  cli.run(COMMAND)
