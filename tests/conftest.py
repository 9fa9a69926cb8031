"""Test-wide settings, inherited by the xdist workers and every subprocess.

- XLA_PYTHON_CLIENT_PREALLOCATE=false: tests start `python -m cppn.main`
  and experiments as subprocesses beside the pytest process; on a GPU each
  JAX process would otherwise preallocate most of the device's memory and
  the later ones would fail.
- One JAX compilation cache on disk for the session: many tests and their
  subprocesses compile the same small programs (configs/test.py's fit
  costs 4.6 s in a fresh process, 0.9 s with its programs cached). The
  cache is keyed by the program and the JAX version, so it changes no
  result; the pytest process that creates it removes it at the end.
"""

import os
import shutil
import tempfile

os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'] = 'false'

_CACHE_VARIABLE = 'JAX_COMPILATION_CACHE_DIR'
_OWN_CACHE = None
if _CACHE_VARIABLE not in os.environ:
  _OWN_CACHE = tempfile.mkdtemp(prefix='cppn-test-jax-cache-')
  os.environ[_CACHE_VARIABLE] = _OWN_CACHE
  os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'
  os.environ['JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES'] = '0'


def pytest_unconfigure(config):
  """Removes the compilation cache this process created."""
  del config
  if _OWN_CACHE:
    shutil.rmtree(_OWN_CACHE, ignore_errors=True)
