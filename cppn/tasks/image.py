"""The 2D image task: an RGB image seen pixel by pixel (the identity operator).

The target is data.image's centre crop data.crop resized to data.resolution
(cppn/data.py); data.split chooses the training and test pixels ('paper':
even / odd pixels, 'memorize': every pixel). Loss 0.5 * MSE on the training
pixels (SQUARED_ERROR, pointwise). Outputs: target.png, reconstruction.png,
progress.gif (the test-pixel prediction at each evaluation); summary fields
ssim (test pixels) and image_bytes (the target as PNG).
"""

import pathlib

import numpy as np

from cppn import data
from cppn import metrics
from cppn import outputs
from cppn.tasks import base


class ImageTask(base.Task):
  """A 2D RGB image, train / test pixels of data.split."""
  name = 'image'
  dim = 2
  out_dim = 3
  objective = base.SQUARED_ERROR

  def __init__(self, config, image: np.ndarray | None = None):
    """image: (N, N, 3) in [0, 1]; default data.image at data.resolution."""
    if image is None:
      image = data.load_target(config.data.image, config.data.resolution,
                               config.data.crop)
    self.target = np.asarray(image, np.float32)
    self.dataset = data.make_dataset(self.target, config.data.split)
    self.train_coords = self.dataset.train_coords
    self.train_targets = self.dataset.train_pixels
    self.eval_coords = {'train': self.dataset.train_coords,
                        'test': self.dataset.test_coords}

  def test_image(self, test_pred: np.ndarray) -> np.ndarray:
    """Test-pixel values (Q, 3) as an (h, w, 3) image."""
    return test_pred.reshape(*self.dataset.test_shape, 3)

  def evaluate(self, preds):
    """Train/test PSNR; loss = 0.5 * train MSE; frame: the test pixels."""
    train_mse = float(metrics.mse(preds['train'], self.dataset.train_pixels))
    test_mse = float(metrics.mse(preds['test'], self.dataset.test_pixels))
    row = {'loss': 0.5 * train_mse,
           'train_psnr': float(metrics.psnr_from_mse(train_mse)),
           'test_psnr': float(metrics.psnr_from_mse(test_mse))}
    return row, self.test_image(preds['test'])

  def write_outputs(self, workdir: pathlib.Path, signal, preds, rows):
    outputs.write_png(workdir / 'target.png', self.target)
    outputs.write_png(workdir / 'reconstruction.png', signal)
    outputs.write_gif(workdir / 'progress.gif', workdir / 'frames',
                      rows[-1]['step'])
    return {'ssim': float(metrics.ssim(
                self.test_image(preds['test']),
                self.test_image(self.dataset.test_pixels))),
            'image_bytes': len(outputs.png_bytes(self.target))}

  def describe(self):
    return (f'image: {self.dataset.train_coords.shape[0]} train / '
            f'{self.dataset.test_coords.shape[0]} test pixels')
