"""Tests for cppn.metrics against NumPy and scikit-image.

SSIM is checked against skimage.metrics.structural_similarity (Gaussian
weights, population covariances, data range 1, float64) at the window our
metric uses; skimage derives its window from sigma (2 int(3.5 sigma + 0.5) +
1 pixels), so each test also checks that this is the window we chose.
"""

import math

import numpy as np
import pytest
import skimage.data
import skimage.transform
from skimage.metrics import structural_similarity

from cppn import metrics


def skimage_ssim(a, b, sigma):
  """skimage's Gaussian SSIM of two (H, W, C) images in [0, 1], float64."""
  return structural_similarity(
      np.asarray(a, np.float64), np.asarray(b, np.float64),
      gaussian_weights=True, sigma=sigma, use_sample_covariance=False,
      data_range=1.0, channel_axis=-1)


def skimage_window(sigma):
  """The window skimage's SSIM uses for a Gaussian of `sigma` (truncate 3.5)."""
  return 2 * int(3.5 * sigma + 0.5) + 1


def noisy_pair(height, width, seed, noise=0.1):
  """A uniform random image and a noisy, clipped copy: (H, W, 3) float32."""
  rng = np.random.default_rng(seed)
  a = rng.uniform(size=(height, width, 3))
  b = np.clip(a + noise * rng.normal(size=a.shape), 0, 1)
  return a.astype(np.float32), b.astype(np.float32)


def structured_pair(height, width):
  """The astronaut photograph resized, and it blurred and shifted in colour."""
  a = skimage.transform.resize(skimage.data.astronaut() / 255.0,
                               (height, width, 3), anti_aliasing=True)
  rows = np.arange(height)[:, None, None] / max(height - 1, 1)
  b = np.clip(0.8 * a + 0.2 * np.roll(a, 1, axis=1) + 0.05 * rows, 0, 1)
  return a.astype(np.float32), b.astype(np.float32)


def gradient_and_checkerboard(height, width):
  """A smooth ramp against a checkerboard over it: two very unlike images."""
  y, x = np.mgrid[:height, :width] / max(height, width)
  ramp = np.stack([x, y, (x + y) / 2], -1)
  checker = ((np.indices((height, width)).sum(0) % 2) * 0.5)[..., None]
  return ramp.astype(np.float32), np.clip(ramp + checker, 0, 1).astype(
      np.float32)


# The window.


@pytest.mark.parametrize('height,width,size', [
    (512, 512, 11), (256, 256, 11), (11, 11, 11), (11, 40, 11), (40, 11, 11),
    (10, 10, 9), (9, 30, 9), (8, 8, 7), (13, 8, 7), (7, 7, 7), (6, 6, 5),
    (5, 5, 5), (4, 4, 3), (3, 3, 3), (2, 2, 1), (1, 1, 1)])
def test_window_is_the_largest_odd_one_that_fits(height, width, size):
  got_size, sigma = metrics.ssim_window(height, width)
  assert got_size == size
  assert sigma == pytest.approx(1.5 * size / 11, rel=1e-12)
  # skimage, given that sigma, filters with exactly that window.
  assert skimage_window(sigma) == size


def test_window_of_an_empty_image_is_an_error():
  with pytest.raises(ValueError, match='at least 1 x 1 pixels, got 0 x 5'):
    metrics.ssim_window(0, 5)


# SSIM against scikit-image.

SIZES = [(64, 64), (32, 48), (11, 11), (10, 10), (8, 8), (8, 13), (5, 5),
         (3, 4)]


@pytest.mark.parametrize('height,width', SIZES)
@pytest.mark.parametrize('seed,noise', [(0, 0.1), (1, 0.5)])
def test_ssim_of_random_images_matches_skimage(height, width, seed, noise):
  a, b = noisy_pair(height, width, seed, noise)
  _, sigma = metrics.ssim_window(height, width)
  expected = skimage_ssim(a, b, sigma)
  assert float(metrics.ssim(a, b)) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize('height,width', SIZES)
@pytest.mark.parametrize('pair', [structured_pair, gradient_and_checkerboard])
def test_ssim_of_structured_images_matches_skimage(height, width, pair):
  a, b = pair(height, width)
  _, sigma = metrics.ssim_window(height, width)
  expected = skimage_ssim(a, b, sigma)
  assert float(metrics.ssim(a, b)) == pytest.approx(expected, abs=1e-5)


def test_ssim_at_full_size_uses_the_standard_window():
  # skimage's defaults for Gaussian SSIM: sigma 1.5, an 11-pixel window.
  a, b = structured_pair(64, 64)
  expected = structural_similarity(
      a.astype(np.float64), b.astype(np.float64), gaussian_weights=True,
      use_sample_covariance=False, data_range=1.0, channel_axis=-1)
  assert float(metrics.ssim(a, b)) == pytest.approx(expected, abs=1e-5)


def test_ssim_of_a_small_image_differs_from_an_11_pixel_window_on_a_larger_one():
  # The shrunken window is a real change of the metric, not a no-op: on an
  # 8 px image it equals skimage's 7-pixel SSIM, not the value that an
  # 11-pixel window would give on the same content upsampled.
  a, b = noisy_pair(8, 8, seed=3, noise=0.3)
  small = float(metrics.ssim(a, b))
  assert small == pytest.approx(skimage_ssim(a, b, 1.5 * 7 / 11), abs=1e-5)
  assert small != pytest.approx(skimage_ssim(a, b, 1.5 * 5 / 11), abs=1e-3)


def test_ssim_of_identical_images_is_one():
  for height, width in [(64, 64), (8, 8), (1, 1)]:
    a, _ = noisy_pair(height, width, seed=4)
    assert float(metrics.ssim(a, a)) == pytest.approx(1.0, abs=1e-6)


def test_ssim_of_one_pixel_images_is_the_luminance_term():
  # Window 1: every variance is 0, so SSIM is (2 x y + C1) / (x^2 + y^2 + C1)
  # per channel, averaged (C1 = 0.01^2, and the C2 terms cancel).
  x = np.array([[[0.2, 0.5, 0.9]]], np.float32)
  y = np.array([[[0.4, 0.5, 0.1]]], np.float32)
  c1 = 0.01 ** 2
  expected = np.mean((2 * x * y + c1) / (x**2 + y**2 + c1))
  assert float(metrics.ssim(x, y)) == pytest.approx(expected, abs=1e-6)


def test_batched_ssim_is_one_value_per_image():
  pairs = [noisy_pair(10, 10, seed) for seed in range(3)]
  a = np.stack([p[0] for p in pairs])
  b = np.stack([p[1] for p in pairs])
  got = np.asarray(metrics.ssim(a, b))
  assert got.shape == (3,)
  sigma = 1.5 * 9 / 11
  np.testing.assert_allclose(got, [skimage_ssim(x, y, sigma) for x, y in pairs],
                             atol=1e-5)


# MSE and PSNR against NumPy.


def test_mse_is_the_mean_over_every_element():
  rng = np.random.default_rng(5)
  a, b = rng.uniform(size=(2, 7, 9, 3)).astype(np.float32)
  expected = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  assert float(metrics.mse(a, b)) == pytest.approx(expected, rel=1e-6)
  # By hand: errors 0.1, -0.2, 0.3, 0 -> (0.01 + 0.04 + 0.09 + 0) / 4.
  assert float(metrics.mse(np.array([0.1, 0.0, 0.5, 1.0]),
                           np.array([0.0, 0.2, 0.2, 1.0]))) == pytest.approx(
                               0.035, rel=1e-6)


@pytest.mark.parametrize('mse,psnr', [
    (1.0, 0.0), (0.1, 10.0), (0.01, 20.0), (1e-3, 30.0), (0.25, 6.0206),
    (2e-4, 36.9897)])
def test_psnr_from_mse_by_hand(mse, psnr):
  assert float(metrics.psnr_from_mse(mse)) == pytest.approx(psnr, abs=1e-4)


def test_psnr_of_images_matches_numpy():
  rng = np.random.default_rng(6)
  a = rng.uniform(size=(16, 16, 3))
  b = np.clip(a + 0.05 * rng.normal(size=a.shape), 0, 1)
  expected = 10 * math.log10(1.0 / np.mean((a - b) ** 2))
  got = float(metrics.psnr_from_mse(metrics.mse(a.astype(np.float32),
                                                b.astype(np.float32))))
  assert got == pytest.approx(expected, abs=1e-4)
