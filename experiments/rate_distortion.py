r"""Rate-distortion of coordinate MLPs as image codecs, against JPEG and PNG.

Each network memorises one image (split 'memorize', every pixel); its code is
the file `cppn.export` writes (weights at a precision, encoding, header), so
its rate is that file's size on disk: bits per pixel = 8 * bytes / N^2. Its
distortion is the PSNR of the exported file rendered at N x N against the
float target (data.load_target; text images are N x N centre crops of the
512 px image, others resized). JPEG (Pillow's encoder at its defaults:
4:2:0 chroma subsampling, standard tables) encodes the target rounded to
uint8, decoded PSNR against the same float target; PNG is the lossless
reference (outputs.png_bytes).

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
import time
from typing import Any

import matplotlib
import ml_collections
import numpy as np
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
class Preset:
  """One experiment's grid and schedule."""
  images: tuple[str, ...]  # data.load_target sources ('text:SEED' is text)
  resolution: int  # N: every image is fitted and measured at N x N
  encodings: tuple[str, ...]  # encoding.name of each family
  depths: tuple[int, ...]  # model.depth (Dense layers, output included)
  widths: tuple[int, ...]  # model.width; also m, the number of frequencies
  num_steps: int  # full-batch Adam steps per fit
  qat_steps: int  # fine-tuning steps (int8+qat, fp32+ft); 0 skips both
  jpeg_qualities: tuple[int, ...] = (5, 10, 20, 30, 50, 75, 90, 95)
  learning_rate: float = 5e-3  # Adam, encoded inputs
  learning_rate_none: float = 1e-2  # Adam, raw coordinates
  qat_learning_rate: float = 3e-5  # Adam, fresh moments, fine-tuning steps
  sigma: float = 6.0  # encoding.sigma (gaussian), natural images
  text_sigma: float = 10.0  # encoding.sigma (gaussian), text images
  sigma_p: float = 5.0  # encoding.sigma_p (positional): top freq 2^sigma_p - 1


PRESETS = {
    'tiny': Preset(images=('text:0',), resolution=16,
                   encodings=('none', 'gaussian'), depths=(2,), widths=(8,),
                   num_steps=20, qat_steps=5, jpeg_qualities=(10, 50, 90),
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


def jpeg_point(target: np.ndarray, quality: int) -> tuple[int, float]:
  """(bytes, PSNR) of Pillow's JPEG of the uint8-rounded target at `quality`."""
  buffer = io.BytesIO()
  Image.fromarray(outputs.to_uint8(target)).save(buffer, format='JPEG',
                                                 quality=quality)
  decoded = np.asarray(Image.open(buffer).convert('RGB'), np.float32) / 255
  return buffer.getbuffer().nbytes, export.psnr(decoded, target)


def baseline_rows(image: str, target: np.ndarray,
                  qualities) -> tuple[list[dict], dict]:
  """JPEG rows at each quality and the PNG row of one target."""
  pixels = target.shape[0] * target.shape[1]
  jpeg = []
  for quality in qualities:
    num_bytes, value = jpeg_point(target, quality)
    jpeg.append({'image': image, 'quality': quality, 'bytes': num_bytes,
                 'bpp': 8 * num_bytes / pixels, 'psnr': value})
  png_size = len(outputs.png_bytes(target))
  png_psnr = export.psnr(outputs.to_uint8(target) / 255, target)
  png = {'image': image, 'bytes': png_size, 'bpp': 8 * png_size / pixels,
         'psnr': png_psnr if np.isfinite(png_psnr) else None}  # None: lossless
  return jpeg, png


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
        'psnr': export.psnr(rendered, target), **report})
  return rows


def run_name(image: str, encoding: str, depth: int, width: int) -> str:
  """A folder name for one fit: 'text:0' becomes 'text0'."""
  return f'{image.replace(":", "")}_{encoding}_d{depth}_w{width}'


def jpeg_psnr_at(bpp: float, jpeg: list[dict]) -> float | None:
  """JPEG's PSNR at `bpp`, linear in log(bpp) between measured qualities."""
  points = sorted((row['bpp'], row['psnr']) for row in jpeg)
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
  targets, jpeg, png = {}, {}, []
  for image in preset.images:
    targets[image] = data.load_target(image, preset.resolution,
                                      crop(preset, image))
    jpeg[image], image_png = baseline_rows(image, targets[image],
                                           preset.jpeg_qualities)
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
                 jpeg_psnr_at_bpp=jpeg_psnr_at(row['bpp'], jpeg[image]))
    networks += rows
    print(f'{run_dir.name}: {summary["num_params"]} params, '
          + ', '.join(f'{r["family"]} {r["bpp"]:.2f} bpp {r["psnr"]:.2f} dB'
                      for r in rows), flush=True)
  result = {
      'preset': preset_name, 'settings': dataclasses.asdict(preset),
      'machine': common.machine(), 'minutes': (time.time() - start) / 60,
      'networks': networks, 'jpeg': sum(jpeg.values(), []), 'png': png,
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
  family (its Pareto front over widths and depths), JPEG, and PNG."""
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
    jpeg = sorted((r['bpp'], r['psnr']) for r in result['jpeg']
                  if r['image'] == image)
    ax.plot(*zip(*jpeg), color='black', marker='x', linewidth=1.5,
            label='JPEG q' + '-'.join(str(q) for q in (
                result['settings']['jpeg_qualities'][0],
                result['settings']['jpeg_qualities'][-1])))
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


def _cell(row) -> str:
  """'bpp / dB' of one stored network."""
  return f'{row["bpp"]:.2f} / {row["psnr"]:.2f}'


def markdown_report(result) -> str:
  """The networks and the baselines as markdown tables."""
  settings = result['settings']
  fams = list(dict.fromkeys(r['family'] for r in result['networks']))
  lines = [f'# Rate-distortion, preset {result["preset"]}', '',
           f'{settings["resolution"]} x {settings["resolution"]} px, split '
           f'memorize, {settings["num_steps"]} Adam steps per fit; '
           f'{result["machine"]}; {result["minutes"]:.1f} minutes.', '',
           'Cells: bits per pixel (file size on disk) / PSNR (dB). "vs JPEG": '
           'int8 PSNR minus JPEG\'s at the same bpp (interpolated; blank '
           'outside JPEG\'s range).', '']
  for png in result['png']:
    image = png['image']
    lines += [f'## {image}', '',
              '| encoding | depth x width | params | '
              + ' | '.join(fams) + ' | int8 vs JPEG (dB) |',
              '|---|---|---|' + '---|' * len(fams) + '---|']
    rows = [r for r in result['networks'] if r['image'] == image]
    for key in dict.fromkeys((r['encoding'], r['depth'], r['width'])
                             for r in rows):
      fit = {r['family']: r for r in rows
             if (r['encoding'], r['depth'], r['width']) == key}
      gap = fit['int8']['jpeg_psnr_at_bpp']
      gap = '' if gap is None else f'{fit["int8"]["psnr"] - gap:+.2f}'
      lines.append(f'| {key[0]} | {key[1]} x {key[2]} | '
                   f'{fit["fp32"]["num_params"]} | '
                   + ' | '.join(_cell(fit[f]) for f in fams) + f' | {gap} |')
    jpeg = [r for r in result['jpeg'] if r['image'] == image]
    lines += ['', '| JPEG quality | ' + ' | '.join(
        str(r['quality']) for r in jpeg) + ' | PNG |',
              '|---|' + '---|' * (len(jpeg) + 1),
              '| bpp / dB | ' + ' | '.join(_cell(r) for r in jpeg)
              + f' | {png["bpp"]:.2f} / '
              + ('lossless' if png['psnr'] is None else f'{png["psnr"]:.2f}')
              + ' |', '']
  return '\n'.join(lines)


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
