"""cppn/cli.py: absl flags, one error line per bad input, commands in or out
of this process."""

import pathlib
import subprocess
import sys

from absl import flags
import pytest

from cppn import cli
from cppn.errors import CppnError

REPO = pathlib.Path(__file__).resolve().parents[1]


def define_flags(flag_values):
  """--count (required, >= 1) and --loud."""
  flags.DEFINE_integer('count', None, 'How many.', lower_bound=1,
                       flag_values=flag_values)
  flags.mark_flag_as_required('count', flag_values=flag_values)
  flags.DEFINE_bool('loud', False, 'Shout.', flag_values=flag_values)


def echo(flag_values, *words):
  """Prints the words `count` times; count 13 is bad input."""
  if flag_values.count == 13:
    raise CppnError('13 is unlucky')
  print(' '.join(words * flag_values.count).upper() if flag_values.loud
        else ' '.join(words * flag_values.count))


ECHO = cli.Command(define_flags, echo, arguments='WORD ...')


def failure(argv, capsys, command=ECHO):
  """(exit code, the one stderr line) of a command that must fail."""
  with pytest.raises(SystemExit) as exit_info:
    cli.call(command, argv)
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1, lines
  return exit_info.value.code, lines[0]


def test_call_parses_flags_and_arguments(capsys):
  cli.call(ECHO, ['--count=2', '--loud', 'a', 'b'])
  cli.call(ECHO, ['--count', '1', '--noloud', 'c'])
  assert capsys.readouterr().out == 'A B A B\nc\n'


def test_bad_flags_exit_2_with_one_line(capsys):
  assert failure(['--count=0', 'a'], capsys) == (
      2, 'error: bad command line: flag --count=0: 0 is not a positive '
      'integer')
  assert failure(['--count=x', 'a'], capsys)[0] == 2
  assert failure(['a'], capsys) == (
      2, 'error: bad command line: flag --count=None: Flag --count must have '
      'a value other than None.')
  assert failure(['--count=1', '--colour=red', 'a'], capsys) == (
      2, "error: bad command line: Unknown command line flag 'colour'")
  assert failure(['--count=1'], capsys) == (
      2, 'error: bad command line: expected WORD ... after the flags')
  no_arguments = cli.Command(define_flags, echo)
  assert failure(['--count=1', 'a'], capsys, no_arguments) == (
      2, 'error: bad command line: unexpected arguments: a')


def test_bad_input_exits_1_with_one_line(capsys):
  assert failure(['--count=13', 'a'], capsys) == (1, 'error: 13 is unlucky')


def test_calls_do_not_share_flags(capsys):
  cli.call(ECHO, ['--count=1', '--loud', 'a'])
  cli.call(ECHO, ['--count=1', 'a'])  # --loud is back to its default
  assert capsys.readouterr().out == 'A\na\n'


def test_flag_names_in_definition_order():
  assert cli.flag_names(define_flags) == ['count', 'loud']


def test_a_command_as_python_m():
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.compare', '--output=x.png',
       '--dpi=3', 'runs/a'], cwd=REPO, capture_output=True, text=True,
      timeout=120)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      "error: bad command line: Unknown command line flag 'dpi'"]
  result = subprocess.run(
      [sys.executable, '-m', 'experiments.compare', '--help'], cwd=REPO,
      capture_output=True, text=True, timeout=120)
  assert 'python -m experiments.compare --output=' in result.stdout
  assert '--output: The PNG to write.' in result.stdout
