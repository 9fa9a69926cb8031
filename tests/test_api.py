"""The Python API (cppn/api.py) against the command line's run of the same
config."""

import json
import pathlib
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import cppn
from cppn import export

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs' / 'test.py'


@pytest.fixture(scope='module')
def command_line_run(tmp_path_factory):
  """configs/test.py run by `cppn fit` (python -m cppn fit): its workdir."""
  workdir = tmp_path_factory.mktemp('cli') / 'run'
  result = subprocess.run(
      [sys.executable, '-m', 'cppn', 'fit', f'--config={CONFIG}',
       f'--workdir={workdir}', '--noprogress'], cwd=REPO, capture_output=True,
      text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  return workdir


@pytest.fixture(scope='module')
def in_memory():
  """cppn.fit of configs/test.py without a workdir."""
  return cppn.fit(str(CONFIG))


def read_rows(workdir):
  return [json.loads(line) for line in
          (workdir / 'metrics.jsonl').read_text().splitlines()]


def test_fit_in_memory_equals_the_command_line(command_line_run, in_memory):
  summary = json.loads((command_line_run / 'summary.json').read_text())
  rows = read_rows(command_line_run)
  assert [r['step'] for r in in_memory.history] == [0, 20, 40, 60]
  for mine, theirs in zip(in_memory.history, rows):
    assert mine['step'] == theirs['step']
    for key in ('loss', 'train_psnr', 'test_psnr'):
      assert mine[key] == pytest.approx(theirs[key], rel=1e-4), key
  for key in ('train_psnr', 'test_psnr', 'ssim'):
    assert in_memory.metrics[key] == pytest.approx(summary[key], abs=1e-3)
  assert in_memory.metrics['num_params'] == summary['num_params'] == 1155
  assert in_memory.workdir is None


def test_fit_in_memory_writes_no_file(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  cppn.fit(str(CONFIG), overrides={'train.num_steps': 2,
                                   'train.eval_every_steps': 1})
  assert not list(tmp_path.iterdir())


def test_load_reads_a_finished_run_back(command_line_run):
  run = cppn.load(command_line_run)
  assert run.metrics == json.loads(
      (command_line_run / 'summary.json').read_text())
  assert run.history == read_rows(command_line_run)
  assert int(run.state.step) == 60 and run.config.data.resolution == 32
  assert set(run.encoding) == {'b', 'a'} and run.encoding['b'].shape == (16, 2)
  reconstruction = iio.imread(command_line_run / 'reconstruction.png') / 255
  # The PNG holds the rendering rounded to 8 bits.
  assert np.abs(run.render() - reconstruction).max() <= 0.5 / 255 + 1e-6


def test_render_at_twice_the_resolution_refines_the_same_square(in_memory):
  # data.coordinate_grid(2N)'s even points are the N grid's points.
  base, fine = in_memory.render(), in_memory.render(64)
  assert base.shape == (32, 32, 3) and fine.shape == (64, 64, 3)
  assert 0 <= fine.min() and fine.max() <= 1
  np.testing.assert_allclose(fine[::2, ::2], base, atol=1e-5)


def test_save_then_load_and_export_agree(in_memory, tmp_path):
  in_memory.save(tmp_path / 'saved')
  loaded = cppn.load(tmp_path / 'saved')
  assert loaded.history == in_memory.history
  assert loaded.metrics['test_psnr'] == in_memory.metrics['test_psnr']
  np.testing.assert_array_equal(loaded.render(), in_memory.render())
  report = in_memory.export(tmp_path / 'fit.cppn', 'fp16')
  assert report['file_bytes'] == (tmp_path / 'fit.cppn').stat().st_size
  rendered = export.render(export.load_exported(tmp_path / 'fit.cppn'), 32)
  assert np.abs(rendered - in_memory.render()).max() < 5e-3


def test_sweep_of_a_list_of_configs_in_memory():
  base = cppn.make_config(str(CONFIG),
                                 {'train.num_steps': 20})
  configs = [cppn.make_config(base, {'encoding.sigma': sigma})
             for sigma in (1.0, 4.0)]
  rows = cppn.sweep(configs)
  assert [(r['name'], r['encoding.sigma'], r['status']) for r in rows] == [
      ('sigma=1.0', 1.0, 'finished'), ('sigma=4.0', 4.0, 'finished')]
  assert all(r['num_params'] == 1155 and r['test_psnr'] > 10 for r in rows)


@pytest.mark.parametrize('overrides,message', [
    ({'train.num_steps': -3}, 'train.num_steps must be >= 1, got -3'),
    ({'encoding.name': 'wavelet'}, "unknown encoding.name 'wavelet'"),
    ({'encoding.name': 'positional', 'encoding.num_freqs': 6},
     'encoding.num_freqs is not read by the encoding positional (spacing '
     'log_linear)'),
])
def test_bad_input_raises_the_command_lines_message(overrides, message):
  with pytest.raises(cppn.CppnError) as error:
    cppn.fit(str(CONFIG), overrides=overrides)
  assert message in str(error.value)


def test_load_of_a_folder_without_a_run_says_so(tmp_path):
  with pytest.raises(cppn.CppnError, match='holds no run'):
    cppn.load(tmp_path)
