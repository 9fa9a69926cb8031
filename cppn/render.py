r"""Command line: render an exported model file at any resolution.

  python -m cppn.render --model=demo.cppn --resolution=1024 --output=demo.png \
      [--chunk_size=16384]

The network is evaluated on the N x N grid of data.coordinate_grid (the
training grid when N is the training resolution, a finer sampling of the same
square otherwise), `chunk_size` pixels at a time. The output is a PNG
(uint8), or a .npy of the float32 (N, N, 3) colours in (0, 1). Errors print
one line and exit 1.
"""

import argparse
import pathlib
import sys

import numpy as np

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


def main(argv=None):
  """The render command line."""
  parser = argparse.ArgumentParser(
      prog='python -m cppn.render',
      description='Render an exported model file (python -m cppn.export).')
  parser.add_argument('--model', required=True, help='an exported model file')
  parser.add_argument('--resolution', required=True, type=int,
                      help='side N of the square image to render')
  parser.add_argument('--output', required=True, help='a .png or .npy path')
  parser.add_argument('--chunk_size', type=int,
                      default=export.DEFAULT_CHUNK_SIZE,
                      help='pixels per rendering chunk (bounds memory)')
  args = parser.parse_args(argv)
  try:
    image = export.render(export.load_exported(args.model), args.resolution,
                          args.chunk_size)
    write_image(args.output, image)
  except CppnError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  print(f'wrote {args.output}: {args.resolution} x {args.resolution}')


if __name__ == '__main__':
  main()
