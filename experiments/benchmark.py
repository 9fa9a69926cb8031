r"""Training speed against the machine's matmul ceiling and the reference loop.

  python -m experiments.benchmark --workdir=runs/benchmark [--sizes=64,...]

Workload (the paper's): a 4 x 256 ReLU MLP on m = 256 Gaussian features (512
inputs), Adam, full batch, paper split of an N x N image (N^2 / 4 training
pixels). Minimal FLOPs per training pixel per step: 6 x (multiply-adds of all
layers) - 2 x (those of the first layer, which needs no input gradient) =
1.32 MFLOP. For each image size this times, each in a fresh subprocess (so
peak memory is per measurement):

  cppn       the project's trainer: one fit through `train.train_and_evaluate`
             (the whole path, so the peak memory is a fit's), then rounds of
             the compiled call that fit makes (`train.train_steps`: many
             steps in one lax.scan, the state donated)
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
separate commands (experiments/sweep_speed.py). With --paper_fit (default on
a GPU) it also times one whole paper-protocol fit (512 px, 2000 steps) of
cppn and of the reference, start to finish in its process. With
--table1=PRESET (default `paper` on a GPU) it also times `python -m
experiments.table1` at that preset once per --table1_precisions entry
(model.matmul_precision), each into its own folder under --workdir, and
tabulates wall minutes beside the mean test PSNRs, so the PSNR cost of TF32
and bf16 matmuls stands beside their speed. Writes benchmark.json and
benchmark.md into --workdir. Run it on a quiet machine: a second busy
process of our own halves every number.
"""

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

DEPTH, WIDTH, NUM_FEATURES = 4, 256, 256
NUM_ROUNDS = 10  # timing rounds per measurement
SECONDS_PER_ROUND = 0.6  # default training time of one round


def flops_per_pixel(depth=DEPTH, width=WIDTH, num_inputs=2 * NUM_FEATURES):
  """Minimal training FLOPs per pixel per step of an MLP with 3 outputs."""
  widths = [num_inputs] + [width] * (depth - 1) + [3]
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


def sustained_matmul_gflops(size=2048, count=20):
  """fp32 rate of `count` chained matmuls in one compiled call, in GFLOP/s."""
  a = jnp.full((size, size), 1.0 / size, jnp.float32)
  chain = jax.jit(lambda x: jax.lax.fori_loop(
      0, count, lambda _, y: fp32_matmul(y, x), x))
  chain(a).block_until_ready()
  tic = time.perf_counter()
  chain(a).block_until_ready()
  return 2 * size**3 * count / (time.perf_counter() - tic) / 1e9


def steps_per_round(size, gflops, seconds=SECONDS_PER_ROUND):
  """Training steps that take about `seconds` at `gflops`."""
  seconds_per_step = flops_per_pixel() * size**2 / 4 / (gflops * 1e9)
  return max(2, round(seconds / seconds_per_step))


def paper_config(size, num_steps):
  """configs/default.py at N = size, one evaluation at the end."""
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.data.resolution = size
  config.train.num_steps = num_steps
  config.train.eval_every_steps = num_steps
  return config


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
  evaluation included, so the process's peak memory is a fit's); then the
  same member's state, batch and `train.train_steps` (num_steps steps per
  call, the state donated) are timed call by call.
  """
  from cppn import models  # pylint: disable=g-import-not-at-top
  from cppn import train  # pylint: disable=g-import-not-at-top
  config = paper_config(size, num_steps)
  with tempfile.TemporaryDirectory() as workdir:
    train.train_and_evaluate(config, f'{workdir}/fit', progress=False)
    member = train.setup_member(config, f'{workdir}/rounds')
    state = train.initial_state(member, models.make_model(config.model))
    batch = jax.tree_util.tree_map(jnp.asarray, train.member_batch(
        member, train.encoding_width(member)))
  key = jax.random.PRNGKey(0)
  step = train.train_steps.lower(state, batch, key,
                                 num_steps=num_steps).compile()
  state = jax.block_until_ready(step(state, batch, key)[0])

  def run_round():
    nonlocal state
    tic = time.perf_counter()
    state = jax.block_until_ready(step(state, batch, key)[0])
    return num_steps / (time.perf_counter() - tic)

  return timed_rounds(run_round, num_rounds)


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
  with tempfile.TemporaryDirectory() as workdir:
    tic = time.perf_counter()
    train.train_and_evaluate(paper_config(size, num_steps), workdir,
                             progress=False)
    return time.perf_counter() - tic


def reference_fit_seconds(size, num_steps):
  """Wall seconds of one whole reference fit (image loading and compilation
  included)."""
  tic = time.perf_counter()
  reference_fit(astronaut(size), num_steps)
  return time.perf_counter() - tic


def measure(method, size, num_steps, num_rounds, round_seconds):
  """One measurement in this process (see measure_in_subprocess)."""
  peak_mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  if num_steps:
    fit_seconds = {'cppn': cppn_fit_seconds, 'reference': reference_fit_seconds}
    return {'wall_seconds': fit_seconds[method](size, num_steps),
            'peak_mb': peak_mb()}
  sustained = sustained_matmul_gflops()
  num_steps = steps_per_round(size, matmul_gflops(), round_seconds)
  rounds = {'cppn': cppn_rounds, 'reference': reference_rounds}[method](
      size, num_steps, num_rounds)
  return {**rounds, 'steps_per_round': num_steps, 'peak_mb': peak_mb(),
          'sustained_matmul_gflops': max(sustained, sustained_matmul_gflops())}


def measure_in_subprocess(method, size, num_rounds=NUM_ROUNDS,
                          round_seconds=SECONDS_PER_ROUND, num_steps=None):
  """Runs one measurement in a fresh process, so peak memory is its own.

  Returns:
    With num_steps, one whole fit of that many steps: {'wall_seconds',
    'peak_mb'}. Without, `num_rounds` timing rounds of about
    `round_seconds` of training each (see timed_rounds):
    {'steps_per_second', 'matmul_gflops' (lists, one entry per round),
    'steps_per_round', 'peak_mb', 'sustained_matmul_gflops' (the higher of
    two measured before and after the rounds)}.
  """
  command = [sys.executable, '-m', 'experiments.benchmark',
             f'--measure={method}', f'--sizes={size}',
             f'--rounds={num_rounds}', f'--round_seconds={round_seconds}']
  if num_steps:
    command.append(f'--steps={num_steps}')
  output = subprocess.run(command, check=True, capture_output=True,
                          text=True).stdout
  return json.loads(output.strip().splitlines()[-1])


def time_table1(preset, matmul_precision, workdir: pathlib.Path):
  """Wall minutes and mean test PSNRs of experiments.table1, as a command.

  Returns:
    {'preset', 'matmul_precision', 'minutes', 'psnr': {'set/encoding': dB}}.
  """
  tic = time.perf_counter()
  subprocess.run(
      [sys.executable, '-m', 'experiments.table1', f'--preset={preset}',
       f'--workdir={workdir}', f'--matmul_precision={matmul_precision}',
       '--noprogress'], check=True, capture_output=True)
  minutes = (time.perf_counter() - tic) / 60
  cells = json.loads((workdir / 'table1.json').read_text())['cells']
  return {'preset': preset, 'matmul_precision': matmul_precision,
          'minutes': minutes,
          'psnr': {key: cell['mean'] for key, cell in cells.items()}}


def cli_seconds(size, num_steps):
  """Wall seconds of `python -m cppn.main` on the paper config at `size`."""
  with tempfile.TemporaryDirectory() as workdir:
    tic = time.perf_counter()
    subprocess.run(
        [sys.executable, '-m', 'cppn.main', '--config=configs/default.py',
         f'--workdir={workdir}', '--noprogress',
         f'--config.data.resolution={size}',
         f'--config.train.num_steps={num_steps}',
         f'--config.train.eval_every_steps={num_steps}'],
        check=True, capture_output=True)
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
  if 'paper_fit' in result:
    fit = result['paper_fit']
    lines += ['', 'one paper-protocol fit (512 px, 2000 steps), wall seconds '
              f'in its process: cppn {fit["cppn"]:.1f}, reference '
              f'{fit["reference"]:.1f}']
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


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default='runs/benchmark')
  parser.add_argument('--sizes', default='64,128,256,512',
                      help='image sides N; N^2 / 4 training pixels each')
  parser.add_argument('--rounds', type=int, default=NUM_ROUNDS,
                      help='timing rounds per measurement')
  parser.add_argument('--round_seconds', type=float, default=SECONDS_PER_ROUND,
                      help='training time of one round, sized by the '
                      'burst matmul rate')
  parser.add_argument('--cli', action='store_true',
                      help='also time the command line at two step counts')
  parser.add_argument('--sweep', action='store_true',
                      help='also time a sweep against separate runs')
  parser.add_argument('--paper_fit', default=None, action='store_true',
                      help='also time one 512 px, 2000-step fit of cppn and '
                      'of the reference (default: on a GPU)')
  parser.add_argument('--table1', default=None,
                      help='also time experiments.table1 at this preset '
                      '(default: paper on a GPU, none elsewhere)')
  parser.add_argument('--table1_precisions', default=None,
                      help='model.matmul_precision values for --table1 '
                      '(default: float32,tensorfloat32,bfloat16 on a GPU, '
                      'float32,bfloat16 elsewhere)')
  parser.add_argument('--measure', choices=('cppn', 'reference'),
                      help=argparse.SUPPRESS)  # one measurement (subprocess)
  parser.add_argument('--steps', type=int, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  sizes = [int(s) for s in args.sizes.split(',')]
  # On a GPU, JAX reserves most of its memory at the first operation; this
  # process and the measurements it starts (which inherit the setting) share
  # one GPU, so each takes memory only as it needs it.
  os.environ.setdefault('XLA_PYTHON_CLIENT_PREALLOCATE', 'false')
  if args.measure:
    print(json.dumps(measure(args.measure, sizes[0], args.steps,
                             args.rounds, args.round_seconds)))
    return
  result = benchmark(sizes, args.rounds, args.round_seconds, args.cli)
  workdir = pathlib.Path(args.workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  if args.sweep:
    from experiments import sweep_speed  # pylint: disable=g-import-not-at-top
    with tempfile.TemporaryDirectory() as sweep_dir:
      result['sweep'] = sweep_speed.measure('configs/sweep_scale.py',
                                            pathlib.Path(sweep_dir))
  on_gpu = jax.default_backend() == 'gpu'
  if args.paper_fit or (args.paper_fit is None and on_gpu):
    result['paper_fit'] = {
        method: measure_in_subprocess(method, 512,
                                      num_steps=2000)['wall_seconds']
        for method in ('cppn', 'reference')}
  preset = args.table1 or ('paper' if on_gpu else None)
  if preset:
    precisions = args.table1_precisions or (
        'float32,tensorfloat32,bfloat16' if on_gpu else 'float32,bfloat16')
    result['table1'] = [
        time_table1(preset, precision, workdir / f'table1_{precision}')
        for precision in precisions.split(',')]
  (workdir / 'benchmark.json').write_text(json.dumps(result, indent=2))
  table = markdown(result)
  (workdir / 'benchmark.md').write_text(table)
  print(table)


if __name__ == '__main__':
  main()
