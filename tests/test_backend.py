"""Backend-aware choices: chunk size and how group members share a device."""

import jax
import numpy as np
import pytest

from configs import default
from cppn import backend
from cppn import guards
from cppn import train
from cppn.tasks import base as task_base
from cppn.tasks import ct


class FakeDevice:
  """A stand-in for a JAX device: its platform and memory_stats()."""

  def __init__(self, platform, bytes_limit=None):
    self.platform = platform
    self.device_kind = f'fake {platform}'
    self._bytes_limit = bytes_limit

  def memory_stats(self):
    return None if self._bytes_limit is None else {
        'bytes_limit': self._bytes_limit}


PAPER_PIXELS = 256**2  # training pixels of a 512 px image, paper split
PAPER_FEATURES = 512


def paper_memory(chunk_size, num_members=1):
  """Estimated bytes of the paper fit with train.chunk_size = chunk_size."""
  config = backend.with_chunk_size(default.get_config(), chunk_size)
  return num_members * guards.estimate_memory_bytes(config, PAPER_PIXELS,
                                                    PAPER_FEATURES)


def test_the_default_chunk_size_is_chosen_by_backend():
  assert default.get_config().train.chunk_size == backend.AUTO


def test_a_cpu_keeps_its_cache_sized_chunks():
  config = default.get_config()
  assert backend.chunk_size(config, 8, PAPER_PIXELS, PAPER_FEATURES,
                            FakeDevice('cpu')) == 2048


def test_an_accelerator_with_room_takes_one_chunk():
  gpu = FakeDevice('gpu', bytes_limit=140 * 2**30)
  config = default.get_config()
  assert backend.chunk_size(config, 1, PAPER_PIXELS, PAPER_FEATURES,
                            gpu) == 0
  assert backend.chunk_size(config, 32, PAPER_PIXELS, PAPER_FEATURES,
                            gpu) == 0


def test_an_accelerator_short_of_memory_takes_the_largest_chunk_that_fits():
  # Room for 16 members with chunks of 8192 pixels, not 16384.
  limit = int(16 * paper_memory(8192) / guards.MEMORY_FRACTION) + 1
  gpu = FakeDevice('gpu', bytes_limit=limit)
  assert 16 * paper_memory(16384) > guards.MEMORY_FRACTION * limit
  assert backend.chunk_size(default.get_config(), 16, PAPER_PIXELS,
                            PAPER_FEATURES, gpu) == 8192


def test_an_accelerator_without_room_falls_back_to_the_cpu_chunk():
  gpu = FakeDevice('tpu', bytes_limit=2**20)
  assert backend.chunk_size(default.get_config(), 4, PAPER_PIXELS,
                            PAPER_FEATURES, gpu) == backend.CPU_CHUNK_SIZE


@pytest.mark.parametrize('chunk_size', [0, 512, 2048, 100000])
def test_a_chunk_size_set_in_the_config_is_kept_on_every_backend(chunk_size):
  config = backend.with_chunk_size(default.get_config(), chunk_size)
  for device in (FakeDevice('cpu'), FakeDevice('gpu', 2**40)):
    assert backend.chunk_size(config, 2, PAPER_PIXELS, PAPER_FEATURES,
                              device) == chunk_size


def test_with_chunk_size_leaves_the_original_alone():
  config = default.get_config()
  copied = backend.with_chunk_size(config, 0)
  assert copied.train.chunk_size == 0
  assert config.train.chunk_size == backend.AUTO


@pytest.mark.parametrize('platform,devices,mapped', [
    ('cpu', 1, True), ('cpu', 2, False), ('gpu', 1, False), ('tpu', 8, False)])
def test_members_are_mapped_only_on_a_single_cpu_device(platform, devices,
                                                        mapped):
  assert backend.maps_members(platform, devices) is mapped


def small_config():
  config = default.get_config()
  config.data.resolution = 128  # 4096 training pixels
  config.encoding.num_features = 16
  config.model.depth = 2
  config.model.width = 16
  return config


def test_a_fit_on_cpu_trains_in_chunks_of_2048_pixels():
  fit = train.build_fit(small_config())
  assert fit.config.train.chunk_size == 2048
  assert fit.batch['x'].shape == (2, 32, 2048)


def test_a_fit_on_an_accelerator_trains_in_one_chunk(monkeypatch):
  monkeypatch.setattr(guards, 'training_device',
                      lambda: FakeDevice('gpu', 80 * 2**30))
  fit = train.build_fit(small_config())
  assert fit.config.train.chunk_size == 0
  assert fit.batch['x'].shape == (1, 32, 4096)
  assert np.isfinite(fit.train(2)).all()


def test_a_group_records_the_chunk_size_it_trained_with(tmp_path):
  config = small_config()
  config.data.resolution = 16
  config.train.num_steps = 2
  config.train.eval_every_steps = 2
  summary = train.train_and_evaluate(config, tmp_path, progress=False)
  assert summary['chunk_size'] == 2048
  recorded = (tmp_path / 'config.json').read_text()
  assert '"chunk_size": -1' in recorded
  assert jax.default_backend() == 'cpu'


def test_a_cpu_takes_one_chunk_for_a_small_coupled_loss_that_keeps_its_activations():
  config, cpu = default.get_config(), FakeDevice('cpu')
  limit = backend.CPU_COUPLED_ONE_CHUNK_POINTS
  assert backend.chunk_size(config, 3, 128**2, 512, cpu, coupled=True) == 0
  assert backend.chunk_size(config, 1, limit, 512, cpu, coupled=True) == 0
  assert backend.chunk_size(config, 1, limit + 1, 512, cpu,
                            coupled=True) == backend.CPU_CHUNK_SIZE
  assert backend.chunk_size(config, 3, 128**2, 512, cpu,
                            coupled=False) == backend.CPU_CHUNK_SIZE
  # Activations that do not fit in a quarter of the memory: chunks.
  small = FakeDevice('cpu', bytes_limit=2**24)
  assert not backend.activations_fit(config, 3, 128**2, 512, small)
  assert backend.chunk_size(config, 3, 128**2, 512, small,
                            coupled=True) == backend.CPU_CHUNK_SIZE


def test_for_group_resolves_the_chunk_and_the_gradient_memory_together():
  config, cpu = default.get_config(), FakeDevice('cpu')
  coupled = ct.ProjectionLoss(128, 20)
  resolved, objective = backend.for_group(config, coupled, 3, 128**2, 512, cpu)
  assert resolved.train.chunk_size == 0 and objective.keep_activations
  assert config.train.chunk_size == backend.AUTO  # the original untouched
  small = FakeDevice('cpu', bytes_limit=2**24)
  resolved, objective = backend.for_group(config, coupled, 3, 128**2, 512,
                                          small)
  assert resolved.train.chunk_size == backend.CPU_CHUNK_SIZE
  assert not objective.keep_activations
  pointwise = task_base.SQUARED_ERROR
  resolved, objective = backend.for_group(config, pointwise, 3, 128**2, 512,
                                          cpu)
  assert resolved.train.chunk_size == backend.CPU_CHUNK_SIZE
  assert objective is pointwise


def test_predictions_on_a_cpu_stay_chunked_when_training_takes_one_chunk():
  cpu, gpu = FakeDevice('cpu'), FakeDevice('gpu', 2**40)
  assert backend.predict_chunk_size(0, cpu) == backend.CPU_CHUNK_SIZE
  assert backend.predict_chunk_size(512, cpu) == 512
  assert backend.predict_chunk_size(0, gpu) == 0
  assert backend.predict_chunk_size(8192, gpu) == 8192


def test_a_ct_fit_on_cpu_trains_in_one_chunk():
  config = small_config()
  config.task.name, config.data.image = 'ct', 'shepp:0'
  config.data.resolution = 32
  fit = train.build_fit(config)
  assert fit.config.train.chunk_size == 0
  assert fit.batch['x'].shape == (1, 32, 32 * 32)
  assert fit.task.objective.keep_activations
  assert np.isfinite(fit.train(2)).all()
  assert fit.predict(fit.task.train_coords).shape == (32 * 32, 1)
