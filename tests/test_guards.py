"""Tests for cppn.guards: memory on any device, out-of-memory, divergence.

CI has no accelerator, so devices are stand-ins with the attributes JAX's
devices have (platform, device_kind, memory_stats()).
"""

import os
import types

import jax
import numpy as np
import pytest

from cppn import guards
from cppn import models
from cppn.errors import CppnError
import configs.default


def device(platform='gpu', kind='NVIDIA H100', stats=None, capability=None):
  fake = types.SimpleNamespace(platform=platform, device_kind=kind,
                               memory_stats=lambda: stats)
  if capability is not None:
    fake.compute_capability = capability
  return fake


def test_memory_limit_is_the_accelerators_when_jax_reports_it():
  limit, where = guards.memory_limit(device(stats={'bytes_limit': 80 * 2**30,
                                                   'bytes_in_use': 0}))
  assert limit == 80 * 2**30 and where == 'NVIDIA H100 memory'


def test_memory_limit_on_a_cpu_is_this_machines_ram():
  limit, where = guards.memory_limit(device('cpu', 'cpu', stats=None))
  assert limit == os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  assert where == "this machine's RAM"


def test_estimate_by_hand():
  config = configs.default.get_config()
  config.model.width, config.model.depth = 256, 4
  config.train.chunk_size, config.train.batch_size = 1000, 0
  # 4 bytes * (P (F + 3 + 6) + chunk (F + 4 depth width))
  expected = 4 * (4000 * (512 + 9) + 1000 * (512 + 4 * 4 * 256))
  assert guards.estimate_memory_bytes(config, 4000, 512) == expected


def test_a_group_too_large_for_the_device_is_refused():
  config = configs.default.get_config()
  small_gpu = device(kind='Small GPU', stats={'bytes_limit': 2**30})
  needed = guards.estimate_memory_bytes(config, 65536, 512)
  fitting = int(0.8 * 2**30 // needed)
  guards.check_memory(config, fitting, 65536, 512, device=small_gpu)
  with pytest.raises(CppnError, match=(
      rf'training {fitting + 1} member\(s\) on 65536 pixels would need about '
      r'[\d.]+ GiB; Small GPU memory is 1.0 GiB')):
    guards.check_memory(config, fitting + 1, 65536, 512, device=small_gpu)


def test_out_of_memory_error_becomes_one_line():
  error = jax.errors.JaxRuntimeError(
      'RESOURCE_EXHAUSTED: Out of memory while trying to allocate 123 bytes.\n'
      'BufferAssignment OOM Debugging.\n' + 'x' * 5000)
  converted = guards.out_of_memory(error)
  assert isinstance(converted, CppnError)
  message = str(converted)
  assert '\n' not in message and len(message) < 400
  assert message.startswith('out of device memory (RESOURCE_EXHAUSTED: Out of '
                            'memory while trying to allocate 123 bytes.)')
  assert guards.out_of_memory(RuntimeError('INTERNAL: something else')) is None


@pytest.mark.parametrize('fake,supported', [
    (device(capability='9.0'), True),
    (device(kind='NVIDIA A100', capability='8.0'), True),
    (device(kind='Tesla V100', capability='7.0'), False),
    (device(kind='AMD Instinct MI250X', capability='gfx90a'), False),
    (device(kind='NVIDIA H100'), False),  # no capability reported
    (device('cpu', 'cpu'), False),
])
def test_tensorfloat32_needs_an_ampere_or_newer_nvidia_gpu(fake, supported):
  reason = models.tensorfloat32_unsupported(fake)
  assert (reason is None) == supported
  if not supported:
    assert fake.device_kind in reason


def test_tensorfloat32_is_refused_on_this_cpu():
  config = configs.default.get_config().model
  config.matmul_precision = 'tensorfloat32'
  if jax.default_backend() != 'cpu':
    pytest.skip('checks the CPU backend')
  with pytest.raises(CppnError, match='compute capability >= 8.0; this run '
                     'is on cpu'):
    models.validate_model_config(config)


def test_first_divergence_names_the_step():
  message = guards.first_divergence(np.array([1.0, 0.5, np.nan, np.inf]), 10,
                                    1.0)
  assert 'diverged at step 12' in message
  assert guards.first_divergence(np.array([1.0, 0.5]), 0, 1.0) is None


def test_loss_rose_compares_the_last_loss_with_step_0():
  config = configs.default.get_config().train
  rose = [{'step': 0, 'loss': 0.1}, {'step': 20, 'loss': 0.3}]
  fell = [{'step': 0, 'loss': 0.1}, {'step': 20, 'loss': 0.05}]
  assert 'rose from 0.1 at step 0 to 0.3 at step 20' in guards.loss_rose(
      rose, config)
  assert guards.loss_rose(fell, config) is None
  assert guards.loss_rose(rose[1:], config) is None  # resumed: no step 0
