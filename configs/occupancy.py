r"""The paper's 3D shape occupancy setting (Tancik et al. 2020, Table 1's
shape row, Gaussian).

The protocol of the paper's occupancy notebook (cppn/tasks/occupancy.py):
an 8 x 256 ReLU MLP with one logit output, trained with the mean sigmoid
cross-entropy against inside / outside labels; Adam at
5e-4 x 0.1^(step / 5000) for 10,000 steps; a fresh batch of 32,768 points
uniform in the shape's box at every step; Fourier features divided by
||a|| (m = 256; Gaussian sigma_g 12, positional sigma_p 6: 2^linspace(0, 6,
85) - 1 per axis; basic B = I_3), on points of the unit cube; IoU at 0.5 on
2^18 uniform and 2^18 near-surface test points (iou_uniform, and
iou_surface: Table 1's number, 0.864 / 0.892 / 0.960 / 0.973 for none /
basic / positional / Gaussian, means over Stanford scans).

The shape (data.image): the procedural 'bumpy' solid (fine ripples at
several scales, labelled analytically; the paper's scans are not
reachable), or gyroid, sphere, the Stanford bunny and three more meshes
shipped in pymeshlab's wheel (bunny, cow, bone, airplane; pip install
cppn[shapes]), or any watertight mesh file trimesh reads. The full protocol
is meant for a GPU:

  python -m cppn.main --config=configs/occupancy.py --workdir=runs/occupancy
  python -m cppn.main --config=configs/occupancy.py --workdir=runs/bunny \
      --config.data.image=bunny

Writes fit.obj (marching cubes of logit = 0 on a data.resolution^3 grid),
shape.png (normal maps of the true surface and the fit), turntable.gif,
progress.gif (the mid-plane's labels beside the fitted p), curves.png (IoU
against step), metrics.jsonl (loss, iou_uniform, iou_surface) and
summary.json. Other encodings: --config.encoding.name=positional (sigma_p
6 is set), basic or none (the paper used lr 5e-4 for every encoding).
"""

from configs import default


def get_config():
  """The default config set to the paper's occupancy protocol (the default
  task fields points_per_step and test_points, m = 256 and width 256 are
  the paper's)."""
  config = default.get_config()
  config.task.name = 'occupancy'
  config.data.image = 'bumpy'
  config.data.resolution = 128  # marching-cubes grid of fit.obj
  config.encoding.sigma = 12.0
  config.encoding.sigma_p = 6.0
  config.encoding.normalize = True
  config.model.depth = 8
  config.model.output_activation = 'identity'
  config.train.num_steps = 10000
  config.train.learning_rate = 5e-4
  config.train.lr_decay_rate = 0.1
  config.train.lr_decay_steps = 5000
  config.train.eval_every_steps = 500
  return config
