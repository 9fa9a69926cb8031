r"""Learned Fourier features: the paper's network with B trained.

configs/default.py's network (4 x 256 ReLU MLP, sigmoid output) on m = 256
features whose B starts at 10 * N(0, 1) and trains with it; Adam at 1e-3.

  python -m cppn.main --config=configs/lff.py --workdir=runs/lff

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29987 parameters, 2-core shared
CPU): memorisation 37.65 dB, SSIM 0.991 at lr 0.003 (published lr: 32.12
dB); paper split (test pixels) 11.51 dB, SSIM 0.386 at lr 0.003 (published
lr: 11.27 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the lff family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'lff'
  config.model.depth = 4
  config.model.width = 256
  config.model.num_fourier_features = 256
  config.model.fourier_sigma = 10.0
  config.train.learning_rate = 1e-3
  return config
