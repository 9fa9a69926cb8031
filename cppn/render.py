r"""Command line: render an exported model file at any resolution.

  python -m cppn.render --model=demo.cppn --resolution=1024 --output=demo.png \
      [--chunk_size=16384]

The network is evaluated on the N x N grid of data.coordinate_grid (the
training grid when N is the training resolution, a finer sampling of the same
square otherwise), `chunk_size` pixels at a time. The output is a PNG
(uint8), or a .npy of the float32 (N, N, 3) colours in (0, 1). A bad flag
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
  """Saves an (N, N, 3) image in [0, 1] as PNG or as float32 .npy, atomically."""
  path = pathlib.Path(path)
  if path.suffix not in OUTPUT_SUFFIXES:
    raise CppnError(f'cannot write {path}: choose an output ending in '
                    + ' or '.join(OUTPUT_SUFFIXES))
  if not path.parent.is_dir():
    raise CppnError(f'cannot write {path}: folder {path.parent} does not exist')
  if path.suffix == '.png':
    outputs.write_png(path, image)
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
  print(f'wrote {flag_values.output}: {resolution} x {resolution}')


COMMAND = cli.Command(define_flags, main)

if __name__ == '__main__':
  cli.run(COMMAND)
