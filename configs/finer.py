r"""FINER (Liu et al. 2024): variable-periodic sine sin(omega (|z| + 1) z).

The source's image protocol: SIREN's shape (depth 5, width 256) and
initialisation, omega_0 = 30, first-layer bias at PyTorch's default (k = 0),
Adam at 5e-4 (the source decays it to 0.1x over the run; cppn keeps it constant).

  python -m cppn.main --config=configs/finer.py --workdir=runs/finer

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29697 parameters, 2-core shared
CPU): memorisation 82.89 dB, SSIM 1.000 at lr 0.0015 (published lr: 46.59
dB); paper split (test pixels) 16.95 dB, SSIM 0.738 at lr 0.000167
(published lr: 15.95 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the finer family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'finer'
  config.model.depth = 5
  config.model.width = 256
  config.model.omega_first = 30.0
  config.model.omega_hidden = 30.0
  config.model.first_bias_scale = 0.0  # k > 0: first bias U(-k, k)
  config.train.learning_rate = 5e-4
  return config
