r"""A dense grid of colours, bilinearly interpolated (the INR benchmark's Grid).

Vertices every 1 / 255 of the unit square (256 per axis), every vertex
starting at 0.1, no network; Adam at 0.1 (the benchmark's).

  python -m cppn.main --config=configs/grid.py --workdir=runs/grid

MEASURED
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
