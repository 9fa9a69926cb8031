r"""BARF's coarse-to-fine positional encoding (Lin et al. 2021).

The source's planar setting: L = 8 bands opened over the first 40% of
training, 4 ReLU layers of 256 units and a sigmoid output (depth 5), Adam at
1e-3.

  python -m cppn.main --config=configs/c2f.py --workdir=runs/c2f

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29763 parameters, 2-core shared
CPU): memorisation 25.19 dB, SSIM 0.872 at lr 0.003 (published lr: 22.82
dB); paper split (test pixels) 12.88 dB, SSIM 0.365 at lr 0.000333
(published lr: 11.43 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the c2f family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'c2f'
  config.model.depth = 5
  config.model.width = 256
  config.model.num_bands = 8
  config.model.c2f_start = 0.0
  config.model.c2f_end = 0.4
  config.train.learning_rate = 1e-3
  return config
