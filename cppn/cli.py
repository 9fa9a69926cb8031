r"""Command lines: absl flags under app.run, and bad input as one line.

Every command of the project (python -m cppn.main, cppn.export, cppn.render,
experiments.*) takes absl flags (`--workdir=DIR` or `--workdir DIR`,
`--noprogress` for a boolean flag `progress`), runs under absl's app.run,
keeps the INFO log lines of cppn only, and answers bad input with one line
on stderr:

  error: bad command line: REASON   a flag unknown, missing or of the wrong
                                    type, or an unexpected argument: exit 2
  error: REASON                     a CppnError while running: exit 1

  parse_flags       absl's parsing of argv, a bad flag as that one line
  bad_command_line  prints the line, exits 2
  quiet_libraries   the log filter: INFO from cppn, warnings from everything
  flag_names        the names of the flags a define_flags function defines
  Command           a command's flags (define_flags) and its body (main)
  run               `python -m ...`: a Command's flags in absl's FLAGS, then
                    app.run
  call              the same Command in this process on fresh FlagValues (as
                    tests run it)

A Command defines its flags only when it runs, never at import, so modules
whose commands share flag names (--workdir, --output, --resolution) import
side by side.
"""

import dataclasses
import sys
from typing import Any, Callable, NoReturn, Sequence

from absl import app
from absl import flags
from absl import logging

from cppn.errors import CppnError


def bad_command_line(reason: str) -> NoReturn:
  """Prints `error: bad command line: REASON` to stderr and exits 2."""
  logging.flush()
  print(f'error: bad command line: {reason}', file=sys.stderr)
  sys.exit(2)


def parse_flags(argv: Sequence[str],
                flag_values: flags.FlagValues = flags.FLAGS) -> list[str]:
  """absl's parsing of argv (program name first) into flag_values.

  Returns:
    The arguments that are not flags, the program name first.

  A flag absl rejects (unknown, missing, a bad value; for a config file flag
  also a missing file or a value of the wrong type) prints one line and
  exits 2 (bad_command_line).
  """
  try:
    return flag_values(list(argv))
  except (flags.Error, TypeError, ValueError, OSError) as e:
    bad_command_line(' '.join(str(e).split()))


class _QuietLibraries(logging.logging.Filter):
  """Keeps INFO lines from cppn only; warnings and errors from everything."""

  def filter(self, record):
    return (record.levelno >= logging.logging.WARNING
            or '/cppn/' in record.pathname.replace('\\', '/'))


def quiet_libraries():
  """Drops the INFO lines of libraries (orbax, jax) from absl's log handler."""
  handler = logging.get_absl_handler()
  if not any(isinstance(f, _QuietLibraries) for f in handler.filters):
    handler.addFilter(_QuietLibraries())


def flag_names(define_flags: Callable[[flags.FlagValues], None]) -> list[str]:
  """The names of the flags define_flags(flag_values) defines, in order."""
  scratch = flags.FlagValues()
  define_flags(scratch)
  return [name for name in scratch if scratch[name].name == name]


@dataclasses.dataclass(frozen=True)
class Command:
  """A command line.

  define_flags(flag_values) defines the command's flags in flag_values;
  main(flag_values, *arguments) runs the command with their values and the
  positional arguments. `arguments` names those in words ('RUN_DIR ...');
  empty: the command takes none.
  """
  define_flags: Callable[[flags.FlagValues], None]
  main: Callable[..., Any]
  arguments: str = ''


def _execute(command: Command, flag_values: flags.FlagValues,
             args: Sequence[str]):
  """Runs the command on parsed flags and the remaining args (program name
  first); a CppnError prints `error: ...` and exits 1."""
  arguments = list(args[1:])
  if arguments and not command.arguments:
    bad_command_line(f'unexpected arguments: {" ".join(arguments)}')
  if command.arguments and not arguments:
    bad_command_line(f'expected {command.arguments} after the flags')
  try:
    command.main(flag_values, *arguments)
  except CppnError as e:
    logging.flush()
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


def run(command: Command, argv: Sequence[str] | None = None):
  """Runs a command as `python -m ...` does: under app.run, its flags in
  absl's FLAGS (so --help lists them with the module docstring).

  Args:
    command: the command.
    argv: the command line, program name first; default sys.argv.
  """
  before = set(flags.FLAGS)
  command.define_flags(flags.FLAGS)
  for name in sorted(set(flags.FLAGS) - before):
    # Flags a shared helper defined (experiments.command) are the command's
    # own too: --help lists the main module's key flags.
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])

  def main(args):
    quiet_libraries()
    _execute(command, flags.FLAGS, args)

  app.run(main, argv=argv, flags_parser=parse_flags)


def call(command: Command, argv: Sequence[str], program: str = 'command'):
  """Runs a command in this process on fresh FlagValues, as tests do.

  Args:
    command: the command.
    argv: its flags and arguments, without the program name.
    program: the program name absl sees (in messages).
  """
  flag_values = flags.FlagValues()
  command.define_flags(flag_values)
  _execute(command, flag_values, parse_flags([program, *argv], flag_values))
