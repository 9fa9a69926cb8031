r"""The paper's 2D CT setting (Tancik et al. 2020, Table 1, Gaussian).

A 4 x 256 ReLU MLP with a sigmoid output, on m = 256 Gaussian Fourier
features (sigma_g = 4), fits the perturbed Shepp-Logan phantom shepp:8 (the
paper's first test phantom) at 512 x 512 from its 20 parallel projections
alone; full-batch Adam at 1e-3 for 1000 steps (1e-2 for none and basic in
the paper; positional: sigma_p = 3). The sigmas are in cycles per unit of
the object, so they stay the same at any resolution.

  python -m cppn.main --config=configs/ct.py --workdir=runs/ct \
      --config.data.resolution=128

Measured on 2 shared, busy CPU cores at 64 px and 500 steps: PSNR 30.66 dB
in 313 s (basic at lr 1e-2: 28.63 dB; experiments/table1.py's CT row).
Writes reconstruction.png, target.png, sinogram.png, error.png,
progress.gif, curves.png and summary.json (test_psnr: the clipped
reconstruction against the phantom over every pixel). Other targets:
--config.data.image=shepp:K, or any image file (made grey).
"""

from configs import default


def get_config():
  """The default config set to the paper's CT protocol."""
  config = default.get_config()
  config.task.name = 'ct'
  config.data.image = 'shepp:8'
  config.encoding.sigma = 4.0
  config.encoding.sigma_p = 3.0
  config.train.num_steps = 1000
  config.train.eval_every_steps = 25
  return config
