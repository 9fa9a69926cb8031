"""End-to-end tests of the command line: python -m cppn.main."""

import json
import pathlib
import signal
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_cli(workdir, *overrides, wait=True):
  """Runs cppn.main on configs/test.py; returns the CompletedProcess / Popen."""
  command = [sys.executable, '-m', 'cppn.main', '--config=configs/test.py',
             f'--workdir={workdir}', '--noprogress', *overrides]
  if not wait:
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
  return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                        timeout=300)


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('run')
  result = run_cli(workdir)
  assert result.returncode == 0, result.stderr
  return workdir


def test_every_output_exists_and_parses(finished_run):
  workdir = finished_run
  config = json.loads((workdir / 'config.json').read_text())
  assert config['train']['num_steps'] == 60
  rows = [json.loads(line) for line in
          (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [row['step'] for row in rows] == [0, 20, 40, 60]
  for row in rows:
    assert {'step', 'loss', 'train_psnr', 'test_psnr'} <= set(row)
    assert row['loss'] == pytest.approx(0.5 * 10 ** (-row['train_psnr'] / 10),
                                        rel=1e-4)
  summary = json.loads((workdir / 'summary.json').read_text())
  for key in ('train_psnr', 'test_psnr', 'ssim', 'num_params', 'model_bytes',
              'image_bytes', 'wall_seconds', 'steps_per_second'):
    assert summary[key] is not None and np.isfinite(summary[key]), key
  # 2 x 32 MLP on 16 Gaussian features: (32 * 32 + 32) + (32 * 3 + 3).
  assert summary['num_params'] == 1155
  assert summary['model_bytes'] == 4 * 1155
  assert summary['test_psnr'] == rows[-1]['test_psnr']
  assert 0 < summary['ssim'] <= 1
  reconstruction = iio.imread(workdir / 'reconstruction.png')
  assert reconstruction.shape == (32, 32, 3)
  assert summary['image_bytes'] == (workdir / 'target.png').stat().st_size
  gif = iio.imread(workdir / 'progress.gif', index=None)
  assert gif.shape[0] == len(rows) and gif.shape[1:3] == (16, 16)
  assert iio.imread(workdir / 'curves.png').ndim == 3
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()
                if p.name.isdigit()) == ['40', '60']


def test_psnr_rises_during_training(finished_run):
  rows = [json.loads(line) for line in
          (finished_run / 'metrics.jsonl').read_text().splitlines()]
  assert rows[-1]['train_psnr'] > rows[0]['train_psnr'] + 3
  assert rows[-1]['test_psnr'] > rows[0]['test_psnr'] + 1


def test_rerun_of_a_finished_run_changes_nothing(finished_run):
  before = (finished_run / 'summary.json').read_text()
  result = run_cli(finished_run)
  assert result.returncode == 0, result.stderr
  assert (finished_run / 'summary.json').read_text() == before


@pytest.mark.parametrize('override,message', [
    ('--config.data.image=/no/such/image.png',
     'image file not found: /no/such/image.png'),
    ('--config.encoding.name=wavelet', "unknown encoding.name 'wavelet'"),
    ('--config.train.num_steps=-3', 'train.num_steps must be >= 1, got -3'),
    ('--config.train.num_stepz=5',
     "--config.train.num_stepz: the config has no field 'num_stepz'; did you "
     "mean 'num_steps'?"),
    ('--config.model.width=wide', "invalid literal for int() with base 10"),
    ('--config.data.crop=16',
     'data.crop=16 is smaller than data.resolution=32'),
    ('--config.data.image=configs:0', 'folder configs holds no image files'),
])
def test_bad_input_is_one_error_line_and_nonzero_exit(tmp_path, override,
                                                      message):
  result = run_cli(tmp_path / 'run', override)
  assert result.returncode != 0
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line.startswith('error: ') and message in last_line
  assert not (tmp_path / 'run' / 'summary.json').exists()


@pytest.mark.parametrize('overrides,message', [
    (('--config.encoding.name=positional', '--config.encoding.num_freqs=6'),
     'error: --config.encoding.num_freqs is not read by the encoding '
     'positional (spacing log_linear), which reads encoding.name, '
     'encoding.spacing, encoding.sigma_p, encoding.num_features'),
    (('--config.model.name=pyramid', '--config.model.depth=3'),
     'error: --config.model.depth is not read by the model pyramid'),
    (('--config.encoding.scale=3',),
     'error: bad command line: --config.encoding.scale: encoding.scale is no '
     'longer a field; use encoding.sigma'),
])
def test_a_field_the_run_would_ignore_is_an_error(tmp_path, overrides,
                                                  message):
  result = run_cli(tmp_path / 'run', *overrides)
  assert result.returncode != 0
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith(message)
  assert not (tmp_path / 'run').exists()


def test_num_freqs_trains_octaves_when_spacing_reads_it(tmp_path):
  result = run_cli(tmp_path, '--config.encoding.name=positional',
                   '--config.encoding.spacing=octave',
                   '--config.encoding.num_freqs=6',
                   '--config.train.num_steps=1',
                   '--config.train.eval_every_steps=1')
  assert result.returncode == 0, result.stderr
  with np.load(tmp_path / 'encoding.npz') as arrays:
    b = arrays['b']
  octaves = 2.0 ** np.arange(6)
  np.testing.assert_array_equal(b[:6], np.stack([octaves, 0 * octaves], -1))
  np.testing.assert_array_equal(b[6:], np.stack([0 * octaves, octaves], -1))


def test_sigint_saves_a_checkpoint_and_exits_130(tmp_path):
  workdir = tmp_path / 'run'
  overrides = ('--config.train.num_steps=2000000',
               '--config.train.eval_every_steps=200')
  process = run_cli(workdir, *overrides, wait=False)
  deadline = time.time() + 120
  while not list((workdir / 'frames').glob('step_*200.png')):
    assert process.poll() is None, process.communicate()
    assert time.time() < deadline
    time.sleep(0.1)
  process.send_signal(signal.SIGINT)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 130, stderr
  assert 'interrupted: SIGINT at step' in stderr
  steps = [int(p.name) for p in (workdir / 'checkpoints').iterdir()
           if p.name.isdigit()]
  assert max(steps) >= 200
  assert not (workdir / 'summary.json').exists()


def test_sigkill_mid_training_then_rerun_matches_an_uninterrupted_run(
    tmp_path):
  overrides = ('--config.data.resolution=64', '--config.model.depth=4',
               '--config.model.width=256', '--config.encoding.num_features=256',
               '--config.train.learning_rate=1e-3',
               '--config.train.num_steps=150',
               '--config.train.eval_every_steps=25')
  uninterrupted = run_cli(tmp_path / 'whole', *overrides)
  assert uninterrupted.returncode == 0, uninterrupted.stderr
  workdir = tmp_path / 'killed'
  process = run_cli(workdir, *overrides, wait=False)
  deadline = time.time() + 120
  while not [p for p in (workdir / 'frames').glob('step_*.png')
             if int(p.stem.split('_')[1]) >= 50]:
    assert process.poll() is None, 'finished before it could be killed'
    assert time.time() < deadline
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert not (workdir / 'summary.json').exists()
  resumed = run_cli(workdir, *overrides)
  assert resumed.returncode == 0, resumed.stderr
  summary = json.loads((workdir / 'summary.json').read_text())
  whole = json.loads((tmp_path / 'whole' / 'summary.json').read_text())
  assert summary['resumed_from_step'] >= 25
  assert summary['test_psnr'] == pytest.approx(whole['test_psnr'], abs=1e-3)
  steps = [json.loads(line)['step'] for line in
           (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert steps == list(range(0, 151, 25))


def test_a_metrics_line_cut_short_by_a_crash_is_dropped(tmp_path):
  from cppn import outputs  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'metrics.jsonl'
  path.write_text('{"step": 0, "loss": 1.0}\n{"step": 20, "lo')
  assert outputs.read_metrics(path, 100) == [{'step': 0, 'loss': 1.0}]
