r"""The text-crop protocol: six generated text images, their 256-px centres.

text:0 .. text:5 (512 px), each its central 256 x 256 crop (data.crop = 256,
no resize), paper split, Gaussian sigma = 7 (the paper's text sigma 14 at
512 px, scaled to the crop), 4 x 256 MLP, m = 256, 1000 full-batch Adam
steps at 1e-3. The members differ only in data.image: one group.

  python -m cppn.main --config=configs/sweep_text.py --workdir=runs/text_crops

Measured: mean test PSNR 28.97 dB (text:0 .. text:5: 26.67, 29.90, 33.58,
24.76, 31.84, 27.03; train 41-61 dB), against 29.4 dB (26.7-32.9) for the
same protocol on six of the paper's own text images; 19 minutes on 2 CPU
cores. See docs/reproducing.md#the-text-set.
"""

from configs import default

NUM_IMAGES = 6


def get_config():
  """The base config every member starts from."""
  config = default.get_config()
  config.data.crop = 256
  config.data.resolution = 256
  config.encoding.sigma = 7.0
  config.train.num_steps = 1000
  return config


def get_sweep():
  """text:0 .. text:5."""
  return [{'data.image': f'text:{seed}'} for seed in range(NUM_IMAGES)]
