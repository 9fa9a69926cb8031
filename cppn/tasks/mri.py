"""3D MRI: a volume seen only through a subsampled 3D Fourier transform.

The operator of the Fourier-features paper's MRI experiment: the
unnormalised 3D FFT of the N^3 volume (jnp.fft.fftn), kept on a fixed
k-space mask. The mask: round(task.kspace_draws * N^3) draws from an
isotropic Gaussian around the k-space centre (N/2, ..) with std
task.kspace_std * N voxels (the paper's 200,000 draws of N((48, 48, 48),
192 I) at 96^3: 0.2261 draws per voxel, std 0.1443 of the side), truncated
to integer voxels (draws outside the volume dropped), then fftshifted so DC
sits at index 0. The paper's mask covers ~12.6% of k-space; one mask serves
every volume (PRNGKey(10), the paper's key). The loss is 0.5 * mean over all
N^3 coefficients of |mask * (F(f) - F(target))|^2 (coupled).

The target (data.image): 'shepp:K', the K-th perturbed 3D modified
Shepp-Logan phantom (cppn/phantoms.py; the paper's ATLAS brains are not
reachable), or a volume file (.npy, or .nii / .nii.gz through nibabel, an
optional extra: pip install cppn[mri]) resized to data.resolution^3 and
scaled to [0, 1] by its minimum and maximum. The metric: PSNR of the
clipped volume over every voxel (train_psnr = test_psnr).

Outputs: target.png and reconstruction.png (the mid z-slice), slices.png
(the three orthogonal mid-slices of target and fit),
mask.png (the k-space mask's mid-slices, DC centred), progress.gif (target
and fit, mid z-slice, at each evaluation); summary fields kspace_fraction
and output_std (the clipped volume's std: 0 when a fit collapsed).
"""

import dataclasses
import os
import pathlib
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import skimage.transform

from cppn import data
from cppn import outputs
from cppn import phantoms
from cppn.errors import CppnError
from cppn.tasks import base
from cppn.tasks import ct

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

MASK_KEY = 10  # the paper's PRNG key of the mask draws
MAX_DRAWS_PER_VOXEL = 10.0
VOLUME_SUFFIXES = ('.npy', '.nii', '.nii.gz')


def kspace_mask(resolution: int, draws_per_voxel: float,
                std_fraction: float) -> np.ndarray:
  """The k-space sampling mask: (N, N, N) float32 of 0 and 1, DC at index 0.

  round(draws_per_voxel * N^3) draws of N(N/2, (std_fraction N)^2 I),
  truncated toward zero to voxel indices, those inside the volume set to 1,
  then fftshifted.
  """
  if not 0 < draws_per_voxel <= MAX_DRAWS_PER_VOXEL:
    raise CppnError(f'task.kspace_draws={draws_per_voxel} is out of range; '
                    f'choose draws per voxel in (0, {MAX_DRAWS_PER_VOXEL:g}] '
                    '(the paper: 0.2261, ~12.6% of k-space)')
  if not 0 < std_fraction <= 1:
    raise CppnError(f'task.kspace_std={std_fraction} is out of range; choose '
                    'a fraction of the side in (0, 1] (the paper: 0.1443)')
  num_draws = max(1, round(draws_per_voxel * resolution ** 3))
  draws = np.asarray(jax.random.normal(jax.random.PRNGKey(MASK_KEY),
                                       (num_draws, 3)), np.float64)
  voxels = (resolution / 2 + std_fraction * resolution * draws).astype(
      np.int32)
  voxels = voxels[np.all((voxels >= 0) & (voxels < resolution), axis=1)]
  mask = np.zeros((resolution,) * 3, np.float32)
  mask[tuple(voxels.T)] = 1
  return np.fft.fftshift(mask)


@dataclasses.dataclass(frozen=True)
class KSpaceLoss(base.Objective):
  """0.5 * mean |mask * fftn(f) - batch['kspace']|^2 over N^3 coefficients;
  batch['kspace'] holds mask * fftn(target)."""
  pointwise: ClassVar[bool] = False
  resolution: int

  def loss(self, pred, batch):
    volume = pred[:self.resolution ** 3, 0].reshape((self.resolution,) * 3)
    residual = batch['mask'] * jnp.fft.fftn(volume) - batch['kspace']
    return 0.5 * jnp.mean(jnp.real(residual) ** 2 + jnp.imag(residual) ** 2)


def read_volume(path: str) -> np.ndarray:
  """A 3D volume file (.npy, .nii, .nii.gz) as float32; CppnError if it is
  missing, unreadable or not 3D."""
  if not path.endswith(VOLUME_SUFFIXES):
    raise CppnError(f"unknown volume '{path}'; expected shepp:K or a file "
                    'ending in ' + ', '.join(VOLUME_SUFFIXES))
  if not os.path.isfile(path):
    raise CppnError(f'volume file not found: {path}')
  try:
    if path.endswith('.npy'):
      volume = np.load(path, allow_pickle=False)
    else:
      try:
        import nibabel  # pylint: disable=g-import-not-at-top
      except ImportError as e:
        raise CppnError(f'reading {path} needs nibabel: pip install '
                        'cppn[mri]') from e
      volume = np.asarray(nibabel.load(path).get_fdata())
  except CppnError:
    raise
  except Exception as e:  # numpy's and nibabel's many errors
    raise CppnError(f'cannot read volume {path}: '
                    f'{str(e).splitlines()[0] if str(e) else type(e).__name__}'
                    ) from e
  if volume.ndim != 3:
    raise CppnError(f'volume {path} has shape {volume.shape}; expected a 3D '
                    'volume')
  return volume.astype(np.float32)


def load_volume(config, volume: np.ndarray | None) -> np.ndarray:
  """The (N, N, N) target in [0, 1]: `volume` if given, else data.image."""
  resolution = config.data.resolution
  if volume is None:
    index = phantoms.phantom_index(config.data.image)
    if index is not None:
      return phantoms.shepp_logan(3, resolution, index,
                                  config.task.perturbation)
    volume = read_volume(config.data.image)
  volume = np.asarray(volume, np.float32)
  if volume.ndim != 3:
    raise CppnError(f'an MRI target is a 3D volume, got shape {volume.shape}')
  if volume.shape != (resolution,) * 3:
    volume = skimage.transform.resize(volume, (resolution,) * 3,
                                      anti_aliasing=True)
  low, high = float(volume.min()), float(volume.max())
  if not high > low:
    raise CppnError('the volume is constant; nothing to fit')
  return ((volume - low) / (high - low)).astype(np.float32)


def mid_slices(volume: np.ndarray) -> list[np.ndarray]:
  """The three orthogonal mid-slices of an (N, N, N) volume."""
  n = volume.shape[0] // 2
  return [volume[n], volume[:, n], volume[:, :, n]]


class MRITask(base.Task):
  """A volume fitted through masked 3D k-space."""
  name = 'mri'
  dim = 3
  out_dim = 1

  def __init__(self, config, volume: np.ndarray | None = None):
    mask = kspace_mask(config.data.resolution, config.task.kspace_draws,
                       config.task.kspace_std)
    volume = load_volume(config, volume)
    resolution = volume.shape[0]
    self.target = volume[..., None]
    self.objective = KSpaceLoss(resolution)
    self.train_coords = data.coordinate_grid(resolution, 3).reshape(-1, 3)
    self.observations = {
        'mask': mask,
        'kspace': (mask * np.fft.fftn(volume)).astype(np.complex64)}
    self.eval_coords = {'grid': self.train_coords}

  @property
  def kspace_fraction(self) -> float:
    return float(self.observations['mask'].mean())

  def evaluate(self, preds):
    pred = preds['grid']
    value = base.psnr(pred, self.target.reshape(-1, 1))
    row = {'loss': base.objective_value(self.objective, pred,
                                        self.observations),
           'train_psnr': value, 'test_psnr': value}
    fit = pred.reshape(self.target.shape)[..., 0]
    return row, ct.grey_to_rgb(np.concatenate(
        [self.target[..., 0][:, :, fit.shape[2] // 2],
         fit[:, :, fit.shape[2] // 2]], axis=1))

  def write_outputs(self, workdir: pathlib.Path, signal, preds, rows):
    fit = np.clip(signal[..., 0], 0, 1)
    middle = fit.shape[2] // 2
    ct.write_grey_outputs(workdir, self.target[:, :, middle],
                          fit[:, :, middle], rows[-1]['step'])
    plot_slices(workdir / 'slices.png', self.target[..., 0], fit)
    plot_mask(workdir / 'mask.png', self.observations['mask'])
    return {'kspace_fraction': self.kspace_fraction,
            'output_std': float(fit.std())}

  def describe(self):
    n = self.objective.resolution
    return (f'mri: {n}^3 volume, {100 * self.kspace_fraction:.2f}% of '
            'k-space measured')


def plot_slices(path, target: np.ndarray, fit: np.ndarray):
  """Rows target and fit, columns the three orthogonal mid-slices."""
  fig, axes = plt.subplots(2, 3, figsize=(7.5, 5.2), dpi=100)
  for row, (volume, label) in enumerate(((target, 'target'), (fit, 'fit'))):
    for ax, picture, axis in zip(axes[row], mid_slices(volume), 'xyz'):
      ax.imshow(picture, cmap='gray', vmin=0, vmax=1)
      ax.set_title(f'{label}, mid-slice across axis {axis}', fontsize=8)
      ax.axis('off')
  outputs.save_figure(fig, path)


def plot_mask(path, mask: np.ndarray):
  """The k-space mask's three mid-slices, DC in the centre."""
  fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8), dpi=100)
  for ax, picture, axis in zip(axes, mid_slices(np.fft.ifftshift(mask)),
                               'xyz'):
    ax.imshow(picture, cmap='gray', vmin=0, vmax=1)
    ax.set_title(f'mask, mid-slice across axis {axis}', fontsize=8)
    ax.axis('off')
  fig.suptitle(f'{100 * mask.mean():.2f}% of k-space', fontsize=9)
  outputs.save_figure(fig, path)
