r"""The generated text set (`text:SEED`) measured the way the paper's was.

  python -m experiments.text_set --preset=cpu --workdir=runs/text_set

measures text:0 .. text:K-1 (K = 32, the size of the paper's text set; 4 at
the tiny preset; `paper` is `cpu`) as the paper's 32 text images (512 x 512
RGB) were measured:

  white pixels       per image, the fraction of pixels whose every channel is
                     at least 250 / 255 (data.white_fraction)
  strings per image  the strings with at least one visible pixel
  string box         height and length (rows and columns spanned) of each
                     string's visible pixels: those it covers by at least half
                     and no string drawn later covers by half
                     (data.visible_ink)
  glyph blobs        per image, the 8-connected components of non-white pixels

and writes text_set.md and text_set.json (the table beside the paper's) and
text_images.png (the first six images, the protocol's 256-px centre crop
outlined). About 10 seconds.
"""

import pathlib
from typing import Any, Sequence

import matplotlib
import numpy as np
from scipy import ndimage

from cppn import cli
from cppn import data
from cppn import outputs
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

NUM_IMAGES = {'tiny': 4, 'cpu': 32, 'paper': 32}
NUM_SHOWN = 6  # images in text_images.png
CROP = 256  # the outlined centre crop (the text-crop protocol's)
# The paper's 32 text images, measured the same way (docs/reproducing.md).
PAPER = {'white_percent': (81, 91, 97), 'strings': (3, 6, 10),
         'box_height': (9, 39, 90), 'box_length': (37, 167, 454),
         'blobs': 28}


def glyph_blobs(image: np.ndarray) -> int:
  """Number of 8-connected components of non-white pixels of an (H, W, 3)
  image."""
  ink = ~(image >= data.WHITE_LEVEL).all(axis=-1)
  return int(ndimage.label(ink, structure=np.ones((3, 3)))[1])


def visible_boxes(coverage: np.ndarray) -> list[tuple[int, int]]:
  """(height, length) in pixels of each visible string's visible pixels.

  Args:
    coverage: (S, H, W) in [0, 1], string k's ink drawn alone, strings in
      drawing order (data.text_coverage).

  Returns:
    One (rows spanned, columns spanned) per string with a visible pixel
    (data.visible_ink), in drawing order.
  """
  boxes = []
  for visible in data.visible_ink(coverage):
    if visible.any():
      rows = np.flatnonzero(visible.any(axis=1))
      cols = np.flatnonzero(visible.any(axis=0))
      boxes.append((int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)))
  return boxes


def image_statistics(seed: int) -> dict[str, Any]:
  """White fraction, visible string boxes and glyph blobs of text:SEED."""
  layout = data.text_layout(seed)
  coverage = data.text_coverage(layout)
  image = data.compose_text(layout, coverage)
  return {'seed': seed, 'white_fraction': data.white_fraction(image),
          'boxes': visible_boxes(coverage), 'blobs': glyph_blobs(image)}


def set_statistics(images: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """The table's cells over images (image_statistics of each).

  Returns:
    {'white_percent', 'strings': (min, median, max) per image,
     'box_height', 'box_length': 10th / 50th / 90th percentile over strings,
     'blobs': mean per image, 'num_images'}.
  """
  white = 100 * np.array([i['white_fraction'] for i in images])
  strings = np.array([len(i['boxes']) for i in images])
  boxes = np.array([box for i in images for box in i['boxes']])
  return {
      'num_images': len(images),
      'white_percent': [float(white.min()), float(np.median(white)),
                        float(white.max())],
      'strings': [int(strings.min()), float(np.median(strings)),
                  int(strings.max())],
      'box_height': np.percentile(boxes[:, 0], [10, 50, 90]).tolist(),
      'box_length': np.percentile(boxes[:, 1], [10, 50, 90]).tolist(),
      'blobs': float(np.mean([i['blobs'] for i in images]))}


def markdown(stats: dict[str, Any]) -> str:
  """The statistics beside the paper's as a markdown table."""
  low_mid_high = lambda v, unit: (f'{v[0]:.0f}-{v[2]:.0f}{unit} (median '
                                  f'{v[1]:.0f}{unit})')
  percentiles = lambda v: ' / '.join(f'{x:.0f}' for x in v) + ' px'
  rows = [('white pixels', low_mid_high(PAPER['white_percent'], '%'),
           low_mid_high(stats['white_percent'], '%')),
          ('strings per image', low_mid_high(PAPER['strings'], ''),
           low_mid_high(stats['strings'], '')),
          ('string box height, 10th / 50th / 90th percentile',
           percentiles(PAPER['box_height']), percentiles(stats['box_height'])),
          ('string box length, 10th / 50th / 90th percentile',
           percentiles(PAPER['box_length']), percentiles(stats['box_length'])),
          ('separate glyph blobs per image', f'about {PAPER["blobs"]}',
           f'{stats["blobs"]:.1f} on average')]
  lines = [f'# The text set: the paper\'s 32 images and text:0 .. '
           f'text:{stats["num_images"] - 1}', '',
           f'| | the paper\'s | cppn\'s `text:SEED` ({stats["num_images"]} '
           'images) |', '|---|---|---|']
  lines += [f'| {name} | {paper} | {ours} |' for name, paper, ours in rows]
  return '\n'.join(lines) + '\n'


def plot_images(path: pathlib.Path, seeds: Sequence[int], per_row: int = 3):
  """text:SEED for each seed, per_row to a row, the centre CROP x CROP
  square outlined."""
  num_rows = -(-len(seeds) // per_row)
  fig, axes = plt.subplots(num_rows, per_row, figsize=(3 * per_row,
                                                       3.2 * num_rows),
                           dpi=100, squeeze=False)
  for row, ax_row in enumerate(axes):
    common.image_row(ax_row, [
        (f'text:{seed}', data.make_text_image(seed))
        for seed in seeds[row * per_row:(row + 1) * per_row]])
  offset = (data.TEXT_IMAGE_SIZE - CROP) / 2 - 0.5
  for ax in axes.flat[:len(seeds)]:
    ax.add_patch(matplotlib.patches.Rectangle(
        (offset, offset), CROP, CROP, fill=False, linestyle='--',
        linewidth=0.8, edgecolor='0.4'))
  outputs.save_figure(fig, path)


def run(preset_name: str, workdir: pathlib.Path, progress: bool):
  """Measures the preset's images; writes the table, JSON and figure."""
  del progress  # nothing is trained
  images = [image_statistics(seed) for seed in range(NUM_IMAGES[preset_name])]
  stats = set_statistics(images)
  result = {'preset': preset_name, 'white_level': data.WHITE_LEVEL,
            'paper': PAPER, 'generated': stats, 'images': images}
  common.write_report(workdir, 'text_set', result, markdown(stats))
  plot_images(workdir / 'text_images.png',
              list(range(min(NUM_SHOWN, len(images)))))
  return result


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
