"""experiments.gpu_report at the tiny preset on the CPU, so it cannot rot."""

import json

import pytest

from cppn import cli
from experiments import device_checks
from experiments import gpu_report


@pytest.fixture(scope='module')
def report(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('gpu_report')
  cli.call(gpu_report.COMMAND, ['--preset=tiny', f'--workdir={workdir}',
                                '--budget_seconds=600'])
  return workdir, json.loads((workdir / 'gpu_report.json').read_text())


def test_every_item_is_measured_and_both_files_are_written(report):
  workdir, result = report
  assert not result['skipped'] and not result['errors']
  assert set(gpu_report.ITEMS) <= set(result)
  markdown = (workdir / 'gpu_report.md').read_text()
  for heading in ('## Environment', '## Correctness against the CPU',
                  '## One paper-protocol fit', '## One step', '## Chunk size',
                  '## Sweep', '## Table 1 image rows', '## Goals'):
    assert heading in markdown


def test_environment_measures_the_matmul_peak_per_precision(report):
  environment = report[1]['environment']
  assert environment['backend'] == 'cpu' and environment['device_count'] >= 1
  peaks = environment['peak_tflops']
  assert peaks['tensorfloat32'] is None  # NVIDIA GPUs only
  assert peaks['float32'] > 0 and peaks['bfloat16'] > 0
  assert environment['memory_gib'] > 0 and environment['bandwidth_gbps'] > 0


def test_the_device_agrees_with_the_cpu_within_the_tolerances(report):
  correctness = report[1]['correctness']
  assert correctness['passed'] == {name: True
                                   for name in device_checks.TOLERANCES}
  assert correctness['resume']['killed']
  assert correctness['resume']['resumed_from_step'] >= 20
  assert len(correctness['cpu']['group_test_psnr']) == 4


def test_the_timed_items_report_rates(report):
  result = report[1]
  fit = result['paper_fit']
  assert fit['cppn']['steps_per_second'] > 0
  assert fit['reference']['steps_per_second'] > 0
  assert result['profile']['flops'] >= result['profile']['model_flops'] > 0
  chunk = result['chunk_size']
  assert set(chunk['steps_per_second']) == {'0', '64', '128'}
  assert chunk['default_picks'] == 2048  # the CPU's cache-sized chunks
  sweep = result['sweep']
  assert sweep['members'] == 3 and sweep['group_errors'] == 0
  assert sweep['speedup'] == pytest.approx(
      sweep['one_by_one_seconds'] / sweep['group_seconds'])


def test_table1_compares_each_precision_with_float32(report):
  precisions = report[1]['table1']['precisions']
  assert precisions['tensorfloat32'] == {'skipped': 'unsupported here'}
  for name in ('float32', 'bfloat16'):
    assert len(precisions[name]['psnr']) == 8  # 2 images x 4 encodings
    assert precisions[name]['tflops'] > 0
  change = precisions['bfloat16']['psnr_change']
  assert change['fits'] == 8 and change['max_abs'] >= abs(change['mean'])
  # The goals are for the paper preset's sizes.
  assert all(goal['measured'] is None
             for goal in report[1]['goals'].values())


def paper_result(table1_groups_skipped=()):
  """A made-up result of the paper preset."""
  return {
      'preset': 'paper',
      'paper_fit': {'cppn': {'train_seconds': 12.5}},
      'sweep': {'speedup': 14.0},
      'table1': {'precisions': {
          'tensorfloat32': {'groups': [{}], 'seconds': 95.0,
                            'skipped_groups': []},
          'float32': {'groups': [{}], 'seconds': 300.0,
                      'skipped_groups': list(table1_groups_skipped)}}}}


def test_goals_are_checked_against_their_targets():
  goals = gpu_report.goals(paper_result())
  assert goals['table1_tensorfloat32_seconds'] == {
      'goal': 120, 'measured': 95.0, 'met': True}
  assert goals['table1_float32_seconds']['met'] is True
  assert goals['sweep_speedup']['met'] is True  # at least 10x
  assert goals['paper_fit_train_seconds'] == {
      'goal': 10, 'measured': 12.5, 'met': False}


def test_a_table_cut_short_by_the_budget_meets_no_goal():
  goals = gpu_report.goals(paper_result(table1_groups_skipped=['gaussian']))
  assert goals['table1_float32_seconds'] == {
      'goal': 360, 'measured': None, 'met': None}


def test_items_that_do_not_fit_the_budget_are_skipped(tmp_path):
  cli.call(gpu_report.COMMAND, ['--preset=tiny', f'--workdir={tmp_path}',
                                '--budget_seconds=1',
                                '--items=correctness,sweep'])
  result = json.loads((tmp_path / 'gpu_report.json').read_text())
  assert set(result['skipped']) == {'correctness', 'sweep'}
  assert 'environment' in result and 'table1' not in result
  assert all(goal['met'] is None for goal in result['goals'].values())
  assert 'correctness: skipped, predicted' in (
      tmp_path / 'gpu_report.md').read_text()


def test_an_unknown_item_is_a_bad_command_line(tmp_path, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.call(gpu_report.COMMAND, [f'--workdir={tmp_path}', '--items=speed'])
  assert exit_info.value.code == 2
  assert '--items takes names from' in capsys.readouterr().err
