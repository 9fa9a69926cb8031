r"""The paper's four encodings side by side (Table 1, natural-image row).

none / basic / positional (log-linear) / gaussian on 'astronaut' at 128 px
(paper split), 4 x 256 MLP, m = 256, 400 full-batch Adam steps with the
paper's learning rates (1e-2 for none and basic, 1e-3 otherwise). The paper's
scales, sigma_p = 6 and sigma = 10 at 512 px, are scaled to 128 px: sigma_p
= 4 (log2 of the top frequency) and sigma = 2.5. Each encoding is its own
group (different shapes or formulas).

  python -m cppn.main --config=configs/sweep_encodings.py --workdir=runs/enc

Measured test PSNR: none 15.7, basic 18.1, positional 21.1, gaussian 21.7 dB,
the paper's order (comparison.png shows the blur of none and basic). About 3
minutes on 2 CPU cores.
"""

from configs import default


def get_config():
  """The base config every member starts from."""
  config = default.get_config()
  config.data.resolution = 128
  config.train.num_steps = 400
  config.train.eval_every_steps = 50
  return config


def get_sweep():
  """One member per encoding, with its learning rate and sigma or sigma_p."""
  return [
      {'encoding.name': 'none', 'train.learning_rate': 1e-2},
      {'encoding.name': 'basic', 'train.learning_rate': 1e-2},
      {'encoding.name': 'positional', 'train.learning_rate': 1e-3,
       'encoding.sigma_p': 4.0},
      {'encoding.name': 'gaussian', 'train.learning_rate': 1e-3,
       'encoding.sigma': 2.5},
  ]
