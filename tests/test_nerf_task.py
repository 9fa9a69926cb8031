"""The NeRF task through the engine: a tiny fit, its files, its bad input."""

import json
import pathlib
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import cppn
from cppn import train
from cppn.errors import CppnError

REPO = pathlib.Path(__file__).resolve().parents[1]

# The paper's protocol shrunk to seconds: 12 px synthetic views, 2 x 32,
# 128 rays x 16 samples a step.
TINY = {'data.resolution': 12, 'task.rays_per_step': 128,
        'task.num_samples': 16, 'model.depth': 2, 'model.width': 32,
        'encoding.num_features': 16, 'encoding.sigma': 4.0,
        'train.num_steps': 100, 'train.eval_every_steps': 50,
        'train.learning_rate': 1e-2}


def test_tiny_fit_raises_test_psnr_and_writes_its_outputs(tmp_path):
  result = cppn.fit(str(REPO / 'configs/nerf.py'), workdir=tmp_path,
                    overrides=TINY)
  first, last = result.history[0], result.history[-1]
  assert first['step'] == 0 and last['step'] == 100
  assert last['test_psnr'] > first['test_psnr'] + 2
  summary = json.loads((tmp_path / 'summary.json').read_text())
  assert summary['task'] == 'nerf' and len(summary['test_psnrs']) == 13
  assert summary['test_psnr'] == pytest.approx(np.mean(summary['test_psnrs']))
  assert iio.imread(tmp_path / 'depth.png').shape == (12, 12, 3)
  assert iio.imread(tmp_path / 'turntable.gif').shape[:3] == (24, 12, 12)
  assert iio.imread(tmp_path / 'progress.gif').shape[:3] == (3, 12, 36)
  assert iio.imread(tmp_path / 'test_views.png').ndim == 3


def test_near_not_below_far_is_one_error_line(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'cppn.main', '--config=configs/nerf.py',
       f'--workdir={tmp_path / "run"}', '--noprogress',
       '--config.task.near=6', '--config.task.far=2'],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode != 0
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line.startswith('error: ') and 'near < far' in last_line
  assert not (tmp_path / 'run' / 'summary.json').exists()


@pytest.mark.parametrize('overrides,message', [
    ({'task.num_samples': 0}, '>= 1 samples per ray'),
    ({'data.image': 'FOLDER'}, 'has no transforms_train.json'),
    ({'data.image': 'MISMATCH'}, '2 poses for 3 images'),
    ({'model.output_activation': 'sigmoid'},
     "model.output_activation='identity'"),
])
def test_bad_input_is_a_cppn_error(tmp_path, overrides, message):
  # A tiny-NeRF npz with 3 images and 2 poses.
  np.savez(tmp_path / 'mismatch.npz', images=np.zeros((3, 4, 4, 3)),
           poses=np.tile(np.eye(4), (2, 1, 1)), focal=5.0)
  sources = {'FOLDER': str(tmp_path), 'MISMATCH': str(tmp_path
                                                       / 'mismatch.npz')}
  overrides = {k: sources.get(v, v) for k, v in overrides.items()}
  config = cppn.api.make_config('configs/nerf.py', {**TINY, **overrides})
  with pytest.raises(CppnError, match=message):
    train.make_task(config)
