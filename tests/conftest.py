"""Test-wide settings.

Tests start `python -m cppn.main` and experiments as subprocesses beside the
pytest process; on a GPU each JAX process would otherwise preallocate most of
the device's memory and the later ones would fail. The setting is inherited
by every subprocess.
"""

import os

os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'] = 'false'
