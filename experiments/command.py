r"""The command line every experiment script shares.

  python -m experiments.<name> --preset=cpu|paper|tiny --workdir=DIR \
      [--noprogress] [the script's own flags]

`experiment(run, define_flags)` makes a script's cli.Command: absl flags
--preset, --workdir and --progress (--noprogress) beside the script's own,
run(preset, workdir, progress, **own flags by name) to write the outputs, a
last line saying where they went and how long it took; a bad flag prints one
line and exits 2, bad input (a CppnError or an OSError) one line and exit 1
(cppn/cli.py). A script ends with

  COMMAND = command.experiment(run, define_flags)

  if __name__ == '__main__':
    cli.run(COMMAND)

and tests run it in their process with cli.call(module.COMMAND, [flags]).
This module imports only absl and cppn.cli, so a script that must stay lean
(the benchmark's measurement processes) can use it.
"""

import pathlib
import time
from typing import Any, Callable

from absl import flags

from cppn import cli
from cppn.errors import CppnError

PRESET_NAMES = ('cpu', 'paper', 'tiny')
DefineFlags = Callable[[flags.FlagValues], None]


def define_flags(flag_values: flags.FlagValues, default_preset: str = 'cpu'):
  """--preset, --workdir and --progress (--noprogress), every script's."""
  flags.DEFINE_enum('preset', default_preset, PRESET_NAMES,
                    'tiny: seconds (tests); cpu: minutes on 2 CPU cores; '
                    'paper: the full protocol, for a GPU.',
                    flag_values=flag_values)
  flags.DEFINE_string('workdir', None, 'Folder of the runs, figures and '
                      'reports; a rerun skips finished fits.',
                      flag_values=flag_values)
  flags.mark_flag_as_required('workdir', flag_values=flag_values)
  flags.DEFINE_bool('progress', True, 'Progress bars while training.',
                    flag_values=flag_values)


def experiment(run: Callable[..., Any],
               define_own_flags: DefineFlags | None = None,
               default_preset: str = 'cpu') -> cli.Command:
  """The command line of an experiment script.

  Args:
    run: run(preset_name, workdir (a pathlib.Path that exists), progress,
      **own), where own holds the values of the script's own flags by name;
      writes the outputs.
    define_own_flags: defines the script's own flags, if it has any.
    default_preset: --preset when not given ('paper' for a script made for
      an accelerator).

  Returns:
    The cli.Command (run it with cli.run, or cli.call in tests).
  """
  own = cli.flag_names(define_own_flags) if define_own_flags else []

  def define(flag_values: flags.FlagValues):
    define_flags(flag_values, default_preset)
    if define_own_flags:
      define_own_flags(flag_values)

  def main(flag_values: flags.FlagValues):
    start = time.time()
    workdir = pathlib.Path(flag_values.workdir)
    try:
      workdir.mkdir(parents=True, exist_ok=True)
      run(flag_values.preset, workdir, flag_values.progress,
          **{name: flag_values[name].value for name in own})
    except OSError as e:
      raise CppnError(str(e)) from e
    print(f'preset {flag_values.preset}: wrote {workdir} in '
          f'{(time.time() - start) / 60:.1f} minutes')

  return cli.Command(define, main)
