r"""FourierNet (Fathony et al. 2021): a multiplicative filter network of sines.

The source's image setting: 4 filters and 3 hidden linears of 256 units
(depth 4), input_scale 256, weight_scale 1, Adam at 1e-2.

  python -m cppn.main --config=configs/fourier_net.py --workdir=runs/fourier_net

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29976 parameters, 2-core shared
CPU): memorisation 62.16 dB, SSIM 1.000 at lr 0.03 (published lr: 50.61 dB);
paper split (test pixels) 10.17 dB, SSIM 0.019 at lr 0.03 (published lr:
10.13 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the fourier_net family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'fourier_net'
  config.model.depth = 4  # filters; 3 hidden linears and the output
  config.model.width = 256
  config.model.input_scale = 256.0
  config.model.weight_scale = 1.0
  config.train.learning_rate = 1e-2
  return config
