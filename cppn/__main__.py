"""`python -m cppn SUBCOMMAND ...`: the `cppn` command (cppn/commands.py)."""

from cppn import commands

if __name__ == '__main__':
  commands.main()
