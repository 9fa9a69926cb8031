r"""WIRE-2D (Saragadam et al. 2023): two-dimensional Gabor wavelets.

The source's class defaults: omega = 10, s = 10; 4 Gabor layers of 128 complex
units (256 / 2) and a complex linear output (depth 5), Adam at 5e-3.

  python -m cppn.main --config=configs/wire2d.py --workdir=runs/wire2d

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29994 parameters, 2-core shared
CPU): memorisation 25.98 dB, SSIM 0.897 at lr 0.005 (published lr: 25.98
dB); paper split (test pixels) 16.89 dB, SSIM 0.729 at lr 0.015 (published
lr: 15.92 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the wire2d family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'wire2d'
  config.model.depth = 5
  config.model.width = 128  # complex units: 256 / 2
  config.model.omega_first = 10.0
  config.model.omega_hidden = 10.0
  config.model.gaussian_scale = 10.0
  config.train.learning_rate = 5e-3
  return config
