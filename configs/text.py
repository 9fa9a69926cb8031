r"""The paper's text-image setting (Table 1, text row, Gaussian sigma = 14).

text:0, a generated 512-px text image made to match the paper's text set
(random letter strings in a heavy serif face, random sizes, places and
colours on white; its statistics beside the paper's are in
docs/reproducing.md#the-text-set), paper split, 4 x 256 MLP, m = 256,
sigma = 14 (sigma_p = 5 for positional), lr 1e-3 for every encoding.

  python -m cppn.main --config=configs/text.py --workdir=runs/text

The paper's text mean is 30.47 dB (Gaussian). About 15 minutes on 2 CPU cores.
configs/sweep_text.py is the 256-px crop protocol on six text images.
"""

from configs import default


def get_config():
  """The default config with the text image and the paper's text settings."""
  config = default.get_config()
  config.data.image = 'text:0'
  config.encoding.sigma = 14.0
  config.encoding.sigma_p = 5.0
  return config
