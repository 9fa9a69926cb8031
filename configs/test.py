r"""A tiny config for tests: 32 px, 2 x 32 MLP, 16 Gaussian features, 60 steps.

  python -m cppn.main --config=configs/test.py --workdir=/tmp/cppn_test

Runs in a few seconds on a CPU; test PSNR rises from ~11 dB to ~15 dB.
"""

from configs import default


def get_config():
  """The default config shrunk to run in seconds."""
  config = default.get_config()
  config.data.resolution = 32
  config.encoding.sigma = 2.0
  config.encoding.num_features = 16
  config.model.depth = 2
  config.model.width = 32
  config.train.num_steps = 60
  config.train.learning_rate = 1e-2
  config.train.eval_every_steps = 20
  config.train.chunk_size = 200
  return config
