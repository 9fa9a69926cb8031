"""Files in a run's workdir, each written atomically (temporary name, then rename).

prepare_workdir creates the workdir and records config.json; resuming in a
workdir that holds another config's run is refused.

  config.json      the resolved config
  metrics.jsonl    one JSON object per evaluation
  summary.json     final numbers; present only once a run has finished
  target.png       the image being fitted, at data.resolution
  reconstruction.png  the fit rendered at data.resolution
  frames/          one PNG per evaluation (the test-pixel prediction)
  progress.gif     the frames as an animation
  curves.png       train and test PSNR against step
  events.out.tfevents.*  TensorBoard's, with log.tensorboard (cppn/tensorboard.py)
"""

import contextlib
import io
import json
import os
import pathlib
import tempfile

import imageio.v3 as iio
import matplotlib
import ml_collections
import numpy as np

from cppn import overrides
from cppn.errors import CppnError

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top


@contextlib.contextmanager
def atomic_open(path, mode='w'):
  """Opens a temporary file beside `path`; renames it onto `path` on success."""
  path = pathlib.Path(path)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
  umask = os.umask(0)
  os.umask(umask)
  os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide outputs from others
  try:
    with os.fdopen(fd, mode) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


def write_json(path, obj):
  """Writes `obj` as indented JSON, atomically."""
  with atomic_open(path) as f:
    json.dump(obj, f, indent=2, sort_keys=True)
    f.write('\n')


def read_json(path):
  """The JSON object in `path`, or None if the file does not exist."""
  path = pathlib.Path(path)
  return json.loads(path.read_text()) if path.exists() else None


# Config blocks that change what a run logs, never what it computes: a run
# resumes with other values there (and from a config.json that lacks them).
LOGGING_BLOCKS = ('log',)


def prepare_workdir(workdir, config: ml_collections.ConfigDict) -> pathlib.Path:
  """Creates the workdir, checks it is writable, and records config.json.

  A workdir that already holds a run's metrics must hold the same config,
  but for LOGGING_BLOCKS: resuming with other settings would mix two
  experiments in one folder.
  """
  workdir = pathlib.Path(workdir)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise CppnError(f'cannot create workdir {workdir}: {e.strerror}') from e
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise CppnError(f'workdir {workdir} is not writable')
  resolved = config.to_dict()
  recorded = read_json(workdir / 'config.json')
  has_progress = (workdir / 'metrics.jsonl').exists()
  if has_progress and recorded is not None and recorded != resolved:
    old, new = overrides.flatten(recorded), overrides.flatten(resolved)
    changed = sorted(k for k in old.keys() | new.keys()
                     if old.get(k) != new.get(k)
                     and k.split('.')[0] not in LOGGING_BLOCKS)
    if changed:
      raise CppnError(f'workdir {workdir} holds a run with another config '
                      f'(differs in: {", ".join(changed)}); use a new '
                      '--workdir or empty this one')
  write_json(workdir / 'config.json', resolved)
  return workdir


def read_metrics(path, max_step):
  """Evaluations in a metrics.jsonl with step <= max_step, oldest first.

  A last line cut short by a crash mid-append is dropped.
  """
  path = pathlib.Path(path)
  if not path.exists():
    return []
  rows = []
  for line in path.read_text().splitlines():
    try:
      rows.append(json.loads(line))
    except json.JSONDecodeError:
      continue
  return [row for row in rows if row['step'] <= max_step]


def write_metrics(path, rows):
  """Rewrites metrics.jsonl to hold exactly `rows`, atomically."""
  with atomic_open(path) as f:
    f.writelines(json.dumps(row, sort_keys=True) + '\n' for row in rows)


def append_metrics(path, row):
  """Appends one evaluation to metrics.jsonl and syncs it to disk."""
  with open(path, 'a') as f:
    f.write(json.dumps(row, sort_keys=True) + '\n')
    f.flush()
    os.fsync(f.fileno())


def to_uint8(image):
  """(H, W, 3) floats in [0, 1] -> uint8, rounded and clipped."""
  return np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


def png_bytes(image) -> bytes:
  """The PNG encoding of an (H, W, 3) image in [0, 1]."""
  buffer = io.BytesIO()
  iio.imwrite(buffer, to_uint8(image), extension='.png')
  return buffer.getvalue()


def write_png(path, image):
  """Saves an (H, W, 3) image in [0, 1] as PNG, atomically."""
  with atomic_open(path, 'wb') as f:
    f.write(png_bytes(image))


def frame_path(frames_dir, step):
  """Where the evaluation frame of `step` lives."""
  return pathlib.Path(frames_dir) / f'step_{step:08d}.png'


def write_gif(path, frames_dir, max_step, seconds_per_frame=0.2):
  """Assembles the frames of steps <= max_step into an animated GIF, atomically."""
  paths = sorted(pathlib.Path(frames_dir).glob('step_*.png'))
  write_frames_gif(path, [iio.imread(p) for p in paths
                          if int(p.stem.split('_')[1]) <= max_step],
                   seconds_per_frame)


def write_frames_gif(path, frames, seconds_per_frame=0.2):
  """Writes pictures (each (H, W, 3), uint8 or floats in [0, 1]) as a
  looping animated GIF, atomically."""
  buffer = io.BytesIO()
  iio.imwrite(buffer, np.stack([frame if frame.dtype == np.uint8
                                else to_uint8(frame) for frame in frames]),
              extension='.gif', duration=int(seconds_per_frame * 1000),
              loop=0)
  with atomic_open(path, 'wb') as f:
    f.write(buffer.getvalue())


def plot_curves(path, rows, scores=('train_psnr', 'test_psnr'),
                label='PSNR (dB)', title=''):
  """Scores against step from metrics rows (train and test PSNR of an
  image), saved as PNG; label: the y axis."""
  steps = [row['step'] for row in rows]
  fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
  for name in scores:
    ax.plot(steps, [row[name] for row in rows],
            label=name.removesuffix('_psnr'))
  ax.set_xlabel('step')
  ax.set_ylabel(label)
  ax.set_title(title, fontsize=9)
  ax.grid(alpha=0.3)
  ax.legend()
  save_figure(fig, path)


def save_figure(fig, path):
  """Saves a matplotlib figure as PNG atomically and closes it."""
  fig.tight_layout()
  with atomic_open(path, 'wb') as f:
    fig.savefig(f, format='png')
  plt.close(fig)
