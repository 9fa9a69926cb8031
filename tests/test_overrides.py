"""Tests for cppn.overrides: every field set is read, old names say the new."""

import pytest

from cppn import overrides
from cppn.errors import CppnError
import configs.default


def config_with(**dotted):
  return overrides.apply_overrides(configs.default.get_config(), {
      key.replace('__', '.'): value for key, value in dotted.items()})


def test_flatten():
  assert overrides.flatten({'a': {'b': 1, 'c': {'d': 2}}, 'e': 3}) == {
      'a.b': 1, 'a.c.d': 2, 'e': 3}


def test_apply_overrides_copies_and_sets():
  base = configs.default.get_config()
  changed = overrides.apply_overrides(base, {'encoding.sigma': 4.0, 'seed': 3})
  assert changed.encoding.sigma == 4.0 and changed.seed == 3
  assert base.encoding.sigma == 10.0 and base.seed == 0


@pytest.mark.parametrize('key,value,pattern', [
    ('encoding.sigmaa', 1.0, 'the config has no field encoding.sigmaa'),
    ('encoding.scale', 3.0, 'encoding.scale is no longer a field; use '
     r'encoding.sigma .*encoding.sigma_p .*encoding.max_freq .*'
     'encoding.variance'),
    ('train.num_steps', 2.5, 'train.num_steps'),
])
def test_apply_overrides_refuses_bad_fields(key, value, pattern):
  with pytest.raises(CppnError, match=pattern):
    overrides.apply_overrides(configs.default.get_config(), {key: value})


@pytest.mark.parametrize('dotted,field', [
    ({'encoding__name': 'positional'}, 'encoding.num_freqs'),
    ({'encoding__name': 'positional'}, 'encoding.sigma'),
    ({'encoding__name': 'positional', 'encoding__spacing': 'octave'},
     'encoding.sigma_p'),
    ({'encoding__name': 'gaussian'}, 'encoding.sigma_p'),
    ({'encoding__name': 'gaussian'}, 'encoding.spacing'),
    ({'encoding__name': 'none'}, 'encoding.seed'),
    ({'encoding__name': 'uniform_log'}, 'encoding.sigma'),
    ({'encoding__name': 'linear_sin'}, 'encoding.num_features'),
    ({'model__name': 'pyramid'}, 'model.width'),
    ({'model__name': 'pyramid'}, 'model.activation'),
])
def test_unread_fields_are_found(dotted, field):
  config = config_with(**dotted)
  assert overrides.unread_fields(config, [field]) == [field]
  with pytest.raises(CppnError, match=rf'--config.{field} is not read by the '):
    overrides.check_read(config, [field], '--config.')


@pytest.mark.parametrize('dotted,field', [
    ({'encoding__name': 'positional', 'encoding__spacing': 'octave'},
     'encoding.num_freqs'),
    ({'encoding__name': 'positional'}, 'encoding.sigma_p'),
    ({'encoding__name': 'gaussian'}, 'encoding.sigma'),
    ({'encoding__name': 'laplacian'}, 'encoding.seed'),
    ({'encoding__name': 'uniform_log'}, 'encoding.max_freq'),
    ({'encoding__name': 'seed_gaussian'}, 'encoding.variance'),
    ({'encoding__name': 'linear_sin'}, 'encoding.num_freqs'),
    ({'model__name': 'mlp'}, 'model.width'),
    ({'model__name': 'pyramid'}, 'model.matmul_precision'),
    ({}, 'train.learning_rate'),
    ({}, 'data.resolution'),
    ({}, 'seed'),
])
def test_read_fields_pass(dotted, field):
  config = config_with(**dotted)
  assert overrides.unread_fields(config, [field]) == []
  overrides.check_read(config, [field], '--config.')


def test_the_message_names_what_the_choice_reads():
  config = config_with(encoding__name='positional')
  with pytest.raises(CppnError) as info:
    overrides.check_read(config, ['encoding.num_freqs'], '--config.')
  assert str(info.value) == (
      '--config.encoding.num_freqs is not read by the encoding positional '
      '(spacing log_linear), which reads encoding.name, encoding.spacing, '
      'encoding.sigma_p, encoding.num_features, encoding.normalize')
