"""The `cppn` command (cppn/commands.py): subcommands, usage, exit codes."""

import configparser
import pathlib
import subprocess
import sys

import pytest

from cppn import commands

REPO = pathlib.Path(__file__).resolve().parents[1]


def cppn_command(*args):
  """`python -m cppn ARGS` (what the console script runs)."""
  return subprocess.run([sys.executable, '-m', 'cppn', *args], cwd=REPO,
                        capture_output=True, text=True, timeout=120)


def test_help_lists_every_subcommand():
  result = cppn_command('--help')
  assert result.returncode == 0
  listed = [line.split()[0] for line in result.stdout.splitlines()
            if line.startswith('  ')]
  assert listed == ['fit', 'export', 'render', 'compare']


@pytest.mark.parametrize('args', [(), ('train',)])
def test_no_or_an_unknown_subcommand_prints_usage_and_exits_2(args):
  result = cppn_command(*args)
  assert result.returncode == 2
  assert 'usage: cppn SUBCOMMAND [flags]' in result.stderr
  assert ("unknown subcommand 'train'" in result.stderr) == bool(args)


def test_a_subcommand_keeps_its_modules_flags_and_errors(tmp_path):
  # `cppn fit` runs configs/test.py in tests/test_api.py.
  # absl's --help prints the module's docstring and key flags (and exits 1).
  assert '--precision' in cppn_command('export', '--help').stdout
  result = cppn_command('render', f'--model={tmp_path}/none.cppn',
                        '--resolution=4', f'--output={tmp_path}/x.png')
  assert (result.returncode, result.stderr.strip()) == (
      1, f'error: model file not found: {tmp_path}/none.cppn')


def test_the_console_script_is_declared():
  setup = configparser.ConfigParser()
  setup.read(REPO / 'setup.cfg')
  scripts = setup['options.entry_points']['console_scripts'].split()
  assert scripts == ['cppn', '=', 'cppn.commands:main']
  assert callable(commands.main)
