r"""Table 1 of Tancik et al. 2020, shape row: occupancy IoU per encoding.

The paper's occupancy protocol (cppn/occupancy.py): an 8 x 256 ReLU MLP with
one logit, sigmoid cross-entropy, Adam at 5e-4 * 0.1^(i / 5000) for 10,000
steps, 32,768 points per step uniform in the shape's box, encodings on
points of the unit cube with features divided by ||a||:

  none        2 v - 1
  basic       B = I_3
  positional  2^linspace(0, 6, 85) - 1 on each axis (sigma_p 6)
  gaussian    B ~ N(0, 12^2), 256 x 3 (sigma_g 12)

and IoU at 0.5 on 2^18 uniform and 2^18 near-surface test points (Table 1
quotes the near-surface column). Shapes (cppn/shapes.py): procedural solids
labelled analytically inside each step (fresh points every step, as the
paper), or meshes (the bunny, cow, bone and airplane shipped in pymeshlab's
wheel, or any watertight mesh file) labelled by ray parity on the host, and
then drawn from a labelled pool of `pool_size` points (ray-parity labelling
of 32,768 points on the bunny takes longer than a training step).

  python -m experiments.occupancy --preset=cpu --workdir=runs/occupancy \
      [--shapes=bumpy,bunny,PATH.obj] [--encodings=none,gaussian]

Writes, per shape and encoding, SHAPE/ENCODING/ with metrics.jsonl
(validation IoUs at step 0 and over training), fit.obj (marching cubes of
logit = 0), shape.png (the true surface beside the fit, as normal maps),
turntable.gif (both, turning) and summary.json; then occupancy.md and
occupancy.json (IoU per test set, mean over shapes, beside the paper's). A
rerun skips fits whose summary.json exists. The paper's numbers are on
Stanford scans (dragon, armadillo, buddha), so only the ordering carries
over. Presets: tiny (seconds, tests; lr 1e-2), cpu (the bumpy solid, 1000
steps of 8192 points; 2 CPU cores), paper (bunny, bumpy and gyroid, the full
protocol; for a GPU).
"""

import dataclasses
import pathlib
import time
from typing import Any

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from cppn import cli
from cppn import encodings
from cppn import meshes
from cppn import occupancy
from cppn import outputs
from cppn import shapes
from experiments import command
from experiments import common
from experiments import fit_loop

ENCODINGS = ('none', 'basic', 'positional', 'gaussian')
# Table 4 of the paper: IoU, mean over dragon, armadillo and buddha; Table 1
# quotes the near-surface ('boundary') column.
PAPER_IOU = {
    'uniform': {'none': 0.959, 'basic': 0.966, 'positional': 0.987,
                'gaussian': 0.988},
    'surface': {'none': 0.864, 'basic': 0.892, 'positional': 0.960,
                'gaussian': 0.973},
}
SIGMA_G = 12.0  # Gaussian scale, cycles per unit of the normalised cube
SIGMA_P = 6.0  # positional: 2^linspace(0, SIGMA_P, m // 3) - 1 per axis
LEARNING_RATE = 5e-4  # every encoding
DECAY_RATE = 0.1  # per decay_steps (the paper's 5000 of 10,000 steps)


@dataclasses.dataclass(frozen=True)
class Preset:
  """Shapes, sizes and schedule of one run."""
  shapes: tuple[str, ...]  # shapes.load_shape sources
  num_steps: int  # Adam steps (the rate decays by 0.1 every num_steps / 2)
  batch_points: int  # points per step
  learning_rate: float = LEARNING_RATE  # Adam's rate at step 0
  depth: int = 8  # Dense layers, output included
  width: int = 256  # hidden units
  num_features: int = 256  # m: Gaussian rows; positional m // 3 per axis
  test_points: int = occupancy.TEST_POINTS  # per test set
  pool_size: int = 2 ** 22  # labelled points of a mesh's pool
  num_evals: int = 10  # validation IoUs over training
  mesh_grid: int = 128  # marching-cubes samples per axis of the fit
  picture_size: int = 256  # pixels per side of the normal maps
  turntable_frames: int = 24


PRESETS = {
    'tiny': Preset(shapes=('sphere',), num_steps=150, batch_points=1024,
                   learning_rate=1e-2, depth=3, width=64, num_features=16,
                   test_points=2048, pool_size=4096, num_evals=2, mesh_grid=16,
                   picture_size=32, turntable_frames=3),
    'cpu': Preset(shapes=('bumpy',), num_steps=1000, batch_points=8192,
                  test_points=2 ** 16, mesh_grid=64, picture_size=192,
                  turntable_frames=16),
    'paper': Preset(shapes=('bunny', 'bumpy', 'gyroid'), num_steps=10000,
                    batch_points=32768, num_evals=100),
}


@dataclasses.dataclass
class Prepared:
  """A shape with its training source and its labelled point sets."""
  shape: shapes.Shape
  source: dict[str, jax.Array]  # occupancy's {'box'} or a labelled pool
  validation: dict[str, dict[str, np.ndarray]]  # occupancy.test_sets
  test: dict[str, dict[str, np.ndarray]]
  label_seconds: float  # host time spent labelling pool and test points


def prepare(source: str, preset: Preset) -> Prepared:
  """Loads a shape, labels its test sets and, for a mesh, its pool."""
  shape = shapes.load_shape(source)
  start = time.time()
  if shape.inside_fn is not None:
    training = {'box': jnp.asarray(shape.box, jnp.float32)}
  else:
    training = jax.tree_util.tree_map(jnp.asarray, occupancy.labelled_pool(
        shape, preset.pool_size, seed=0))
  validation = occupancy.test_sets(shape, seed=1, count=preset.test_points)
  test = occupancy.test_sets(shape, seed=2, count=preset.test_points)
  return Prepared(shape, training, validation, test, time.time() - start)


def fit(prepared: Prepared, preset: Preset, name: str, workdir: pathlib.Path,
        progress: bool) -> dict[str, Any]:
  """Fits one encoding to one shape, writes its outputs; returns its summary."""
  summary = fit_loop.finished_summary(workdir)
  if summary is not None:
    return summary
  start = time.time()
  config, encoding = fit_loop.encoding(name, SIGMA_G, SIGMA_P,
                                       preset.num_features)
  state = occupancy.create_state(
      occupancy.make_model(preset.depth, preset.width),
      encodings.width(config, 3), preset.learning_rate,
      max(1, preset.num_steps // 2), DECAY_RATE, jax.random.PRNGKey(0))
  logits_fn = occupancy.make_logits_fn(state.apply_fn, name, 16384)
  key = jax.random.PRNGKey(1)

  def train(count):
    nonlocal state
    state, metrics = occupancy.train_steps(
        state, prepared.source, encoding, key, num_steps=count,
        encoding_name=name, batch_size=preset.batch_points,
        inside_fn=prepared.shape.inside_fn)
    return float(metrics['loss'][-1])

  def evaluate():
    return {f'val_{k}': v for k, v in occupancy.evaluate(
        logits_fn, state.params, encoding, prepared.validation).items()}

  fit_loop.train_and_log(train, evaluate, preset.num_steps, preset.num_evals,
                         workdir, progress, f'occupancy {name}')
  ious = occupancy.evaluate(logits_fn, state.params, encoding, prepared.test)
  vertices, faces = meshes.marching_cubes(
      lambda points: logits_fn(state.params, encoding, jnp.asarray(
          points.reshape(-1, 3))).reshape(points.shape[:-1]),
      prepared.shape.box, preset.mesh_grid)
  meshes.write_obj(workdir / 'fit.obj', vertices, faces)
  meshes.write_pictures(
      workdir, (prepared.shape.vertices, prepared.shape.faces),
      (vertices, faces), preset.picture_size, preset.turntable_frames)
  summary = {'encoding': name, 'shape': prepared.shape.name, **ious,
             'encoding_detail': encodings.describe(config, 3),
             'mesh_faces': int(len(faces)),
             'wall_seconds': time.time() - start}
  outputs.write_json(workdir / 'summary.json', summary)
  return summary


def table_markdown(results, preset_name: str, preset: Preset,
                   minutes: float) -> str:
  """occupancy.md: IoU per encoding (mean over shapes) beside the paper's."""
  lines = [
      '# Shape row of Table 1: occupancy IoU at 0.5', '',
      f'Preset {preset_name}: shapes {", ".join(results)}, {preset.num_steps}'
      f' steps of {preset.batch_points} points, {preset.depth} x '
      f'{preset.width} MLP, m = {preset.num_features}, '
      f'{preset.test_points} points per test set; {minutes:.1f} minutes on '
      f'{common.machine()}.', '',
      '| encoding | near-surface IoU | paper | uniform IoU | paper |',
      '|---|---|---|---|---|']
  for name in ENCODINGS:
    cells = [r[name] for r in results.values() if name in r]
    if not cells:
      continue
    surface = np.mean([c['iou_surface'] for c in cells])
    uniform = np.mean([c['iou_uniform'] for c in cells])
    lines.append(f'| {name} | {surface:.3f} | {PAPER_IOU["surface"][name]:.3f}'
                 f' | {uniform:.3f} | {PAPER_IOU["uniform"][name]:.3f} |')
  return '\n'.join(lines) + '\n'


def define_flags(flag_values: flags.FlagValues):
  flags.DEFINE_list('shapes', None, 'Shapes to fit (default: the preset\'s): '
                    + ', '.join(shapes.PROCEDURAL_SHAPES
                                + shapes.BUNDLED_MESHES) + ' or mesh files.',
                    flag_values=flag_values)
  flags.DEFINE_list('encodings', list(ENCODINGS), 'Encodings to fit, of: '
                    + ', '.join(ENCODINGS), flag_values=flag_values)


# pylint: disable-next=redefined-outer-name
def run(preset_name: str, workdir: pathlib.Path, progress: bool,
        shapes=None, encodings=ENCODINGS):
  """Fits every shape and encoding, writes occupancy.md and occupancy.json."""
  fit_loop.check_encodings(encodings, ENCODINGS)
  preset = PRESETS[preset_name]
  results, label_seconds = {}, {}
  for source in shapes or preset.shapes:
    prepared = prepare(source, preset)
    label_seconds[prepared.shape.name] = prepared.label_seconds
    results[prepared.shape.name] = {
        name: fit(prepared, preset, name,
                  workdir / prepared.shape.name / name, progress)
        for name in ENCODINGS if name in encodings}
  minutes = sum(r['wall_seconds'] for cells in results.values()
                for r in cells.values()) / 60
  common.write_report(workdir, 'occupancy', {
      'preset': preset_name, 'settings': dataclasses.asdict(preset),
      'paper_iou': PAPER_IOU, 'results': results,
      'label_seconds': label_seconds, 'machine': common.machine()},
                      table_markdown(results, preset_name, preset, minutes))


COMMAND = command.experiment(run, define_flags)

if __name__ == '__main__':
  cli.run(COMMAND)
