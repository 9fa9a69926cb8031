r"""Sweep of the Gaussian scale sigma: 8 values, 64 px, trained as one group.

The paper's network (4 x 256 MLP, m = 256 Gaussian features, Adam 1e-3, paper
split) on 'astronaut' at 64 px for 200 steps, sigma = 0.5 .. 64 in octaves.
All eight members differ only in encoding.sigma, so they train together as
one group.

  python -m cppn.main --config=configs/sweep_scale.py --workdir=runs/scale

Measured: test PSNR peaks at sigma = 1 (18.9 dB; the paper's sigma = 10 at
512 px scaled to 64 px is 1.25), stays near 18 dB up to sigma = 4 and
collapses past 8 (~9 dB at 16-64), while train PSNR climbs to ~48 dB: too
high a sigma fits the training pixels with noise in between
(psnr_vs_sigma.png, comparison.png). About 22 s on 2 quiet CPU cores, 3.15x
faster than 8 separate runs (experiments/sweep_speed.py, docs/sweeps.md).
"""

from configs import default
from cppn import sweep


def get_config():
  """The base config every member starts from."""
  config = default.get_config()
  config.data.resolution = 64
  config.train.num_steps = 200
  config.train.eval_every_steps = 50
  return config


def get_sweep():
  """One member per sigma."""
  return sweep.product({'encoding.sigma': (0.5, 1, 2, 4, 8, 16, 32, 64)})
