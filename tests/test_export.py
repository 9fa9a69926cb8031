"""Tests for cppn.export and cppn.render: file size, fidelity, fresh-process renders."""

import contextlib
import io
import json
import pathlib
import re
import subprocess
import sys
import zlib

import brotli
import imageio.v3 as iio
import jax
import numpy as np
import pytest

from cppn import cli
from cppn import data
from cppn import export
from cppn import render
from cppn import train
from cppn.errors import CppnError
import configs.test

REPO = pathlib.Path(__file__).resolve().parents[1]
NUM_PARAMS = 1155  # configs/test.py: 2 x 32 MLP on 32 features
NUM_LEAVES = 4  # two kernels, two biases


def psnr64(image, target):
  """Independent PSNR in float64 numpy."""
  return -10 * np.log10(np.mean((np.asarray(image, np.float64) - target) ** 2))


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """A finished memorize run of configs/test.py: (workdir, summary, target)."""
  workdir = tmp_path_factory.mktemp('run')
  config = configs.test.get_config()
  config.data.split = 'memorize'
  summary = train.train_and_evaluate(config, workdir, progress=False)
  target = data.load_target(config.data.image, config.data.resolution,
                            config.data.crop)
  return workdir, summary, target


@pytest.fixture(scope='module')
def exported(run, tmp_path_factory):
  """Each precision exported through the CLI: {precision: (path, stdout)}."""
  folder = tmp_path_factory.mktemp('models')
  files = {}
  for precision in ('fp32', 'fp16', 'bf16', 'int8'):
    path = folder / f'{precision}.cppn'
    stdout = run_in_process(export.COMMAND, [
        f'--workdir={run[0]}', f'--precision={precision}',
        f'--output={path}'])
    files[precision] = (path, stdout)
  return files


def run_in_process(command, argv):
  """Runs a command line in this process (cli.call); returns what it printed."""
  buffer = io.StringIO()
  with contextlib.redirect_stdout(buffer):
    cli.call(command, argv)
  return buffer.getvalue()


def reported(stdout):
  """(file bytes, raw weight bytes, PSNR) printed by python -m cppn.export."""
  file_bytes = int(re.search(r'file size: (\d+) bytes', stdout)[1])
  weight_bytes = int(re.search(r'raw weights: (\d+) bytes', stdout)[1])
  psnr = float(re.search(r'PSNR at 32 x 32 vs astronaut: ([\d.]+) dB',
                         stdout)[1])
  return file_bytes, weight_bytes, psnr


def render_in_fresh_process(model, resolution, output):
  """python -m cppn.render in a new interpreter; returns the completed process."""
  return subprocess.run(
      [sys.executable, '-m', 'cppn.render', f'--model={model}',
       f'--resolution={resolution}', f'--output={output}', '--chunk_size=300'],
      cwd=REPO, capture_output=True, text=True, timeout=120)


def test_fresh_process_fp32_render_gives_the_summary_psnr(run, exported,
                                                         tmp_path):
  _, summary, target = run
  path, stdout = exported['fp32']
  result = render_in_fresh_process(path, 32, tmp_path / 'render.npy')
  assert result.returncode == 0, result.stderr
  rendered = np.load(tmp_path / 'render.npy')
  assert rendered.shape == (32, 32, 3) and rendered.dtype == np.float32
  # The memorize split tests on every pixel: the summary's PSNR is the PSNR
  # of the whole image rendered at the training resolution.
  assert psnr64(rendered, target) == pytest.approx(summary['test_psnr'],
                                                   abs=1e-3)
  assert psnr64(rendered, target) == pytest.approx(reported(stdout)[2],
                                                   abs=1e-3)


def test_fresh_process_int8_png_gives_the_reported_psnr(run, exported,
                                                        tmp_path):
  path, stdout = exported['int8']
  result = render_in_fresh_process(path, 32, tmp_path / 'render.png')
  assert result.returncode == 0, result.stderr
  png = iio.imread(tmp_path / 'render.png')
  assert png.shape == (32, 32, 3) and png.dtype == np.uint8
  # Through PNG, uint8 rounding costs at most a few hundredths of a dB.
  assert psnr64(png / 255, run[2]) == pytest.approx(reported(stdout)[2],
                                                    abs=0.05)
  assert abs(reported(stdout)[2] - run[1]['test_psnr']) < 0.5


@pytest.mark.parametrize('precision', ['fp16', 'bf16', 'int8'])
def test_cli_render_gives_the_reported_psnr(exported, run, tmp_path,
                                            precision):
  path, stdout = exported[precision]
  run_in_process(render.COMMAND, [f'--model={path}', '--resolution=32',
                                  f'--output={tmp_path / "r.npy"}'])
  assert psnr64(np.load(tmp_path / 'r.npy'), run[2]) == pytest.approx(
      reported(stdout)[2], abs=1e-3)


@pytest.mark.parametrize('precision,weight_bytes', [
    ('fp32', 4 * NUM_PARAMS), ('fp16', 2 * NUM_PARAMS),
    ('bf16', 2 * NUM_PARAMS), ('int8', NUM_PARAMS + 4 * NUM_LEAVES)])
def test_reported_size_is_the_file_size_on_disk(exported, run, precision,
                                                weight_bytes):
  path, stdout = exported[precision]
  file_bytes, raw_bytes, _ = reported(stdout)
  assert file_bytes == path.stat().st_size
  assert raw_bytes == weight_bytes
  assert f'{8 * file_bytes / 32**2:.4f} bits per pixel' in stdout
  if precision == 'fp32':
    assert raw_bytes == run[1]['model_bytes']


def test_fp32_export_holds_the_checkpoint_exactly(run, exported):
  config, params, encoding_params = export.load_run(run[0])
  loaded = export.load_exported(exported['fp32'][0])
  model_config, encoding_name, loaded_params, loaded_encoding = loaded[:4]
  assert (loaded.dim, loaded.out_dim) == (2, 3)  # an image: 2D, RGB
  assert model_config.to_dict() == config.model.to_dict()
  assert encoding_name == config.encoding.name == 'gaussian'
  for a, b in zip(jax.tree_util.tree_leaves(params),
                  jax.tree_util.tree_leaves(loaded_params)):
    np.testing.assert_array_equal(a, b)
  assert set(loaded_encoding) == set(encoding_params) == {'a', 'b'}
  for key, value in encoding_params.items():
    np.testing.assert_array_equal(value, loaded_encoding[key])


def test_render_at_2x_and_4x_samples_the_same_function(run, exported,
                                                       tmp_path):
  path = exported['int8'][0]
  result = render_in_fresh_process(path, 64, tmp_path / 'big.png')
  assert result.returncode == 0, result.stderr
  assert iio.imread(tmp_path / 'big.png').shape == (64, 64, 3)
  network = export.load_exported(path)
  base = export.render(network, 32)
  fine = export.render(network, 128, chunk_size=1000)
  assert fine.shape == (128, 128, 3)
  assert np.all((fine > 0) & (fine < 1))
  # Every 4th pixel of the 4x grid is a pixel of the training grid.
  np.testing.assert_allclose(fine[::4, ::4], base, atol=1e-5)


def test_fp16_overflow_names_the_leaf(run, tmp_path):
  config, params, encoding_params = export.load_run(run[0])
  params = jax.tree_util.tree_map(np.array, params)
  params['Dense_1']['kernel'][0, 0] = 1e6
  with pytest.raises(CppnError, match='fp16 cannot hold Dense_1/kernel: its '
                     r'largest \|weight\| is 1e\+06'):
    export.save_model(tmp_path / 'x.cppn', config, params, encoding_params,
                      'fp16', 0)
  assert not (tmp_path / 'x.cppn').exists()


def cli_error(command, argv, capsys, code=1):
  """Runs a command line that must fail with exit `code`; returns its one
  stderr line."""
  with pytest.raises(SystemExit) as exit_info:
    cli.call(command, argv)
  assert exit_info.value.code == code
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: ')
  return lines[0]


def test_cli_errors_are_one_line_and_exit_1(tmp_path, exported, capsys):
  model = exported['int8'][0]
  assert 'holds no run: config.json is missing' in cli_error(
      export.COMMAND, [f'--workdir={tmp_path}', f'--output={tmp_path / "m"}'],
      capsys)
  not_a_model = tmp_path / 'not_a_model.cppn'
  not_a_model.write_bytes(b'PK\x03\x04 a zip file')
  assert 'is not a model file written by cppn.export' in cli_error(
      render.COMMAND, [f'--model={not_a_model}', '--resolution=8',
                       f'--output={tmp_path / "x.png"}'], capsys)
  assert 'model file not found' in cli_error(
      render.COMMAND, [f'--model={tmp_path / "missing"}', '--resolution=8',
                       f'--output={tmp_path / "x.png"}'], capsys)
  assert 'choose an output ending in .png or .npy' in cli_error(
      render.COMMAND, [f'--model={model}', '--resolution=8',
                       f'--output={tmp_path / "x.jpg"}'], capsys)
  truncated = tmp_path / 'truncated.cppn'
  truncated.write_bytes(model.read_bytes()[:40])
  assert 'is truncated or corrupt' in cli_error(
      render.COMMAND, [f'--model={truncated}', '--resolution=8',
                       f'--output={tmp_path / "x.png"}'], capsys)


def test_bad_flags_are_one_line_and_exit_2(tmp_path, exported, capsys):
  model = exported['int8'][0]
  assert cli_error(
      render.COMMAND, [f'--model={model}', '--resolution=0',
                       f'--output={tmp_path / "x.png"}'], capsys, code=2
  ) == ('error: bad command line: flag --resolution=0: 0 is not a positive '
        'integer')
  assert '--output must have a value' in cli_error(
      export.COMMAND, [f'--workdir={tmp_path}'], capsys, code=2)
  assert 'value should be one of <fp32|fp16|bf16|int8>' in cli_error(
      export.COMMAND, [f'--workdir={tmp_path}', '--precision=fp8',
                       f'--output={tmp_path / "m"}'], capsys, code=2)


def test_file_header_is_json_and_names_every_array(exported):
  blob = exported['int8'][0].read_bytes()
  assert blob[:4] == b'CPPN' and blob[4] == export.FORMAT_VERSION
  body = brotli.decompress(blob[5:])
  header = json.loads(body[4:4 + int.from_bytes(body[:4], 'little')])
  assert header['precision'] == 'int8' and header['step'] == 60
  names = {name for name, _, _ in header['arrays']}
  leaves = {f'Dense_{i}/{kind}' for i in (0, 1) for kind in ('kernel', 'bias')}
  assert names == ({f'values/{leaf}' for leaf in leaves}
                   | {f'scales/{leaf}' for leaf in leaves}
                   | {'encoding/a', 'encoding/b'})
  assert {dtype for name, dtype, _ in header['arrays']
          if name.startswith('values/')} == {'int8'}


def test_a_version_1_file_coded_with_zlib_still_loads(exported, tmp_path):
  path, _ = exported['int8']
  body = brotli.decompress(path.read_bytes()[5:])
  old = tmp_path / 'v1.cppn'
  old.write_bytes(b'CPPN' + bytes([1]) + zlib.compress(body, 9))
  np.testing.assert_array_equal(export.render(export.load_exported(old), 8),
                                export.render(export.load_exported(path), 8))
  assert export.file_body(old) == body
