r"""Sweep of the embedding size m against the MLP depth.

Gaussian features (sigma = 1, suited to 64 px) with m = 16, 64, 256 rows of B
(2m features) in front of ReLU MLPs of width 256 and depth 2, 3, 4 (Dense
layers including the output), on 'astronaut' at 64 px (paper split), Adam
1e-3, 300 steps. Every member has its own shapes, so its own group.

  python -m cppn.main --config=configs/sweep_size.py --workdir=runs/size

results.csv gives num_params beside the PSNRs, for a size/quality trade-off.
Measured test PSNR: 16.5 dB (m = 16, depth 2, 9k parameters) to 18.9 dB
(m = 256, depth 4, 264k); past depth 3 more parameters buy little at this
size. About 1.5 minutes on 2 CPU cores.
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
  """Every (m, depth) pair."""
  return sweep.product({'encoding.num_features': (16, 64, 256),
                        'model.depth': (2, 3, 4)})
