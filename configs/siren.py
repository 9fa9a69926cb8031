r"""SIREN (Sitzmann et al. 2020): sine activations, omega_0 = 30.

The source's image setting: 4 sine layers of 256 units and a linear output
(depth 5), omega_0 = 30 in the first and later layers, Adam at 1e-4.

  python -m cppn.main --config=configs/siren.py --workdir=runs/siren

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 29697 parameters, 2-core shared
CPU): memorisation 38.58 dB, SSIM 0.993 at lr 0.0003 (published lr: 28.57
dB); paper split (test pixels) 17.93 dB, SSIM 0.793 at lr 0.0003 (published
lr: 17.81 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the siren family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'siren'
  config.model.depth = 5  # first sine layer, 3 hidden sine layers, linear output
  config.model.width = 256
  config.model.omega_first = 30.0
  config.model.omega_hidden = 30.0
  config.train.learning_rate = 1e-4  # the source's Adam step size
  return config
