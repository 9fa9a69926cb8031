r"""GaborNet (Fathony et al. 2021): a multiplicative filter network of Gabor filters.

The source's image setting: depth 4, width 256, input_scale 256, weight_scale
1, gamma ~ Gamma(6 / 4, 1), Adam at 1e-2.

  python -m cppn.main --config=configs/gabor_net.py --workdir=runs/gabor_net

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29928 parameters, 2-core shared
CPU): memorisation 45.91 dB, SSIM 0.998 at lr 0.03 (published lr: 38.56 dB);
paper split (test pixels) 10.00 dB, SSIM 0.045 at lr 0.01 (published lr:
10.00 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the gabor_net family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'gabor_net'
  config.model.depth = 4
  config.model.width = 256
  config.model.input_scale = 256.0
  config.model.weight_scale = 1.0
  config.model.gabor_alpha = 6.0
  config.model.gabor_beta = 1.0
  config.train.learning_rate = 1e-2
  return config
