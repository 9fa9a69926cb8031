"""Tasks: what a fit recovers and how it sees it (the interface: base.py).

  image     a 2D RGB image seen pixel by pixel (identity operator)  image.py
  ct        a 2D grey image seen through parallel projections       ct.py
  mri       a 3D volume seen through a subsampled 3D Fourier        mri.py
            transform
  signal1d  a 1D signal (a WAV file, a power-law random signal)     signal1d.py
            seen sample by sample
  occupancy a 3D solid seen through the inside / outside labels of  occupancy.py
            fresh random points
  nerf      a 3D scene seen through images from known cameras       nerf.py
            (volume rendering along rays)

The config's `task` block chooses one (task.name, default 'image'; a config
without the block is an image fit) and holds the fields a task reads
(READS). make_task builds the task of a config; dim and out_dim are known
from the name alone, before any data is read.
"""

import ml_collections

from cppn.errors import CppnError
from cppn.tasks import base
from cppn.tasks import ct
from cppn.tasks import image
from cppn.tasks import mri
from cppn.tasks import nerf
from cppn.tasks import occupancy
from cppn.tasks import signal1d

TASKS = {cls.name: cls for cls in (image.ImageTask, ct.CTTask, mri.MRITask,
                                   signal1d.SignalTask,
                                   occupancy.OccupancyTask, nerf.NerfTask)}
# The `task` fields each task reads besides `name`.
READS = {
    'image': (),
    'ct': ('num_angles', 'perturbation'),
    'mri': ('perturbation', 'kspace_draws', 'kspace_std'),
    'signal1d': (),
    'occupancy': ('points_per_step', 'test_points', 'pool_size'),
    'nerf': ('rays_per_step', 'near', 'far', 'num_samples'),
}
DEFAULT_TASK = 'image'


def task_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The config's `task` block ({'name': 'image'} when it has none)."""
  if 'task' in config:
    return config.task
  return ml_collections.ConfigDict({'name': DEFAULT_TASK})


def task_class(config: ml_collections.ConfigDict) -> type[base.Task]:
  """The Task class of a full config.

  Raises:
    CppnError: an unknown task.name.
  """
  name = task_config(config).name
  if name not in TASKS:
    raise CppnError(f'unknown task.name {name!r}; choose one of: '
                    + ', '.join(TASKS))
  return TASKS[name]


def reads(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The `task` fields a task block's choice reads, `name` included."""
  name = config.name
  if name not in TASKS:
    raise CppnError(f'unknown task.name {name!r}; choose one of: '
                    + ', '.join(TASKS))
  return ('name',) + READS[name]


def dim(config: ml_collections.ConfigDict) -> int:
  """d, the coordinates' number of axes, of a full config's task."""
  return task_class(config).dim


def out_dim(config: ml_collections.ConfigDict) -> int:
  """C, the network's outputs per point, of a full config's task."""
  return task_class(config).out_dim


def make_task(config: ml_collections.ConfigDict, target=None) -> base.Task:
  """The task of a full config, its data loaded.

  Args:
    config: a full config (configs/default.py's fields).
    target: the signal to fit instead of data.image (an (N, N, 3) image for
      the image task, (N, N) for ct, (N, N, N) for mri, (L,) for signal1d,
      a shapes.Shape for occupancy, nerf_data.Views for nerf).

  Raises:
    CppnError: an unknown task or bad input.
  """
  return task_class(config)(config, target)
