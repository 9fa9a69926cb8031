"""Image-quality metrics: MSE, PSNR (signal range 1) and SSIM (dm-pix)."""

import dm_pix
import jax.numpy as jnp


def mse(pred, target):
  """Mean squared error over all elements: (..., C), (..., C) -> ()."""
  return jnp.mean((pred - target) ** 2)


def psnr_from_mse(mse_value):
  """PSNR in dB for signals in [0, 1]: -10 log10(MSE)."""
  return -10.0 * jnp.log10(mse_value)


def ssim(pred, target):
  """SSIM of two (H, W, C) images in [0, 1] (Gaussian window 11, sigma 1.5)."""
  return dm_pix.ssim(jnp.asarray(pred), jnp.asarray(target), max_val=1.0)
