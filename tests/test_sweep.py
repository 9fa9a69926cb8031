"""Tests for cppn.sweep: declaring members, and sweeps run from the command line.

The end-to-end tests write sweep configs outside the project, in the form the
docs give (get_config() + get_sweep() in one file), run them with
`python -m cppn.main`, and check results.csv against the members, the
figures, vmapped results against solo runs, several devices against one,
reruns, and failures.
"""

import csv
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from cppn import group
from cppn import overrides
from cppn import sweep
from cppn import train
from cppn.errors import CppnError
import configs.test

REPO = pathlib.Path(__file__).resolve().parents[1]
SCALES = (1, 2, 4)
# At configs/test.py's 1e-2 the 60-step fit is chaotic enough that rounding
# differences between batched and single matmuls (1e-7 relative) grow to
# ~3e-3 dB; at 5e-3 grouped and solo runs agree to ~1e-6 dB.
LEARNING_RATE = 5e-3


def write_sweep_config(directory, sweep_expression):
  """A config file in `directory`: configs/test.py plus get_sweep()."""
  path = pathlib.Path(directory) / 'my_sweep.py'
  path.write_text(textwrap.dedent(f'''\
      """A sweep written by a user, outside the project."""
      from configs import test
      from cppn import sweep

      def get_config():
        return test.get_config()

      def get_sweep():
        return {sweep_expression}
      '''))
  return path


def run_sweep_cli(config_path, workdir, *flags, env=None):
  """python -m cppn.main on a sweep config; returns the CompletedProcess."""
  return subprocess.run(
      [sys.executable, '-m', 'cppn.main', f'--config={config_path}',
       f'--workdir={workdir}', '--noprogress', *flags],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=None if env is None else {**os.environ, **env})


def read_results(workdir):
  """results.csv as a list of dicts."""
  with open(pathlib.Path(workdir) / 'results.csv') as f:
    return list(csv.DictReader(f))


def test_product_and_zip_build_member_overrides():
  assert sweep.product({'a.x': (1, 2), 'b': ('u', 'v')}) == [
      {'a.x': 1, 'b': 'u'}, {'a.x': 1, 'b': 'v'},
      {'a.x': 2, 'b': 'u'}, {'a.x': 2, 'b': 'v'}]
  assert sweep.zip_({'a.x': (1, 2), 'b': ('u', 'v')}) == [
      {'a.x': 1, 'b': 'u'}, {'a.x': 2, 'b': 'v'}]
  with pytest.raises(CppnError, match='equally long'):
    sweep.zip_({'a': (1, 2), 'b': (1,)})


def test_member_names_are_short_sanitized_and_unique():
  assert sweep.member_names([
      {'encoding.sigma': 4}, {'encoding.sigma': 4},
      {'seed': 1, 'encoding.seed': 2}, {}, {'data.image': 'a/b c.png'},
  ]) == ['sigma=4', 'sigma=4-2', 'seed=1,encoding.seed=2', 'base',
         'image=a_b_c.png']


def test_overrides_copy_the_config_and_reject_unknown_fields():
  base = configs.test.get_config()
  base.lock()
  member = overrides.apply_overrides(base, {'encoding.sigma': 4, 'seed': 3})
  assert (member.encoding.sigma, member.seed) == (4.0, 3)
  assert (base.encoding.sigma, base.seed) == (2.0, 0)
  with pytest.raises(CppnError, match='no field encoding.sigm$'):
    overrides.apply_overrides(base, {'encoding.sigm': 4})
  with pytest.raises(CppnError, match='train.num_steps=2.5'):
    overrides.apply_overrides(base, {'train.num_steps': 2.5})


@pytest.mark.parametrize('member,pattern', [
    ({'encoding.num_freqs': 6}, 'sweep member num_freqs=6: encoding.num_freqs '
     'is not read by the encoding gaussian'),
    ({'encoding.scale': 6}, 'encoding.scale is no longer a field; use '
     'encoding.sigma'),
    ({'model.name': 'pyramid', 'model.width': 8},
     'model.width is not read by the model pyramid'),
])
def test_a_member_setting_a_field_it_does_not_read_is_refused(tmp_path, member,
                                                             pattern):
  with pytest.raises(CppnError, match=pattern):
    sweep.plan(configs.test.get_config(), [{'encoding.sigma': 1}, member],
               tmp_path)


def test_a_command_line_field_must_be_read_by_some_member(tmp_path):
  members = [{'encoding.name': 'gaussian'}, {'encoding.name': 'positional'}]
  config = configs.test.get_config()
  sweep.plan(config, members, tmp_path, ['encoding.sigma'])  # gaussian reads it
  with pytest.raises(CppnError, match='--config.encoding.num_freqs is not read'):
    sweep.plan(config, members, tmp_path, ['encoding.num_freqs'])


def test_load_sweep(tmp_path):
  assert sweep.load_sweep(REPO / 'configs' / 'test.py') is None
  path = write_sweep_config(tmp_path, '[{"encoding.sigma": 1}]')
  assert sweep.load_sweep(path) == [{'encoding.sigma': 1}]
  path = write_sweep_config(tmp_path, '{"encoding.sigma": 1}')
  with pytest.raises(CppnError, match='must return a non-empty list'):
    sweep.load_sweep(path)


def test_members_group_by_shape(tmp_path):
  members = sweep.plan(configs.test.get_config(), [
      {'encoding.sigma': 1}, {'encoding.num_features': 8},
      {'train.learning_rate': 1e-3, 'seed': 2},
      {'encoding.num_features': 8, 'encoding.seed': 1}], tmp_path)
  assert group.group_indices([m.config for m in members]) == [[0, 2], [1, 3]]
  assert members[1].workdir == tmp_path.absolute() / 'num_features=8'


@pytest.fixture(scope='module')
def scale_sweep(tmp_path_factory):
  """A finished 3-member sweep over encoding.sigma: (config path, workdir)."""
  directory = tmp_path_factory.mktemp('scale_sweep')
  config_path = write_sweep_config(
      directory, f'[{{"encoding.sigma": s}} for s in {SCALES}]')
  result = run_sweep_cli(config_path, directory / 'run',
                         f'--config.train.learning_rate={LEARNING_RATE}')
  assert result.returncode == 0, result.stderr
  assert 'all 3 sweep members finished' in result.stdout
  return config_path, directory / 'run'


def test_results_match_members_and_figures_exist(scale_sweep):
  _, workdir = scale_sweep
  rows = read_results(workdir)
  assert [row['name'] for row in rows] == [f'sigma={s}' for s in SCALES]
  assert [float(row['encoding.sigma']) for row in rows] == list(SCALES)
  for row in rows:
    assert row['status'] == 'finished' and row['error'] == ''
    assert int(row['num_params']) == 1155
    assert float(row['seconds']) > 0 and 0 < float(row['ssim']) <= 1
    summary = json.loads((workdir / row['name'] / 'summary.json').read_text())
    assert float(row['test_psnr']) == pytest.approx(summary['test_psnr'])
    assert float(row['train_psnr']) == pytest.approx(summary['train_psnr'])
    config = json.loads((workdir / row['name'] / 'config.json').read_text())
    assert config['encoding']['sigma'] == float(row['encoding.sigma'])
    assert config['train']['learning_rate'] == LEARNING_RATE  # command line
  listed = json.loads((workdir / 'sweep.json').read_text())['members']
  assert [(m['name'], m['overrides']) for m in listed] == [
      (f'sigma={s}', {'encoding.sigma': s}) for s in SCALES]
  for name in ('comparison.png', 'curves.png', 'psnr_vs_sigma.png'):
    assert (workdir / name).stat().st_size > 1000, name


def test_a_member_trained_in_its_group_equals_it_trained_alone(scale_sweep,
                                                               tmp_path):
  _, workdir = scale_sweep
  grouped = {row['name']: row for row in read_results(workdir)}['sigma=2']
  config = configs.test.get_config()
  config.encoding.sigma = 2.0
  config.train.learning_rate = LEARNING_RATE
  alone = train.train_and_evaluate(config, tmp_path, progress=False)
  assert float(grouped['test_psnr']) == pytest.approx(alone['test_psnr'],
                                                      abs=1e-3)
  assert float(grouped['train_psnr']) == pytest.approx(alone['train_psnr'],
                                                       abs=1e-3)


def test_four_devices_give_the_results_of_one(scale_sweep, tmp_path):
  config_path, workdir = scale_sweep
  result = run_sweep_cli(
      config_path, tmp_path / 'run',
      f'--config.train.learning_rate={LEARNING_RATE}',
      env={'XLA_FLAGS': '--xla_force_host_platform_device_count=4'})
  assert result.returncode == 0, result.stderr
  summary = json.loads((tmp_path / 'run' / 'sigma=1' / 'summary.json'
                        ).read_text())
  assert summary['group_size'] == 3  # padded to 4 inside the engine
  for one, four in zip(read_results(workdir), read_results(tmp_path / 'run')):
    assert one['name'] == four['name']
    for field in ('train_psnr', 'test_psnr'):
      assert float(four[field]) == pytest.approx(float(one[field]), abs=1e-3)


def test_rerun_trains_only_new_or_unfinished_members_and_reports_failure(
    scale_sweep):
  config_path, workdir = scale_sweep
  # Rerun with sigma=2's summary gone and a fourth member whose learning rate
  # (over the command line's) diverges: only those two train.
  (workdir / 'sigma=2' / 'summary.json').unlink()
  before = {s: (workdir / f'sigma={s}' / 'summary.json').stat().st_mtime_ns
            for s in (1, 4)}
  members = f'[{{"encoding.sigma": s}} for s in {SCALES}]'
  write_sweep_config(config_path.parent,
                     members + ' + [{"train.learning_rate": 1e38}]')
  result = run_sweep_cli(config_path, workdir,
                         f'--config.train.learning_rate={LEARNING_RATE}')
  write_sweep_config(config_path.parent, members)
  assert result.returncode == 0, result.stderr
  assert '1 of 4 sweep members failed' in result.stdout
  assert (workdir / 'sigma=2' / 'summary.json').exists()
  assert before == {
      s: (workdir / f'sigma={s}' / 'summary.json').stat().st_mtime_ns
      for s in (1, 4)}
  rows = read_results(workdir)
  assert [row['status'] for row in rows] == ['finished'] * 3 + ['failed']
  assert rows[3]['name'] == 'learning_rate=1e+38'
  assert 'training diverged at step' in rows[3]['error']
  assert rows[3]['test_psnr'] == ''


def test_a_sweep_whose_members_all_fail_exits_1(tmp_path):
  config_path = write_sweep_config(
      tmp_path, '[{"data.image": p} for p in ("/no/a.png", "/no/b.png")]')
  result = run_sweep_cli(config_path, tmp_path / 'run')
  assert result.returncode == 1
  assert '2 of 2 sweep members failed' in result.stdout
  rows = read_results(tmp_path / 'run')
  assert [row['error'] for row in rows] == [
      'image file not found: /no/a.png', 'image file not found: /no/b.png']


def test_an_override_naming_no_field_is_one_error_line(tmp_path):
  config_path = write_sweep_config(tmp_path, '[{"encoding.scal": 1}]')
  result = run_sweep_cli(config_path, tmp_path / 'run')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      'error: sweep override encoding.scal=1: the config has no field '
      'encoding.scal')


def test_sweep_speed_report_arithmetic():
  from experiments import sweep_speed  # pylint: disable=g-import-not-at-top
  # Made-up times: a 4 s sweep against 3 + 2.5 + 4.5 = 10 s of separate runs.
  report = sweep_speed.timing_report(4.0, [3.0, 2.5, 4.5], [0.0, 2e-4, 1e-4])
  assert report == {'members': 3, 'sweep_seconds': 4.0,
                    'separate_seconds': 10.0,
                    'separate_seconds_each': [3.0, 2.5, 4.5], 'ratio': 2.5,
                    'max_test_psnr_difference_db': 2e-4}
  # A sweep slower than its separate runs is reported as such: ratio < 1.
  report = sweep_speed.timing_report(10.0, [3.0, 2.0], [0.5, 0.0])
  assert (report['members'], report['separate_seconds'], report['ratio'],
          report['max_test_psnr_difference_db']) == (2, 5.0, 0.5, 0.5)


def test_sweep_speed_command_reports_equal_members(tmp_path):
  # The whole command on two 20-step members; the times themselves depend
  # on the machine, so only the report's consistency is asserted.
  config_path = write_sweep_config(
      tmp_path, '[{"seed": s, "train.num_steps": 20} for s in (1, 2)]')
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.sweep_speed',
       f'--config={config_path}', f'--workdir={tmp_path / "speed"}'],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report == json.loads(
      (tmp_path / 'speed' / 'sweep_speed.json').read_text())
  assert report['members'] == 2 and len(report['separate_seconds_each']) == 2
  assert report['separate_seconds'] == pytest.approx(
      sum(report['separate_seconds_each']))
  assert report['ratio'] == pytest.approx(
      report['separate_seconds'] / report['sweep_seconds'])
  # Each member trained alone reaches its sweep result.
  assert report['max_test_psnr_difference_db'] < 1e-3


@pytest.mark.parametrize('name,num_members,num_groups', [
    ('sweep_scale', 8, 1), ('sweep_seeds', 5, 1), ('sweep_grid', 64, 1),
    ('sweep_freqs', 10, 10), ('sweep_size', 9, 9), ('sweep_encodings', 4, 4),
])
def test_bundled_sweeps_plan_their_members(tmp_path, name, num_members,
                                           num_groups):
  module = sweep.load_config_module(REPO / 'configs' / f'{name}.py')
  members = sweep.plan(module.get_config(), module.get_sweep(), tmp_path)
  assert len(members) == num_members
  assert len({m.name for m in members}) == num_members  # one folder each
  assert len(group.group_indices([m.config for m in members])) == num_groups
