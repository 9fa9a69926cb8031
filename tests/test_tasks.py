"""Tests for cppn/tasks and cppn/phantoms: operators, phantoms, masks, fits.

Each operator is checked against a NumPy implementation of the paper's
formula written here, and its gradient through the adjoint identity
<A x, y> = <x, A^T y> with A^T from jax.vjp.
"""

import dataclasses
import functools
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import phantominator
import pytest
import scipy.io.wavfile

from cppn import backend
from cppn import encodings
from cppn import export
from cppn import models
from cppn import overrides
from cppn import phantoms
from cppn import steps
from cppn import train
from cppn.errors import CppnError
from cppn.tasks import ct
from cppn.tasks import mri
import configs.test


def numpy_projections(image: np.ndarray, num_angles: int) -> np.ndarray:
  """The CT notebook's operator in NumPy (float64 geometry): per angle, the
  image rotated about pixel (N/2, N/2) by nearest neighbour, row means."""
  n = image.shape[0]
  out = np.zeros((num_angles, n))
  for k in range(num_angles):
    theta = k * np.pi / num_angles
    for i in range(n):
      for j in range(n):
        y, x = i / n - 0.5, j / n - 0.5
        row = (x * np.sin(theta) + y * np.cos(theta) + 0.5) * n
        col = (x * np.cos(theta) - y * np.sin(theta) + 0.5) * n
        r, c = int(np.floor(row + 0.5)), int(np.floor(col + 0.5))
        if 0 <= r < n and 0 <= c < n:
          out[k, j] += image[r, c] / n
  return out


def test_ct_projection_matches_numpy():
  image = np.random.default_rng(0).uniform(size=(12, 12)).astype(np.float32)
  got = np.asarray(ct.project(jnp.asarray(image), 5))
  want = numpy_projections(image.astype(np.float64), 5)
  # float32 against float64 geometry: a pixel centre on a rounding tie may
  # read its neighbour; all but a few of the 60 values agree exactly.
  close = np.isclose(got, want, atol=1e-5)
  assert close.mean() > 0.9
  np.testing.assert_allclose(got, want, atol=0.2)
  # Angle 0 is the identity rotation: the column means.
  np.testing.assert_allclose(got[0], image.mean(axis=0), atol=1e-6)


def test_ct_projection_and_its_gradient_match_map_coordinates():
  # The same rotations through jax.scipy.ndimage.map_coordinates, run op by
  # op on ct.rotation_coordinates, differentiated by JAX (a scatter-add).
  def rotate_and_average(image, num_angles):
    coordinates = ct.rotation_coordinates(image.shape[0], num_angles)
    views = [jax.scipy.ndimage.map_coordinates(
        image, [rows, cols], order=0, mode='constant', cval=0.0)
             for rows, cols in coordinates]
    return jnp.mean(jnp.stack(views), axis=1)

  rng = np.random.default_rng(2)
  for n, num_angles in ((16, 3), (48, 20), (101, 7)):
    image = jnp.asarray(rng.uniform(size=(n, n)), jnp.float32)
    cotangent = jnp.asarray(rng.normal(size=(num_angles, n)), jnp.float32)
    want, pull_back = jax.vjp(lambda v: rotate_and_average(v, num_angles),
                              image)
    got, our_pull_back = jax.vjp(lambda v: ct.project(v, num_angles), image)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(our_pull_back(cotangent)[0],
                               pull_back(cotangent)[0], rtol=1e-5, atol=1e-6)


def test_ct_and_mri_operators_satisfy_the_adjoint_identity():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(10, 10)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(7, 10)), jnp.float32)
  sides = jax.jit(lambda x, y: (
      jnp.sum(ct.project(x, 7) * y),
      jnp.sum(x * jax.vjp(lambda v: ct.project(v, 7), x)[1](y)[0])))
  np.testing.assert_allclose(*sides(x, y), rtol=1e-4)
  # The masked FFT as a real linear map to (real, imaginary) parts.
  mask = jnp.asarray(rng.uniform(size=(4, 4, 4)) < 0.5, jnp.float32)
  forward = lambda v: jnp.stack([jnp.real(mask * jnp.fft.fftn(v)),
                                 jnp.imag(mask * jnp.fft.fftn(v))])
  v = jnp.asarray(rng.normal(size=(4, 4, 4)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(2, 4, 4, 4)), jnp.float32)
  av, pull_back = jax.vjp(forward, v)
  np.testing.assert_allclose(float(jnp.sum(av * w)),
                             float(jnp.sum(v * pull_back(w)[0])), rtol=1e-4)


def test_kspace_loss_matches_numpy():
  rng = np.random.default_rng(2)
  n = 6
  pred, target = rng.uniform(size=(2, n, n, n))
  mask = (rng.uniform(size=(n, n, n)) < 0.3).astype(np.float32)
  want = 0.5 * np.mean(np.abs(mask * (np.fft.fftn(pred)
                                      - np.fft.fftn(target))) ** 2)
  batch = {'mask': jnp.asarray(mask), 'kspace': jnp.asarray(
      mask * np.fft.fftn(target), jnp.complex64)}
  padded = jnp.asarray(np.concatenate([pred.reshape(-1, 1), [[9.0]]]),
                       jnp.float32)  # one row of chunk padding, ignored
  got = float(mri.KSpaceLoss(n).loss(padded, batch))
  np.testing.assert_allclose(got, want, rtol=1e-4)


def test_paper_mask_samples_an_eighth_of_kspace():
  mask = mri.kspace_mask(96, 200_000 / 96**3, np.sqrt(192) / 96)
  assert abs(mask.mean() - 0.1256) < 0.002  # the paper printed 0.12561
  assert mask[0, 0, 0] == 1 and set(np.unique(mask)) == {0, 1}


def test_phantoms_are_phantominators():
  np.testing.assert_allclose(
      phantoms.shepp_logan(2, 24, 3, 0.0),
      np.clip(phantominator.ct_shepp_logan(24), 0, 1), atol=1e-7)
  params = phantoms.perturbed_params(2, 3, 0.05)
  noise = params - phantominator.ct_modified_shepp_logan_params_2d()
  assert noise.shape == (10, 6) and 0.03 < noise.std() < 0.07
  np.testing.assert_allclose(
      phantoms.shepp_logan(2, 24, 3, 0.05),
      np.clip(phantominator.ct_shepp_logan(24, E=params), 0, 1), atol=1e-7)
  volume = phantoms.shepp_logan(3, 8, 0, 0.05)
  assert volume.shape == (8, 8, 8) and 0 <= volume.min() < volume.max() <= 1
  assert not np.array_equal(phantoms.shepp_logan(2, 24, 4, 0.05),
                            phantoms.shepp_logan(2, 24, 3, 0.05))


def test_phantom_k_is_the_notebooks_kth_draw():
  # The notebooks draw sample after sample from one chain of splits of
  # PRNGKey(10), each sample's noise from the fresh subkey.
  chain = jax.random.split(jax.random.PRNGKey(10))
  draws = []
  for _ in range(3):
    draws.append(np.asarray(jax.random.normal(chain[1], (10, 8))))
    chain = jax.random.split(chain[0])
  base = phantominator.ct_modified_shepp_logan_params_3d()
  for k, draw in enumerate(draws):
    np.testing.assert_allclose(phantoms.perturbed_params(3, k, 0.05),
                               base + draw / 20, rtol=1e-6, atol=1e-7)


def encoding_config(name, **fields):
  config = configs.test.get_config().encoding
  config.name = name
  config.update(fields)
  return config


def test_encodings_in_1d_and_3d_match_numpy():
  rng = np.random.default_rng(3)
  v3 = rng.uniform(size=(5, 3))
  params = encodings.init_encoding(
      encoding_config('positional', sigma_p=4.0, num_features=256), 8, 3)
  freqs = 2.0 ** np.linspace(0, 4, 85) - 1
  b = np.concatenate([np.outer(freqs, e) for e in np.eye(3)])
  assert params['b'].shape == (255, 3)
  phase = 2 * np.pi * v3 @ b.T
  np.testing.assert_allclose(
      encodings.encode('positional', params, jnp.asarray(v3, jnp.float32)),
      np.concatenate([np.sin(phase), np.cos(phase)], -1), atol=2e-4)
  basic = encodings.init_encoding(encoding_config('basic'), 8, 3)
  np.testing.assert_allclose(
      encodings.encode('basic', basic, jnp.asarray(v3, jnp.float32)),
      np.concatenate([np.sin(2 * np.pi * v3), np.cos(2 * np.pi * v3)], -1),
      atol=1e-5)
  v1 = rng.uniform(size=(6, 1))
  gauss = encodings.init_encoding(
      encoding_config('gaussian', sigma=3.0, num_features=4), 8, 1)
  phase = 2 * np.pi * v1 @ np.asarray(gauss['b'], np.float64).T
  np.testing.assert_allclose(
      encodings.encode('gaussian', gauss, jnp.asarray(v1, jnp.float32)),
      np.concatenate([np.sin(phase), np.cos(phase)], -1), atol=1e-5)
  assert encodings.width(encoding_config('none'), 3) == 3


def test_coupled_gradient_in_chunks_equals_one_chunk():
  rng = np.random.default_rng(4)
  n, objective = 8, ct.ProjectionLoss(8, 4)
  model = train.make_model(tiny('ct'))
  state = steps.create_train_state(model, 2, 1e-3, jax.random.PRNGKey(0))
  coords = ct.data.coordinate_grid(n).reshape(-1, 2)
  observations = {'projections': jnp.asarray(rng.uniform(size=(4, n)),
                                             jnp.float32)}
  loss_and_grad = jax.jit(functools.partial(
      steps.loss_and_grad, apply_fn=state.apply_fn, objective=objective))
  batch = lambda chunk: dict(jax.tree_util.tree_map(
      jnp.asarray, steps.prepare_batch(coords, None, chunk)), **observations)
  loss_one, grads_one = loss_and_grad(state.params, batch=batch(0))
  # Chunks of 24 points, activations recomputed or kept.
  for keep in (False, True):
    loss_chunked, grads_chunked = jax.jit(functools.partial(
        steps.loss_and_grad, apply_fn=state.apply_fn,
        objective=dataclasses.replace(objective, keep_activations=keep)))(
            state.params, batch=batch(24))
    np.testing.assert_allclose(loss_chunked, loss_one, rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(grads_one),
                    jax.tree_util.tree_leaves(grads_chunked)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


class MemoryDevice:
  """A stand-in device with `gib` GiB of memory."""
  platform = 'gpu'
  device_kind = 'stand-in'

  def __init__(self, gib):
    self.gib = gib

  def memory_stats(self):
    return {'bytes_limit': int(self.gib * 2**30)}


def test_a_coupled_loss_keeps_activations_when_a_quarter_of_memory_holds_them():
  # CT at 512 px: 262,144 points x (512 features + 4 x 4 x 256 values) x 4 B
  # in one chunk, plus the training set: 4.55 GiB (guards' estimate).
  config = tiny('ct', data__resolution=512)
  config.model.depth, config.model.width = 4, 256
  objective = ct.ProjectionLoss(512, 20)
  keeps = lambda gib: backend.with_gradient_memory(
      objective, config, 1, 512**2, 512, MemoryDevice(gib)).keep_activations
  needed = 4 * (512**2 * (512 + 3 + 6) + 512**2 * (512 + 16 * 256)) / 2**30
  assert keeps(4 * needed + 0.01) and not keeps(4 * needed - 0.01)
  assert backend.with_gradient_memory(
      steps.task_base.SQUARED_ERROR, config, 1, 512**2, 512,
      MemoryDevice(1000)) is steps.task_base.SQUARED_ERROR


def tiny(task, **dotted):
  """configs/test.py set to a task, with dotted overrides ('__' for '.')."""
  config = configs.test.get_config()
  config.task.name = task
  config.data.image = {'ct': 'shepp:0', 'mri': 'shepp:0',
                       'signal1d': 'tones', 'image': 'astronaut'}[task]
  return overrides.apply_overrides(config, {
      k.replace('__', '.'): v for k, v in dotted.items()})


def first_and_last_psnr(workdir):
  rows = [json.loads(line) for line in
          (workdir / 'metrics.jsonl').read_text().splitlines()]
  return rows[0]['test_psnr'], rows[-1]['test_psnr']


def test_ct_fits_of_a_group_rise_and_write_their_pictures(tmp_path):
  configs_ = [tiny('ct', data__resolution=16, data__image=f'shepp:{k}',
                   train__num_steps=40) for k in (0, 1)]
  dirs = [tmp_path / 'a', tmp_path / 'b']
  results = train.train_group(configs_, dirs, progress=False)
  for workdir, result in zip(dirs, results):
    first, last = first_and_last_psnr(workdir)
    assert last > first + 2 and result['test_psnr'] == last
    for name in ('reconstruction.png', 'target.png', 'sinogram.png',
                 'error.png', 'progress.gif'):
      assert (workdir / name).stat().st_size > 0


def test_a_ct_fit_resumes_after_a_crash_as_if_uninterrupted(tmp_path):
  config = tiny('ct', data__resolution=16, train__num_steps=40,
                train__eval_every_steps=10)
  full = train.train_and_evaluate(config, tmp_path / 'full', progress=False)
  crashed = tmp_path / 'crashed'
  shutil.copytree(tmp_path / 'full', crashed)
  # A crash just after step 30: the step-40 checkpoint, frame and summary
  # never got written.
  (crashed / 'summary.json').unlink()
  shutil.rmtree(crashed / 'checkpoints' / '40')
  (crashed / 'frames' / 'step_00000040.png').unlink()
  resumed = train.train_and_evaluate(config, crashed, progress=False)
  assert resumed['resumed_from_step'] == 30
  assert resumed['test_psnr'] == pytest.approx(full['test_psnr'], abs=1e-4)


def test_mri_fit_rises_and_writes_its_pictures(tmp_path):
  result = train.train_and_evaluate(
      tiny('mri', data__resolution=12, train__chunk_size=512), tmp_path,
      progress=False)
  first, last = first_and_last_psnr(tmp_path)
  assert last > first + 2 and 0.05 < result['kspace_fraction'] < 0.5
  for name in ('slices.png', 'mask.png', 'progress.gif'):
    assert (tmp_path / name).stat().st_size > 0
  # Export and render: a 3D grid of one output, the fit's PSNR at 12^3.
  export.export(tmp_path, tmp_path / 'm.cppn', 'fp32')
  exported = export.load_exported(tmp_path / 'm.cppn')
  assert (exported.dim, exported.out_dim) == (3, 1)
  volume = export.render(exported, 12)
  assert volume.shape == (12, 12, 12, 1)
  target = mri.load_volume(tiny('mri', data__resolution=12), None)
  assert export.psnr(np.clip(volume[..., 0], 0, 1), target) == pytest.approx(
      last, abs=1e-3)
  assert export.render(exported, 5).shape == (5, 5, 5, 1)


def test_wav_fit_writes_a_wav(tmp_path):
  t = np.arange(400) / 400
  scipy.io.wavfile.write(tmp_path / 'in.wav', 8000, (
      0.5 * np.sin(2 * np.pi * 5 * t) * 32767).astype(np.int16))
  result = train.train_and_evaluate(
      tiny('signal1d', data__image=str(tmp_path / 'in.wav'),
           data__resolution=400), tmp_path / 'run', progress=False)
  first, last = first_and_last_psnr(tmp_path / 'run')
  assert last > first and result['task'] == 'signal1d'
  rate, fitted = scipy.io.wavfile.read(tmp_path / 'run' / 'fit.wav')
  assert rate == 8000 and fitted.shape == (400,)


@pytest.mark.parametrize('config,pattern', [
    (lambda p: tiny('ct', task__name='pet'), r"unknown task.name 'pet'"),
    (lambda p: tiny('mri', data__image=str(p / 'flat.npy')),
     r'shape \(4, 4\); expected a 3D volume'),
    (lambda p: tiny('signal1d', data__image=str(p / 'bad.wav')),
     r'cannot read WAV'),
    (lambda p: tiny('ct', task__num_angles=0), r'num_angles=0 is out of range'),
    (lambda p: tiny('mri', task__kspace_draws=0.0),
     r'kspace_draws=0.0 is out of range'),
    (lambda p: tiny('signal1d', encoding__name='linear_sin'),
     r"'linear_sin' acts on 2-D pixel indices and cannot take 1-D"),
    (lambda p: tiny('ct', train__batch_size=16), r'set train.batch_size=0'),
])
def test_bad_task_input_is_one_error_line(tmp_path, config, pattern):
  np.save(tmp_path / 'flat.npy', np.zeros((4, 4)))
  (tmp_path / 'bad.wav').write_bytes(b'not a wav')
  with pytest.raises(CppnError, match=pattern) as error:
    train.build_fit(config(tmp_path))
  assert '\n' not in str(error.value)


@pytest.mark.parametrize('task,encoding,grid', [
    ('ct', 'positional', True), ('mri', 'basic', True),
    ('ct', 'gaussian', False)])
def test_a_one_chunk_fit_factors_an_axis_aligned_encoding_on_its_grid(
    task, encoding, grid):
  config = tiny(task, data__resolution=8, encoding__name=encoding,
                encoding__spacing='log_linear', model__activation='softplus',
                train__chunk_size=backend.AUTO)
  fit = train.build_fit(config)
  assert fit.config.train.chunk_size == 0
  x = fit.batch['x']
  assert isinstance(x, models.GridFeatures) == grid
  if not grid:
    return
  dim = fit.task.dim
  assert [t.shape for t in x.tables] == [(encodings.width(
      config.encoding, dim), 8)] * dim
  # The same loss and gradient as the assembled (1, F, P) features.
  features = encodings.encode(encoding, fit.encoding_params,
                              jnp.asarray(fit.task.train_coords)).T[None]
  objective = fit.task.objective
  on_grid = steps.loss_and_grad(fit.state.params, fit.state.apply_fn,
                                fit.batch, None, objective)
  assembled = steps.loss_and_grad(fit.state.params, fit.state.apply_fn,
                                  dict(fit.batch, x=features), None, objective)
  for a, b in zip(jax.tree_util.tree_leaves(on_grid),
                  jax.tree_util.tree_leaves(assembled)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_positional_ct_fits_of_a_group_on_grid_features_rise(tmp_path):
  configs_ = [tiny('ct', data__resolution=16, data__image=f'shepp:{k}',
                   encoding__name='positional', train__chunk_size=0,
                   train__num_steps=40) for k in (0, 1)]
  dirs = [tmp_path / 'a', tmp_path / 'b']
  for workdir, result in zip(dirs, train.train_group(configs_, dirs,
                                                     progress=False)):
    first, last = first_and_last_psnr(workdir)
    assert last > first + 2 and result['test_psnr'] == last
