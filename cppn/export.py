r"""A fitted network as one compact file: export, load, render, measure.

A run's workdir holds config.json, encoding.npz and orbax checkpoints
(cppn.train). `export` turns its newest checkpoint into one self-contained
file that rebuilds the network without the workdir:

  b'CPPN' + format version (1 byte) + brotli(body)   (version 2; version 1,
                                                     zlib(body), still reads)
  body   = header length (uint32, little endian) + header (JSON, UTF-8)
           + every array's raw bytes (C order, little endian) in header order
  header = {"model": the run's model config block, "encoding": its name,
            "precision": fp32 | fp16 | bf16 | int8, "resolution": training N,
            "step": checkpoint step, "task": the run's task.name,
            "dim": d, its coordinates' axes, "out_dim": C, outputs per point,
            "arrays": [[name, dtype, shape], ...]}
           (resolution, step and task are for provenance; a file without
           dim and out_dim is an image's: 2 and 3)
  arrays = values/<layer>/<kernel|bias> (weights at the precision),
           scales/<layer>/<kernel|bias> (int8 only: one float32 per leaf),
           encoding/<b|a|k|pixels_per_unit> (float32, as the run drew them)

The size reported for a file is its size on disk, header and all. Brotli
(quality 11) codes the body: on the rate-distortion grid's files it is
smaller than zlib (level 9) by the amounts docs/codec.md lists; lzma and
zstd were measured beside it and do no better.

  python -m cppn.export --workdir=runs/demo --precision=int8 \
      --output=demo.cppn

prints the file size, bits per pixel (per grid point: voxel, sample) and
the PSNR of the exported network rendered at the training resolution against
the run's target (all grid points).
A bad flag prints one line and exits 2, bad input (no finished run, a
folder that does not exist) one line and exit 1 (cppn/cli.py).
"""

import functools
import json
import pathlib
import struct
import zlib

import brotli
from typing import Any, NamedTuple

from absl import flags
from flax import traverse_util
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from cppn import checkpoints
from cppn import cli
from cppn import data
from cppn import metrics
from cppn import models
from cppn import outputs
from cppn import quantize
from cppn import steps
from cppn import tasks
from cppn import train
from cppn.errors import CppnError

MAGIC = b'CPPN'
FORMAT_VERSION = 2  # brotli; 1 was zlib
BODY_CODERS = {1: (zlib.decompress, zlib.error),
               2: (brotli.decompress, brotli.error)}  # version -> decoder
DTYPES = {np.dtype(t).name: np.dtype(t) for t in (
    np.float32, np.float16, jnp.bfloat16, np.int8)}
DEFAULT_CHUNK_SIZE = 16384  # pixels per rendering chunk


class Exported(NamedTuple):
  """A network loaded from an exported file, ready to render."""
  model_config: ml_collections.ConfigDict  # the run's `model` block
  encoding_name: str
  params: Any  # float32 Flax params (dequantised)
  encoding_params: dict[str, jax.Array]
  dim: int = 2  # d, axes of the coordinates
  out_dim: int = 3  # C, outputs per point


def load_state(workdir) -> tuple[ml_collections.ConfigDict, steps.TrainState,
                                 dict[str, jax.Array]]:
  """A run's config, the TrainState of its newest checkpoint and its encoding.

  Raises:
    CppnError: the workdir lacks config.json, encoding.npz or a checkpoint.
  """
  workdir = pathlib.Path(workdir)
  recorded = outputs.read_json(workdir / 'config.json')
  if recorded is None:
    raise CppnError(f'{workdir} holds no run: config.json is missing')
  if not (workdir / 'encoding.npz').is_file():
    raise CppnError(f'{workdir} holds no encoding.npz; the run never started')
  if not (workdir / 'checkpoints').is_dir():
    raise CppnError(f'{workdir} holds no checkpoint; train the run first')
  config = ml_collections.ConfigDict(recorded)
  with np.load(workdir / 'encoding.npz') as arrays:
    encoding_params = {k: jnp.asarray(arrays[k]) for k in arrays.files}
  model = train.make_model(config)
  state = train.initial_state(config, model)
  manager = checkpoints.checkpoint_manager(workdir)
  if manager.latest_step() is None:
    raise CppnError(f'{workdir} holds no checkpoint; train the run first')
  return config, checkpoints.restore_latest(manager, state), encoding_params


def load_run(workdir):
  """(config, float32 params, encoding params) of a run's newest checkpoint."""
  config, state, encoding_params = load_state(workdir)
  return config, state.params, encoding_params


@functools.partial(jax.jit, static_argnames='precision')
def _quantize_and_restore(params, precision: str):
  """quantize(params)'s stored pytree and its dequantised float32 params."""
  stored, _ = quantize.quantize(params, precision)
  return stored, quantize.dequantize(stored, precision)


def save_model(path, config: ml_collections.ConfigDict, params,
               encoding_params, precision: str, step: int) -> dict[str, int]:
  """Writes a network at `precision` as one file (layout: module docstring).

  Returns:
    {'file_bytes': size on disk, 'weight_bytes': raw bytes of the stored
    weights and scales, 'encoding_bytes': raw bytes of the encoding}.
  """
  stored, restored = jax.device_get(_quantize_and_restore(params, precision))
  flat_params = traverse_util.flatten_dict(jax.device_get(params), sep='/')
  restored = traverse_util.flatten_dict(restored, sep='/')
  for name, leaf in restored.items():
    if not np.all(np.isfinite(leaf)):
      raise CppnError(f'{precision} cannot hold {name}: its largest |weight| '
                      f'is {np.abs(flat_params[name]).max():.4g}; choose '
                      'another precision')
  arrays = {f'{kind}/{name}': np.asarray(leaf)
            for kind, tree in stored.items()
            for name, leaf in traverse_util.flatten_dict(tree, sep='/').items()}
  arrays.update({f'encoding/{k}': np.asarray(v, np.float32)
                 for k, v in encoding_params.items()})
  header = json.dumps({
      'model': config.model.to_dict(), 'encoding': config.encoding.name,
      'precision': precision, 'resolution': config.data.resolution,
      'step': int(step), 'task': tasks.task_config(config).name,
      'dim': tasks.dim(config), 'out_dim': tasks.out_dim(config),
      'arrays': [[n, a.dtype.name, list(a.shape)] for n, a in arrays.items()],
  }, separators=(',', ':')).encode()
  body = b''.join([struct.pack('<I', len(header)), header]
                  + [a.astype(a.dtype.newbyteorder('<')).tobytes()
                     for a in arrays.values()])
  path = pathlib.Path(path)
  if not path.parent.is_dir():
    raise CppnError(f'cannot write {path}: folder {path.parent} does not exist')
  with outputs.atomic_open(path, 'wb') as f:
    f.write(MAGIC + bytes([FORMAT_VERSION]) + brotli.compress(body,
                                                              quality=11))
  return {'file_bytes': path.stat().st_size,
          'weight_bytes': quantize.stored_bytes(stored),
          'encoding_bytes': int(sum(a.nbytes for n, a in arrays.items()
                                    if n.startswith('encoding/')))}


def export(workdir, path, precision: str) -> dict[str, Any]:
  """Exports a run's newest checkpoint at `precision` to the file `path`.

  Returns:
    save_model's byte counts plus 'precision', 'step', 'num_params'.
  """
  quantize.validate_precision(precision)
  config, state, encoding_params = load_state(workdir)
  report = save_model(path, config, state.params, encoding_params, precision,
                      int(state.step))
  return {'precision': precision, 'step': int(state.step),
          'num_params': models.count_params(state.params), **report}


def file_body(path) -> bytes:
  """The decoded body of an exported file (layout: module docstring)."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise CppnError(f'model file not found: {path}')
  blob = path.read_bytes()
  if blob[:len(MAGIC)] != MAGIC:
    raise CppnError(f'{path} is not a model file written by cppn.export')
  version = blob[len(MAGIC)] if len(blob) > len(MAGIC) else None
  if version not in BODY_CODERS:
    raise CppnError(f'{path} has format version {version}; this cppn reads '
                    'versions ' + ', '.join(map(str, BODY_CODERS)))
  decode, error = BODY_CODERS[version]
  try:
    return decode(blob[len(MAGIC) + 1:])
  except error as e:
    raise CppnError(f'{path} is truncated or corrupt: {e}') from e


def _read_arrays(path: pathlib.Path) -> tuple[dict[str, Any],
                                             dict[str, np.ndarray]]:
  """(header, {name: array}) of an exported file."""
  body = file_body(path)
  header_length, = struct.unpack_from('<I', body)
  header = json.loads(body[4:4 + header_length])
  arrays, offset = {}, 4 + header_length
  for name, dtype, shape in header['arrays']:
    count = int(np.prod(shape))
    arrays[name] = np.frombuffer(body, DTYPES[dtype].newbyteorder('<'), count,
                                 offset).reshape(shape)
    offset += count * DTYPES[dtype].itemsize
  return header, arrays


_dequantize = jax.jit(quantize.dequantize, static_argnames='precision')


def load_exported(path) -> Exported:
  """(model_config, encoding_name, float32 params, encoding_params) of a file."""
  header, arrays = _read_arrays(pathlib.Path(path))
  groups = {}
  for name, array in arrays.items():
    kind, leaf = name.split('/', 1)
    groups.setdefault(kind, {})[leaf] = jnp.asarray(array)
  stored = {kind: traverse_util.unflatten_dict(groups[kind], sep='/')
            for kind in ('values', 'scales') if kind in groups}
  return Exported(ml_collections.ConfigDict(header['model']),
                  header['encoding'],
                  _dequantize(stored, header['precision']),
                  groups.get('encoding', {}), header.get('dim', 2),
                  header.get('out_dim', 3))


def render_chunk_size(train_chunk_size: int) -> int:
  """Pixels per rendering chunk for a run's train.chunk_size: the same
  when it is a number of pixels (> 0), else DEFAULT_CHUNK_SIZE."""
  return train_chunk_size if train_chunk_size > 0 else DEFAULT_CHUNK_SIZE


@functools.lru_cache(maxsize=32)
def _predict_fn(model_json: str, out_dim: int, encoding_name: str,
                chunk_size: int):
  """steps.make_predict_fn for a model config (as JSON), kept compiled."""
  model = models.make_model(ml_collections.ConfigDict(json.loads(model_json)),
                            out_dim)
  return steps.make_predict_fn(model.apply, encoding_name, chunk_size)


def render(exported: Exported, resolution: int,
           chunk_size: int = DEFAULT_CHUNK_SIZE) -> np.ndarray:
  """The network on the N^d grid of data.coordinate_grid: -> (N,) * d + (C,)
  float32 ((N, N, 3) for an image).

  Values are in (0, 1) for the mlp (sigmoid output). Rendered `chunk_size`
  points at a time, so memory beyond the coordinates and the output does
  not grow with N^d.
  """
  if not isinstance(resolution, (int, np.integer)) or resolution < 1:
    raise CppnError(f'resolution must be an integer >= 1, got {resolution}')
  if chunk_size < 1:
    raise CppnError(f'chunk_size must be >= 1, got {chunk_size}')
  predict = _predict_fn(json.dumps(exported.model_config.to_dict(),
                                   sort_keys=True), exported.out_dim,
                        exported.encoding_name, chunk_size)
  grid = data.coordinate_grid(resolution, exported.dim)
  values = predict(exported.params, exported.encoding_params,
                   grid.reshape(-1, exported.dim))
  return np.asarray(values).reshape(*grid.shape[:-1], exported.out_dim)


def psnr(image, target) -> float:
  """PSNR in dB of a signal against a target of the same shape, in [0, 1]."""
  return float(metrics.psnr_from_mse(metrics.mse(
      jnp.asarray(image, jnp.float32), jnp.asarray(target, jnp.float32))))


def define_flags(flag_values: flags.FlagValues):
  """--workdir, --precision and --output."""
  flags.DEFINE_string('workdir', None, 'A run of cppn.main.',
                      flag_values=flag_values)
  flags.DEFINE_enum('precision', 'fp32', quantize.PRECISIONS,
                    'Precision of the stored weights.', flag_values=flag_values)
  flags.DEFINE_string('output', None, 'The file to write.',
                      flag_values=flag_values)
  flags.mark_flags_as_required(['workdir', 'output'], flag_values=flag_values)


def main(flag_values: flags.FlagValues):
  """Exports the run, renders the file at the training resolution, prints
  its size and PSNR against the run's target."""
  workdir, output = flag_values.workdir, flag_values.output
  report = export(workdir, output, flag_values.precision)
  config = ml_collections.ConfigDict(
      outputs.read_json(pathlib.Path(workdir) / 'config.json'))
  target = tasks.make_task(config).target
  resolution = target.shape[0]
  rendered = render(load_exported(output), resolution,
                    render_chunk_size(config.train.chunk_size))
  print(f'wrote {output} ({flag_values.precision}, step {report["step"]})')
  print(f'file size: {report["file_bytes"]} bytes = '
        f'{8 * report["file_bytes"] / target[..., 0].size:.4f} bits per '
        f'pixel at {" x ".join(map(str, target.shape[:-1]))}')
  print(f'raw weights: {report["weight_bytes"]} bytes '
        f'({report["num_params"]} parameters); encoding: '
        f'{report["encoding_bytes"]} bytes')
  print(f'PSNR at {" x ".join(map(str, target.shape[:-1]))} vs '
        f'{config.data.image}: {psnr(np.clip(rendered, 0, 1), target):.4f} dB')


COMMAND = cli.Command(define_flags, main)

if __name__ == '__main__':
  cli.run(COMMAND)
