"""Tests for cppn.data: image sources, resizing, coordinates and splits."""

import numpy as np
from PIL import Image, ImageFile
import pytest

from cppn import data
from cppn.errors import CppnError


def _write(tmp_path, name, pixels, **save_kwargs):
  """Saves an array or PIL image with Pillow and returns the path as str."""
  path = tmp_path / name
  image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
  image.save(path, **save_kwargs)
  return str(path)


def _random_rgb(height, width, seed=0):
  """(height, width, 3) uint8 noise."""
  return np.random.default_rng(seed).integers(
      0, 256, (height, width, 3), dtype=np.uint8)


# Coordinates and splits.


@pytest.mark.parametrize('resolution', [1, 4, 7, 16])
def test_coordinate_grid_is_column_and_row_over_n(resolution):
  grid = data.coordinate_grid(resolution)
  rows, cols = np.indices((resolution, resolution))
  expected = np.stack([cols / resolution, rows / resolution], axis=-1)
  assert grid.shape == (resolution, resolution, 2)
  assert grid.dtype == np.float32
  np.testing.assert_allclose(grid, expected, atol=1e-7)
  assert grid.min() >= 0 and grid.max() < 1


def test_paper_split_is_even_and_odd_subgrids():
  image = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
  dataset = data.make_dataset(image, 'paper')
  assert dataset.train_shape == (4, 4) and dataset.test_shape == (4, 4)
  assert dataset.train_coords.shape == (16, 2)
  assert dataset.train_pixels.shape == (16, 3)
  assert dataset.test_coords.shape == (16, 2)
  assert dataset.test_pixels.shape == (16, 3)
  np.testing.assert_array_equal(
      dataset.train_pixels.reshape(4, 4, 3), image[::2, ::2])
  np.testing.assert_array_equal(
      dataset.test_pixels.reshape(4, 4, 3), image[1::2, 1::2])
  # Train pixel (i, j) is image pixel (2i, 2j), at (x, y) = (2j / 8, 2i / 8).
  rows, cols = np.indices((4, 4))
  np.testing.assert_allclose(
      dataset.train_coords,
      np.stack([2 * cols / 8, 2 * rows / 8], -1).reshape(-1, 2))
  np.testing.assert_allclose(
      dataset.test_coords,
      np.stack([(2 * cols + 1) / 8, (2 * rows + 1) / 8], -1).reshape(-1, 2))
  np.testing.assert_array_equal(dataset.image, image)


def test_memorize_split_covers_every_pixel():
  image = np.random.default_rng(0).random((6, 6, 3), dtype=np.float32)
  dataset = data.make_dataset(image, 'memorize')
  assert dataset.train_shape == dataset.test_shape == (6, 6)
  np.testing.assert_array_equal(dataset.train_pixels.reshape(6, 6, 3), image)
  np.testing.assert_array_equal(dataset.test_pixels, dataset.train_pixels)
  np.testing.assert_array_equal(dataset.test_coords, dataset.train_coords)
  assert len(np.unique(dataset.train_coords, axis=0)) == 36


@pytest.mark.parametrize('resolution', [2, 5, 7])
def test_paper_split_needs_even_resolution_of_at_least_four(resolution):
  image = np.zeros((resolution, resolution, 3), np.float32)
  with pytest.raises(CppnError, match=f'data.resolution={resolution}'):
    data.make_dataset(image, 'paper')


def test_unknown_split_names_the_choices():
  with pytest.raises(CppnError, match="'half'.*paper, memorize"):
    data.make_dataset(np.zeros((4, 4, 3), np.float32), 'half')


# Image files.


def test_rgb_png_round_trips(tmp_path):
  pixels = _random_rgb(5, 7)
  image = data.load_image(_write(tmp_path, 'rgb.png', pixels))
  assert image.shape == (5, 7, 3) and image.dtype == np.float32
  np.testing.assert_allclose(image, pixels / 255, atol=1e-7)


def test_grayscale_png_is_replicated_to_three_channels(tmp_path):
  pixels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
  image = data.load_image(_write(tmp_path, 'gray.png', pixels))
  assert image.shape == (3, 4, 3)
  for channel in range(3):
    np.testing.assert_allclose(image[..., channel], pixels / 255, atol=1e-7)


def test_sixteen_bit_png_divides_by_65535(tmp_path):
  pixels = np.array([[0, 65535], [32768, 65535]], np.uint16)
  image = data.load_image(_write(tmp_path, 'deep.png', pixels))
  assert image.shape == (2, 2, 3)
  np.testing.assert_allclose(image[..., 0], pixels / 65535, atol=1e-6)
  assert image[0, 1, 0] == 1.0


def test_rgba_is_composited_over_white(tmp_path):
  pixels = np.zeros((2, 2, 4), np.uint8)
  pixels[..., 0] = 255                # red ...
  pixels[0, :, 3] = 0                 # ... transparent in row 0,
  pixels[1, :, 3] = 255               # opaque in row 1.
  image = data.load_image(_write(tmp_path, 'rgba.png', pixels))
  np.testing.assert_allclose(image[0], 1.0)
  np.testing.assert_allclose(image[1], [[1, 0, 0], [1, 0, 0]])


def test_gray_alpha_is_composited_over_white(tmp_path):
  pixels = np.stack([np.zeros((2, 3), np.uint8),
                     np.array([[0] * 3, [255] * 3], np.uint8)], -1)
  image = data.load_image(_write(tmp_path, 'la.png', Image.fromarray(pixels)))
  assert image.shape == (2, 3, 3)
  np.testing.assert_allclose(image[0], 1.0)
  np.testing.assert_allclose(image[1], 0.0)


def test_palette_png_gives_palette_colours_and_transparency(tmp_path):
  palette_image = Image.new('P', (3, 2))
  palette_image.putpalette([0, 0, 255, 255, 0, 0, 0, 128, 0])
  palette_image.putdata([0, 1, 2, 1, 2, 0])
  path = _write(tmp_path, 'palette.png', palette_image, transparency=0)
  assert Image.open(path).mode == 'P'
  image = data.load_image(path)
  expected = np.array([[[1, 1, 1], [1, 0, 0], [0, 128 / 255, 0]],
                       [[1, 0, 0], [0, 128 / 255, 0], [1, 1, 1]]])
  np.testing.assert_allclose(image, expected, atol=1e-7)


def test_gif_first_frame(tmp_path):
  frames = [Image.fromarray(np.full((3, 4), value, np.uint8))
            for value in (10, 200)]
  path = _write(tmp_path, 'anim.gif', frames[0], save_all=True,
                append_images=frames[1:])
  image = data.load_image(path)
  assert image.shape == (3, 4, 3)
  np.testing.assert_allclose(image, 10 / 255, atol=1e-7)


def test_bool_and_float_images(tmp_path):
  mask = np.array([[True, False], [False, True]])
  image = data.load_image(_write(tmp_path, 'mask.png', mask))
  np.testing.assert_array_equal(image[..., 1], mask.astype(np.float32))
  floats = np.array([[-0.5, 0.25], [0.75, 2.0]], np.float32)
  image = data.load_image(_write(tmp_path, 'float.tif', floats))
  np.testing.assert_allclose(image[..., 2], [[0, 0.25], [0.75, 1]])


def test_jpeg_and_bmp_load_in_range(tmp_path):
  for name in ('photo.jpg', 'photo.bmp'):
    image = data.load_image(_write(tmp_path, name, _random_rgb(9, 6)))
    assert image.shape == (9, 6, 3)
    assert image.min() >= 0 and image.max() <= 1


def test_missing_file(tmp_path):
  path = str(tmp_path / 'nope.png')
  with pytest.raises(CppnError, match=f'image file not found: {path}'):
    data.load_image(path)


def test_directory(tmp_path):
  with pytest.raises(CppnError, match=f'cannot read image {tmp_path}'):
    data.load_image(str(tmp_path))


# imageio warns while it tries its legacy plugins on an unknown format.
@pytest.mark.filterwarnings('ignore::DeprecationWarning')
@pytest.mark.parametrize('content', [b'', b'hello, not an image'])
def test_file_that_is_not_an_image(tmp_path, content):
  path = tmp_path / 'bad.png'
  path.write_bytes(content)
  with pytest.raises(CppnError, match=f'cannot read image {path}: ') as info:
    data.load_image(str(path))
  assert '\n' not in str(info.value)


@pytest.mark.parametrize('name', ['cut.png', 'cut.jpg'])
@pytest.mark.parametrize('keep_fraction', [0.3, 0.6, 0.9])
def test_truncated_file_raises(tmp_path, name, keep_fraction):
  assert not ImageFile.LOAD_TRUNCATED_IMAGES
  whole = _write(tmp_path, 'whole' + name[-4:], _random_rgb(64, 48))
  content = open(whole, 'rb').read()
  path = tmp_path / name
  path.write_bytes(content[:int(len(content) * keep_fraction)])
  with pytest.raises(CppnError, match=f'cannot read image {path}: '):
    data.load_image(str(path))


@pytest.mark.parametrize('shape', [(1, 5, 3), (5, 1)])
def test_image_with_a_side_below_two_pixels(tmp_path, shape):
  pixels = np.zeros(shape, np.uint8)
  path = _write(tmp_path, 'thin.png', pixels)
  with pytest.raises(CppnError, match='thin.png.*at least 2 px'):
    data.load_image(path)


# Bundled, text and npz sources.


@pytest.mark.parametrize('name', sorted(data.BUNDLED_IMAGES))
def test_bundled_images_are_rgb_in_unit_range(name):
  image = data.load_image(name)
  assert image.ndim == 3 and image.shape[-1] == 3
  assert min(image.shape[:2]) >= 256
  assert image.dtype == np.float32
  assert image.min() >= 0 and image.max() <= 1


def test_astronaut_is_the_512_pixel_default():
  assert data.load_image('astronaut').shape == (512, 512, 3)


def test_unknown_source_lists_the_choices():
  with pytest.raises(CppnError) as info:
    data.load_image('astronot')
  message = str(info.value)
  assert "'astronot'" in message
  for choice in ('astronaut', 'camera', 'motorcycle', 'text[:SEED]',
                 'FILE.npz[:KEY]:INDEX', 'DIR:INDEX'):
    assert choice in message


def test_text_image_is_deterministic_per_seed():
  first = data.make_text_image(3)
  assert first.shape == (512, 512, 3) and first.dtype == np.float32
  assert first.min() >= 0 and first.max() <= 1
  np.testing.assert_array_equal(first, data.make_text_image(3))
  assert not np.array_equal(first, data.make_text_image(4))
  assert data.text_layout(3) == data.text_layout(3) != data.text_layout(4)


def _visible_strings(coverage):
  """How many strings are on top (coverage >= 0.5, the last such string)
  at some pixel of an (S, H, W) coverage stack."""
  inked = coverage >= 0.5
  last_on_top = len(inked) - 1 - np.argmax(inked[::-1], axis=0)
  return len(np.unique(last_on_top[inked.any(axis=0)]))


def test_text_images_fall_in_the_papers_ranges():
  # The paper's 32 text images: 81-97% white pixels, 3-10 strings each.
  for seed in range(16):
    layout = data.text_layout(seed)
    coverage = data.text_coverage(layout)
    image = data.compose_text(layout, coverage)
    np.testing.assert_array_equal(image, data.make_text_image(seed))
    assert 0.81 <= (image >= 250 / 255).all(axis=-1).mean() <= 0.97, seed
    assert 3 <= _visible_strings(coverage) <= 10, seed
    # White wherever no string has ink; strings of letters in the ranges.
    assert (image[coverage.max(axis=0) == 0] == 1).all()
    for text in layout:
      assert text.letters.isascii() and text.letters.isalpha()
      assert 2 <= len(text.letters) <= 20
      assert 10 <= text.font_px <= 110


def test_visible_strings_counts_strings_on_top():
  coverage = np.zeros((3, 4, 4), np.float32)
  coverage[0, :2] = 1           # rows 0-1, then hidden by string 1
  coverage[1, :2] = 0.6
  coverage[2, 3, 3] = 0.4       # below half: no visible pixel
  assert _visible_strings(coverage) == 1


def test_text_sources():
  np.testing.assert_array_equal(
      data.load_image('text:2'), data.make_text_image(2))
  np.testing.assert_array_equal(
      data.load_image('text'), data.make_text_image(0))
  # A 128-px centre crop of the 512-px image, downsampled to 64 px.
  np.testing.assert_array_equal(
      data.load_target('text:2', 64, crop=128),
      data.resize(data.make_text_image(2)[192:320, 192:320], 64))
  with pytest.raises(CppnError, match="'abc'"):
    data.load_image('text:abc')


@pytest.fixture
def npz_path(tmp_path):
  """A tiny stand-in for the paper's data files: 3 test and 2 train images."""
  rng = np.random.default_rng(0)
  path = tmp_path / 'data_2d_text.npz'
  np.savez(path,
           test_data=rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8),
           train_data=rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8))
  return str(path)


def test_npz_source_reads_the_indexed_image(npz_path):
  with np.load(npz_path) as arrays:
    np.testing.assert_allclose(data.load_image(f'{npz_path}:2'),
                               arrays['test_data'][2] / 255, atol=1e-7)
    np.testing.assert_allclose(data.load_image(f'{npz_path}:train_data:1'),
                               arrays['train_data'][1] / 255, atol=1e-7)
  assert data.load_target(f'{npz_path}:0', 4).shape == (4, 4, 3)


def test_npz_source_errors(npz_path, tmp_path):
  with pytest.raises(CppnError, match="'val_data'.*test_data, train_data"):
    data.load_image(f'{npz_path}:val_data:0')
  with pytest.raises(CppnError, match='index 3 .*holds 3 images'):
    data.load_image(f'{npz_path}:3')
  with pytest.raises(CppnError, match='FILE.npz:KEY:INDEX'):
    data.load_image(npz_path)
  missing = str(tmp_path / 'missing.npz')
  with pytest.raises(CppnError, match=f'image file not found: {missing}'):
    data.load_image(f'{missing}:0')
  broken = tmp_path / 'broken.npz'
  broken.write_bytes(b'not a zip')
  with pytest.raises(CppnError, match=f'cannot read image {broken}'):
    data.load_image(f'{broken}:0')


# A folder of image files (the paper's data as PNGs).


@pytest.fixture
def image_folder(tmp_path):
  """Three PNGs written out of name order, a text file and a sub-folder."""
  folder = tmp_path / 'text_pngs'
  folder.mkdir()
  images = {name: _random_rgb(6, 6, seed)
            for seed, name in enumerate(['b.png', 'c.PNG', 'a.png'])}
  for name, pixels in images.items():
    _write(folder, name, pixels)
  (folder / 'notes.txt').write_text('not an image')
  (folder / 'sub.png').mkdir()
  return folder, [images['a.png'], images['b.png'], images['c.PNG']]


def test_folder_source_reads_images_in_name_order(image_folder):
  folder, in_order = image_folder
  assert [p.rsplit('/', 1)[-1] for p in data.folder_images(str(folder))] == [
      'a.png', 'b.png', 'c.PNG']
  for index, pixels in enumerate(in_order):
    np.testing.assert_allclose(data.load_image(f'{folder}:{index}'),
                               pixels / 255, atol=1e-7)
  assert data.load_target(f'{folder}:2', 4).shape == (4, 4, 3)


def test_folder_source_errors(image_folder, tmp_path):
  folder, _ = image_folder
  with pytest.raises(CppnError, match=f'image index 3 is out of range: folder '
                     f'{folder} holds 3 image files \\(0..2\\)'):
    data.load_image(f'{folder}:3')
  empty = tmp_path / 'empty'
  empty.mkdir()
  (empty / 'readme.txt').write_text('no images here')
  with pytest.raises(CppnError, match=f'folder {empty} holds no image files'):
    data.load_image(f'{empty}:0')
  with pytest.raises(CppnError, match=f'{folder}: it is a folder; choose one '
                     f'of its image files with {folder}:INDEX'):
    data.load_image(str(folder))


# Crop, resize and targets.


def test_center_crop_takes_the_middle():
  image = np.arange(4 * 6).reshape(4, 6, 1)
  np.testing.assert_array_equal(data.center_crop(image), image[:, 1:5])
  np.testing.assert_array_equal(
      data.center_crop(image.transpose(1, 0, 2)),
      image.transpose(1, 0, 2)[1:5])
  np.testing.assert_array_equal(data.center_crop(image, 2), image[1:3, 2:4])
  np.testing.assert_array_equal(data.center_crop(image, 3), image[0:3, 1:4])


def test_resize_keeps_constant_images_and_range():
  image = np.full((40, 40, 3), [0.0, 0.3, 1.0], np.float32)
  small = data.resize(image, 16)
  assert small.shape == (16, 16, 3) and small.dtype == np.float32
  np.testing.assert_allclose(small, np.broadcast_to([0, 0.3, 1], small.shape),
                             atol=1e-5)


def test_resize_is_antialiased():
  checkerboard = (np.indices((64, 64)).sum(0) % 2).astype(np.float32)
  small = data.resize(np.stack([checkerboard] * 3, -1), 32)
  np.testing.assert_allclose(small, 0.5, atol=0.05)


def test_resize_same_size_is_an_unchanged_copy():
  image = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
  same = data.resize(image, 8)
  np.testing.assert_array_equal(same, image)
  assert same is not image and not np.shares_memory(same, image)


def test_resize_refuses_upsampling_and_tiny_resolutions():
  image = np.zeros((8, 8, 3), np.float32)
  with pytest.raises(CppnError, match=r'data.resolution=16 .*8 x 8.*<= 8'):
    data.resize(image, 16)
  with pytest.raises(CppnError, match='data.resolution=1 '):
    data.resize(image, 1)


def test_load_target_crops_and_resizes(tmp_path):
  pixels = np.zeros((20, 30, 3), np.uint8)
  pixels[:, 5:25] = 255                 # the central 20 x 20 square is white.
  target = data.load_target(_write(tmp_path, 'wide.png', pixels), 10)
  assert target.shape == (10, 10, 3)
  np.testing.assert_allclose(target, 1.0, atol=1e-5)


def test_load_target_crop_is_the_central_square(tmp_path):
  pixels = _random_rgb(20, 30)
  path = _write(tmp_path, 'wide.png', pixels)
  np.testing.assert_allclose(data.load_target(path, 10, crop=10),
                             pixels[5:15, 10:20] / 255, atol=1e-7)
  np.testing.assert_allclose(data.load_target(path, 8, crop=8),
                             pixels[6:14, 11:19] / 255, atol=1e-7)


@pytest.mark.parametrize('resolution,crop,message', [
    (10, 21, r'data.crop=21 is larger than the image \(20 x 30\); choose a '
     r'crop <= 20'),
    (10, 8, r'data.crop=8 is smaller than data.resolution=10; choose a crop '
     r'>= 10'),
    (10, -1, r'data.crop=-1 is invalid'),
])
def test_load_target_refuses_bad_crops(tmp_path, resolution, crop, message):
  path = _write(tmp_path, 'wide.png', _random_rgb(20, 30))
  with pytest.raises(CppnError, match=message):
    data.load_target(path, resolution, crop)


def test_load_target_astronaut_feeds_the_paper_split():
  target = data.load_target('astronaut', 64)
  dataset = data.make_dataset(target, 'paper')
  assert dataset.train_pixels.shape == (32 * 32, 3)
  assert dataset.test_shape == (32, 32)
