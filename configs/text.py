r"""The paper's text-image setting (Table 1, text row, Gaussian sigma = 14).

A generated text image (random strings in random sizes and colours on white,
like the paper's text set) at 512 px, paper split, 4 x 256 MLP, m = 256,
sigma = 14 (sigma_p = 5 for positional), lr 1e-3 for every encoding.

  python -m cppn.main --config=configs/text.py --workdir=runs/text

The paper's text mean is 30.47 dB (Gaussian). About 15 minutes on 2 CPU cores.
"""

from configs import default


def get_config():
  """The default config with the text image and the paper's text settings."""
  config = default.get_config()
  config.data.image = 'text:0'
  config.encoding.sigma = 14.0
  config.encoding.sigma_p = 5.0
  return config
