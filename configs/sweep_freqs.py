r"""Sweep of L, the number of octave frequencies of the positional encoding.

NeRF's positional encoding (frequencies 2^0 .. 2^(L-1) cycles per unit on
each axis, 4L features) in front of the paper's 4 x 256 MLP, on 'astronaut'
at 64 px (paper split: 32 x 32 training pixels), Adam 1e-3, 300 steps, for
L = 1 .. 10. Each L changes the input width, so each member is its own group.

  python -m cppn.main --config=configs/sweep_freqs.py --workdir=runs/freqs

Measured: test PSNR is highest at L = 2-3 (17.7 dB), still 17.4 dB at L = 4
and falls from L = 5 on (6.7-13 dB at L = 6-10) once the top frequency
2^(L-1) reaches the training grid's Nyquist limit (16 cycles per unit), while
train PSNR climbs from 19 to ~35 dB (psnr_vs_num_freqs.png). About 2 minutes
on 2 CPU cores.
"""

from configs import default
from cppn import sweep


def get_config():
  """The base config every member starts from."""
  config = default.get_config()
  config.data.resolution = 64
  config.encoding.name = 'positional'
  config.encoding.spacing = 'octave'
  config.train.num_steps = 300
  config.train.eval_every_steps = 50
  return config


def get_sweep():
  """One member per L."""
  return sweep.product({'encoding.num_freqs': range(1, 11)})
