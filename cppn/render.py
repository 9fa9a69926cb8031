r"""Command line: render an exported model file at any resolution.

  python -m cppn.render --model=demo.cppn --resolution=1024 --output=demo.png \
      [--chunk_size=16384]

The network is evaluated on the N^d grid of data.coordinate_grid (d from the
file: 2 for images and CT, 3 for MRI volumes, 1 for signals; the training
grid when N is the training resolution, a finer sampling of the same cube
otherwise), `chunk_size` points at a time. The output is a .npy of the
float32 (N,) * d + (C,) values in (0, 1), or for d = 2 a PNG (uint8; one
output is grey). A bad flag
prints one line and exits 2, bad input (a file that is not a model, an
output that cannot be written) one line and exit 1 (cppn/cli.py).
"""

import pathlib

from absl import flags
import numpy as np

from cppn import cli
from cppn import export
from cppn import outputs
from cppn.errors import CppnError

OUTPUT_SUFFIXES = ('.png', '.npy')


def write_image(path, image: np.ndarray):
  """Saves a rendered (N,) * d + (C,) array in [0, 1] as float32 .npy, or
  for d = 2 as PNG (C = 3, or 1 as grey), atomically."""
  path = pathlib.Path(path)
  if path.suffix not in OUTPUT_SUFFIXES:
    raise CppnError(f'cannot write {path}: choose an output ending in '
                    + ' or '.join(OUTPUT_SUFFIXES))
  if not path.parent.is_dir():
    raise CppnError(f'cannot write {path}: folder {path.parent} does not exist')
  if path.suffix == '.png':
    if image.ndim != 3:
      raise CppnError(f'cannot write {path}: the model renders a '
                      f'{image.ndim - 1}-D signal; choose a .npy output')
    outputs.write_png(path, np.broadcast_to(image, image.shape[:2] + (3,)))
  else:
    with outputs.atomic_open(path, 'wb') as f:
      np.save(f, np.asarray(image, np.float32))


def define_flags(flag_values: flags.FlagValues):
  """--model, --resolution, --output and --chunk_size."""
  flags.DEFINE_string('model', None, 'An exported model file.',
                      flag_values=flag_values)
  flags.DEFINE_integer('resolution', None, 'Side N of the square image to '
                       'render.', lower_bound=1, flag_values=flag_values)
  flags.DEFINE_string('output', None, 'A .png or .npy path.',
                      flag_values=flag_values)
  flags.DEFINE_integer('chunk_size', export.DEFAULT_CHUNK_SIZE,
                       'Pixels per rendering chunk (bounds memory).',
                       lower_bound=1, flag_values=flag_values)
  flags.mark_flags_as_required(['model', 'resolution', 'output'],
                               flag_values=flag_values)


def main(flag_values: flags.FlagValues):
  """Renders the model file and writes the image."""
  resolution = flag_values.resolution
  image = export.render(export.load_exported(flag_values.model), resolution,
                        flag_values.chunk_size)
  write_image(flag_values.output, image)
  print(f'wrote {flag_values.output}: '
        + ' x '.join(map(str, image.shape[:-1])))


COMMAND = cli.Command(define_flags, main)

if __name__ == '__main__':
  cli.run(COMMAND)
