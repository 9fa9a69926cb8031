"""experiments/benchmark.py: its arithmetic on made-up measurements (expected
values computed by hand), the report the whole command writes at 16 px, and
the NeRF row's render measurement on a tiny view."""

import json

import numpy as np
import pytest

from cppn import cli
from experiments import benchmark

# 64 px: 32^2 = 1,024 training pixels, 1,315,328 FLOP each per step.
GFLOP_PER_STEP_64 = 1.346895872  # 1,024 * 1,315,328 / 1e9

# Three rounds of each method. cppn's per-round GFLOP/s: 50, 100, 75 steps/s
# x 1.346895872 = 67.3447936, 134.6895872, 101.0171904; over the rounds'
# matmul rates 200, 250, 150: fractions 0.336723968, 0.5387583488,
# 0.673447936. The reference's: 20, 30, 25 steps/s -> 26.93791744,
# 40.40687616, 33.6723968 GFLOP/s over 100, 300, 200: 0.2693791744,
# 0.1346895872, 0.168361984.
OURS = {'steps_per_second': [50.0, 100.0, 75.0],
        'matmul_gflops': [200.0, 250.0, 150.0], 'steps_per_round': 30,
        'peak_mb': 900.0, 'sustained_matmul_gflops': 120.0}
REF = {'steps_per_second': [20.0, 30.0, 25.0],
       'matmul_gflops': [100.0, 300.0, 200.0], 'steps_per_round': 10,
       'peak_mb': 500.0}


def test_flops_per_pixel_of_the_paper_mlp():
  # Layers 512->256, 256->256, 256->256, 256->3: forward 2 FLOPs per
  # multiply-add, backward 4 (input and weight gradients) except the first
  # layer's input gradient.
  macs = [512 * 256, 256 * 256, 256 * 256, 256 * 3]
  assert benchmark.flops_per_pixel() == 6 * sum(macs) - 2 * macs[0]
  assert benchmark.flops_per_pixel() == 1_315_328
  # Another shape, by hand: 2 -> 4 -> 3 (depth 2): macs 8 and 12.
  assert benchmark.flops_per_pixel(depth=2, width=4, num_inputs=2) == (
      6 * 20 - 2 * 8)


def test_steps_per_round_fill_the_round():
  # 64 px: 1.35 GFLOP a step; at 100 GFLOP/s a 0.6 s round holds 44.5 steps.
  assert benchmark.steps_per_round(64, 100.0) == 45
  assert benchmark.steps_per_round(64, 100.0, seconds=1.2) == 89  # 89.09
  assert benchmark.steps_per_round(4096, 1.0) == 2  # never fewer than 2


def test_achieved_gflops():
  assert benchmark.achieved_gflops(75.0, 1024) == pytest.approx(101.0171904)
  # 1,315,328 x 2^16 = 86,201,335,808 FLOP.
  assert benchmark.achieved_gflops(1.0, 65_536) == pytest.approx(86.201335808)


def test_table_row_arithmetic_by_hand():
  row = benchmark.table_row(64, 3, OURS, REF)
  expected = {
      'size': 64, 'train_pixels': 1024, 'rounds': 3,
      'cppn_steps_per_round': 30, 'reference_steps_per_round': 10,
      'cppn_steps_per_second': 75.0, 'reference_steps_per_second': 25.0,
      'cppn_matmul_gflops': 200.0, 'reference_matmul_gflops': 200.0,
      # The median of the per-round fractions, not the fraction of the
      # medians (75 x 1.3469 / 200 = 0.505).
      'cppn_fraction_of_matmul': 0.5387583488,
      'reference_fraction_of_matmul': 0.168361984,
      'cppn_sustained_matmul_gflops': 120.0,
      'cppn_peak_mb': 900.0, 'reference_peak_mb': 500.0,
      'speedup': 3.0,  # 75 / 25
      'cppn_gflops': 101.0171904,  # 75 x 1.346895872
      'cppn_fraction_of_sustained_matmul': 0.84180992,  # 101.0171904 / 120
  }
  for key, value in expected.items():
    assert row[key] == pytest.approx(value, rel=1e-12), key
  low, high = row['cppn_fraction_of_matmul_range']
  assert (low, high) == pytest.approx((0.336723968, 0.673447936), rel=1e-12)
  assert row['cppn_rounds'] == OURS and row['reference_rounds'] == REF
  assert set(row) == set(expected) | {'cppn_fraction_of_matmul_range',
                                      'cppn_rounds', 'reference_rounds'}


def test_table_row_medians_of_an_even_number_of_rounds():
  ours = dict(OURS, steps_per_second=[10.0, 40.0, 20.0, 30.0],
              matmul_gflops=[100.0, 100.0, 300.0, 200.0])
  ref = dict(REF, steps_per_second=[5.0, 5.0, 15.0, 10.0],
             matmul_gflops=[100.0] * 4)
  row = benchmark.table_row(64, 4, ours, ref)
  assert row['cppn_steps_per_second'] == 25.0  # (20 + 30) / 2
  assert row['cppn_matmul_gflops'] == 150.0  # (100 + 200) / 2
  assert row['reference_steps_per_second'] == 7.5  # (5 + 10) / 2
  assert row['speedup'] == pytest.approx(25 / 7.5)
  # Fractions: 10, 40, 20, 30 steps/s x 1.346895872 over 100, 100, 300, 200
  # = 0.13469, 0.53876, 0.08979, 0.20203: median (0.13469 + 0.20203) / 2.
  assert row['cppn_fraction_of_matmul'] == pytest.approx(
      (0.1346895872 + 0.2020343808) / 2, rel=1e-12)
  assert row['cppn_fraction_of_matmul_range'] == pytest.approx(
      [0.0897930581, 0.5387583488], rel=1e-9)


def test_markdown_row_of_made_up_result():
  row = benchmark.table_row(64, 3, OURS, REF)
  result = {'matmul_gflops': 300.0, 'flops_per_pixel': 1_315_328,
            'backend': 'cpu', 'device': 'cpu', 'rows': [row],
            'sweep': {'members': 8, 'sweep_seconds': 10.0,
                      'separate_seconds': 35.0, 'ratio': 3.5}}
  lines = benchmark.markdown(result).splitlines()
  assert lines[0].startswith('fp32 matmul: up to 300.0 GFLOP/s (cpu); 1.32 '
                             'MFLOP per training pixel per step; 3 rounds')
  header, rule, body = lines[2:5]
  assert header.count('|') == rule.count('|') == body.count('|') == 14
  assert body == ('| 64 px | 1,024 | 75.00 | 25.00 | 3.00x | 101.0 | 200 | '
                  '54% [34%-67%] | 17% | 120 | 84% | 900 | 500 |')
  assert lines[-1] == ('sweep of 8 members: one command 10.0 s, separate '
                       'commands 35.0 s, ratio 3.50x')


def read_table(markdown):
  """The markdown table's header cells and its rows' cells."""
  lines = [line for line in markdown.splitlines() if line.startswith('|')]
  split = lambda line: [cell.strip() for cell in line.strip('|').split('|')]
  assert set(lines[1]) <= set('|-')
  return split(lines[0]), [split(line) for line in lines[2:]]


def test_benchmark_command_writes_its_report(tmp_path):
  # The tiny preset: one 16 px size, 2 rounds of 0.05 s per method.
  cli.call(benchmark.COMMAND, ['--preset=tiny', f'--workdir={tmp_path}'])
  result = json.loads((tmp_path / 'benchmark.json').read_text())
  assert result['flops_per_pixel'] == 1_315_328
  row, = result['rows']
  assert (row['size'], row['train_pixels'], row['rounds']) == (16, 64, 2)
  for method in ('cppn', 'reference'):
    rounds = row[f'{method}_rounds']
    rates = np.array(rounds['steps_per_second'])
    matmuls = np.array(rounds['matmul_gflops'])
    assert len(rates) == len(matmuls) == 2 and (rates > 0).all()
    assert rounds['steps_per_round'] >= 2
    assert row[f'{method}_peak_mb'] > 100  # a real process with jax loaded
    # The row from its rounds, in NumPy.
    assert row[f'{method}_steps_per_second'] == pytest.approx(
        np.median(rates))
    fractions = rates * 64 * 1_315_328 / 1e9 / matmuls
    assert row[f'{method}_fraction_of_matmul'] == pytest.approx(
        np.median(fractions))
  assert result['matmul_gflops'] == max(
      row['cppn_rounds']['matmul_gflops']
      + row['reference_rounds']['matmul_gflops'])
  header, cells = read_table((tmp_path / 'benchmark.md').read_text())
  assert header[:5] == ['image', 'train pixels', 'cppn steps/s',
                        'reference steps/s', 'speedup']
  assert len(header) == 13
  body, = cells
  assert len(body) == 13
  assert body[:2] == ['16 px', '64']
  assert float(body[2]) == pytest.approx(row['cppn_steps_per_second'],
                                         abs=0.005)
  assert float(body[3]) == pytest.approx(row['reference_steps_per_second'],
                                         abs=0.005)
  assert body[4] == f'{row["speedup"]:.2f}x'


# Three timed rounds of 5 steps (the --tasks rows' arithmetic tests).
ROUNDS = {'steps_per_second': [10.0, 40.0, 30.0],
          'matmul_gflops': [1.0, 2.0, 3.0], 'steps_per_round': 5,
          'peak_mb': 700.0}


def test_task_row_arithmetic_by_hand():
  # CT at 4 px: 16 network evaluations a step, one output: macs 512 * 256,
  # 256 * 256 twice, 256 * 1 = 262,400; 6 * 262,400 - 2 * 131,072 =
  # 1,312,256 FLOP each, 0.020996096 GFLOP a step. Rounds at 10, 40, 30
  # steps/s over matmul rates 1, 2, 3 GFLOP/s: fractions 0.20996096,
  # 0.41992192, 0.20996096.
  measured = ROUNDS
  row = benchmark.task_row('ct', 4, measured)
  assert row['points'] == 16
  assert row['steps_per_second'] == 30.0
  assert row['gflops'] == pytest.approx(30 * 0.020996096)
  assert row['fraction_of_matmul'] == pytest.approx(0.20996096)
  assert row['fraction_of_matmul_range'] == pytest.approx(
      [0.20996096, 0.41992192])
  assert benchmark.task_row('mri', 3, measured)['points'] == 27
  table = benchmark.markdown({
      'matmul_gflops': 3.0, 'device': 'cpu', 'flops_per_pixel': 1.0,
      'rows': [benchmark.table_row(64, 3, OURS, REF)], 'tasks': [row]})
  assert '| ct 4 | 16 | 30.000 | 0.6 | 2 | 21% [21%-42%] | 700 |' in table


def test_nerf_row_arithmetic_by_hand():
  # 4 rays x 2 samples = 8 network evaluations a step, 4 outputs: macs
  # 512 * 256, 256 * 256 twice, 256 * 4 = 263,168; 6 * 263,168 - 2 *
  # 131,072 = 1,316,864 FLOP each, 0.010534912 GFLOP a step. Rounds at 10,
  # 40, 30 steps/s over matmul rates 1, 2, 3 GFLOP/s: fractions 0.10534912,
  # 0.21069824, 0.10534912.
  workload = benchmark.NerfWorkload(rays_per_step=4, num_samples=2,
                                    resolution=16)
  measured = ROUNDS
  render = {'seconds': 12.34, 'start_mb': 600.0, 'peak_mb': 900.0,
            'device_peak_mb': None}
  row = benchmark.nerf_row(workload, measured, render)
  assert row['points'] == 8 and row['view_size'] == 400
  assert row['steps_per_second'] == 30.0
  assert row['evaluations_per_second'] == 240.0
  assert row['gflops'] == pytest.approx(30 * 0.010534912)
  assert row['fraction_of_matmul'] == pytest.approx(0.10534912)
  assert row['fraction_of_matmul_range'] == pytest.approx(
      [0.10534912, 0.21069824])
  assert (row['render_seconds'], row['render_peak_mb']) == (12.34, 900.0)
  table = benchmark.markdown({
      'matmul_gflops': 3.0, 'device': 'cpu', 'flops_per_pixel': 1.0,
      'rows': [benchmark.table_row(64, 3, OURS, REF)], 'tasks': [row]})
  assert ('| nerf 4 rays x 2 samples, 16 px views | 8 | 30.000 | 0.3 | 2 | '
          '11% [11%-21%] | 700 |') in table
  assert ('nerf: 240 network evaluations/s in training; one 400 px view '
          '(160,000 rays x 2 samples) rendered through NerfTask.render in '
          '12.3 s, peak resident 900 MB in its process (600 MB before the '
          'render)\n') in table


def test_nerf_render_measurement_of_a_tiny_view():
  # In this process: a 12 px view through NerfTask.render.
  workload = benchmark.NerfWorkload(rays_per_step=16, num_samples=4,
                                    resolution=8, view_size=12)
  render = benchmark.measure('nerf_render', 16, None, 1, 0.01, workload)
  assert render['seconds'] > 0
  assert render['peak_mb'] >= render['start_mb'] > 100
