r"""Multiresolution hash encoding (Mueller et al. 2022) with tiny-cuda-nn's MLP.

tiny-cuda-nn's image sample: 16 levels of 2 features, T = 2^15, N_min = 16,
growth 1.5; a bias-free ReLU MLP with 2 hidden layers of 64 units (depth 3);
Adam at 1e-2 (cppn's Adam: betas 0.9 / 0.999, MSE; the sample uses 0.99,
eps 1e-15 and a relative L2 loss).

  python -m cppn.main --config=configs/hashgrid.py --workdir=runs/hashgrid

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 22208 parameters, 2-core shared
CPU): memorisation 39.87 dB, SSIM 0.996 at lr 0.03 (published lr: 39.14 dB);
paper split (test pixels) 14.01 dB, SSIM 0.481 at lr 0.01 (published lr:
14.01 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the hashgrid family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'hashgrid'
  config.model.num_levels = 16
  config.model.features_per_level = 2
  config.model.table_size = 2**15
  config.model.base_resolution = 16
  config.model.growth_factor = 1.5
  config.model.depth = 3
  config.model.width = 64
  config.train.learning_rate = 1e-2
  return config
