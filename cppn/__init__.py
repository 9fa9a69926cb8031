"""cppn: coordinate-based MLPs that fit one image each, through input encodings.

The Python API (cppn/api.py):

  config = cppn.make_config('configs/default.py', {'encoding.sigma': 5})
  result = cppn.fit(config, workdir=None)
  result.metrics, result.history, result.render(resolution)
  cppn.load(workdir), cppn.sweep(config_file_or_list)

Modules (data flows down this list; each is also reachable as cppn.NAME):
  data       image -> coordinate grid and pixel splits
  encodings  coordinates -> features (identity, Fourier features, seed encodings)
  models     features -> RGB (Flax Linen MLPs)
  train      a jit-compiled, resumable training loop
  outputs    files written into a run's workdir
  main       the command line
"""

import importlib

__version__ = "0.1.0"

_API = ('Result', 'fit', 'load', 'make_config')
__all__ = ['CppnError', *_API, 'sweep']


def __getattr__(name):
  """The API's names and the submodules, imported on first use: `import
  cppn.cli` stays lean (no JAX) for the processes that need only it.
  `cppn.sweep` is the module cppn/sweep.py, callable as api.sweep."""
  if name == 'CppnError':
    return importlib.import_module('cppn.errors').CppnError
  if name in _API:
    return getattr(importlib.import_module('cppn.api'), name)
  try:
    return importlib.import_module(f'cppn.{name}')
  except ModuleNotFoundError as e:
    if e.name != f'cppn.{name}':
      raise
    raise AttributeError(
        f'module {__name__!r} has no attribute {name!r}') from None
