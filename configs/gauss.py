r"""Gaussian activations exp(-(s z)^2) (Ramasinghe & Lucey 2022).

FINER's image protocol for it: depth 5, width 256, s = 30 (sigma = 1 / (sqrt 2
s) = 0.024), PyTorch's default initialisation, Adam at 5e-3.

  python -m cppn.main --config=configs/gauss.py --workdir=runs/gauss

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29697 parameters, 2-core shared
CPU): memorisation 25.68 dB, SSIM 0.892 at lr 0.00167 (published lr: 12.28
dB); paper split (test pixels) 10.54 dB, SSIM 0.043 at lr 0.005 (published
lr: 10.54 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the gauss family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'gauss'
  config.model.depth = 5
  config.model.width = 256
  config.model.gaussian_scale = 30.0
  config.train.learning_rate = 5e-3
  return config
