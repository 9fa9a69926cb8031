r"""An independent plain-JAX re-implementation of the paper's 2D image protocol.

This follows the training code of Tancik et al. 2020 ("Fourier Features Let
Networks Learn High Frequency Functions in Low Dimensional Domains") the way
the paper's notebooks wrote it: features precomputed once, a stax-style MLP
held as a list of (W, b), and a Python loop that calls a jitted gradient and
then a jitted Adam update on the full batch each step. It imports nothing from
`cppn` but the command-line convention (cppn.cli, cppn.errors), so it serves
two purposes:

  * a correctness check of cppn's trainer: at configs/test.py's settings the
    two reach the same test PSNR within 0.5 dB from their own random draws,
    and the same fit (within 0.01 dB, their evaluations within 0.001 dB)
    from cppn's frequencies and initial weights (tests/test_reference.py),
    and
  * the "reference loop" speed baseline of the benchmark.

Protocol: an image y of shape (N, N, 3) in [0, 1] on the grid
linspace(0, 1, N + 1)[:-1]^2; train on the even pixels y[::2, ::2], test on
the odd pixels y[1::2, 1::2].

Usage (prints one JSON line):

  python -m experiments.reference --image astronaut --resolution 256 \
      --encoding gaussian --scale 5 --num_features 128 --width 128 \
      --depth 4 --lr 1e-3 --steps 300 --seed 0
"""

import json
import os
import time

from absl import flags
import imageio.v3 as iio
import jax
import jax.numpy as jnp
import numpy as np
import optax
from PIL import Image
import skimage.data

from cppn import cli
from cppn.errors import CppnError

ENCODINGS = ('none', 'basic', 'positional', 'gaussian')


def frequency_matrix(name, key, scale, num_features):
  """Returns the frequency matrix B of a Fourier-feature encoding.

  Args:
    name: 'basic', 'positional' or 'gaussian'.
    key: PRNG key; used by 'gaussian' only.
    scale: sigma_p (log2 of the top positional frequency) for 'positional',
      sigma (standard deviation of the frequencies) for 'gaussian'; unused by
      'basic'.
    num_features: m, the number of frequency rows for 'positional' (even) and
      'gaussian'; unused by 'basic'.

  Returns:
    B: (m, 2) float32, rows are frequency vectors in cycles per unit length.
  """
  if name == 'basic':
    return jnp.eye(2)
  if name == 'positional':
    if num_features % 2:
      raise ValueError(
          f'positional encoding needs an even num_features, got {num_features}')
    b = 2.0**jnp.linspace(0.0, scale, num_features // 2) - 1.0
    zeros = jnp.zeros_like(b)
    return jnp.concatenate(
        [jnp.stack([b, zeros], -1), jnp.stack([zeros, b], -1)], 0)
  if name == 'gaussian':
    return scale * jax.random.normal(key, (num_features, 2))
  raise ValueError(f'unknown Fourier encoding {name!r}; '
                   f'choose one of basic, positional, gaussian')


def encode(coords, name, key, scale, num_features):
  """Maps coordinates to input features.

  Args:
    coords: (..., 2) float coordinates v in [0, 1).
    name: one of ENCODINGS. 'none' returns v itself; the others return
      gamma(v) = [sin(2 pi v B^T), cos(2 pi v B^T)] (amplitudes a = 1) with B
      from `frequency_matrix`.
    key: PRNG key for 'gaussian'.
    scale: sigma_p for 'positional', sigma for 'gaussian'.
    num_features: m, the number of frequencies for 'positional'/'gaussian'.

  Returns:
    (..., F) float32 features in [-1, 1] (in [0, 1) for 'none'), with
    F = 2 for 'none', 4 for 'basic' and 2m for 'positional' and 'gaussian'.
  """
  coords = jnp.asarray(coords, jnp.float32)
  if name == 'none':
    return coords
  if name not in ENCODINGS:
    raise ValueError(f'unknown encoding {name!r}; choose one of {ENCODINGS}')
  b = frequency_matrix(name, key, scale, num_features)
  # Full fp32 so that phases up to 2 pi * |B v| (hundreds of radians) are
  # exact on accelerators whose default matmul precision is lower.
  phase = jnp.matmul(2.0 * jnp.pi * coords, b.T,
                     precision=jax.lax.Precision.HIGHEST)
  return jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], -1)


def init_mlp(key, in_dim, depth, width):
  """Initialises an MLP like jax's old `stax.Dense` layers.

  Args:
    key: PRNG key.
    in_dim: number of input features.
    depth: number of Dense layers (depth - 1 hidden layers of `width`, then 3
      outputs).
    width: hidden layer width.

  Returns:
    A list of `depth` pairs (W, b): W (fan_in, fan_out) glorot-normal, b
    (fan_out,) normal with standard deviation 1e-2.
  """
  sizes = [in_dim] + [width] * (depth - 1) + [3]
  weight_init = jax.nn.initializers.glorot_normal()
  bias_init = jax.nn.initializers.normal(1e-2)
  params = []
  for layer_key, fan_in, fan_out in zip(
      jax.random.split(key, depth), sizes[:-1], sizes[1:]):
    w_key, b_key = jax.random.split(layer_key)
    params.append((weight_init(w_key, (fan_in, fan_out)),
                   bias_init(b_key, (fan_out,))))
  return params


def apply_mlp(params, x):
  """Applies the MLP: ReLU hidden layers, sigmoid output.

  Args:
    params: list of (W, b) from `init_mlp`.
    x: (..., in_dim) input features.

  Returns:
    (..., 3) RGB in (0, 1).
  """
  for w, b in params[:-1]:
    x = jax.nn.relu(x @ w + b)
  w, b = params[-1]
  return jax.nn.sigmoid(x @ w + b)


def loss_fn(params, x, y):
  """0.5 * mean squared error of the MLP on features x (P, F), y (P, 3)."""
  return 0.5 * jnp.mean((apply_mlp(params, x) - y)**2)


def psnr_fn(params, x, y):
  """PSNR in dB of the MLP on features x (P, F) against pixels y (P, 3)."""
  return -10.0 * jnp.log10(2.0 * loss_fn(params, x, y))


def fit(image, encoding='gaussian', scale=10.0, num_features=256, depth=4,
        width=256, learning_rate=1e-3, num_steps=2000, seed=0, eval_every=0):
  """Fits one image with the paper's protocol and reports PSNR and speed.

  Args:
    image: (N, N, 3) float RGB in [0, 1].
    encoding: one of ENCODINGS.
    scale: sigma_p for 'positional', sigma for 'gaussian'.
    num_features: m, the number of frequencies (2m input features).
    depth: number of Dense layers of the MLP.
    width: hidden width of the MLP.
    learning_rate: Adam learning rate.
    num_steps: number of full-batch Adam steps, at least 2.
    seed: seeds the Gaussian frequencies and the MLP initialisation.
    eval_every: if positive, also record train and test PSNR before steps
      0, eval_every, 2 * eval_every, ... (those evaluations fall inside the
      timed loop, as in the notebooks).

  Returns:
    A dict with 'train_psnr' and 'test_psnr' (dB, after the last step),
    'seconds' (wall time of steps 1 .. num_steps - 1, after blocking on step
    0, which includes compilation), 'steps_per_second' (num_steps - 1 over
    'seconds'), 'num_params', and 'history': a list of
    {'step', 'train_psnr', 'test_psnr'} (empty unless eval_every > 0).
  """
  image = jnp.asarray(image, jnp.float32)
  if image.ndim != 3 or image.shape[0] != image.shape[1] or image.shape[2] != 3:
    raise ValueError(f'image must have shape (N, N, 3), got {image.shape}')
  if num_steps < 2:
    raise ValueError(f'num_steps must be at least 2, got {num_steps}')
  enc_key, init_key = jax.random.split(jax.random.PRNGKey(seed))

  n = image.shape[0]
  c = jnp.linspace(0.0, 1.0, n + 1)[:-1]
  grid = jnp.stack(jnp.meshgrid(c, c), -1)
  features = encode(grid, encoding, enc_key, scale, num_features)
  x_train = features[::2, ::2].reshape(-1, features.shape[-1])
  y_train = image[::2, ::2].reshape(-1, 3)
  x_test = features[1::2, 1::2].reshape(-1, features.shape[-1])
  y_test = image[1::2, 1::2].reshape(-1, 3)

  params = init_mlp(init_key, features.shape[-1], depth, width)
  optimizer = optax.adam(learning_rate)
  opt_state = optimizer.init(params)
  grad_fn = jax.jit(jax.grad(loss_fn))
  psnr = jax.jit(psnr_fn)

  @jax.jit
  def update(params, opt_state, grads):
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state

  history = []
  start = None
  for step in range(num_steps):
    if eval_every > 0 and step % eval_every == 0:
      history.append({'step': step,
                      'train_psnr': float(psnr(params, x_train, y_train)),
                      'test_psnr': float(psnr(params, x_test, y_test))})
    params, opt_state = update(params, opt_state,
                               grad_fn(params, x_train, y_train))
    if step == 0:
      jax.block_until_ready(params)
      start = time.perf_counter()
  jax.block_until_ready(params)
  seconds = time.perf_counter() - start

  return {
      'train_psnr': float(psnr(params, x_train, y_train)),
      'test_psnr': float(psnr(params, x_test, y_test)),
      'seconds': seconds,
      'steps_per_second': (num_steps - 1) / seconds,
      'num_params': sum(w.size + b.size for w, b in params),
      'history': history,
  }


def load_image(name, resolution):
  """Loads a file or a `skimage.data` image as (resolution, resolution, 3).

  Args:
    name: an image file path, or a `skimage.data` image name ('astronaut').
    resolution: output side length in pixels.

  Returns:
    (resolution, resolution, 3) float32 RGB in [0, 1]: alpha dropped, gray
    repeated to RGB, centre-cropped to a square, Lanczos-resized per channel.
  """
  if os.path.isfile(name):
    img = np.asarray(iio.imread(name))
  elif callable(getattr(skimage.data, name, None)):
    img = np.asarray(getattr(skimage.data, name)())
  else:
    raise ValueError(f'--image {name!r} is neither a file nor a skimage.data '
                     f'image (e.g. astronaut, chelsea, coffee, rocket)')
  if img.ndim == 2:
    img = img[..., None]
  img = img[..., :3] if img.shape[-1] >= 3 else np.repeat(img[..., :1], 3, -1)
  if np.issubdtype(img.dtype, np.integer):
    img = img / np.iinfo(img.dtype).max
  h, w = img.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  img = img[top:top + side, left:left + side].astype(np.float32)
  channels = [
      np.asarray(Image.fromarray(img[..., i]).resize(
          (resolution, resolution), Image.LANCZOS)) for i in range(3)
  ]
  return np.clip(np.stack(channels, -1), 0.0, 1.0)


def define_flags(flag_values: flags.FlagValues):
  """The settings of the fit (`fit`'s arguments, some by shorter names)."""
  flags.DEFINE_string('image', 'astronaut', 'Image file or skimage.data name.',
                      flag_values=flag_values)
  flags.DEFINE_integer('resolution', 512, 'Side N in pixels.',
                       flag_values=flag_values)
  flags.DEFINE_enum('encoding', 'gaussian', ENCODINGS, 'The input encoding.',
                    flag_values=flag_values)
  flags.DEFINE_float('scale', 10.0, 'sigma (gaussian) or sigma_p (positional).',
                     flag_values=flag_values)
  flags.DEFINE_integer('num_features', 256, 'm, the number of frequencies.',
                       flag_values=flag_values)
  flags.DEFINE_integer('width', 256, 'Hidden width of the MLP.',
                       flag_values=flag_values)
  flags.DEFINE_integer('depth', 4, 'Dense layers of the MLP.',
                       flag_values=flag_values)
  flags.DEFINE_float('lr', 1e-3, 'Adam learning rate.',
                     flag_values=flag_values)
  flags.DEFINE_integer('steps', 2000, 'Full-batch Adam steps.',
                       flag_values=flag_values)
  flags.DEFINE_integer('seed', 0, 'Seeds the Gaussian frequencies and the '
                       'MLP initialisation.', flag_values=flag_values)


def main(flag_values: flags.FlagValues):
  """Fits one image and prints the settings and results as one JSON line."""
  settings = {name: flag_values[name].value
              for name in cli.flag_names(define_flags)}
  try:
    image = load_image(settings['image'], settings['resolution'])
    result = fit(image, encoding=settings['encoding'], scale=settings['scale'],
                 num_features=settings['num_features'],
                 depth=settings['depth'], width=settings['width'],
                 learning_rate=settings['lr'], num_steps=settings['steps'],
                 seed=settings['seed'])
  except ValueError as e:
    raise CppnError(str(e)) from e
  del result['history']
  print(json.dumps({**settings, 'backend': jax.default_backend(), **result}))


COMMAND = cli.Command(define_flags, main)

if __name__ == '__main__':
  cli.run(COMMAND)
