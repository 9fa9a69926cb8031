r"""A dense grid of colours, bilinearly interpolated (the INR benchmark's Grid).

Vertices every 1 / 255 of the unit square (256 per axis), every vertex
starting at 0.1, no network; Adam at 0.1 (the benchmark's).

  python -m cppn.main --config=configs/grid.py --workdir=runs/grid

Measured with `python -m experiments.families --preset=cpu` (64 px
astronaut, 200 full-batch steps, budget 3e4: 30000 parameters, 2-core shared
CPU): memorisation 99.95 dB, SSIM 1.000 at lr 0.0333 (published lr: 88.30
dB); paper split (test pixels) 6.99 dB, SSIM 0.047 at lr 0.3 (published lr:
6.99 dB).
"""

from configs import default


def get_config():
  """configs/default.py with the grid family's published settings."""
  config = default.get_config()
  config.encoding.name = 'none'  # the family encodes inside
  config.model.name = 'grid'
  config.model.grid_resolution = 256
  config.train.learning_rate = 0.1
  return config
