r"""The seed project: linear-sin features into a pyramid MLP, memorising an image.

sin(k p) on integer pixel indices p, k = 1 .. L_FACT-1 (num_freqs = L_FACT-1),
the pyramid MLP (ReLU everywhere), all pixels trained and tested, Adam 1e-3
with minibatches of 32 pixels (the seed trained with Keras defaults for 25
epochs; here the budget is counted in steps).

  python -m cppn.main --config=configs/seed.py --workdir=runs/seed

Parameters: 11,115 / 44,075 / 175,531 / 700,587 for L_FACT = 33 / 65 / 129 /
257, num_freqs = 32 / 64 / 128 / 256 (`--config.encoding.num_freqs=64`).
"""

from configs import default


def get_config():
  """The seed's setting at 256 px, L_FACT = 33."""
  config = default.get_config()
  config.data.resolution = 256
  config.data.split = 'memorize'
  config.encoding.name = 'linear_sin'
  config.encoding.num_freqs = 32
  config.model.name = 'pyramid'
  config.train.batch_size = 32
  config.train.num_steps = 20000
  config.train.eval_every_steps = 1000
  return config
