"""Every paper-reproduction experiment on its tiny preset, plus their helpers.

Each script runs once, in this process, through its command line
(cli.call(module.COMMAND, flags)); the tests check that its files exist and
parse and that the numbers that must be exact are.
"""

import dataclasses
import json
import math
import sys

import imageio.v3 as iio
import jax
import numpy as np
import pytest

from cppn import cli
from cppn import data
from cppn import encodings
from cppn import outputs
from cppn.errors import CppnError
from cppn.tasks import signal1d
from experiments import common
from experiments import compare
from experiments import embedding_size
from experiments import ntk_1d
from experiments import scale
from experiments import seed_table
from experiments import table1
from experiments import text_set


def run_tiny(module, workdir, *flags):
  """Runs `python -m experiments.<module> --preset=tiny`; returns its JSON."""
  cli.call(module.COMMAND, ['--preset=tiny', f'--workdir={workdir}',
                            '--noprogress', *flags])
  name = module.__name__.rsplit('.', 1)[-1]
  report = (workdir / f'{name}.md').read_text()
  assert report.startswith('# ') and '|---' in report
  return json.loads((workdir / f'{name}.json').read_text())


def assert_png(path, min_side=100):
  """The file is a readable RGB(A) PNG of at least min_side pixels a side."""
  image = iio.imread(path)
  assert image.ndim == 3 and min(image.shape[:2]) >= min_side


@pytest.fixture(scope='module')
def paper_npz(tmp_path_factory):
  """A stand-in for data_div2k.npz: uint8 (2, 64, 64, 3) under test_data."""
  path = tmp_path_factory.mktemp('npz') / 'data_div2k.npz'
  rng = np.random.default_rng(0)
  np.savez(path, test_data=rng.integers(0, 256, (2, 64, 64, 3), np.uint8),
           train_data=np.zeros((1, 64, 64, 3), np.uint8))
  return path


@pytest.fixture(scope='module')
def text_folder(tmp_path_factory):
  """A stand-in for the paper's text images as PNGs: 2 of 64 x 64 px."""
  folder = tmp_path_factory.mktemp('text_pngs')
  rng = np.random.default_rng(1)
  for name in ('b.png', 'a.png'):
    iio.imwrite(folder / name, rng.integers(0, 256, (64, 64, 3), np.uint8))
  return folder


def test_table1(tmp_path, paper_npz):
  result = run_tiny(table1, tmp_path, f'--natural_npz={paper_npz}',
                    '--matmul_precision=bfloat16', '--rows=natural,text')
  assert set(result['cells']) == {f'{d}/{e}' for d in table1.DATASETS
                                  for e in table1.ENCODINGS}
  natural = result['cells']['natural/gaussian']
  assert natural['images'] == [f'{paper_npz}:test_data:0']  # 1 in tiny
  assert result['cells']['text/none']['images'] == ['text:0']
  # Text below 512 px: the 512-px image centre-cropped, not downsampled.
  text_run = tmp_path / result['cells']['text/none']['run_dirs'][0]
  full = outputs.to_uint8(data.make_text_image(0))
  np.testing.assert_array_equal(iio.imread(text_run / 'target.png'),
                                full[240:272, 240:272])
  for cell in result['cells'].values():
    assert cell['paper'] == table1.PAPER_SCORES[cell['dataset']][cell['encoding']]
    assert all(math.isfinite(p) for p in cell['test_psnr'])
    assert cell['mean'] == pytest.approx(np.mean(cell['test_psnr']))
    config = json.loads((tmp_path / cell['run_dirs'][0] / 'config.json')
                        .read_text())
    assert config['model']['matmul_precision'] == 'bfloat16'
    setting = table1.SETTINGS[cell['dataset']]
    assert config['train']['learning_rate'] == setting.learning_rates[
        cell['encoding']]
    if cell['encoding'] == 'gaussian':
      assert config['encoding']['sigma'] == setting.sigma * 32 / 512
    if cell['encoding'] == 'positional':  # sigma_p - log2(512 / 32)
      assert config['encoding']['sigma_p'] == setting.sigma_p - 4
  report = (tmp_path / 'table1.md').read_text()
  assert 'bfloat16 matmuls' in report
  assert '| natural (paper) | 19.32 | 21.71 | 24.95 | 25.57 |' in report
  assert '| text (paper) | 18.40 | 20.48 | 27.57 | 30.47 |' in report
  assert result['minutes'] > 0 and result['fit_minutes'] > 0
  assert_png(tmp_path / 'table1.png')
  assert_png(tmp_path / 'table1_examples.png')


def test_table1_reads_a_folder_and_a_subset(tmp_path, paper_npz, text_folder):
  # The paper preset's protocol (512 px) is too slow here: the tiny preset
  # with the paper's data, one image of each set; bfloat16 as in test_table1,
  # whose fits have the same shapes (the session's compilation cache).
  result = run_tiny(table1, tmp_path, f'--natural_npz={paper_npz}',
                    f'--text_dir={text_folder}', '--images=1',
                    '--matmul_precision=bfloat16',
                    '--rows=text,natural')
  assert result['cells']['text/gaussian']['images'] == [f'{text_folder}:0']
  assert result['cells']['natural/none']['images'] == [
      f'{paper_npz}:test_data:0']
  # The folder's first image by name (a.png), its centre 32 px.
  text_run = tmp_path / result['cells']['text/gaussian']['run_dirs'][0]
  np.testing.assert_array_equal(
      iio.imread(text_run / 'target.png'),
      iio.imread(text_folder / 'a.png')[16:48, 16:48])
  for cell in result['cells'].values():
    assert len(cell['test_psnr']) == 1 and math.isfinite(cell['test_psnr'][0])


def test_table1_ct_and_mri_rows_use_the_papers_settings():
  cpu = table1.PRESETS['cpu']
  expected = {  # (sigma_g, sigma_p, lr none, lr gaussian): the paper's,
      # but for the cpu preset's measured scales
      ('paper', 'ct'): (4.0, 3.0, 1e-2, 1e-3),
      ('cpu', 'ct'): (2.0, 5.0, 1e-2, 1e-3),
      ('paper', 'mri'): (5.0, 4.0, 2e-3, 2e-3),
      ('cpu', 'mri'): (2.0, 3.5, 2e-3, 2e-3)}
  for (preset, row), (sigma, sigma_p, lr_none, lr_gaussian) in expected.items():
    configs = {e: table1.fit_config(table1.PRESETS[preset], row, e, 'shepp:8')
               for e in table1.ENCODINGS}
    assert configs['gaussian'].encoding.sigma == sigma  # not rescaled
    assert configs['positional'].encoding.sigma_p == sigma_p
    assert configs['none'].train.learning_rate == lr_none
    assert configs['gaussian'].train.learning_rate == lr_gaussian
    assert all(c.task.name == row for c in configs.values())
  assert table1.fit_config(cpu, 'ct', 'none', 'shepp:8').data.resolution == 128
  assert table1.fit_config(cpu, 'mri', 'none', 'shepp:6').data.resolution == 32
  with pytest.raises(CppnError, match='--rows=ct,pet names pet'):
    table1.parse_rows('ct,pet')
  assert table1.parse_rows('mri,ct') == ('ct', 'mri')
  assert table1.count_sources('mri', 1) == '1 phantom'
  assert table1.count_sources('natural', 4) == '4 images'


def test_table1_shape_and_nerf_rows_fit_their_configs():
  cpu, paper = table1.PRESETS['cpu'], table1.PRESETS['paper']
  shape = {e: table1.fit_config(cpu, 'shape', e, 'bumpy')
           for e in table1.ENCODINGS}
  assert all(c.task.name == 'occupancy' and c.model.depth == 8
             and c.train.learning_rate == 5e-4 and c.train.lr_decay_rate == 0.1
             for c in shape.values())
  # The decay keeps its share of the steps: 0.1 per half of them.
  assert shape['none'].train.num_steps == 1000
  assert shape['none'].train.lr_decay_steps == 500
  assert table1.fit_config(paper, 'shape', 'none',
                           'bunny').train.lr_decay_steps == 5000
  assert shape['gaussian'].encoding.sigma == 12.0
  assert shape['gaussian'].encoding.normalize
  assert shape['positional'].encoding.sigma_p == 6.0
  assert shape['none'].task.points_per_step == 8192
  nerf = {e: table1.fit_config(cpu, 'nerf', e, 'synthetic')
          for e in table1.ENCODINGS}
  assert [nerf[e].train.learning_rate for e in table1.ENCODINGS] == [
      1e-2, 5e-3, 5e-4, 5e-4]
  assert all(c.task.name == 'nerf' and c.model.depth == 4
             and c.model.output_activation == 'identity'
             and c.task.num_samples == 32 and c.data.resolution == 64
             for c in nerf.values())
  full = table1.fit_config(paper, 'nerf', 'gaussian', 'synthetic')
  assert (full.encoding.sigma, full.task.num_samples, full.train.num_steps,
          full.data.resolution) == (26.0, 128, 50000, 400)
  assert table1.parse_rows('nerf,shape,ct') == ('ct', 'shape', 'nerf')
  assert table1.row_score('shape') == ('iou_surface', 'IoU at 0.5')
  assert table1.row_score('nerf')[0] == 'test_psnr'


def test_table1_report_prints_each_row_in_its_score(tmp_path):
  cells = {}
  for dataset, score, values, paper in (
      ('shape', 'iou_surface', (0.5, 0.7), table1.PAPER_SCORES['shape']),
      ('nerf', 'test_psnr', (20.0, 22.5), table1.PAPER_SCORES['nerf'])):
    for encoding in table1.ENCODINGS:
      cells[f'{dataset}/{encoding}'] = {
          'dataset': dataset, 'encoding': encoding, 'score': score,
          'mean': float(np.mean(values)), 'std': float(np.std(values)),
          'paper': paper[encoding], 'images': ['a', 'b'],
          score: list(values), 'errors': [None, None],
          'collapsed': [False, encoding == 'none'], 'run_dirs': ['x', 'y']}
  preset = table1.PRESETS['cpu']
  result = {'preset': 'cpu', 'settings': dataclasses.asdict(preset),
            'rows': ['shape', 'nerf'], 'matmul_precision': 'float32',
            'dataset_settings': {r: table1.row_description(preset, r)
                                 for r in ('shape', 'nerf')},
            'machine': 'test', 'minutes': 1.0, 'fit_minutes': 0.5,
            'cells': cells}
  report = table1.markdown(result)
  assert '| shape (ours, 2 shapes) | 0.600 ± 0.100 (1 collapsed) |' in report
  assert '| shape (paper) | 0.864 | 0.892 | 0.960 | 0.973 |' in report
  assert '| nerf (ours, 2 scenes) | 21.25 ± 1.25 (1 collapsed) |' in report
  assert '| nerf (paper) | 22.41 | 23.16 | 25.28 | 25.48 |' in report
  assert '| shape | b | 0.700 (collapsed) | 0.700 | 0.700 | 0.700 |' in report
  assert '- shape: fit.obj from a 64^3 grid, 1000 Adam steps, 8 x 256 MLP' in (
      report)
  assert 'task.rays_per_step 512' in report
  table1.plot_bars(tmp_path / 'bars.png', result)
  assert_png(tmp_path / 'bars.png')


def test_table1_image_sets(text_folder):
  cpu = table1.PRESETS['cpu']
  assert table1.image_sets(cpu, 2) == {'natural': ['astronaut', 'chelsea'],
                                       'text': ['text:0', 'text:1']}
  assert table1.image_sets(cpu, 0, {'text': ('t.npz', None)})['text'] == [
      f't.npz:test_data:{i}' for i in range(cpu.num_paper_images)]
  with pytest.raises(CppnError, match=r'--images=5 is more than the natural '
                     r'set holds \(4\)'):
    table1.image_sets(cpu, 5)
  with pytest.raises(CppnError, match='choose the npz file or the folder'):
    table1.image_sets(cpu, 1, {'text': ('t.npz', 'text_pngs')})
  assert table1.image_sets(cpu, 2, {'text': (None, str(text_folder))})[
      'text'] == [f'{text_folder}:0', f'{text_folder}:1']
  with pytest.raises(CppnError, match=f'folder {text_folder} holds 2 image '
                     'files, fewer than the 4 to fit'):
    table1.image_sets(cpu, 0, {'text': (None, str(text_folder))})


def test_text_set(tmp_path):
  result = run_tiny(text_set, tmp_path)
  stats, images = result['generated'], result['images']
  assert [i['seed'] for i in images] == [0, 1, 2, 3]
  counts = [len(i['boxes']) for i in images]
  assert stats['strings'] == [min(counts), np.median(counts), max(counts)]
  heights = [h for i in images for h, _ in i['boxes']]
  assert stats['box_height'][1] == np.median(heights)
  assert stats['blobs'] == np.mean([i['blobs'] for i in images])
  report = (tmp_path / 'text_set.md').read_text()
  assert '| white pixels | 81-97% (median 91%) |' in report
  assert_png(tmp_path / 'text_images.png')


def test_visible_boxes_and_glyph_blobs():
  coverage = np.zeros((3, 10, 10), np.float32)
  coverage[0, 1:5, 1:9] = 1     # partly under string 1: box 4 x 8 remains
  coverage[1, 3:7, 0:3] = 0.8   # 4 x 3, on top
  coverage[2, 9, 9] = 0.3       # under half everywhere: not visible
  assert text_set.visible_boxes(coverage) == [(4, 8), (4, 3)]
  image = np.ones((6, 6, 3), np.float32)
  image[0, 0] = image[1, 1] = 0.2   # diagonal neighbours: one blob
  image[4:6, 4] = [1, 0.5, 1]       # a second blob, one channel non-white
  image[0, 5] = 0.99                # white: every channel >= 250 / 255
  assert text_set.glyph_blobs(image) == 2


def test_scale(tmp_path):
  result = run_tiny(scale, tmp_path)
  sigmas = scale.PRESETS['tiny'].sigmas
  assert [p['sigma'] for p in result['points']] == list(sigmas)
  for point in result['points']:
    assert point['sigma_used'] == point['sigma'] * 32 / 512
    assert math.isfinite(point['train_psnr']) and math.isfinite(
        point['test_psnr'])
    assert (tmp_path / point['run_dir'] / 'reconstruction.png').exists()
  assert result['best_sigma'] == max(
      result['points'], key=lambda p: p['test_psnr'])['sigma']
  assert_png(tmp_path / 'scale.png')


def test_embedding_size(tmp_path):
  result = run_tiny(embedding_size, tmp_path)
  preset = embedding_size.PRESETS['tiny']
  assert [(p['depth'], p['num_features']) for p in result['points']] == [
      (d, m) for d in preset.depths for m in preset.num_features]
  for point in result['points']:
    assert math.isfinite(point['mean'])
    # A depth-D MLP of width w on 2m features with 3 outputs.
    w, m, d = preset.width, point['num_features'], point['depth']
    assert point['num_params'] == (2 * m * w + w + (d - 2) * (w * w + w)
                                   + 3 * w + 3)
  assert_png(tmp_path / 'embedding_size.png')


def test_seed_table_counts_are_exact(tmp_path):
  result = run_tiny(seed_table, tmp_path)
  rows = result['rows']
  assert [r['l_fact'] for r in rows] == [33, 65, 129, 257]
  assert [r['num_params'] for r in rows] == [11_115, 44_075, 175_531,
                                             700_587]
  assert [r['model_bytes'] for r in rows] == [4 * r['num_params']
                                              for r in rows]
  for row in rows:
    assert abs(row['gaussian_params'] / row['num_params'] - 1) < 0.05
  trained, = [r for r in rows if r['trained']]  # tiny trains L_FACT 33 only
  for family, run_name in (('seed', 'seed_L33'), ('gaussian', 'gaussian_w52')):
    assert math.isfinite(trained[f'{family}_psnr'])
    gif = tmp_path / trained[f'{family}_gif']
    assert gif.read_bytes() == (tmp_path / 'runs' / run_name /
                                'progress.gif').read_bytes()
    assert iio.imread(gif, index=None).shape[1:] == (16, 16, 3)
  report = (tmp_path / 'seed_table.md').read_text()
  assert '| 33 | 64 | 11,115 | 43.42 KB |' in report
  assert '| 257 | 512 | 700,587 | 2.67 MB |' in report
  assert_png(tmp_path / 'seed_table.png')


def test_ntk_1d(tmp_path):
  result = run_tiny(ntk_1d, tmp_path)
  preset = ntk_1d.PRESETS['tiny']
  assert set(result['mappings']) == {'no mapping', 'basic', 'p = 0', 'p = 1'}
  for mapping in result['mappings'].values():
    assert all(math.isfinite(v) for v in mapping.values())
  assert len(result['scatter']) == (len(ntk_1d.SAMPLERS)
                                    * len(preset.scatter_stds)
                                    * preset.scatter_trials)
  for name in ('kernels.png', 'regression.png', 'scatter.png'):
    assert_png(tmp_path / name)


def test_scales_follow_the_resolution():
  assert common.sigma_at(10, 128) == 2.5
  assert common.sigma_p_at(6, 128) == 4
  with pytest.raises(CppnError, match='resolution'):
    common.sigma_p_at(5, 16)


def test_paper_config_sets_only_fields_the_encoding_reads():
  config = common.paper_config(64, 10, encoding__name='positional',
                               encoding__sigma_p=4.0)
  assert config.encoding.sigma_p == 4.0 and config.train.eval_every_steps == 1
  with pytest.raises(CppnError, match='encoding.sigma is not read by the '
                     'encoding positional'):
    common.paper_config(64, 10, encoding__name='positional',
                        encoding__sigma=4.0)
  with pytest.raises(CppnError, match='encoding.scale is no longer a field'):
    common.paper_config(64, 10, encoding__scale=4.0)


def test_every_table1_config_is_clean():
  preset = table1.PRESETS['cpu']
  for dataset in table1.DATASETS:
    for encoding in table1.ENCODINGS:
      config = table1.fit_config(preset, dataset, encoding, 'astronaut')
      assert config.encoding.name == encoding


def test_seed_table_counts_l_fact_as_num_freqs_plus_one():
  config = seed_table.seed_config(seed_table.PRESETS['tiny'], 65)
  assert config.encoding.num_freqs == 64
  assert seed_table.num_params(config) == 44_075


def cli_failure(command, argv, capsys):
  """Runs a command that must fail: (exit code, its one stderr line)."""
  with pytest.raises(SystemExit) as exit_info:
    cli.call(command, argv)
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('error: '), lines
  return exit_info.value.code, lines[0]


def test_bad_flags_are_one_line_and_exit_2(tmp_path, capsys):
  assert cli_failure(scale.COMMAND, ['--preset=huge', f'--workdir={tmp_path}'],
                     capsys) == (2, 'error: bad command line: flag '
                                 '--preset=huge: value should be one of '
                                 '<cpu|paper|tiny>')
  code, line = cli_failure(scale.COMMAND, ['--preset=tiny'], capsys)
  assert code == 2 and '--workdir must have a value' in line
  code, line = cli_failure(table1.COMMAND, [
      f'--workdir={tmp_path}', '--matmul_precision=float16'], capsys)
  assert code == 2 and 'float32|tensorfloat32|bfloat16' in line
  assert cli_failure(scale.COMMAND, [f'--workdir={tmp_path}', 'extra'],
                     capsys) == (2, 'error: bad command line: unexpected '
                                 'arguments: extra')


def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys):
  blocked = tmp_path / 'file'
  blocked.write_text('')
  code, line = cli_failure(ntk_1d.COMMAND, ['--preset=tiny',
                                           f'--workdir={blocked / "sub"}'],
                           capsys)
  assert code == 1 and str(blocked) in line
  code, line = cli_failure(compare.COMMAND, [f'--output={tmp_path / "c.png"}',
                                             str(tmp_path)], capsys)
  assert code == 1 and 'summary.json is missing' in line
  code, line = cli_failure(compare.COMMAND, [f'--output={tmp_path / "c.png"}'],
                           capsys)
  assert code == 2 and 'RUN_DIR' in line


def test_fit_minutes_counts_each_group_once():
  group = [{'wall_seconds': 60.0, 'group_size': 2}] * 2
  assert common.fit_minutes(group + [{'wall_seconds': 30.0, 'group_size': 1},
                                     {'error': 'diverged'}]) == 1.5


def test_power_law_signal_is_band_limited_and_scaled():
  signal = signal1d.power_law_signal(jax.random.PRNGKey(0), 64, 1.0, band=16)
  assert signal.min() == pytest.approx(-0.5) and signal.max() == pytest.approx(
      0.5)
  spectrum = np.abs(np.fft.rfft(signal))
  assert np.all(spectrum[16:] < 1e-9 * spectrum.max())


@pytest.mark.parametrize('sampler', ntk_1d.SAMPLERS)
def test_sampler_scale_gives_the_requested_std(sampler):
  for std in (0.5, 4.0, 40.0):
    b = encodings.random_matrix(sampler, jax.random.PRNGKey(1),
                                ntk_1d.sampler_scale(sampler, std), 100_000)
    assert np.std(np.asarray(b)) == pytest.approx(std, rel=0.03)


def test_power_law_mappings():
  maps = ntk_1d.mappings(ntk_1d.PRESETS['cpu'])  # 128 training points
  a, b = maps['p = 1']
  np.testing.assert_array_equal(b, np.arange(1, 65))
  np.testing.assert_allclose(a, 1 / b)
  features = ntk_1d.features(np.linspace(0, 1, 5), maps['p = 1'])
  # sqrt(2m) / |a| scaling: the mean squared feature is 1.
  np.testing.assert_allclose(np.mean(features**2, -1), 1.0, rtol=1e-5)


def test_a_failed_command_is_one_error_line():
  fail = ("import sys; print('a warning', file=sys.stderr); "
          "print('error: data.resolution=1024 is too large', file=sys.stderr);"
          " sys.exit(1)")
  with pytest.raises(CppnError, match='failed: data.resolution=1024 is too '
                     'large$'):
    common.run_command([sys.executable, '-c', fail])
  with pytest.raises(CppnError, match='failed: exit status 3$'):
    common.run_command([sys.executable, '-c', 'raise SystemExit(3)'])
  assert common.run_command([sys.executable, '-c', 'print(7)']) == '7\n'
