"""The one exception type the command line turns into a single error line."""


class CppnError(ValueError):
  """Bad input or a failed run, with a message meant for the user.

  The message names the bad value and, where there is a fixed set, the valid
  choices. `cppn.main` prints it as one line and exits non-zero.
  """
