"""Tests for experiments/rate_distortion.py on its tiny preset."""

import io
import json
import zlib

import brotli

import imageio.v3 as iio
import numpy as np
from PIL import Image
import pytest

from cppn import cli
from cppn import data
from cppn import export
from experiments import rate_distortion

PRESET = rate_distortion.PRESETS['tiny']


@pytest.fixture(scope='module')
def result(tmp_path_factory):
  """The tiny preset run through its command line: (workdir, JSON result)."""
  workdir = tmp_path_factory.mktemp('rd')
  cli.call(rate_distortion.COMMAND, ['--preset=tiny', f'--workdir={workdir}',
                                     '--noprogress'])
  return workdir, json.loads((workdir / 'rate_distortion.json').read_text())


def independent_jpeg(target, quality):
  """(bytes, PSNR) of Pillow's JPEG, decoded and compared in float64 numpy."""
  pixels = np.clip(np.round(target * 255.0), 0, 255).astype(np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format='JPEG', quality=quality)
  decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())),
                       np.float64) / 255
  mse = np.mean((decoded - target.astype(np.float64)) ** 2)
  return len(buffer.getvalue()), -10 * np.log10(mse)


def test_jpeg_points_match_an_independent_encode(result):
  _, rd = result
  jpeg = [row for row in rd['codecs'] if row['codec'] == 'JPEG']
  assert len(jpeg) == len(PRESET.images) * 3
  for row in jpeg:
    target = data.load_target(row['image'], PRESET.resolution,
                              rate_distortion.crop(PRESET, row['image']))
    num_bytes, psnr = independent_jpeg(target, row['setting'])
    assert row['bytes'] == num_bytes
    assert row['bpp'] == pytest.approx(8 * num_bytes / PRESET.resolution**2)
    assert row['psnr'] == pytest.approx(psnr, abs=1e-3)


def test_every_codec_is_measured_and_rises_with_its_rate(result):
  _, rd = result
  for name, settings in PRESET.codec_settings:
    rows = [row for row in rd['codecs'] if row['codec'] == name]
    assert [row['setting'] for row in rows] == list(settings)
    # Settings run from low to high rate: more bytes, no lower PSNR (the
    # tiny text crop is nearly white: several codecs store it exactly).
    assert [row['bytes'] for row in rows] == sorted(
        row['bytes'] for row in rows)
    assert rows[-1]['psnr'] >= rows[0]['psnr'] > 10
  for row in rd['networks']:
    assert set(row['codec_psnr_at_bpp']) == set(rate_distortion.CODECS)


def test_every_network_row_is_its_file(result):
  workdir, rd = result
  families = ('fp32', 'fp16', 'bf16', 'int8', 'fp32+ft', 'int8+qat')
  num_fits = (len(PRESET.images) * len(PRESET.encodings) * len(PRESET.depths)
              * len(PRESET.widths))
  assert [r['family'] for r in rd['networks']] == list(families) * num_fits
  for row in rd['networks']:
    path = workdir / 'models' / row['file']
    assert row['file_bytes'] == path.stat().st_size
    # The same body coded by zlib, measured against brotli.
    body = brotli.decompress(path.read_bytes()[5:])
    assert row['zlib_bytes'] == 5 + len(zlib.compress(body, 9))
    assert row['bpp'] == pytest.approx(8 * row['file_bytes']
                                       / PRESET.resolution**2)
    if row['family'] == 'fp32':
      # memorize: the fit's test PSNR is over every pixel.
      assert row['psnr'] == pytest.approx(row['fit_psnr'], abs=1e-3)
  row = next(r for r in rd['networks'] if r['family'] == 'int8+qat')
  target = data.load_target(row['image'], PRESET.resolution,
                              rate_distortion.crop(PRESET, row['image']))
  rendered = export.render(export.load_exported(workdir / 'models' /
                                                row['file']),
                           PRESET.resolution)
  assert export.psnr(rendered, target) == pytest.approx(row['psnr'], abs=1e-4)


def test_png_row_and_report_files(result):
  workdir, rd = result
  text, = rd['png']
  assert text['image'] == 'text:0'
  assert text['psnr'] is None  # the text image is exactly uint8: lossless
  assert text['bpp'] == pytest.approx(8 * text['bytes'] / PRESET.resolution**2)
  plot = iio.imread(workdir / 'rate_distortion.png')
  assert plot.ndim == 3 and min(plot.shape[:2]) > 100
  report = (workdir / 'rate_distortion.md').read_text()
  assert '## text:0' in report and '| JPEG quality |' in report
  for heading in ('| JPEG 2000 compression ratio |', '| WebP quality |',
                  '| AVIF quality |', '## Networks against each codec'):
    assert heading in report
  assert report.count('| gaussian | 2 x 8 |') == 1
  assert rd['minutes'] > 0 and rd['settings']['resolution'] == 16


def test_pareto_front_keeps_only_improvements():
  points = [(1.0, 10.0), (3.0, 12.0), (2.0, 13.0), (4.0, 12.5), (5.0, 14.0)]
  assert rate_distortion.pareto_front(points) == [(1.0, 10.0), (2.0, 13.0),
                                                  (5.0, 14.0)]


def test_codec_psnr_at_interpolates_in_log_rate():
  jpeg = [{'bpp': 1.0, 'psnr': 20.0}, {'bpp': 4.0, 'psnr': 30.0}]
  assert rate_distortion.codec_psnr_at(2.0, jpeg) == pytest.approx(25.0)
  assert rate_distortion.codec_psnr_at(0.5, jpeg) is None
  assert rate_distortion.codec_psnr_at(8.0, jpeg) is None


@pytest.mark.parametrize('name,settings', rate_distortion.CODEC_SETTINGS)
def test_each_codec_trades_bytes_for_psnr_on_a_photograph(name, settings):
  target = data.load_target('astronaut', 32)
  points = [rate_distortion.codec_point(target, name, setting)
            for setting in (settings[0], settings[-1])]
  (low_bytes, low_psnr), (high_bytes, high_psnr) = points
  assert low_bytes < high_bytes
  assert 10 < low_psnr < high_psnr < 60
