r"""NeRF training throughput and the memory of rendering a whole view.

  python -m experiments.nerf_speed --preset=cpu --workdir=runs/nerf_speed

Times the simple NeRF's compiled Adam steps (cppn/nerf.py: batch_rays rays
x num_samples stratified samples per step, the 4 x 256 MLP on m = 256
Gaussian features, 512 inputs) in rounds, each round between two burst fp32
matmul timings (experiments.benchmark.matmul_gflops, the higher kept), and
reports the medians over rounds of: steps/s, network evaluations/s (rays x
samples per step), achieved GFLOP/s and its fraction of the matmul rate.
FLOPs per evaluation: 6 x the multiply-adds of all layers - 2 x those of the
first (no input gradient) = 1.32 MFLOP; the encoding's sines and cosines and
the compositing are not counted. Then renders one view of `view_size` px in
chunks of 1024 rays and reports the process's peak resident memory (an upper
bound on the view's: it includes JAX and the training above). Writes
nerf_speed.json and nerf_speed.md. Presets: tiny (seconds), cpu (512 rays x
32 samples, a 400 px view), paper (the paper's 1024 x 128; for a GPU).
"""

import dataclasses
import pathlib
import resource
import time

import jax
import numpy as np

from cppn import cli
from cppn import encodings
from cppn import nerf
from cppn import nerf_data
from cppn import rays
from cppn import steps
from experiments import benchmark
from experiments import command
from experiments import common
from experiments import fit_loop


@dataclasses.dataclass(frozen=True)
class Preset:
  batch_rays: int  # rays per step
  num_samples: int  # samples per ray
  steps_per_round: int  # Adam steps in one timed round
  num_rounds: int  # timed rounds
  view_size: int  # side of the rendered view, pixels
  depth: int = 4
  width: int = 256
  num_features: int = 256


PRESETS = {
    'tiny': Preset(64, 8, 2, 2, 16, depth=2, width=32, num_features=16),
    'cpu': Preset(512, 32, 3, 5, 400),
    'paper': Preset(1024, 128, 20, 10, 400),
}


def flops_per_evaluation(depth: int, width: int, num_inputs: int,
                         num_outputs: int = 4) -> int:
  """Training FLOPs per network evaluation: 6 x all multiply-adds - 2 x the
  first layer's."""
  sizes = [num_inputs] + [width] * (depth - 1) + [num_outputs]
  macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
  return 6 * sum(macs) - 2 * macs[0]


def run(preset_name: str, workdir: pathlib.Path, progress: bool):
  """Times the steps and a view's render; writes nerf_speed.json and .md."""
  del progress
  preset = PRESETS[preset_name]
  views = nerf_data.synthetic_views(16, (4, 1, 1))
  train_rays = nerf.ray_set(*views.split('train'), views.focal)
  config, encoding = fit_loop.encoding('gaussian', 26.0, 8.0,
                                       preset.num_features)
  num_inputs = encodings.width(config, 3)
  state = steps.create_train_state(nerf.make_model(preset.depth, preset.width),
                                   num_inputs, 5e-4, jax.random.PRNGKey(0))
  sampling = nerf.Sampling(rays.PAPER_NEAR, rays.PAPER_FAR,
                           preset.num_samples)
  key = jax.random.PRNGKey(1)

  def train_round():
    nonlocal state
    state, metrics = nerf.train_steps(
        state, train_rays, encoding, key, num_steps=preset.steps_per_round,
        encoding_name='gaussian', sampling=sampling,
        batch_size=preset.batch_rays)
    metrics['loss'].block_until_ready()

  train_round()  # compiles
  seconds, fractions = [], []
  flops = flops_per_evaluation(preset.depth, preset.width, num_inputs)
  evaluations = preset.batch_rays * preset.num_samples * preset.steps_per_round
  for _ in range(preset.num_rounds):
    before = benchmark.matmul_gflops()
    start = time.perf_counter()
    train_round()
    elapsed = time.perf_counter() - start
    rate = max(before, benchmark.matmul_gflops())
    seconds.append(elapsed)
    fractions.append(evaluations * flops / elapsed / 1e9 / rate)
  render = nerf.make_render_fn(state.apply_fn, 'gaussian', sampling, 1024)
  focal = nerf_data.paper_focal(preset.view_size)
  origins, directions = rays.pixel_rays(preset.view_size, preset.view_size,
                                        focal, views.poses[0])
  start = time.perf_counter()
  out = render(state.params, encoding, origins.reshape(-1, 3),
               directions.reshape(-1, 3))
  out['rgb'].block_until_ready()
  render_seconds = time.perf_counter() - start
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  median = float(np.median(seconds))
  result = {
      'preset': preset_name, 'settings': dataclasses.asdict(preset),
      'machine': common.machine(),
      'steps_per_second': preset.steps_per_round / median,
      'evaluations_per_second': evaluations / median,
      'gflops': evaluations * flops / median / 1e9,
      'matmul_fraction': float(np.median(fractions)),
      'flops_per_evaluation': flops,
      'render_seconds': render_seconds, 'peak_resident_mb': peak_mb}
  markdown = '\n'.join([
      '# NeRF training throughput', '',
      f'{preset.batch_rays} rays x {preset.num_samples} samples per step, '
      f'{preset.depth} x {preset.width} MLP on {num_inputs} Gaussian '
      f'features; median of {preset.num_rounds} rounds of '
      f'{preset.steps_per_round} steps on {result["machine"]}.', '',
      '| steps/s | evaluations/s | GFLOP/s | of fp32 matmul rate | '
      f'{preset.view_size} px view render | peak resident |',
      '|---|---|---|---|---|---|',
      f'| {result["steps_per_second"]:.2f} | '
      f'{result["evaluations_per_second"]:,.0f} | {result["gflops"]:.1f} | '
      f'{result["matmul_fraction"]:.0%} | {render_seconds:.1f} s | '
      f'{peak_mb:,.0f} MB |']) + '\n'
  common.write_report(workdir, 'nerf_speed', result, markdown)


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
