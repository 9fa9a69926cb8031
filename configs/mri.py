r"""The paper's 3D MRI setting (Tancik et al. 2020, Table 1, Gaussian).

A 4 x 256 ReLU MLP with a sigmoid output, on m = 256 Gaussian Fourier
features (sigma_g = 5), fits the perturbed 3D Shepp-Logan phantom shepp:6 at
96^3 from ~12.6% of its 3D k-space (the paper's mask: 200,000 Gaussian draws
around DC); full-batch Adam at 2e-3 for every encoding, 1000 steps
(positional: sigma_p = 4). The paper fitted ATLAS brain volumes, which are
not reachable; its numbers are not comparable in level.

  python -m cppn.main --config=configs/mri.py --workdir=runs/mri \
      --config.data.resolution=32

Too coarse a grid fails: at 16^3 (Nyquist 8 cycles per unit) much of
sigma_g = 5's B lies above the grid's frequencies; measured in 500 steps,
the fit matched the measured k-space while the volume was noise, 13.42 dB
(basic: 28.25 dB). Writes target.png and reconstruction.png (the mid
z-slice), slices.png, mask.png, progress.gif, curves.png and summary.json
(test_psnr: the clipped volume over every voxel). Other targets:
--config.data.image=shepp:K, or a volume file (.npy; .nii / .nii.gz with
nibabel installed).
"""

from configs import default


def get_config():
  """The default config set to the paper's MRI protocol."""
  config = default.get_config()
  config.task.name = 'mri'
  config.data.image = 'shepp:6'
  config.data.resolution = 96
  config.encoding.sigma = 5.0
  config.encoding.sigma_p = 4.0
  config.train.num_steps = 1000
  config.train.learning_rate = 2e-3
  config.train.eval_every_steps = 25
  return config
