r"""Run-to-run spread: five seeds of one setting, trained as one group.

The paper's network (4 x 256 MLP, m = 256 Gaussian features) with sigma = 1
(suited to 64 px) on 'astronaut' at 64 px (paper split), Adam 1e-3, 300
steps; member k draws both the network initialisation (seed) and B
(encoding.seed) from seed k. They differ only in values, so they train
together.

  python -m cppn.main --config=configs/sweep_seeds.py --workdir=runs/seeds

The spread of test PSNR in results.csv is the noise floor for comparing
settings at this size: measured 18.5-18.9 dB (train 27.8-31.4 dB). About a
minute on 2 CPU cores.
"""

from configs import default
from cppn import sweep


def get_config():
  """The base config every member starts from."""
  config = default.get_config()
  config.data.resolution = 64
  config.encoding.sigma = 1.0
  config.train.num_steps = 300
  config.train.eval_every_steps = 50
  return config


def get_sweep():
  """Seeds 0..4, the same for the network and for B."""
  return sweep.zip_({'seed': range(5), 'encoding.seed': range(5)})
