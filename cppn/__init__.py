"""cppn: coordinate-based MLPs that fit one image each, through input encodings.

The Python API (cppn/api.py):

  result = cppn.fit(config, workdir=None)   # config: ConfigDict or file
  result.metrics, result.history, result.render(resolution)
  cppn.load(workdir), cppn.sweep(config_file_or_list)

Modules (data flows down this list):
  data       image -> coordinate grid and pixel splits
  encodings  coordinates -> features (identity, Fourier features, seed encodings)
  models     features -> RGB (Flax Linen MLPs)
  train      a jit-compiled, resumable training loop
  outputs    files written into a run's workdir
  main       the command line
"""

import importlib

__version__ = "0.1.0"

__all__ = ['CppnError', 'Result', 'fit', 'load', 'sweep']


def __getattr__(name):
  """The API's names, imported on first use: `import cppn.cli` stays lean
  (no JAX) for the processes that need only it."""
  if name == 'CppnError':
    from cppn import errors  # pylint: disable=g-import-not-at-top
    return errors.CppnError
  if name == 'sweep':  # the module cppn/sweep.py, callable as api.sweep
    return importlib.import_module('cppn.sweep')
  if name in __all__:
    from cppn import api  # pylint: disable=g-import-not-at-top
    return getattr(api, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
