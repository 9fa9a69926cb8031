r"""The paper's simple NeRF setting (Tancik et al. 2020, Table 1's NeRF row,
Gaussian).

The protocol of the paper's simple-NeRF notebook (cppn/tasks/nerf.py): no
view dependence, no hierarchical sampling; a 4 x 256 ReLU MLP with 4 raw
outputs (sigmoid RGB, ReLU density); 128 stratified samples per ray between
near 2 and far 6, the last interval 1e10; batches of 1024 rays drawn from
every training pixel; the mean squared error of the rendered colours;
constant-rate Adam at 5e-4 for 50,000 steps; the encodings on raw world
coordinates without the 2 pi (the task feeds x / (2 pi)), a = 1: Gaussian
B ~ N(0, 26^2), 256 x 3 (positional: 2^linspace(0, 8, 85) - 1 per axis,
--config.encoding.name=positional; the paper's rates for none and basic
are 1e-2 and 5e-3); test-view PSNR, the mean over the 13 test views
(Table 1: 22.41 / 23.16 / 25.28 / 25.48 dB for none / basic / positional /
Gaussian on Blender's Lego scene, which is not reachable).

The data (data.image): 'synthetic', the project's ray-cast scene rendered
with the paper's camera model at data.resolution px (400: focal 555.6 px,
a hemisphere of radius 4, 100 / 7 / 13 train / val / test views), or a
user's Blender-format folder or tiny-NeRF .npz. The full protocol is meant
for a GPU:

  python -m cppn.main --config=configs/nerf.py --workdir=runs/nerf
  python -m cppn.main --config=configs/nerf.py --workdir=runs/lego \
      --config.data.image=/data/nerf_synthetic/lego

The scales are radians per world unit, so views of fewer pixels may not
resolve them (at 32 px sigma_g 26 stayed a grey fog where 6.5 fitted:
docs/reproducing.md); lower --config.encoding.sigma with the resolution.
Writes test_views.png (truth, fit, fitted and true depth), depth.png,
turntable.gif (novel views), progress.gif, curves.png (PSNR of the first
training view and mean test PSNR against step), metrics.jsonl and
summary.json (test_psnrs per view).
"""

from configs import default


def get_config():
  """The default config set to the paper's simple-NeRF protocol (the
  default task fields rays_per_step, num_samples, near and far, m = 256 and
  the 4 x 256 MLP are the paper's)."""
  config = default.get_config()
  config.task.name = 'nerf'
  config.data.image = 'synthetic'
  config.data.resolution = 400  # synthetic views' side in pixels
  config.encoding.sigma = 26.0
  config.encoding.sigma_p = 8.0
  config.model.output_activation = 'identity'
  config.train.num_steps = 50000
  config.train.learning_rate = 5e-4
  config.train.eval_every_steps = 2500
  return config
