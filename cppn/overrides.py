"""Dotted config overrides, and the rule that a field set must be read.

Fields are set in two places besides a config file: on the command line
(`--config.encoding.sigma=4`) and by a sweep's members
(`{'encoding.sigma': 4}`). A field the chosen encoding, model or task does
not read would be silently ignored, so setting one is an error that names
the fields it does read (`encodings.reads`, `models.reads`, `tasks.reads`).
A field that no longer exists under its old name gets an error naming its
successors (RENAMED).

  flatten          {'a': {'b': 1}} -> {'a.b': 1}
  apply_overrides  a copy of a config with dotted overrides set
  unread_fields    the dotted fields of a set that a config does not read
  check_read       raises CppnError for the first unread field
  renamed_message  the one-line message for a field's old name, or None
"""

import copy
from typing import Any, Iterable, Mapping

import ml_collections

from cppn import encodings
from cppn import models
from cppn.errors import CppnError

# Old dotted names -> what replaced them.
RENAMED = {
    'encoding.scale': (
        'encoding.sigma (gaussian, uniform, laplacian), encoding.sigma_p '
        '(positional, log_linear spacing), encoding.max_freq (uniform_log) '
        'or encoding.variance (seed_gaussian)'),
}


def flatten(tree: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
  """{'a': {'b': 1}} -> {'a.b': 1}."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, Mapping):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = value
  return flat


def renamed_message(field: str) -> str | None:
  """'FIELD is no longer a field; use ...' for a renamed field, else None."""
  if field not in RENAMED:
    return None
  return f'{field} is no longer a field; use {RENAMED[field]}'


def apply_overrides(config: ml_collections.ConfigDict,
                    dotted: Mapping[str, Any],
                    source: str = 'override') -> ml_collections.ConfigDict:
  """A copy of `config` with dotted overrides {'encoding.sigma': 4} set.

  `source` names the overrides in errors ('sweep override', ...).

  Raises:
    CppnError: a field the config lacks (or an old name), or a value of the
      wrong type.
  """
  config = copy.deepcopy(config)
  was_locked = config.is_locked
  config.lock()  # an unknown field is an error, never a new field
  for key, value in dotted.items():
    try:
      config.update_from_flattened_dict({key: value})
    except KeyError as e:
      reason = renamed_message(key) or f'the config has no field {key}'
      raise CppnError(f'{source} {key}={value!r}: {reason}') from e
    except TypeError as e:
      raise CppnError(f'{source} {key}={value!r}: {e}') from e
  if not was_locked:
    config.unlock()
  return config


def _block_reads(config: ml_collections.ConfigDict) -> dict[str, tuple]:
  """Per checked block, the fields the config's choice there reads."""
  # cppn.tasks writes outputs (cppn/outputs.py), which imports this module.
  from cppn import tasks  # pylint: disable=g-import-not-at-top
  reads = {'encoding': encodings.reads(config.encoding),
           'model': models.reads(config.model)}
  if 'task' in config:
    reads['task'] = tasks.reads(config.task)
  return reads


def _chosen(config: ml_collections.ConfigDict, block: str) -> str:
  """The block's choice in words: 'encoding positional (spacing log_linear)'."""
  if block == 'encoding' and config.encoding.name == 'positional':
    return f'encoding positional (spacing {config.encoding.spacing})'
  return f'{block} {config[block].name}'


def unread_fields(config: ml_collections.ConfigDict,
                  fields: Iterable[str]) -> list[str]:
  """The dotted `fields` (encoding.*, model.*, task.*) the config's choices
  ignore."""
  reads = _block_reads(config)
  unread = []
  for field in fields:
    block, _, name = field.partition('.')
    if block in reads and name not in reads[block]:
      unread.append(field)
  return unread


def check_read(config: ml_collections.ConfigDict, fields: Iterable[str],
               source: str):
  """Raises CppnError if the config's encoding, model or task ignores a field
  set.

  Args:
    config: the resolved config.
    fields: dotted fields that were set explicitly.
    source: where they were set, for the message ('--config.', 'sweep
      member NAME: ').
  """
  unread = unread_fields(config, fields)
  if not unread:
    return
  field = unread[0]
  block = field.split('.')[0]
  reads = ', '.join(f'{block}.{name}' for name in _block_reads(config)[block])
  raise CppnError(f'{source}{field} is not read by the '
                  f'{_chosen(config, block)}, which reads {reads}')
