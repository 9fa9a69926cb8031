"""Target images and the coordinate / pixel splits a model is fitted on.

An image source is a file path, a scikit-image photograph bundled with the
wheel (`BUNDLED_IMAGES`), a generated text image (`text` or `text:SEED`, 512
px like the paper's text set), one image of the Fourier-features paper's data
files (`FILE.npz[:KEY]:INDEX`), or the INDEX-th image file of a folder in
sorted order (`DIR:INDEX`, the paper's data as PNG files). Every image leaves
this module as (H, W, 3) float32 RGB in [0, 1]; a target is its centre crop
(`data.crop`) resized to `data.resolution`.

Coordinates follow the paper's notebooks: on an N x N image pixel (row i,
column j) sits at (x, y) = (j / N, i / N) in [0, 1)^2. The 'paper' split
trains on the even pixels image[::2, ::2] and tests on the odd ones
image[1::2, 1::2]; 'memorize' trains and tests on every pixel.
"""

import colorsys
import dataclasses
import os
import re
import string
from typing import Callable

import imageio.v3 as iio
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
import skimage.data

from cppn.errors import CppnError

SPLITS = ('paper', 'memorize')

# Side of a generated text image in pixels (the paper's text images').
TEXT_IMAGE_SIZE = 512
# A heavy serif face that ships with matplotlib (the paper's text is serif).
TEXT_FONT = os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf',
                         'DejaVuSerif-Bold.ttf')

# Extensions (lower case) of the files a `DIR:INDEX` source counts.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.gif',
                    '.webp')

# Array of the paper's npz files read when a source names no key.
DEFAULT_NPZ_KEY = 'test_data'

# Pillow modes imageio would hand back undecoded (palette indices dropping
# transparency, CMYK, YCbCr), mapped to the mode to ask imageio for instead.
_PILLOW_MODE_CONVERSIONS = {
    'P': 'RGBA', 'PA': 'RGBA', 'CMYK': 'RGB', 'YCbCr': 'RGB'}

_TEXT_LETTERS = np.array(list(string.ascii_letters))
_NPZ_SOURCE = re.compile(r'(?P<path>.+\.npz)(?::(?P<selector>.*))?')
_FOLDER_SOURCE = re.compile(r'(?P<folder>.+):(?P<index>-?\d+)')


def _to_float_rgb(pixels: np.ndarray, name: str) -> np.ndarray:
  """Converts decoded pixels to (H, W, 3) float32 RGB in [0, 1].

  Args:
    pixels: (H, W), (H, W, 1) gray, (H, W, 2) gray + alpha, (H, W, 3) RGB or
      (H, W, 4) RGBA; bool, uint8 (/ 255), uint16 (/ 65535) or float (clipped
      to [0, 1]). Alpha is composited over white.
    name: what the pixels came from, for error messages.

  Returns:
    (H, W, 3) float32 in [0, 1].
  """
  if pixels.ndim == 2:
    pixels = pixels[..., None]
  if pixels.ndim != 3 or not 1 <= pixels.shape[-1] <= 4:
    raise CppnError(f'image {name} has shape {pixels.shape}; expected (H, W) '
                    'gray or (H, W, C) with C = 1, 2, 3 or 4 channels')
  if pixels.dtype == np.uint8:
    values = pixels.astype(np.float32) / 255
  elif pixels.dtype == np.uint16:
    values = pixels.astype(np.float32) / 65535
  elif pixels.dtype == np.bool_ or np.issubdtype(pixels.dtype, np.floating):
    values = np.clip(pixels.astype(np.float32), 0, 1)
    if np.isnan(values).any():
      raise CppnError(f'image {name} contains NaN values')
  else:
    raise CppnError(f'image {name} has pixel type {pixels.dtype}; expected '
                    'bool, uint8, uint16 or float')
  num_colour_channels = 1 if values.shape[-1] <= 2 else 3
  colour = values[..., :num_colour_channels]
  if values.shape[-1] in (2, 4):
    alpha = values[..., num_colour_channels:]
    colour = colour * alpha + (1 - alpha)
  height, width = colour.shape[:2]
  if min(height, width) < 2:
    raise CppnError(f'image {name} is {height} x {width} px; both sides must '
                    'be at least 2 px')
  return np.ascontiguousarray(np.broadcast_to(colour, (height, width, 3)))


def _bundled(load: Callable[[], np.ndarray], name: str):
  """Wraps a scikit-image loader to return (H, W, 3) float32 in [0, 1]."""
  return lambda: _to_float_rgb(load(), name)


BUNDLED_IMAGES: dict[str, Callable[[], np.ndarray]] = {
    name: _bundled(load, name) for name, load in {
        'astronaut': skimage.data.astronaut,
        'chelsea': skimage.data.chelsea,
        'coffee': skimage.data.coffee,
        'rocket': skimage.data.rocket,
        'hubble_deep_field': skimage.data.hubble_deep_field,
        'immunohistochemistry': skimage.data.immunohistochemistry,
        'retina': skimage.data.retina,
        'motorcycle': lambda: skimage.data.stereo_motorcycle()[0],
        'camera': skimage.data.camera,
        'brick': skimage.data.brick,
        'grass': skimage.data.grass,
        'gravel': skimage.data.gravel,
        'moon': skimage.data.moon,
    }.items()
}


def _short_reason(error: Exception) -> str:
  """One line saying why a library failed to decode a file."""
  message = str(error).strip()
  if not message or message.startswith('Could not find a backend'):
    return 'not an image format imageio can read'
  return message.splitlines()[0]


def _read_image_file(path: str) -> np.ndarray:
  """Reads the first frame of an image file as (H, W, 3) float32 in [0, 1]."""
  if os.path.isdir(path):
    raise CppnError(f'cannot read image {path}: it is a folder; choose one '
                    f'of its image files with {path}:INDEX')
  if os.path.getsize(path) == 0:
    raise CppnError(f'cannot read image {path}: the file is empty')
  try:
    pillow_mode = iio.immeta(path, index=0).get('mode')
    if pillow_mode in _PILLOW_MODE_CONVERSIONS:
      pixels = iio.imread(
          path, index=0, mode=_PILLOW_MODE_CONVERSIONS[pillow_mode])
    else:
      pixels = iio.imread(path, index=0)
  except Exception as error:  # imageio and its plugins raise many types.
    raise CppnError(f'cannot read image {path}: {_short_reason(error)}'
                    ) from error
  return _to_float_rgb(pixels, path)


def _read_npz_image(source: str, path: str, selector: str | None) -> np.ndarray:
  """Reads image `[KEY:]INDEX` of a paper data file as (H, W, 3) float32."""
  match = re.fullmatch(r'(?:(?P<key>[^:]+):)?(?P<index>\d+)', selector or '')
  if match is None:
    raise CppnError(f"bad image source '{source}'; expected FILE.npz:INDEX or "
                    'FILE.npz:KEY:INDEX with an integer INDEX')
  key = match['key'] or DEFAULT_NPZ_KEY
  index = int(match['index'])
  if not os.path.isfile(path):
    raise CppnError(f'image file not found: {path}')
  try:
    with np.load(path, allow_pickle=False) as arrays:
      if key not in arrays.files:
        raise CppnError(f"no array '{key}' in {path}; it has: "
                        f"{', '.join(arrays.files)}")
      images = arrays[key]
  except CppnError:
    raise
  except Exception as error:  # zipfile, numpy and OS errors.
    raise CppnError(f'cannot read image {path}: {_short_reason(error)}'
                    ) from error
  if not 0 <= index < len(images):
    raise CppnError(f"image index {index} is out of range: '{key}' in {path} "
                    f'holds {len(images)} images (0..{len(images) - 1})')
  return _to_float_rgb(images[index], f'{path}:{key}:{index}')


def folder_images(folder: str) -> list[str]:
  """The paths of a folder's image files (IMAGE_EXTENSIONS, any case),
  sorted by name: what `DIR:INDEX` indexes.

  Raises:
    CppnError: the folder holds no image files.
  """
  names = sorted(
      name for name in os.listdir(folder)
      if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
      and os.path.isfile(os.path.join(folder, name)))
  if not names:
    raise CppnError(f'folder {folder} holds no image files (expected '
                    f"{', '.join(IMAGE_EXTENSIONS)})")
  return [os.path.join(folder, name) for name in names]


def _read_folder_image(folder: str, index: int) -> np.ndarray:
  """Reads the index-th image file of a folder (sorted by name)."""
  paths = folder_images(folder)
  if not 0 <= index < len(paths):
    raise CppnError(f'image index {index} is out of range: folder {folder} '
                    f'holds {len(paths)} image files (0..{len(paths) - 1})')
  return _read_image_file(paths[index])


def _text_seed(source: str) -> int | None:
  """The SEED of a `text` / `text:SEED` source (0 for `text`), else None."""
  if source == 'text':
    return 0
  if not source.startswith('text:'):
    return None
  seed = source[len('text:'):]
  if not seed.isdigit():
    raise CppnError(f"bad text seed '{seed}' in '{source}'; expected text or "
                    'text:SEED with SEED a non-negative integer')
  return int(seed)


def load_image(source: str) -> np.ndarray:
  """Loads an image source as (H, W, 3) float32 RGB in [0, 1].

  Args:
    source: a path to an image file (first frame), a name in
      `BUNDLED_IMAGES`, `text` / `text:SEED` (make_text_image, 512 px),
      `FILE.npz:INDEX` / `FILE.npz:KEY:INDEX` (default KEY 'test_data'), or
      `DIR:INDEX`, the INDEX-th of folder_images(DIR).

  Returns:
    (H, W, 3) float32 in [0, 1]; H, W >= 2.
  """
  if source in BUNDLED_IMAGES:
    return BUNDLED_IMAGES[source]()
  seed = _text_seed(source)
  if seed is not None:
    return make_text_image(seed)
  npz_match = _NPZ_SOURCE.fullmatch(source)
  if npz_match:
    return _read_npz_image(source, npz_match['path'], npz_match['selector'])
  folder_match = _FOLDER_SOURCE.fullmatch(source)
  if folder_match and os.path.isdir(folder_match['folder']):
    return _read_folder_image(folder_match['folder'],
                              int(folder_match['index']))
  if os.path.exists(source):
    return _read_image_file(source)
  if os.sep in source or os.path.splitext(source)[1]:
    raise CppnError(f'image file not found: {source}')
  raise CppnError(
      f"unknown image '{source}': not a file, and not one of: "
      f"{', '.join(sorted(BUNDLED_IMAGES))}, text[:SEED], "
      'FILE.npz[:KEY]:INDEX, DIR:INDEX')


def _check_resolution(resolution: int) -> None:
  """Raises CppnError unless the resolution is an int >= 2."""
  if not isinstance(resolution, (int, np.integer)) or resolution < 2:
    raise CppnError(f'data.resolution={resolution} is invalid; choose an '
                    'integer >= 2')


@dataclasses.dataclass(frozen=True)
class TextString:
  """One string of a generated text image, in pixels of the 512-px image."""
  letters: str  # TEXT_LENGTHS random ASCII letters, upper and lower case
  font_px: int  # font size (em height), TEXT_FONT_PX
  center: tuple[int, int]  # (x, y) of the string's middle, in [0, 512)
  colour: tuple[int, int, int]  # RGB, 0..255


# The generated text set (text_layout): strings per image, letters per string
# and font sizes in px, each [low, high].
TEXT_STRINGS = (3, 8)
TEXT_LENGTHS = (2, 12)
TEXT_FONT_PX = (10, 110)
# Colour of a string: uniform hue, saturation uniform in this range (from
# nearly saturated to pastel), full value (HSV).
TEXT_SATURATION = (0.15, 0.85)
# A pixel is white when every channel is at least WHITE_LEVEL. The fraction
# of white pixels of a text image lies in TEXT_WHITE_FRACTION (the range of
# the paper's text images), and so does that of its central square of side
# TEXT_CENTER_SIDE (the text spreads over the image: the 256-px centre crops
# the text protocol fits hold text, as the paper's do).
WHITE_LEVEL = 250 / 255
TEXT_WHITE_FRACTION = (0.81, 0.97)
TEXT_CENTER_SIDE = 256


def white_fraction(image: np.ndarray) -> float:
  """Fraction of an (H, W, 3) image's pixels with every channel >= WHITE_LEVEL."""
  return float((image >= WHITE_LEVEL).all(axis=-1).mean())


def visible_ink(coverage: np.ndarray) -> np.ndarray:
  """Where each string shows: (S, H, W) bool.

  Args:
    coverage: (S, H, W) in [0, 1], each string's ink drawn alone, in drawing
      order (text_coverage).

  Returns:
    [k, i, j]: string k covers pixel (i, j) by at least half and no string
    drawn after it does.
  """
  inked = coverage >= 0.5
  inked_later = np.cumsum(inked[::-1], axis=0)[::-1] - inked
  return inked & (inked_later == 0)


def _random_strings(rng: np.random.Generator) -> tuple[TextString, ...]:
  """TEXT_STRINGS strings drawn from rng (see text_layout)."""
  low, high = np.sqrt(TEXT_FONT_PX)
  strings = []
  for _ in range(rng.integers(TEXT_STRINGS[0], TEXT_STRINGS[1] + 1)):
    length = rng.integers(TEXT_LENGTHS[0], TEXT_LENGTHS[1] + 1)
    letters = ''.join(rng.choice(_TEXT_LETTERS, length))
    font_px = round(rng.uniform(low, high) ** 2)
    x, y = rng.integers(0, TEXT_IMAGE_SIZE, 2)
    rgb = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*TEXT_SATURATION), 1)
    strings.append(TextString(letters, font_px, (int(x), int(y)),
                              tuple(round(255 * c) for c in rgb)))
  return tuple(strings)


def _accepted_text(seed: int) -> tuple[tuple[TextString, ...], np.ndarray,
                                        np.ndarray]:
  """text_layout(seed), its text_coverage and its compose_text image."""
  rng = np.random.default_rng(seed)
  low, high = TEXT_WHITE_FRACTION
  while True:
    layout = _random_strings(rng)
    coverage = text_coverage(layout)
    image = compose_text(layout, coverage)
    if (low <= white_fraction(image) <= high
        and low <= white_fraction(center_crop(image, TEXT_CENTER_SIDE)) <= high
        and visible_ink(coverage).any(axis=(1, 2)).all()):
      return layout, coverage, image


def text_layout(seed: int) -> tuple[TextString, ...]:
  """The strings of text image `seed`, in drawing order (later ones on top).

  TEXT_STRINGS strings of TEXT_LENGTHS uniformly random letters each. A font
  size's square root is uniform between those of TEXT_FONT_PX's bounds (more
  mid-sized strings than tiny or huge ones); a string's middle is uniform
  over the image, so strings overlap and run off the edges. Colours: uniform
  hue, saturation uniform in TEXT_SATURATION, full value (HSV). A layout with
  a string hidden under later ones, or whose white fraction, or that of its
  central TEXT_CENTER_SIDE square, falls outside TEXT_WHITE_FRACTION, is
  drawn again (from the seed's same stream).

  Args:
    seed: non-negative int; the same seed gives the same layout.
  """
  return _accepted_text(seed)[0]


def text_coverage(layout: tuple[TextString, ...]) -> np.ndarray:
  """Each string's ink drawn alone: (S, 512, 512) float32 in [0, 1].

  1 where a glyph covers a pixel, fractions on antialiased edges.
  """
  masks = []
  for text in layout:
    mask = Image.new('L', (TEXT_IMAGE_SIZE, TEXT_IMAGE_SIZE), 0)
    ImageDraw.Draw(mask).text(
        text.center, text.letters, fill=255, anchor='mm',
        font=ImageFont.truetype(TEXT_FONT, text.font_px))
    masks.append(np.asarray(mask, np.float32) / 255)
  return np.stack(masks).reshape(-1, TEXT_IMAGE_SIZE, TEXT_IMAGE_SIZE)


def compose_text(layout: tuple[TextString, ...],
                 coverage: np.ndarray) -> np.ndarray:
  """Paints the strings in order over white, each blended by its coverage.

  Args:
    layout: S strings (text_layout).
    coverage: (S, N, N) in [0, 1] (text_coverage).

  Returns:
    (N, N, 3) float32 in [0, 1], on 8-bit levels (k / 255) like a PNG.
  """
  image = np.ones(coverage.shape[1:] + (3,), np.float32)
  for text, alpha in zip(layout, coverage[..., None]):
    image = image * (1 - alpha) + np.float32(text.colour) / 255 * alpha
  return np.round(image * 255).astype(np.float32) / 255


def make_text_image(seed: int) -> np.ndarray:
  """Text image `seed`: random strings in random sizes and colours on white.

  Mimics the paper's text set (512 px, letters only, a heavy serif face,
  strings of every size placed at random); see text_layout. Its statistics
  beside the paper's are in docs/reproducing.md (experiments/text_set.py).

  Args:
    seed: non-negative int; the same seed gives the same image.

  Returns:
    (512, 512, 3) float32 in [0, 1].
  """
  return _accepted_text(seed)[2]


def center_crop(image: np.ndarray, side: int = 0) -> np.ndarray:
  """The central side x side square of an (H, W, C) image.

  Args:
    image: (H, W, C).
    side: the square's side S, 1 <= S <= min(H, W); 0: S = min(H, W), the
      largest centred square.

  Returns:
    (S, S, C), a view of `image`.
  """
  height, width = image.shape[:2]
  largest = min(height, width)
  side = side or largest
  if side > largest:
    raise CppnError(f'data.crop={side} is larger than the image ({height} x '
                    f'{width}); choose a crop <= {largest}, or 0 for the '
                    'largest centred square')
  top, left = (height - side) // 2, (width - side) // 2
  return image[top:top + side, left:left + side]


def _check_crop(crop: int, resolution: int) -> None:
  """Raises CppnError unless crop is 0 or an int >= the resolution."""
  if not isinstance(crop, (int, np.integer)) or crop < 0:
    raise CppnError(f'data.crop={crop} is invalid; choose 0 (the largest '
                    'centred square) or the side in pixels of the centre crop')
  if 0 < crop < resolution:
    raise CppnError(f'data.crop={crop} is smaller than data.resolution='
                    f'{resolution}; choose a crop >= {resolution} (it is '
                    'resized down to the resolution) or 0')


def resize(image: np.ndarray, resolution: int) -> np.ndarray:
  """Downsamples a square image with an antialiased Lanczos filter.

  Args:
    image: (S, S, 3) float in [0, 1].
    resolution: target side N, 2 <= N <= S.

  Returns:
    (N, N, 3) float32 in [0, 1]; a copy of `image` when N == S.
  """
  _check_resolution(resolution)
  side = image.shape[0]
  if image.shape[1] != side:
    raise CppnError(f'resize expects a square image, got {image.shape[0]} x '
                    f'{image.shape[1]}; centre-crop it first')
  if resolution > side:
    raise CppnError(f'data.resolution={resolution} is larger than the image '
                    f'({side} x {side} after centre crop); choose a '
                    f'resolution <= {side}')
  if resolution == side:
    return np.array(image, dtype=np.float32)
  channels = [
      np.asarray(Image.fromarray(np.asarray(channel, np.float32)).resize(
          (resolution, resolution), Image.Resampling.LANCZOS))
      for channel in np.moveaxis(image, -1, 0)]
  return np.clip(np.stack(channels, axis=-1), 0, 1).astype(np.float32)


def load_target(source: str, resolution: int, crop: int = 0) -> np.ndarray:
  """Loads a source as an (N, N, 3) float32 target in [0, 1], N = resolution.

  The image's central crop x crop square (data.crop; 0: the largest
  centred square), resized to N (Lanczos, antialiased) when crop > N.
  """
  _check_resolution(resolution)
  _check_crop(crop, resolution)
  return resize(center_crop(load_image(source), crop), resolution)


def coordinate_grid(resolution: int, dim: int = 2) -> np.ndarray:
  """The paper's grid coordinates: (N,) * d + (d,) float32 in [0, 1).

  NumPy's meshgrid of d copies of t = k / N (its default 'xy' indexing, as
  the paper's notebooks): in 2D grid[i, j] = (j / N, i / N), [..., 0] is x
  (column) and [..., 1] is y (row); in 3D grid[i, j, k] = (j / N, i / N,
  k / N); in 1D grid[i] = (i / N,).
  """
  ticks = np.linspace(0, 1, resolution + 1)[:-1]
  return np.stack(np.meshgrid(*[ticks] * dim), axis=-1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A target image and its train / test pixels.

  Attributes:
    image: (N, N, 3) float32 in [0, 1], the full target.
    train_coords: (P, 2) float32 in [0, 1), (x, y) per training pixel.
    train_pixels: (P, 3) float32 in [0, 1], RGB per training pixel.
    test_coords: (Q, 2) float32 in [0, 1).
    test_pixels: (Q, 3) float32 in [0, 1].
    test_shape: (h, w) with test_pixels.reshape(h, w, 3) an image.
    train_shape: (h, w) with train_pixels.reshape(h, w, 3) an image.
  """
  image: np.ndarray
  train_coords: np.ndarray
  train_pixels: np.ndarray
  test_coords: np.ndarray
  test_pixels: np.ndarray
  test_shape: tuple[int, int]
  train_shape: tuple[int, int]


def make_dataset(image: np.ndarray, split: str) -> Dataset:
  """Splits an (N, N, 3) image in [0, 1] into train and test pixels.

  'paper' trains on image[::2, ::2] and tests on image[1::2, 1::2] (N even,
  >= 4); 'memorize' trains and tests on all N^2 pixels.
  """
  if split not in SPLITS:
    raise CppnError(f"unknown data.split '{split}'; choose one of: "
                    f"{', '.join(SPLITS)}")
  image = np.asarray(image, dtype=np.float32)
  resolution = image.shape[0]
  if image.shape != (resolution, resolution, 3):
    raise CppnError(f'make_dataset expects an (N, N, 3) image, got shape '
                    f'{image.shape}')
  grid = coordinate_grid(resolution)
  if split == 'paper':
    if resolution % 2 or resolution < 4:
      raise CppnError(f"data.resolution={resolution} does not suit "
                      "data.split 'paper'; choose an even resolution >= 4")
    train, test = np.s_[::2, ::2], np.s_[1::2, 1::2]
  else:
    train = test = np.s_[:, :]
  train_pixels, test_pixels = image[train], image[test]
  return Dataset(
      image=image,
      train_coords=grid[train].reshape(-1, 2),
      train_pixels=train_pixels.reshape(-1, 3),
      test_coords=grid[test].reshape(-1, 2),
      test_pixels=test_pixels.reshape(-1, 3),
      test_shape=test_pixels.shape[:2],
      train_shape=train_pixels.shape[:2],
  )
