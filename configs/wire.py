r"""WIRE (Saragadam et al. 2023): complex Gabor wavelets.

FINER's image protocol for WIRE: 4 Gabor layers of 181 complex units (256 /
sqrt 2) and a complex linear output (depth 5), omega = 20, s = 10, Adam at
5e-3. Keep omega / s below about 2 (larger values diverge to NaN).

  python -m cppn.main --config=configs/wire.py --workdir=runs/wire

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29607 parameters, 2-core shared
CPU): memorisation 17.07 dB, SSIM 0.658 at lr 0.005 (published lr: 17.07
dB); paper split (test pixels) 10.48 dB, SSIM 0.015 at lr 0.015 (published
lr: 10.33 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the wire family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'wire'
  config.model.depth = 5
  config.model.width = 181  # complex units: 256 / sqrt(2)
  config.model.omega_first = 20.0
  config.model.omega_hidden = 20.0
  config.model.gaussian_scale = 10.0
  config.train.learning_rate = 5e-3
  return config
