"""1D signals: a sound or a random signal, seen sample by sample.

The target (data.image), data.resolution = L samples:
  FILE.wav          a WAV file (scipy.io.wavfile: PCM or float, channels
                    averaged), its first L samples
  tones             a generated chord (220, 277, 330 and 880 Hz, decaying)
                    at SAMPLE_RATE, L samples
  powerlaw:ALPHA:K  the paper's 1/f^alpha random signal K: a complex
                    Gaussian spectrum scaled by (1 + |k|)^-alpha, the real
                    part of its inverse FFT, scaled to [-0.5, 0.5]
Samples sit at v = i / L in [0, 1). The network's single output (sigmoid)
fits the signal mapped to [0, 1]: sound x in [-1, 1] as (x + 1) / 2, random
signals shifted by 0.5. data.split 'paper' trains on the even samples and
tests on the odd ones; 'memorize' trains and tests on all. Loss 0.5 * MSE
(pointwise). Outputs: signal.png (target, fit and training samples) and, for
sound, fit.wav at the source's sample rate.
"""

import pathlib
import re

import jax
import matplotlib
import numpy as np
import scipy.io.wavfile

from cppn import data
from cppn import metrics
from cppn import outputs
from cppn.errors import CppnError
from cppn.tasks import base

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

SAMPLE_RATE = 8000  # Hz of the generated 'tones'
TONES_HZ = (220.0, 277.18, 329.63, 880.0)  # an A major chord, A5 above
POWERLAW_KEY = 0  # base PRNG key of the power-law signals
_POWERLAW = re.compile(r'powerlaw:(?P<alpha>[0-9.]+):(?P<index>\d+)')
_PCM_SCALE = {np.dtype(np.int16): 2.0 ** 15, np.dtype(np.int32): 2.0 ** 31}


def read_wav(path: str) -> tuple[np.ndarray, int]:
  """(samples in [-1, 1] float32, mono; sample rate) of a WAV file."""
  if not pathlib.Path(path).is_file():
    raise CppnError(f'WAV file not found: {path}')
  try:
    rate, samples = scipy.io.wavfile.read(path)
  except Exception as e:  # scipy raises ValueError and others on bad files
    raise CppnError(f'cannot read WAV {path}: {e}') from e
  if samples.dtype == np.uint8:
    samples = (samples.astype(np.float32) - 128) / 128
  elif samples.dtype in _PCM_SCALE:
    samples = samples.astype(np.float32) / _PCM_SCALE[samples.dtype]
  else:
    samples = np.clip(samples.astype(np.float32), -1, 1)
  if samples.ndim == 2:
    samples = samples.mean(axis=1)
  return samples, int(rate)


def tones(num_samples: int) -> np.ndarray:
  """The generated chord: (L,) float32 in [-1, 1] at SAMPLE_RATE."""
  t = np.arange(num_samples) / SAMPLE_RATE
  chord = sum(np.sin(2 * np.pi * f * t) for f in TONES_HZ) / len(TONES_HZ)
  return (chord * np.exp(-3 * t)).astype(np.float32)


def power_law_signal(key, num_samples: int, alpha: float,
                     band: int | None = None) -> np.ndarray:
  """The paper's 1/f^alpha random signal: (L,) float64 in [-1/2, 1/2].

  Complex Gaussian coefficients (jax.random.normal(key, (count, 2)): real,
  imaginary) scaled by (1 + |k|)^-alpha on the frequencies k of an L-point
  FFT (wrapped, |k| <= L/2), or with `band` only on k = 0 .. band - 1 (the
  band-limited signal of the paper's regression figure, band <= L/2); the
  real part of the inverse FFT, rescaled to [-1/2, 1/2].
  """
  count = band or num_samples
  raw = np.asarray(jax.random.normal(key, (count, 2)), np.float64)
  frequency = np.abs(np.fft.fftfreq(num_samples, 1 / num_samples))[:count]
  coefficients = np.zeros(num_samples, np.complex128)
  coefficients[:count] = (raw[:, 0] + 1j * raw[:, 1]) * (
      1.0 + frequency) ** -alpha
  signal = np.real(np.fft.ifft(coefficients))
  return (signal - signal.min()) / (signal.max() - signal.min()) - 0.5


def load_signal(config) -> tuple[np.ndarray, int | None]:
  """(the signal in [0, 1], (L,); its sample rate, None if not a sound)."""
  source, length = config.data.image, config.data.resolution
  match = _POWERLAW.fullmatch(source)
  if match:
    key = jax.random.fold_in(jax.random.PRNGKey(POWERLAW_KEY),
                             int(match['index']))
    signal = power_law_signal(key, length, float(match['alpha'])) + 0.5
    return signal.astype(np.float32), None
  if source == 'tones':
    return (tones(length) + 1) / 2, SAMPLE_RATE
  if not source.endswith('.wav'):
    raise CppnError(f"unknown signal '{source}'; expected a .wav file, "
                    'tones or powerlaw:ALPHA:K')
  samples, rate = read_wav(source)
  if len(samples) < length:
    raise CppnError(f'{source} holds {len(samples)} samples, fewer than '
                    f'data.resolution={length}')
  return (samples[:length] + 1) / 2, rate


class SignalTask(base.Task):
  """A 1D signal, train / test samples of data.split."""
  name = 'signal1d'
  dim = 1
  out_dim = 1
  objective = base.SQUARED_ERROR

  def __init__(self, config, signal: np.ndarray | None = None):
    self.sample_rate = None
    if signal is None:
      signal, self.sample_rate = load_signal(config)
    signal = np.asarray(signal, np.float32)
    if signal.ndim != 1 or len(signal) < 4:
      raise CppnError(f'a 1D signal is (L,) with L >= 4, got {signal.shape}')
    if config.data.split not in data.SPLITS:
      raise CppnError(f"unknown data.split '{config.data.split}'; choose one "
                      f"of: {', '.join(data.SPLITS)}")
    self.target = signal[:, None]
    grid = data.coordinate_grid(len(signal), 1)
    train, test = ((np.s_[::2], np.s_[1::2]) if config.data.split == 'paper'
                   else (np.s_[:], np.s_[:]))
    self.train_coords, self.train_targets = grid[train], self.target[train]
    self.test_targets = self.target[test]
    self.eval_coords = {'train': self.train_coords, 'test': grid[test]}

  def evaluate(self, preds):
    train_mse = float(metrics.mse(preds['train'], self.train_targets))
    test_mse = float(metrics.mse(preds['test'], self.test_targets))
    return {'loss': 0.5 * train_mse,
            'train_psnr': float(metrics.psnr_from_mse(train_mse)),
            'test_psnr': float(metrics.psnr_from_mse(test_mse))}, None

  def write_outputs(self, workdir: pathlib.Path, signal, preds, rows):
    plot_signal(workdir / 'signal.png', self.target[:, 0], signal[:, 0],
                self.train_coords[:, 0], self.train_targets[:, 0])
    if self.sample_rate:
      with outputs.atomic_open(workdir / 'fit.wav', 'wb') as f:
        scipy.io.wavfile.write(f, self.sample_rate, np.clip(
            2 * signal[:, 0] - 1, -1, 1).astype(np.float32))
    return {}

  def describe(self):
    return (f'signal1d: {len(self.target)} samples, '
            f'{len(self.train_coords)} for training')


def plot_signal(path, target, fit, train_v, train_y):
  """The target and the fit against v, training samples marked."""
  v = np.arange(len(target)) / len(target)
  fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
  ax.plot(v, target, color='0.6', lw=1, label='target')
  ax.plot(v, fit, color='tab:blue', lw=1, label='fit')
  if len(train_v) <= 512:
    ax.plot(train_v, train_y, 'k.', ms=2, label='training samples')
  ax.set_xlabel('v')
  ax.legend(fontsize=8)
  outputs.save_figure(fig, path)
