r"""The `cppn` command: one entry point, one subcommand per command line.

  cppn fit --config=configs/test.py --workdir=runs/tiny   (python -m cppn.main)
  cppn export --workdir=runs/tiny --precision=int8 --output=tiny.cppn
  cppn render --model=tiny.cppn --resolution=128 --output=tiny_4x.png
  cppn compare --output=both.png runs/a runs/b            (experiments.compare)
  cppn SUBCOMMAND --help                                  its flags

Each subcommand takes the absl flags of the module it runs and answers bad
input as that module does (cppn/cli.py). `cppn` alone or with an unknown
subcommand prints the usage to stderr and exits 2; `cppn --help` prints it
to stdout. The console script is installed by `pip install -e .`
(setup.cfg's entry_points); `python -m cppn` is the same command.
"""

import importlib
import sys
from typing import NoReturn, Sequence

from absl import app
from absl import flags

# Subcommand -> (module it runs, one line for the usage).
SUBCOMMANDS = {
    'fit': ('cppn.main', 'fit an image, or run a sweep, as a config says'),
    'export': ('cppn.export', 'write a run\'s network as one compact file'),
    'render': ('cppn.render', 'render an exported file at any resolution'),
    'compare': ('experiments.compare',
                'finished runs side by side in one figure'),
}


def usage(program: str = 'cppn') -> str:
  """The usage text: one line per subcommand."""
  width = max(len(name) for name in SUBCOMMANDS)
  lines = [f'usage: {program} SUBCOMMAND [flags]', '', 'subcommands:']
  lines += [f'  {name:<{width}}  {line} (python -m {module})'
            for name, (module, line) in SUBCOMMANDS.items()]
  lines += ['', f'{program} SUBCOMMAND --help lists its flags.']
  return '\n'.join(lines)


def _register_key_flags(module_name: str):
  """Makes a module's flags the ones `--help` lists (absl lists the key
  flags of the program, sys.argv[0])."""
  for flag in flags.FLAGS.get_flags_for_module(module_name):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def run(argv: Sequence[str]) -> NoReturn:
  """Runs `argv` = [program, SUBCOMMAND, flags and arguments...]."""
  program = 'cppn'
  if len(argv) > 1 and argv[1] in ('-h', '--help', 'help'):
    print(usage(program))
    sys.exit(0)
  if len(argv) < 2 or argv[1] not in SUBCOMMANDS:
    if len(argv) > 1:
      print(f'error: unknown subcommand {argv[1]!r}', file=sys.stderr)
    print(usage(program), file=sys.stderr)
    sys.exit(2)
  name = argv[1]
  module = importlib.import_module(SUBCOMMANDS[name][0])
  sys.modules['__main__'].__doc__ = module.__doc__  # what --help prints
  sub_argv = [f'{program} {name}', *argv[2:]]
  if hasattr(module, 'COMMAND'):
    module.cli.run(module.COMMAND, sub_argv)
  else:  # cppn.main: flags defined at import, its own parser
    _register_key_flags(module.__name__)
    app.run(module.main, argv=sub_argv, flags_parser=module.parse_flags)
  sys.exit(0)


def main():
  """The console script's entry point."""
  run(sys.argv)
