r"""Training speed against the machine's matmul ceiling and the reference loop.

  python -m experiments.benchmark --workdir=runs/benchmark [--sizes=64,128,256,512]

Workload (the paper's): a 4 x 256 ReLU MLP on m = 256 Gaussian features (512
inputs), Adam, full batch, paper split of an N x N image (N^2 / 4 training
pixels). Minimal FLOPs per training pixel per step: 6 x (multiply-adds of all
layers) - 2 x (those of the first layer, which needs no input gradient) =
1.32 MFLOP. For each image size this times, each in a fresh subprocess (so
peak memory is per measurement):

  cppn       the project's trainer through `train.train_and_evaluate`
             (steps/s of the compiled training calls, compilation excluded)
  reference  experiments/reference.py: the paper notebooks' loop, a Python
             loop of jitted gradient + jitted Adam calls (first step excluded)

and prints a table: training pixels, steps/s of each, speedup, achieved
GFLOP/s, fraction of the fp32 matmul rate, peak resident memory. The matmul
rate is measured in the same process just before and just after each
measurement, the higher of the two kept (this shared machine's speed drifts
by 10-20% over minutes, so only a rate taken beside the measurement makes
the fraction mean something), two ways:

  burst      best of 5 single 2048^3 matmuls (the goal's yardstick)
  sustained  20 chained 2048^3 matmuls in one compiled call, as a training
             run issues them back to back (~8% below burst on the 2-core CPU)

With --cli it also times the command line itself at two step counts with
one evaluation each, so start-up, compilation and evaluation cancel. With
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
process halves every number.
"""

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp

DEPTH, WIDTH, NUM_FEATURES = 4, 256, 256
SECONDS_PER_MEASUREMENT = 8.0
ASSUMED_GFLOPS = 140.0  # only to size the step counts


def flops_per_pixel(depth=DEPTH, width=WIDTH, num_inputs=2 * NUM_FEATURES):
  """Minimal training FLOPs per pixel per step of an MLP with 3 outputs."""
  widths = [num_inputs] + [width] * (depth - 1) + [3]
  macs = [a * b for a, b in zip(widths[:-1], widths[1:])]
  return 6 * sum(macs) - 2 * macs[0]


def matmul_gflops(size=2048, repeats=5):
  """Best fp32 matmul rate of XLA on this machine, in GFLOP/s."""
  a = jnp.ones((size, size), jnp.float32)
  matmul = jax.jit(lambda x: x @ x)
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
  chain = jax.jit(lambda x: jax.lax.fori_loop(0, count, lambda _, y: y @ x, x))
  chain(a).block_until_ready()
  tic = time.perf_counter()
  chain(a).block_until_ready()
  return 2 * size**3 * count / (time.perf_counter() - tic) / 1e9


def num_steps_for(size):
  """Steps that take about SECONDS_PER_MEASUREMENT at the assumed rate."""
  seconds_per_step = flops_per_pixel() * size**2 / 4 / (ASSUMED_GFLOPS * 1e9)
  return max(5, round(SECONDS_PER_MEASUREMENT / seconds_per_step))


def paper_config(size, num_steps):
  """configs/default.py at N = size, one evaluation at the end."""
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.data.resolution = size
  config.train.num_steps = num_steps
  config.train.eval_every_steps = num_steps
  return config


def measure_cppn(size, num_steps):
  """Steps/s of cppn's trainer (compilation and evaluation excluded)."""
  from cppn import train  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as workdir:
    summary = train.train_and_evaluate(paper_config(size, num_steps), workdir,
                                       progress=False)
  return summary['steps_per_second']


def measure_reference(size, num_steps):
  """Steps/s of the paper notebooks' loop (first step excluded)."""
  from cppn import data  # pylint: disable=g-import-not-at-top
  from experiments import reference  # pylint: disable=g-import-not-at-top
  image = data.load_target('astronaut', size)
  result = reference.fit(image, encoding='gaussian', scale=10.0,
                         num_features=NUM_FEATURES, depth=DEPTH, width=WIDTH,
                         learning_rate=1e-3, num_steps=num_steps)
  return result['steps_per_second']


def measure_in_subprocess(method, size, num_steps):
  """Runs one measurement in a fresh process.

  Returns:
    {'steps_per_second', 'wall_seconds', 'peak_mb', 'matmul_gflops',
    'sustained_matmul_gflops'}: wall_seconds is the whole fit's (data,
    compilation and the final evaluation included); the matmul rates are
    measured in that process around the fit.
  """
  output = subprocess.run(
      [sys.executable, '-m', 'experiments.benchmark', f'--measure={method}',
       f'--sizes={size}', f'--steps={num_steps}'],
      check=True, capture_output=True, text=True).stdout
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


def benchmark(sizes, with_cli):
  """Rows of the table, one per image size, plus the highest matmul rate."""
  rows = []
  for size in sizes:
    num_steps = num_steps_for(size)
    ours = measure_in_subprocess('cppn', size, num_steps)
    ref = measure_in_subprocess('reference', size, num_steps)
    pixels = size**2 // 4
    gflops = lambda m: m['steps_per_second'] * pixels * flops_per_pixel() / 1e9
    row = {
        'size': size, 'train_pixels': pixels, 'num_steps': num_steps,
        'cppn_steps_per_second': ours['steps_per_second'],
        'reference_steps_per_second': ref['steps_per_second'],
        'speedup': ours['steps_per_second'] / ref['steps_per_second'],
        'cppn_gflops': gflops(ours), 'reference_gflops': gflops(ref),
        'cppn_matmul_gflops': ours['matmul_gflops'],
        'cppn_sustained_matmul_gflops': ours['sustained_matmul_gflops'],
        'reference_matmul_gflops': ref['matmul_gflops'],
        'cppn_fraction_of_matmul': gflops(ours) / ours['matmul_gflops'],
        'cppn_fraction_of_sustained_matmul':
            gflops(ours) / ours['sustained_matmul_gflops'],
        'reference_fraction_of_matmul': gflops(ref) / ref['matmul_gflops'],
        'cppn_peak_mb': ours['peak_mb'], 'reference_peak_mb': ref['peak_mb'],
    }
    if with_cli:
      short, long = num_steps, 3 * num_steps
      row['cli_steps_per_second'] = (long - short) / (
          cli_seconds(size, long) - cli_seconds(size, short))
    rows.append(row)
    print(json.dumps(row), flush=True)
  matmul = max(max(r['cppn_matmul_gflops'], r['reference_matmul_gflops'])
               for r in rows)
  return {'matmul_gflops': matmul, 'flops_per_pixel': flops_per_pixel(),
          'backend': jax.default_backend(),
          'device': str(jax.devices()[0].device_kind), 'rows': rows}


def markdown(result):
  """The result as a markdown table (and the sweep ratio, if measured)."""
  lines = [
      f'fp32 matmul: up to {result["matmul_gflops"]:.1f} GFLOP/s '
      f'({result["device"]}); {result["flops_per_pixel"] / 1e6:.2f} MFLOP '
      'per training pixel per step; matmul rates measured beside each '
      'measurement: burst (best of 5) for cppn / for the reference, and '
      'sustained (20 chained) for cppn', '',
      '| image | train pixels | cppn steps/s | reference steps/s | speedup | '
      'cppn GFLOP/s | matmul burst GFLOP/s | cppn of burst | reference of '
      'burst | matmul sustained GFLOP/s | cppn of sustained | cppn peak MB | '
      'reference peak MB |' + (
          ' CLI steps/s |' if 'cli_steps_per_second' in result['rows'][0]
          else ''),
      '|---' * (13 + ('cli_steps_per_second' in result['rows'][0])) + '|']
  for r in result['rows']:
    lines.append(
        f'| {r["size"]} px | {r["train_pixels"]:,} | '
        f'{r["cppn_steps_per_second"]:.2f} | '
        f'{r["reference_steps_per_second"]:.2f} | {r["speedup"]:.2f}x | '
        f'{r["cppn_gflops"]:.1f} | {r["cppn_matmul_gflops"]:.0f} / '
        f'{r["reference_matmul_gflops"]:.0f} | '
        f'{r["cppn_fraction_of_matmul"]:.0%} | '
        f'{r["reference_fraction_of_matmul"]:.0%} | '
        f'{r["cppn_sustained_matmul_gflops"]:.0f} | '
        f'{r["cppn_fraction_of_sustained_matmul"]:.0%} | '
        f'{r["cppn_peak_mb"]:.0f} | '
        f'{r["reference_peak_mb"]:.0f} |'
        + (f' {r["cli_steps_per_second"]:.2f} |' if 'cli_steps_per_second'
           in r else ''))
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
  if args.measure:
    measure = {'cppn': measure_cppn, 'reference': measure_reference}
    rates = lambda: (matmul_gflops(), sustained_matmul_gflops())
    before = rates()
    tic = time.perf_counter()
    rate = measure[args.measure](sizes[0], args.steps)
    wall_seconds = time.perf_counter() - tic
    after = rates()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'steps_per_second': rate, 'wall_seconds': wall_seconds,
                      'peak_mb': peak_mb,
                      'matmul_gflops': max(before[0], after[0]),
                      'sustained_matmul_gflops': max(before[1], after[1])}))
    return
  result = benchmark(sizes, args.cli)
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
        method: measure_in_subprocess(method, 512, 2000)['wall_seconds']
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
