"""experiments/benchmark.py: the FLOP count, and the whole command at 16 px."""

import json

from experiments import benchmark


def test_flops_per_pixel_of_the_paper_mlp():
  # Layers 512->256, 256->256, 256->256, 256->3: forward 2 FLOPs per
  # multiply-add, backward 4 (input and weight gradients) except the first
  # layer's input gradient.
  macs = [512 * 256, 256 * 256, 256 * 256, 256 * 3]
  assert benchmark.flops_per_pixel() == 6 * sum(macs) - 2 * macs[0]
  assert benchmark.flops_per_pixel() == 1_315_328


def test_steps_per_round_fill_the_round():
  # 64 px: 1,024 training pixels, 1.35 GFLOP a step; at 100 GFLOP/s a
  # 0.6 s round holds 44.5 steps.
  assert benchmark.steps_per_round(64, 100.0) == 45
  assert benchmark.steps_per_round(4096, 1.0) == 2  # never fewer than 2


def test_benchmark_command_writes_its_table(tmp_path):
  benchmark.main(['--sizes=16', '--rounds=2', '--round_seconds=0.05',
                  f'--workdir={tmp_path}'])
  result = json.loads((tmp_path / 'benchmark.json').read_text())
  row, = result['rows']
  assert row['train_pixels'] == 64
  for method in ('cppn', 'reference'):
    rounds = row[f'{method}_rounds']
    assert len(rounds['steps_per_second']) == 2
    assert all(rate > 0 for rate in rounds['steps_per_second'])
    assert all(rate > 1 for rate in rounds['matmul_gflops'])
    assert 0 < row[f'{method}_fraction_of_matmul'] < 2
    assert row[f'{method}_peak_mb'] > 100  # a real process with jax loaded
  low, high = row['cppn_fraction_of_matmul_range']
  assert low <= row['cppn_fraction_of_matmul'] <= high
  assert row['speedup'] == (row['cppn_steps_per_second']
                            / row['reference_steps_per_second'])
  table = (tmp_path / 'benchmark.md').read_text()
  assert '| 16 px | 64 |' in table
