"""TensorBoard logs (cppn/tensorboard.py): event files read back, a sweep's
hparams, and a real `tensorboard` server listing the runs' scalar tags."""

import json
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

import cppn
from cppn import tensorboard

pytest.importorskip('tensorboardX')
event_accumulator = pytest.importorskip(
    'tensorboard.backend.event_processing.event_accumulator')

CONFIG = pathlib.Path(__file__).resolve().parents[1] / 'configs' / 'test.py'


def read_events(run_dir):
  """An EventAccumulator of a run folder's event files, loaded."""
  events = event_accumulator.EventAccumulator(str(run_dir), size_guidance={
      event_accumulator.IMAGES: 0, event_accumulator.SCALARS: 0})
  events.Reload()
  return events


@pytest.fixture(scope='module')
def logged_sweep(tmp_path_factory):
  """Two sweep members (sigma 1 and 4, 20 steps) with log.tensorboard."""
  workdir = tmp_path_factory.mktemp('sweep')
  base = cppn.make_config(str(CONFIG), {'train.num_steps': 20,
                                          'train.eval_every_steps': 10,
                                          'log.tensorboard': True})
  rows = cppn.sweep([cppn.make_config(base, {'encoding.sigma': sigma})
                     for sigma in (1.0, 4.0)], workdir=workdir)
  assert [row['status'] for row in rows] == ['finished', 'finished']
  return workdir


def test_every_evaluation_is_logged_as_in_metrics_jsonl(logged_sweep):
  run_dir = logged_sweep / 'sigma=4.0'
  events = read_events(run_dir)
  rows = [json.loads(line) for line in
          (run_dir / 'metrics.jsonl').read_text().splitlines()]
  assert set(events.Tags()['scalars']) == {'loss', 'train_psnr', 'test_psnr'}
  for tag in ('loss', 'train_psnr', 'test_psnr'):
    logged = events.Scalars(tag)
    assert [e.step for e in logged] == [0, 10, 20]
    np.testing.assert_allclose([e.value for e in logged],
                               [row[tag] for row in rows], rtol=1e-6)
  images = events.Images('reconstruction')
  assert [(i.step, i.width, i.height) for i in images] == [
      (0, 16, 16), (10, 16, 16), (20, 16, 16)]


def test_a_sweep_members_swept_fields_are_its_hparams(logged_sweep):
  for name, sigma in (('sigma=1.0', 1.0), ('sigma=4.0', 4.0)):
    content = read_events(logged_sweep / name).PluginTagToContent('hparams')
    start = next(blob for tag, blob in content.items()
                 if 'session_start_info' in tag)
    # The plugin's protobuf holds the field name and its number value.
    assert b'encoding.sigma' in start
    assert np.frombuffer(start[-8:], '<f8')[0] == sigma


def test_hparams_and_evaluations_opened_in_one_second_are_both_kept(tmp_path):
  # tensorboardX names event files by the second and the host: the two
  # writers of a sweep member must not write to the same file.
  config = cppn.make_config(str(CONFIG), {'train.num_steps': 0,
                                          'log.tensorboard': True})
  tensorboard.log_hparams(tmp_path, {'encoding.sigma': 2.0})
  tensorboard.log_evaluation(config, tmp_path, {
      'step': 0, 'loss': 0.5, 'train_psnr': 10.0, 'test_psnr': 9.0}, None)
  events = read_events(tmp_path)
  assert events.PluginTagToContent('hparams')
  assert [e.value for e in events.Scalars('test_psnr')] == [9.0]


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def test_a_tensorboard_server_lists_each_members_scalars(logged_sweep):
  port = free_port()
  server = subprocess.Popen(
      [sys.executable, '-m', 'tensorboard.main', f'--logdir={logged_sweep}',
       '--host=localhost', f'--port={port}', '--load_fast=false',
       '--reload_interval=1'], stdout=subprocess.DEVNULL,
      stderr=subprocess.PIPE, text=True)
  try:
    deadline, tags = time.time() + 60, {}
    while time.time() < deadline and len(tags) < 2:
      time.sleep(1)
      try:
        with urllib.request.urlopen(
            f'http://localhost:{port}/data/plugin/scalars/tags',
            timeout=5) as response:
          tags = json.load(response)
      except OSError:
        assert server.poll() is None, server.stderr.read()
    assert {run: sorted(run_tags) for run, run_tags in tags.items()} == {
        'sigma=1.0': ['loss', 'test_psnr', 'train_psnr'],
        'sigma=4.0': ['loss', 'test_psnr', 'train_psnr']}
  finally:
    server.terminate()
    server.wait(timeout=30)


def test_without_tensorboardx_it_is_one_line_naming_the_extra(
    tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, 'tensorboardX', None)  # import fails
  with pytest.raises(cppn.CppnError) as error:
    cppn.fit(str(CONFIG), tmp_path / 'run', {'log.tensorboard': True})
  assert str(error.value) == tensorboard.MISSING
  assert re.search(r"pip install -e '\.\[tensorboard\]'", str(error.value))
  assert not (tmp_path / 'run').exists()


def test_logging_settings_never_block_a_rerun(logged_sweep, tmp_path):
  """A finished run reopens with log.tensorboard off, and from a config.json
  written before the log block existed."""
  run_dir = tmp_path / 'run'
  shutil.copytree(logged_sweep / 'sigma=4.0', run_dir)
  recorded = json.loads((run_dir / 'config.json').read_text())
  del recorded['log']
  (run_dir / 'config.json').write_text(json.dumps(recorded))
  config = cppn.make_config(str(CONFIG), {
      'train.num_steps': 20, 'train.eval_every_steps': 10,
      'encoding.sigma': 4.0})
  result = cppn.fit(config, run_dir)
  assert result.metrics == json.loads((run_dir / 'summary.json').read_text())
  with pytest.raises(cppn.CppnError, match='differs in: encoding.sigma'):
    cppn.fit(cppn.make_config(config, {'encoding.sigma': 2.0}), run_dir)
