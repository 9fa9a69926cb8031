r"""A 1D fit: a sound, seen sample by sample (train on even, test on odd).

A 4 x 256 ReLU MLP with a sigmoid output on m = 256 Gaussian Fourier
features (sigma_g = 300 cycles over the unit interval) fits 4096 samples of
the generated chord 'tones' (8 kHz, 0.512 s: its highest tone, 880 Hz, makes
451 cycles over the unit interval); full-batch Adam at 1e-3 for 300 steps. Measured on 2 shared CPU cores: test
PSNR 35.85 dB (the odd samples), 31 s.

  python -m cppn.main --config=configs/signal1d.py --workdir=runs/signal1d \
      [--config.data.image=my.wav]

Writes signal.png, fit.wav, curves.png and summary.json. The paper's 1/f^alpha
signals: --config.data.image=powerlaw:1.0:0 --config.data.resolution=256
--config.encoding.sigma=10.
"""

from configs import default


def get_config():
  """The default config set to a 1D sound fit."""
  config = default.get_config()
  config.task.name = 'signal1d'
  config.data.image = 'tones'
  config.data.resolution = 4096
  config.encoding.sigma = 300.0
  config.train.num_steps = 300
  return config
