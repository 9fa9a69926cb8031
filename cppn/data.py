"""Target images and the coordinate / pixel splits a model is fitted on.

An image source is a file path, a scikit-image photograph bundled with the
wheel (`BUNDLED_IMAGES`), a generated text image (`text` or `text:SEED`), or
one image of the Fourier-features paper's data files (`FILE.npz[:KEY]:INDEX`).
Every image leaves this module as (H, W, 3) float32 RGB in [0, 1].

Coordinates follow the paper's notebooks: on an N x N image pixel (row i,
column j) sits at (x, y) = (j / N, i / N) in [0, 1)^2. The 'paper' split
trains on the even pixels image[::2, ::2] and tests on the odd ones
image[1::2, 1::2]; 'memorize' trains and tests on every pixel.
"""

import dataclasses
import os
import re
import string
from typing import Callable

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageDraw, ImageFont
import skimage.data

from cppn.errors import CppnError

SPLITS = ('paper', 'memorize')

# Size at which `load_image` generates a text image (the paper's resolution).
TEXT_IMAGE_SIZE = 512

# Array of the paper's npz files read when a source names no key.
DEFAULT_NPZ_KEY = 'test_data'

# Pillow modes imageio would hand back undecoded (palette indices dropping
# transparency, CMYK, YCbCr), mapped to the mode to ask imageio for instead.
_PILLOW_MODE_CONVERSIONS = {
    'P': 'RGBA', 'PA': 'RGBA', 'CMYK': 'RGB', 'YCbCr': 'RGB'}

_TEXT_CHARACTERS = np.array(list(string.ascii_letters + string.digits))
_NPZ_SOURCE = re.compile(r'(?P<path>.+\.npz)(?::(?P<selector>.*))?')


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
    raise CppnError(f'cannot read image {path}: it is a directory')
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
      `BUNDLED_IMAGES`, `text` / `text:SEED` (generated at 512 px), or
      `FILE.npz:INDEX` / `FILE.npz:KEY:INDEX` (default KEY 'test_data').

  Returns:
    (H, W, 3) float32 in [0, 1]; H, W >= 2.
  """
  if source in BUNDLED_IMAGES:
    return BUNDLED_IMAGES[source]()
  seed = _text_seed(source)
  if seed is not None:
    return make_text_image(TEXT_IMAGE_SIZE, seed)
  npz_match = _NPZ_SOURCE.fullmatch(source)
  if npz_match:
    return _read_npz_image(source, npz_match['path'], npz_match['selector'])
  if os.path.exists(source):
    return _read_image_file(source)
  if os.sep in source or os.path.splitext(source)[1]:
    raise CppnError(f'image file not found: {source}')
  raise CppnError(
      f"unknown image '{source}': not a file, and not one of: "
      f"{', '.join(sorted(BUNDLED_IMAGES))}, text[:SEED], FILE.npz[:KEY]:INDEX")


def _check_resolution(resolution: int) -> None:
  """Raises CppnError unless the resolution is an int >= 2."""
  if not isinstance(resolution, (int, np.integer)) or resolution < 2:
    raise CppnError(f'data.resolution={resolution} is invalid; choose an '
                    'integer >= 2')


def make_text_image(resolution: int, seed: int) -> np.ndarray:
  """Renders random strings in random sizes and colours on white.

  Mimics the paper's text data set: 6 to 12 lines, top to bottom, of 1 to 4
  random words (letters and digits), each line in its own colour, font size
  and indent. Font sizes are 20-60 px at 512 px and scale with the
  resolution, with a floor of 8 px so small images keep legible strokes;
  lines that run past the bottom or right edge are clipped.

  Args:
    resolution: side N of the square image, >= 2.
    seed: non-negative int; the same seed gives the same image.

  Returns:
    (N, N, 3) float32 in [0, 1].
  """
  _check_resolution(resolution)
  rng = np.random.default_rng(seed)
  canvas = Image.new('RGB', (resolution, resolution), 'white')
  draw = ImageDraw.Draw(canvas)
  top = rng.uniform(0, 0.1) * resolution
  for _ in range(rng.integers(6, 13)):
    font_px = max(8, round(rng.uniform(20, 60) * resolution / TEXT_IMAGE_SIZE))
    words = [''.join(rng.choice(_TEXT_CHARACTERS, rng.integers(2, 9)))
             for _ in range(rng.integers(1, 5))]
    left = rng.uniform(0, 0.3) * resolution
    colour = tuple(int(channel) for channel in rng.integers(0, 201, 3))
    draw.text((left, top), ' '.join(words), fill=colour,
              font=ImageFont.load_default(size=font_px))
    top += font_px * rng.uniform(1.0, 1.5)
  return np.asarray(canvas, dtype=np.float32) / 255


def center_crop_square(image: np.ndarray) -> np.ndarray:
  """Crops the central S x S square, S = min(H, W): (H, W, C) -> (S, S, C)."""
  height, width = image.shape[:2]
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  return image[top:top + side, left:left + side]


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


def load_target(source: str, resolution: int) -> np.ndarray:
  """Loads a source as an (N, N, 3) float32 target in [0, 1], N = resolution.

  Images are centre-cropped to a square and downsampled; text sources are
  rendered directly at the resolution.
  """
  seed = _text_seed(source)
  if seed is not None:
    return make_text_image(resolution, seed)
  return resize(center_crop_square(load_image(source)), resolution)


def coordinate_grid(resolution: int) -> np.ndarray:
  """The paper's pixel coordinates: (N, N, 2) float32 in [0, 1).

  grid[i, j] = (j / N, i / N): [..., 0] is x (column), [..., 1] is y (row).
  """
  ticks = np.linspace(0, 1, resolution + 1)[:-1]
  return np.stack(np.meshgrid(ticks, ticks), axis=-1).astype(np.float32)


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
