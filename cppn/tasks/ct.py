"""2D CT: a grey image seen only through parallel projections.

The operator of the Fourier-features paper's CT experiment: for each of A
angles theta_k = k pi / A (task.num_angles, the paper's 20), the N x N image
is rotated about pixel (N/2, N/2) by nearest-neighbour resampling (pixel
centres y_i = i/N - 1/2, x_j = j/N - 1/2 rotated to x' = x cos - y sin,
y' = x sin + y cos, read at row (y' + 1/2) N, column (x' + 1/2) N, zero
outside the image), and averaged over rows: A x N detector values. The loss
is 0.5 * the mean squared error over them (coupled: every pixel feeds many
values). The network's single output (sigmoid) is the image.

The target (data.image): 'shepp:K', the K-th perturbed modified Shepp-Logan
phantom (cppn/phantoms.py, task.perturbation), or any image source of
cppn/data.py made grey (the mean of its RGB channels), at data.resolution.
The metric, as the paper's: PSNR of the clipped reconstruction against the
target over every pixel (train_psnr and test_psnr are that one number: the
projections are the only training data and the image is the only test).

Outputs: reconstruction.png, target.png, sinogram.png (target and fit, angle
by detector), error.png (|fit - target|), progress.gif (the reconstruction at
each evaluation); summary fields num_angles and output_std (the clipped
reconstruction's std: 0 when a fit collapsed to a constant).
"""

import dataclasses
import functools
import pathlib
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from cppn import data
from cppn import outputs
from cppn import phantoms
from cppn.errors import CppnError
from cppn.tasks import base

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

MAX_ANGLES = 1024  # task.num_angles must lie in 1 .. MAX_ANGLES


def rotation_coordinates(resolution: int, num_angles: int):
  """Where each rotated pixel reads the image: (A, 2, N, N) float32 (row,
  column), for angles k pi / A, about pixel (N/2, N/2)."""
  centres = jnp.arange(resolution, dtype=jnp.float32) / resolution - 0.5
  y, x = jnp.meshgrid(centres, centres, indexing='ij')
  angles = jnp.arange(num_angles, dtype=jnp.float32) * (jnp.pi / num_angles)
  cos, sin = jnp.cos(angles)[:, None, None], jnp.sin(angles)[:, None, None]
  rows = (x * sin + y * cos + 0.5) * resolution
  cols = (x * cos - y * sin + 0.5) * resolution
  return jnp.stack([rows, cols], axis=1)


@functools.lru_cache(maxsize=4)
def projection_tables(resolution: int,
                      num_angles: int) -> tuple[np.ndarray, np.ndarray]:
  """The projection and its adjoint as gathers, computed once per (N, A).

  Returns:
    sources: (A, N, N) int32, the pixel each rotated pixel reads, as a flat
      index row * N + column, or N * N (a zero past the image) outside it;
      rotation_coordinates (evaluated op by op) rounded half away from
      zero, as jax.scipy.ndimage.map_coordinates rounds at order 0.
    readers: (N * N, A * K) int32, per pixel the detector values its
      rotated copies feed, as flat indices angle * (N + 1) + column into the
      (A, N + 1) detector values with a zero column N, which fills the
      places of the K per angle (the most rotated pixels that read one
      pixel at one angle: 2 for these rotations) that fewer fill.
  """
  with jax.ensure_compile_time_eval():  # also when first called in a trace
    indices = np.asarray(jax.lax.round(rotation_coordinates(
        resolution, num_angles)).astype(jnp.int32))
  rows, cols = indices[:, 0], indices[:, 1]
  inside = (rows >= 0) & (rows < resolution) & (cols >= 0) & (cols < resolution)
  num_pixels = resolution * resolution
  sources = np.where(inside, rows * resolution + cols,
                     num_pixels).astype(np.int32)
  columns = np.tile(np.arange(resolution, dtype=np.int32), resolution)
  reads = []  # per angle: (pixels, rank of each reader, its column)
  for angle_sources in sources.reshape(num_angles, -1):
    order = np.argsort(angle_sources, kind='stable')
    order = order[angle_sources[order] < num_pixels]
    pixels = angle_sources[order]
    reads.append((pixels, np.arange(pixels.size) - np.searchsorted(
        pixels, pixels), columns[order]))
  width = max(rank.max(initial=0) for _, rank, _ in reads) + 1
  readers = np.full((num_angles, num_pixels, width), resolution, np.int32)
  for angle, (pixels, rank, column) in enumerate(reads):
    readers[angle, pixels, rank] = column
  readers += (np.arange(num_angles, dtype=np.int32) * (resolution + 1))[
      :, None, None]
  readers = readers.transpose(1, 0, 2).reshape(num_pixels, -1)
  return sources, readers


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def project(image, num_angles: int):
  """The projections of an (N, N) image: -> (A, N), per angle the row mean
  of the image rotated by nearest neighbour (zeros outside).

  Both directions are gathers over projection_tables (differentiating the
  forward gather would give a scatter-add, several times slower on a CPU),
  so the operator and its adjoint read the same pixels in every compiled
  program.
  """
  sources, _ = projection_tables(image.shape[0], num_angles)
  padded = jnp.append(image.reshape(-1), jnp.zeros((1,), image.dtype))
  return jnp.mean(padded[sources], axis=1)


def _project_forward(image, num_angles):
  return project(image, num_angles), None


def _project_backward(num_angles, _, cotangent):
  """The image's cotangent: per pixel, the cotangents of the (A, N) detector
  values its rotated copies feed, summed, / N."""
  resolution = cotangent.shape[1]
  _, readers = projection_tables(resolution, num_angles)
  padded = jnp.pad(cotangent, ((0, 0), (0, 1))).reshape(-1)
  image = padded[readers].sum(axis=1) / resolution
  return (image.reshape(resolution, resolution),)


project.defvjp(_project_forward, _project_backward)


@dataclasses.dataclass(frozen=True)
class ProjectionLoss(base.Objective):
  """0.5 * mean over A x N of (project(f) - batch['projections'])^2."""
  pointwise: ClassVar[bool] = False
  resolution: int
  num_angles: int

  def loss(self, pred, batch):
    num_pixels = self.resolution ** 2
    image = pred[:num_pixels, 0].reshape(self.resolution, self.resolution)
    residual = project(image, self.num_angles) - batch['projections']
    return 0.5 * jnp.mean(residual ** 2)


_project = jax.jit(project, static_argnums=1)


def load_image(config, image: np.ndarray | None) -> np.ndarray:
  """The grey (N, N) target in [0, 1]: `image` if given ((N, N) or
  (N, N, C)), else data.image (a phantom 'shepp:K' or an image source)."""
  if image is None:
    index = phantoms.phantom_index(config.data.image)
    if index is not None:
      return phantoms.shepp_logan(2, config.data.resolution, index,
                                  config.task.perturbation)
    image = data.load_target(config.data.image, config.data.resolution,
                             config.data.crop)
  image = np.asarray(image, np.float32)
  if image.ndim == 3:
    image = image.mean(axis=-1)
  if image.ndim != 2 or image.shape[0] != image.shape[1]:
    raise CppnError(f'a CT target is an (N, N) image, got shape {image.shape}')
  return np.clip(image, 0, 1)


def grey_to_rgb(image: np.ndarray) -> np.ndarray:
  """(..., 1) or (...) grey in [0, 1] -> (..., 3) for PNGs and GIF frames."""
  image = np.clip(np.asarray(image, np.float32), 0, 1)
  if image.shape[-1] == 1:
    image = image[..., 0]
  return np.repeat(image[..., None], 3, axis=-1)


def write_grey_outputs(workdir: pathlib.Path, target: np.ndarray,
                       fit: np.ndarray, last_step: int):
  """target.png and reconstruction.png of (N, N) or (N, N, 1) greys in
  [0, 1], and progress.gif of the frames up to last_step."""
  outputs.write_png(workdir / 'target.png', grey_to_rgb(target))
  outputs.write_png(workdir / 'reconstruction.png', grey_to_rgb(fit))
  outputs.write_gif(workdir / 'progress.gif', workdir / 'frames', last_step)


class CTTask(base.Task):
  """A grey image fitted through its parallel projections."""
  name = 'ct'
  dim = 2
  out_dim = 1

  def __init__(self, config, image: np.ndarray | None = None):
    num_angles = config.task.num_angles
    if not 1 <= num_angles <= MAX_ANGLES:
      raise CppnError(f'task.num_angles={num_angles} is out of range; choose '
                      f'1 .. {MAX_ANGLES} (the paper: 20)')
    image = load_image(config, image)
    resolution = image.shape[0]
    self.target = image[..., None]
    self.objective = ProjectionLoss(resolution, num_angles)
    self.train_coords = data.coordinate_grid(resolution).reshape(-1, 2)
    self.observations = {'projections': np.asarray(
        _project(jnp.asarray(image), num_angles))}
    self.eval_coords = {'grid': self.train_coords}

  def evaluate(self, preds):
    pred = preds['grid']
    value = base.psnr(pred, self.target.reshape(-1, 1))
    row = {'loss': base.objective_value(self.objective, pred,
                                        self.observations),
           'train_psnr': value, 'test_psnr': value}
    return row, grey_to_rgb(pred.reshape(self.target.shape))

  def write_outputs(self, workdir: pathlib.Path, signal, preds, rows):
    fit = np.clip(signal[..., 0], 0, 1)
    write_grey_outputs(workdir, self.target, fit, rows[-1]['step'])
    plot_sinograms(workdir / 'sinogram.png', self.observations['projections'],
                   np.asarray(_project(jnp.asarray(signal[..., 0]),
                                       self.objective.num_angles)))
    plot_error(workdir / 'error.png', fit, self.target[..., 0])
    return {'num_angles': self.objective.num_angles,
            'output_std': float(fit.std())}

  def describe(self):
    n = self.objective.resolution
    return (f'ct: {n} x {n} image, {self.objective.num_angles} angles x {n} '
            'detector values')


def plot_sinograms(path, target: np.ndarray, fit: np.ndarray):
  """Target and fitted projections (A, N) side by side, angle by detector."""
  fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=100)
  limits = dict(vmin=min(target.min(), fit.min()),
                vmax=max(target.max(), fit.max()))
  for ax, values, title in zip(axes, (target, fit), ('target', 'fit')):
    ax.imshow(values, aspect='auto', cmap='gray', **limits)
    ax.set_title(f'{title} sinogram', fontsize=9)
    ax.set_xlabel('detector')
    ax.set_ylabel('angle index')
  outputs.save_figure(fig, path)


def plot_error(path, fit: np.ndarray, target: np.ndarray):
  """|fit - target| as a heat map with a colour bar."""
  fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=100)
  shown = ax.imshow(np.abs(fit - target), cmap='magma')
  ax.set_title('|reconstruction - target|', fontsize=9)
  ax.axis('off')
  fig.colorbar(shown, ax=ax)
  outputs.save_figure(fig, path)
