r"""Rate-distortion of coordinate MLPs as image codecs, against JPEG, JPEG 2000,
WebP, AVIF and PNG.

Each network memorises one image (split 'memorize', every pixel); its code is
the file `cppn.export` writes (weights at a precision, encoding, header,
entropy-coded by brotli), so its rate is that file's size on disk: bits per
pixel = 8 * bytes / N^2; each row also holds the size the same file would
have with zlib (`zlib_bytes`), the coder it had before. Its distortion is
the PSNR of the exported file rendered at N x N against the float target
(data.load_target; text images are N x N centre crops of the 512 px image,
others resized). The codecs (CODECS, through Pillow at its defaults
otherwise: 4:2:0 chroma for JPEG, WebP and AVIF) encode the target rounded
to uint8 at several settings each; their PSNR is the decoded image's against
the same float target. PNG is the lossless reference (outputs.png_bytes).
AVIF needs a Pillow built with libavif (Pillow >= 11.2 wheels are) or the
pillow-avif-plugin (`pip install -e '.[avif]'`).

Grid: images x encodings x depths x widths, each fitted once (m = width
Fourier features; fits of equal shape train together, common.train_all),
then stored at every precision of cppn.quantize (fp32, fp16, bf16, int8) and,
with
qat_steps > 0, as int8 after that many quantisation-aware fine-tuning steps
('int8+qat'), and as fp32 after as many plain steps ('fp32+ft': the control
that tells the gain of QAT from the gain of more training).

  python -m experiments.rate_distortion --preset=cpu --workdir=runs/rd \
      [--noprogress]

writes into the workdir: runs/ (one cppn run per fit; a rerun resumes and
skips finished fits), models/ (the exported files), rate_distortion.json,
rate_distortion.md and rate_distortion.png. Presets: `tiny` (seconds, for
tests), `cpu` (96 px, widths 16-64, depths 2-3: minutes on 2 cores; see the
docs/codec.md for the measured time), `paper` (256 px, widths 32-256, for a GPU).
"""

import dataclasses
import io
import math
import pathlib
import statistics
import time
from typing import Any, Callable
import zlib

import matplotlib
import ml_collections
import numpy as np
from PIL import features
from PIL import Image

from cppn import cli
from cppn import data
from cppn import export
from cppn import outputs
from cppn import overrides
from cppn import quantize
from cppn import train
from cppn.errors import CppnError
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

# Families stored after preset.qat_steps more steps: name -> precision.
FINETUNED_FAMILIES = {'fp32+ft': 'fp32', 'int8+qat': 'int8'}


@dataclasses.dataclass(frozen=True)
class Codec:
  """A lossy image codec through Pillow."""
  pillow_format: str  # Image.save's format
  setting: str  # what the swept number means
  options: Callable[[int], dict[str, Any]]  # number -> Image.save keywords
  marker: str  # on the plot


CODECS = {
    'JPEG': Codec('JPEG', 'quality', lambda q: {'quality': q}, 'x'),
    # Compression ratio against 24-bit raw (bpp = 24 / ratio), one quality
    # layer, the irreversible 9/7 wavelet, a bare codestream (no JP2 box).
    'JPEG 2000': Codec('JPEG2000', 'compression ratio', lambda r: {
        'quality_mode': 'rates', 'quality_layers': [r], 'irreversible': True,
        'no_jp2': True}, '+'),
    'WebP': Codec('WEBP', 'quality', lambda q: {'quality': q, 'method': 6},
                  'd'),
    'AVIF': Codec('AVIF', 'quality', lambda q: {'quality': q}, '*'),
}
# Per codec, the settings swept: low to high rate.
CODEC_SETTINGS = (('JPEG', (5, 10, 20, 30, 50, 75, 90, 95)),
                  ('JPEG 2000', (100, 50, 25, 12, 6, 3)),
                  ('WebP', (0, 10, 25, 50, 75, 90, 100)),
                  ('AVIF', (5, 20, 40, 60, 75, 90, 98)))


@dataclasses.dataclass(frozen=True)
class Preset:
  """One experiment's grid and schedule."""
  images: tuple[str, ...]  # data.load_target sources ('text:SEED' is text)
  resolution: int  # N: every image is fitted and measured at N x N
  encodings: tuple[str, ...]  # encoding.name of each family
  depths: tuple[int, ...]  # model.depth (Dense layers, output included)
  widths: tuple[int, ...]  # model.width; also m, the number of frequencies
  num_steps: int  # full-batch Adam steps per fit
  qat_steps: int  # fine-tuning steps (int8+qat, fp32+ft); 0 skips both
  codec_settings: tuple[tuple[str, tuple[int, ...]], ...] = CODEC_SETTINGS
  learning_rate: float = 5e-3  # Adam, encoded inputs
  learning_rate_none: float = 1e-2  # Adam, raw coordinates
  qat_learning_rate: float = 3e-5  # Adam, fresh moments, fine-tuning steps
  sigma: float = 6.0  # encoding.sigma (gaussian), natural images
  text_sigma: float = 10.0  # encoding.sigma (gaussian), text images
  sigma_p: float = 5.0  # encoding.sigma_p (positional): top freq 2^sigma_p - 1


PRESETS = {
    'tiny': Preset(images=('text:0',), resolution=16,
                   encodings=('none', 'gaussian'), depths=(2,), widths=(8,),
                   num_steps=20, qat_steps=5,
                   codec_settings=(('JPEG', (10, 50, 90)),
                                   ('JPEG 2000', (50, 10)),
                                   ('WebP', (10, 90)), ('AVIF', (10, 90))),
                   sigma=2.0, text_sigma=2.0),
    'cpu': Preset(images=('astronaut', 'coffee', 'text:0'), resolution=96,
                  encodings=('none', 'positional', 'gaussian'),
                  depths=(2, 3), widths=(16, 32, 64), num_steps=1000,
                  qat_steps=100),
    'paper': Preset(images=('astronaut', 'coffee', 'chelsea', 'rocket',
                            'text:0', 'text:1'), resolution=256,
                    encodings=('none', 'positional', 'gaussian'),
                    depths=(3, 4), widths=(32, 64, 128, 256), num_steps=2000,
                    qat_steps=200, learning_rate=2e-3, sigma=10.0,
                    text_sigma=14.0, sigma_p=6.0),
}


def crop(preset: Preset, image: str) -> int:
  """data.crop of an image: text images (512 px) are cropped to the
  resolution, so their letters keep their size in pixels; others 0 (the
  largest square, resized)."""
  return preset.resolution if image.startswith('text') else 0


def fit_config(preset: Preset, image: str, encoding: str, depth: int,
               width: int) -> ml_collections.ConfigDict:
  """configs/default.py with one grid point's image, encoding and model,
  evaluated once, at the end."""
  fields = {}
  if encoding == 'positional':
    fields = dict(encoding__spacing='log_linear',
                  encoding__sigma_p=preset.sigma_p,
                  encoding__num_features=width)
  elif encoding == 'gaussian':
    fields = dict(encoding__sigma=(preset.text_sigma if image.startswith('text')
                                   else preset.sigma),
                  encoding__num_features=width)
  return common.paper_config(
      preset.resolution, preset.num_steps, num_evals=1, data__image=image,
      data__crop=crop(preset, image), data__split='memorize', encoding__name=encoding, **fields,
      model__depth=depth, model__width=width,
      train__learning_rate=(preset.learning_rate_none if encoding == 'none'
                            else preset.learning_rate))


def check_codec(name: str):
  """Raises CppnError if this Pillow cannot write the codec; loads the AVIF
  plugin when Pillow itself lacks AVIF."""
  if name not in CODECS:
    raise CppnError(f'unknown codec {name!r}; choose from '
                    + ', '.join(CODECS))
  if name == 'AVIF' and not features.check('avif'):
    try:
      import pillow_avif  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError as e:
      raise CppnError("this Pillow writes no AVIF: install Pillow >= 11.2 or "
                      "pip install -e '.[avif]'") from e


def codec_point(target: np.ndarray, name: str,
                setting: int) -> tuple[int, float]:
  """(bytes, PSNR) of a codec's encoding of the uint8-rounded target."""
  codec = CODECS[name]
  buffer = io.BytesIO()
  Image.fromarray(outputs.to_uint8(target)).save(
      buffer, format=codec.pillow_format, **codec.options(setting))
  decoded = np.asarray(Image.open(buffer).convert('RGB'), np.float32) / 255
  return buffer.getbuffer().nbytes, export.psnr(decoded, target)


def baseline_rows(image: str, target: np.ndarray,
                  codec_settings) -> tuple[list[dict], dict]:
  """Rows of every codec at each of its settings and the PNG row of one
  target."""
  pixels = target.shape[0] * target.shape[1]
  codecs = []
  for name, settings in codec_settings:
    check_codec(name)
    for setting in settings:
      num_bytes, value = codec_point(target, name, setting)
      codecs.append({'image': image, 'codec': name, 'setting': setting,
                     'bytes': num_bytes, 'bpp': 8 * num_bytes / pixels,
                     'psnr': value})
  png_size = len(outputs.png_bytes(target))
  png_psnr = export.psnr(outputs.to_uint8(target) / 255, target)
  png = {'image': image, 'bytes': png_size, 'bpp': 8 * png_size / pixels,
         'psnr': png_psnr if np.isfinite(png_psnr) else None}  # None: lossless
  return codecs, png


def finetuned_params(config, state, target, preset: Preset) -> dict[str, Any]:
  """The fit's weights after preset.qat_steps more Adam steps, two ways.

  The steps start from fresh Adam moments at preset.qat_learning_rate, on
  the fit's training batch (train.build_fit draws the run's encoding again
  from its config).

  Returns:
    {'int8+qat': weights after int8 quantisation-aware (straight-through)
    steps, 'fp32+ft': weights after the same steps without quantisation, the
    control that separates the gain of more training from that of QAT}.
  """
  fit = train.build_fit(overrides.apply_overrides(
      config, {'train.learning_rate': preset.qat_learning_rate}), image=target)
  if 'encoding' in fit.batch:
    raise CppnError('fine-tuning needs precomputed features; raise '
                    'train.feature_cache_mb (now '
                    f'{config.train.feature_cache_mb})')
  fresh = fit.state.replace(params=state.params)  # fresh Adam moments
  return {family: quantize.finetune(fresh, fit.batch, precision,
                                    preset.qat_steps)[0].params
          for family, precision in FINETUNED_FAMILIES.items()}


def measure_fit(run_dir: pathlib.Path, models_dir: pathlib.Path,
                target: np.ndarray, preset: Preset) -> list[dict[str, Any]]:
  """Exports a finished fit at every precision; one row per stored file."""
  config, state, encoding_params = export.load_state(run_dir)
  stored = [(p, p, state.params) for p in quantize.PRECISIONS]
  if preset.qat_steps:
    stored += [(family, FINETUNED_FAMILIES[family], params)
               for family, params in finetuned_params(
                   config, state, target, preset).items()]
  rows = []
  for family, precision, params in stored:
    path = models_dir / f'{run_dir.name}_{family.replace("+", "_")}.cppn'
    report = export.save_model(path, config, params, encoding_params,
                               precision, int(state.step))
    rendered = export.render(export.load_exported(path), config.data.resolution,
                             export.render_chunk_size(
                                 config.train.chunk_size))
    rows.append({
        'family': family, 'precision': precision, 'file': path.name,
        'bpp': 8 * report['file_bytes'] / target.shape[0] ** 2,
        'psnr': export.psnr(rendered, target),
        'zlib_bytes': zlib_file_bytes(path), **report})
  return rows


def zlib_file_bytes(path) -> int:
  """The size an exported file would have with its body coded by zlib
  (level 9) instead of brotli: the coder measured against."""
  return (len(export.MAGIC) + 1
          + len(zlib.compress(export.file_body(path), 9)))


def run_name(image: str, encoding: str, depth: int, width: int) -> str:
  """A folder name for one fit: 'text:0' becomes 'text0'."""
  return f'{image.replace(":", "")}_{encoding}_d{depth}_w{width}'


def codec_psnr_at(bpp: float, rows: list[dict]) -> float | None:
  """A codec's PSNR at `bpp`, linear in log(bpp) between its measured
  settings; None outside their range."""
  points = sorted((row['bpp'], row['psnr']) for row in rows)
  rates = [math.log(rate) for rate, _ in points]
  if not rates[0] <= math.log(bpp) <= rates[-1]:
    return None
  return float(np.interp(math.log(bpp), rates, [value for _, value in points]))


def run(preset_name: str, workdir: pathlib.Path,
        progress: bool) -> dict[str, Any]:
  """Fits, exports and measures the whole grid; writes json, md and png."""
  start = time.time()
  preset = PRESETS[preset_name]
  models_dir = workdir / 'models'
  models_dir.mkdir(parents=True, exist_ok=True)
  targets, codecs, png = {}, {}, []
  for image in preset.images:
    targets[image] = data.load_target(image, preset.resolution,
                                      crop(preset, image))
    codecs[image], image_png = baseline_rows(image, targets[image],
                                             preset.codec_settings)
    png.append(image_png)
  grid = [(image, encoding, depth, width) for image in preset.images
          for encoding in preset.encodings for depth in preset.depths
          for width in preset.widths]
  run_dirs = [workdir / 'runs' / run_name(*point) for point in grid]
  summaries = common.train_all([fit_config(preset, *point) for point in grid],
                               run_dirs, progress)
  networks = []
  for (image, encoding, depth, width), run_dir, summary in zip(
      grid, run_dirs, summaries):
    if 'error' in summary:
      raise CppnError(f'{run_dir}: {summary["error"]}')
    rows = measure_fit(run_dir, models_dir, targets[image], preset)
    for row in rows:
      row.update(image=image, encoding=encoding, depth=depth, width=width,
                 num_params=summary['num_params'],
                 fit_psnr=summary['test_psnr'],
                 fit_seconds=summary['wall_seconds'] / summary['group_size'],
                 codec_psnr_at_bpp={
                     name: codec_psnr_at(row['bpp'], [
                         r for r in codecs[image] if r['codec'] == name])
                     for name, _ in preset.codec_settings})
    networks += rows
    print(f'{run_dir.name}: {summary["num_params"]} params, '
          + ', '.join(f'{r["family"]} {r["bpp"]:.2f} bpp {r["psnr"]:.2f} dB'
                      for r in rows), flush=True)
  result = {
      'preset': preset_name, 'settings': dataclasses.asdict(preset),
      'machine': common.machine(), 'minutes': (time.time() - start) / 60,
      'networks': networks, 'codecs': sum(codecs.values(), []), 'png': png,
  }
  common.write_report(workdir, 'rate_distortion', result,
                      markdown_report(result))
  plot(workdir / 'rate_distortion.png', result)
  return result


def families(result) -> list[tuple[str, str]]:
  """(encoding, family) pairs in grid order."""
  return list(dict.fromkeys((r['encoding'], r['family'])
                            for r in result['networks']))


def pareto_front(points: list[tuple[float, float]]
                 ) -> list[tuple[float, float]]:
  """The (bpp, psnr) points no cheaper point beats, by increasing bpp."""
  front = []
  for rate, value in sorted(points):
    if not front or value > front[-1][1]:
      front.append((rate, value))
  return front


def plot(path, result):
  """PSNR against bpp (log): per image, one line per encoding / precision
  family (its Pareto front over widths and depths), one per codec, and
  PNG."""
  images = [row['image'] for row in result['png']]
  fig, axes = plt.subplots(1, len(images), figsize=(5 * len(images), 5.0),
                           dpi=90, squeeze=False)
  colours = dict(zip(result['settings']['encodings'],
                     plt.rcParams['axes.prop_cycle'].by_key()['color']))
  styles = dict(zip(quantize.PRECISIONS + tuple(FINETUNED_FAMILIES),
                    [('-', 'o'), ('--', 's'), ('-.', 'D'), (':', 'v'),
                     ((0, (6, 2)), 'P'), ((0, (1, 1)), '^')]))
  for ax, image in zip(axes[0], images):
    for encoding, family in families(result):
      points = [(r['bpp'], r['psnr']) for r in result['networks']
                if (r['image'], r['encoding'], r['family']) == (
                    image, encoding, family)]
      line, marker = styles[family]
      ax.plot(*zip(*points), linestyle='none', marker=marker, markersize=3,
              color=colours[encoding], alpha=0.35)
      ax.plot(*zip(*pareto_front(points)), linestyle=line, marker=marker,
              markersize=4, color=colours[encoding], linewidth=1.2,
              label=f'{encoding} {family}')
    for (name, settings), shade in zip(result['settings']['codec_settings'],
                                       ('0.0', '0.25', '0.45', '0.6')):
      points = sorted((r['bpp'], r['psnr']) for r in result['codecs']
                      if (r['image'], r['codec']) == (image, name))
      ax.plot(*zip(*points), color=shade, marker=CODECS[name].marker,
              linewidth=1.5, label=f'{name} ({CODECS[name].setting} '
              f'{settings[0]}-{settings[-1]})')
    png = next(r for r in result['png'] if r['image'] == image)
    top = ax.get_ylim()[1]
    ax.plot([png['bpp']], [top], marker='*', markersize=12, color='black',
            linestyle='none', clip_on=False, label='PNG (8-bit, lossless)')
    ax.set_ylim(top=top)
    ax.set_xscale('log')
    ax.set_xlabel('bits per pixel (file size on disk)')
    ax.set_ylabel('PSNR (dB)')
    ax.set_title(f'{image}, {result["settings"]["resolution"]} px', fontsize=10)
    ax.grid(alpha=0.3, which='both')
  handles, labels = axes[0][0].get_legend_handles_labels()
  fig.legend(handles, labels, loc='lower center', fontsize=7,
             ncol=-(-len(labels) // 3), frameon=False)
  fig.tight_layout(rect=(0, 0.13, 1, 1))
  with outputs.atomic_open(path, 'wb') as f:
    fig.savefig(f, format='png')
  plt.close(fig)


def versus_codecs(result) -> list[dict[str, Any]]:
  """Per codec and image: how many network files inside the codec's measured
  rates beat it (PSNR above its curve at the same bpp), and the best one.

  Returns:
    Rows {'codec', 'image', 'inside', 'wins', 'best_gap' (dB, or None),
    'best' (the best file's 'encoding depth x width family bpp')}.
  """
  rows = []
  for name, _ in result['settings']['codec_settings']:
    for png in result['png']:
      gaps = [(r['psnr'] - r['codec_psnr_at_bpp'][name], r)
              for r in result['networks'] if r['image'] == png['image']
              and r['codec_psnr_at_bpp'][name] is not None]
      gap, best = max(gaps, key=lambda g: g[0]) if gaps else (None, None)
      rows.append({
          'codec': name, 'image': png['image'], 'inside': len(gaps),
          'wins': sum(g > 0 for g, _ in gaps), 'best_gap': gap,
          'best': best and (f'{best["encoding"]} {best["depth"]} x '
                            f'{best["width"]} {best["family"]} '
                            f'{best["bpp"]:.2f} bpp')})
  return rows


def coder_saving(result) -> str:
  """Brotli's saving against zlib over every stored network, in words."""
  savings = [100 * (1 - r['file_bytes'] / r['zlib_bytes'])
             for r in result['networks']]
  return (f'brotli files are {statistics.median(savings):.1f}% smaller than '
          f'zlib would make them (median over {len(savings)} files; '
          f'{min(savings):.1f}% to {max(savings):.1f}%)')


def _cell(row) -> str:
  """'bpp / dB' of one stored network."""
  return f'{row["bpp"]:.2f} / {row["psnr"]:.2f}'


def markdown_report(result) -> str:
  """The networks and the baselines as markdown tables."""
  settings = result['settings']
  codecs = [name for name, _ in settings['codec_settings']]
  fams = list(dict.fromkeys(r['family'] for r in result['networks']))
  lines = [f'# Rate-distortion, preset {result["preset"]}', '',
           f'{settings["resolution"]} x {settings["resolution"]} px, split '
           f'memorize, {settings["num_steps"]} Adam steps per fit; '
           f'{result["machine"]}; {result["minutes"]:.1f} minutes. The '
           f'networks\' files: {coder_saving(result)}.', '',
           '## Networks against each codec', '',
           'Network files (every family) whose rate lies inside the codec\'s '
           'measured range, how many beat it at the same bpp (its PSNR '
           'interpolated linearly in log bpp), and the best margin.', '',
           '| codec | image | inside | beat it | best margin (dB) | best |',
           '|---|---|---|---|---|---|']
  for row in versus_codecs(result):
    gap = '' if row['best_gap'] is None else f'{row["best_gap"]:+.2f}'
    lines.append(f'| {row["codec"]} | {row["image"]} | {row["inside"]} | '
                 f'{row["wins"]} | {gap} | {row["best"] or ""} |')
  lines += ['', 'Cells: bits per pixel (file size on disk) / PSNR (dB). '
            '"int8 vs CODEC": int8 PSNR minus the codec\'s at the same bpp '
            '(blank outside its range).', '']
  for png in result['png']:
    image = png['image']
    lines += [f'## {image}', '',
              '| encoding | depth x width | params | '
              + ' | '.join(fams) + ' | '
              + ' | '.join(f'int8 vs {c}' for c in codecs) + ' |',
              '|---|---|---|' + '---|' * (len(fams) + len(codecs))]
    rows = [r for r in result['networks'] if r['image'] == image]
    for key in dict.fromkeys((r['encoding'], r['depth'], r['width'])
                             for r in rows):
      fit = {r['family']: r for r in rows
             if (r['encoding'], r['depth'], r['width']) == key}
      gaps = [fit['int8']['codec_psnr_at_bpp'][c] for c in codecs]
      gaps = ['' if g is None else f'{fit["int8"]["psnr"] - g:+.2f}'
              for g in gaps]
      lines.append(f'| {key[0]} | {key[1]} x {key[2]} | '
                   f'{fit["fp32"]["num_params"]} | '
                   + ' | '.join(_cell(fit[f]) for f in fams) + ' | '
                   + ' | '.join(gaps) + ' |')
    lines.append('')
    for name in codecs:
      points = [r for r in result['codecs']
                if (r['image'], r['codec']) == (image, name)]
      lines += [f'| {name} {CODECS[name].setting} | ' + ' | '.join(
          str(r['setting']) for r in points) + ' |',
                '|---|' + '---|' * len(points),
                '| bpp / dB | ' + ' | '.join(_cell(r) for r in points) + ' |',
                '']
    lines += [f'PNG: {png["bpp"]:.2f} bpp, '
              + ('lossless' if png['psnr'] is None
                 else f'{png["psnr"]:.2f} dB') + '.', '']
  return '\n'.join(lines)


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
