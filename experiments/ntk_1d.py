r"""The paper's 1D figures (Tancik et al. 2020, Figs. 2-4): NTKs, regression, samplers.

On N points v_i = i / N of [0, 1), with Fourier features in 1D

  gamma(v) = sqrt(2m) / |a| [a sin(2 pi b v), a cos(2 pi b v)]    (m = len(b))

(encodings.fourier_features with B of shape (m, 1); the scale makes the mean
squared feature 1 whatever a is) and, for "no mapping", the centred
coordinate v - 1/2. The network is a ReLU MLP in the NTK parameterisation
(ntk.NTKMLP) and its kernel the analytic NTK (ntk.relu_ntk) with the same
depth, W_std and b_std.

  Fig. 2  kernels.png: the NTK row K(v, 1/2) against v - 1/2 and its
          spectrum (|FFT|, log scale) for no mapping, the basic mapping
          (b = 1) and the power law a_j = j^-p, b_j = j, j = 1 .. N_train/2,
          p = 0, 0.5, 1, 1.5, 2: the flatter a, the wider the spectrum.
  Fig. 3  regression.png: a power-law random signal (spectrum (1+k)^-alpha
          below the training Nyquist frequency), training on every other
          point: the learned functions, and train and test error against
          the step of full-batch gradient descent on 0.5 sum (f - y)^2 with
          step eta = 1 / (largest eigenvalue of any mapping's K), network
          (solid) against the NTK linear-dynamics prediction (dashed),
          f_t = (I - exp(-eta K t)) y on train and K_test,train K^-1
          (I - exp(-eta K t)) y on test (ntk.linear_dynamics). The network
          is centred, f(x; theta) - f(x; theta_0), so it starts at 0 as the
          prediction does.
  Fig. 4  scatter.png: test error of the NTK prediction after the same
          number of steps (each kernel at its own step 1 / lambda_max)
          against the standard deviation of b, for B drawn by
          encodings.random_matrix with the gaussian, uniform, uniform_log and
          laplacian samplers at several scales: the error depends on the
          spread of the frequencies more than on their distribution.

  python -m experiments.ntk_1d --preset=cpu --workdir=runs/ntk_1d

writes kernels.png, regression.png, scatter.png, ntk_1d.md and ntk_1d.json
(per mapping: spectrum width, final errors of network and prediction, and
the empirical NTK of the initial network against the analytic one). Presets:
tiny (32 points, seconds), cpu (256 points, width 512, 2000 steps), paper
(1024 points, width 1024, 10,000 steps).
"""

import dataclasses
import functools
import math
import pathlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from cppn import cli
from cppn import encodings
from cppn import ntk
from cppn import outputs
from cppn.tasks import signal1d
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

SAMPLERS = ('gaussian', 'uniform', 'uniform_log', 'laplacian')
NO_MAPPING = 'no mapping'
SHOWN_FUNCTIONS = (NO_MAPPING, 'p = 0', 'p = 1')  # in the learned-function panel
SPECTRUM_FLOOR = 1e-3  # spectrum width: highest frequency above this fraction


@dataclasses.dataclass(frozen=True)
class Preset:
  """Grid, network and schedule of the 1D figures."""
  num_points: int  # N points on [0, 1)
  width: int  # hidden units of the trained network
  num_steps: int  # gradient-descent steps
  scatter_stds: tuple[float, ...]  # target standard deviations of b
  scatter_trials: int  # B draws per sampler and std
  powers: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)  # p of a_j = j^-p
  train_every: int = 2  # train on v[::train_every], test on the others
  signal_power: float = 1.0  # alpha of the signal's spectrum (1 + k)^-alpha
  depth: int = 4  # Dense layers, the read-out included
  w_std: float = math.sqrt(2.0)  # weight scale (He: variance-preserving)
  b_std: float = 0.1  # bias scale; gives "no mapping" a non-degenerate NTK
  seed: int = 0


PRESETS = {
    'tiny': Preset(num_points=32, width=64, num_steps=50,
                   scatter_stds=(1.0, 4.0), scatter_trials=1,
                   powers=(0.0, 1.0), depth=3),
    'cpu': Preset(num_points=256, width=512, num_steps=2000,
                  scatter_stds=tuple(np.geomspace(0.5, 128, 9)),
                  scatter_trials=3),
    'paper': Preset(num_points=1024, width=1024, num_steps=10_000,
                    scatter_stds=tuple(np.geomspace(0.5, 512, 16)),
                    scatter_trials=8),
}


def grid(preset: Preset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(v (N,), train indices, test indices): v = i / N, train every k-th."""
  v = np.arange(preset.num_points) / preset.num_points
  train = np.arange(0, preset.num_points, preset.train_every)
  return v, train, np.setdiff1d(np.arange(preset.num_points), train)


def mappings(preset: Preset) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
  """name -> (a (m,), b (m,)), or None for no mapping."""
  num_train = len(grid(preset)[1])
  j = np.arange(1, num_train // 2 + 1, dtype=np.float64)
  result = {NO_MAPPING: None, 'basic': (np.ones(1), np.ones(1))}
  result.update({f'p = {p:g}': (j ** -p, j) for p in preset.powers})
  return result


def features(v: np.ndarray, mapping) -> np.ndarray:
  """gamma(v) of the module docstring: (n,) -> float32 (n, 2m), or (n, 1)."""
  if mapping is None:
    return (v - 0.5)[:, None].astype(np.float32)
  a, b = mapping
  scale = math.sqrt(2 * len(a)) / np.linalg.norm(a)
  return np.asarray(encodings.fourier_features(
      jnp.asarray(v[:, None], jnp.float32), jnp.asarray(b[:, None], jnp.float32),
      jnp.asarray(a * scale, jnp.float32)))


def analytic_ntk(preset: Preset, x1, x2=None) -> np.ndarray:
  """The preset's analytic NTK: (n1, d), (n2, d) -> (n1, n2) float64."""
  return ntk.relu_ntk(x1, x2, preset.depth, preset.w_std, preset.b_std)


def kernel_row(preset: Preset, v: np.ndarray, mapping) -> dict[str, Any]:
  """The NTK row K(v, 1/2) (normalised to 1 at 0), its spectrum and width."""
  x = features(v, mapping)
  center = len(v) // 2
  row = analytic_ntk(preset, x, x[center:center + 1])[:, 0]
  row = row / row[center]
  spectrum = np.abs(np.fft.rfft(np.roll(row, -center))) / len(v)
  above = np.flatnonzero(spectrum >= SPECTRUM_FLOOR * spectrum.max())
  return {'row': row, 'spectrum': spectrum,
          'spectrum_width': int(above.max())}


@functools.partial(jax.jit, static_argnums=(0, 7))
def gradient_descent(model, params, x_train, y_train, x_test, y_test, lr,
                     num_steps):
  """Full-batch GD of the centred network on 0.5 * sum (f - y)^2.

  Args:
    model: an ntk.NTKMLP with one output; params its initial parameters.
    x_train (n, d), y_train (n,), x_test (q, d), y_test (q,): float32.
    lr: the step eta. num_steps: static.

  Returns:
    (params, train MSE (num_steps + 1,), test MSE (num_steps + 1,)): the
    errors before each step and after the last; the output is
    f(x; params) - f(x; initial params), 0 at step 0.
  """
  apply = lambda p, x: model.apply({'params': p}, x)[:, 0]
  initial_train, initial_test = apply(params, x_train), apply(params, x_test)
  centred = lambda p, x, f0: apply(p, x) - f0
  loss = lambda p: 0.5 * jnp.sum((centred(p, x_train, initial_train)
                                  - y_train) ** 2)

  def errors(p):
    return (jnp.mean((centred(p, x_train, initial_train) - y_train) ** 2),
            jnp.mean((centred(p, x_test, initial_test) - y_test) ** 2))

  def step(p, _):
    grads = jax.grad(loss)(p)
    return jax.tree_util.tree_map(lambda w, g: w - lr * g, p, grads), errors(p)

  params_out, (train_mse, test_mse) = jax.lax.scan(step, params, None,
                                                   length=num_steps)
  last_train, last_test = errors(params_out)
  return (params_out, jnp.append(train_mse, last_train),
          jnp.append(test_mse, last_test))


def regression(preset: Preset, maps) -> dict[str, Any]:
  """Fig. 3: trains every mapping's network, predicts its curves with the NTK."""
  v, train, test = grid(preset)
  key_signal, key_init = jax.random.split(jax.random.PRNGKey(preset.seed))
  signal = signal1d.power_law_signal(
      key_signal, preset.num_points, preset.signal_power,
      band=preset.num_points // (2 * preset.train_every))
  inputs = {name: features(v, mapping) for name, mapping in maps.items()}
  kernels = {name: analytic_ntk(preset, x[train]) for name, x in inputs.items()}
  lr = 1.0 / max(np.linalg.eigvalsh(k)[-1] for k in kernels.values())
  model = ntk.NTKMLP(depth=preset.depth, width=preset.width,
                     w_std=preset.w_std, b_std=preset.b_std)
  steps = np.arange(preset.num_steps + 1)
  fits = {}
  for name, x in inputs.items():
    params = model.init(key_init, x[:1])['params']
    empirical = ntk.empirical_ntk(lambda p, z: model.apply({'params': p}, z),
                                  params, x[train])
    final, train_mse, test_mse = gradient_descent(
        model, params, x[train], signal[train].astype(np.float32), x[test],
        signal[test].astype(np.float32), lr, preset.num_steps)
    theory_train, theory_test = ntk.linear_dynamics(
        kernels[name], analytic_ntk(preset, x[test], x[train]), signal[train],
        lr * steps)
    fits[name] = {
        'train_mse': np.asarray(train_mse),
        'test_mse': np.asarray(test_mse),
        'theory_train_mse': np.mean((theory_train - signal[train]) ** 2, -1),
        'theory_test_mse': np.mean((theory_test - signal[test]) ** 2, -1),
        'function': np.asarray(model.apply({'params': final}, x)[:, 0]
                               - model.apply({'params': params}, x)[:, 0]),
        'theory_function': ntk.linear_dynamics(
            kernels[name], analytic_ntk(preset, x, x[train]), signal[train],
            [lr * preset.num_steps])[1][0],
        'ntk_relative_error': float(np.linalg.norm(empirical - kernels[name])
                                    / np.linalg.norm(kernels[name]))}
    print(f'{name:10s} train MSE {fits[name]["train_mse"][-1]:.2e} (NTK '
          f'{fits[name]["theory_train_mse"][-1]:.2e}), test MSE '
          f'{fits[name]["test_mse"][-1]:.2e} (NTK '
          f'{fits[name]["theory_test_mse"][-1]:.2e})', flush=True)
  return {'v': v, 'train': train, 'signal': signal, 'lr': lr, 'fits': fits}


def uniform_log_scale(std: float) -> float:
  """The scale s whose s ** U[0, 1) has standard deviation `std`."""
  scales = np.geomspace(1.0 + 1e-6, 1e9, 20_000)
  logs = np.log(scales)
  stds = np.sqrt((scales**2 - 1) / (2 * logs) - ((scales - 1) / logs) ** 2)
  return float(np.interp(std, stds, scales))


def sampler_scale(sampler: str, std: float) -> float:
  """encodings.random_matrix's scale giving b a standard deviation `std`."""
  return {'gaussian': std, 'uniform': std * math.sqrt(12),
          'laplacian': std / math.sqrt(2),
          'uniform_log': uniform_log_scale(std)}[sampler]


def scatter(preset: Preset, signal: np.ndarray) -> list[dict[str, Any]]:
  """Fig. 4: NTK-predicted test error against std(b) for each sampler."""
  v, train, test = grid(preset)
  num_features = len(train) // 2
  points = []
  for sampler in SAMPLERS:
    for index, std in enumerate(preset.scatter_stds):
      for trial in range(preset.scatter_trials):
        key = jax.random.PRNGKey(1000 * index + trial)
        # random_matrix draws (m, 2) i.i.d.; one column is a 1D B (m, 1).
        b = np.asarray(encodings.random_matrix(
            sampler, key, sampler_scale(sampler, std), num_features))[:, 0]
        x = features(v, (np.ones(num_features), b))
        kernel = analytic_ntk(preset, x[train])
        _, prediction = ntk.linear_dynamics(
            kernel, analytic_ntk(preset, x[test], x[train]), signal[train],
            [preset.num_steps / np.linalg.eigvalsh(kernel)[-1]])
        points.append({'sampler': sampler, 'target_std': float(std),
                       'std': float(np.std(b)), 'trial': trial,
                       'test_mse': float(np.mean((prediction[0]
                                                  - signal[test]) ** 2))})
  return points


def run(preset_name: str, workdir: pathlib.Path,
        progress: bool) -> dict[str, Any]:
  """Computes the three figures; writes them, the table and the JSON."""
  del progress  # every stage here is one compiled call or a kernel solve
  start = time.time()
  preset = PRESETS[preset_name]
  maps = mappings(preset)
  v = grid(preset)[0]
  kernels = {name: kernel_row(preset, v, m) for name, m in maps.items()}
  fit = regression(preset, maps)
  points = scatter(preset, fit['signal'])
  result = {
      'preset': preset_name, 'settings': dataclasses.asdict(preset),
      'machine': common.machine(), 'minutes': (time.time() - start) / 60,
      'lr': fit['lr'],
      'mappings': {name: {
          'spectrum_width': kernels[name]['spectrum_width'],
          'ntk_relative_error': fit['fits'][name]['ntk_relative_error'],
          **{key: float(fit['fits'][name][key][-1]) for key in (
              'train_mse', 'test_mse', 'theory_train_mse',
              'theory_test_mse')}} for name in maps},
      'scatter': points}
  common.write_report(workdir, 'ntk_1d', result, markdown(result))
  plot_kernels(workdir / 'kernels.png', v, kernels)
  plot_regression(workdir / 'regression.png', fit)
  plot_scatter(workdir / 'scatter.png', points)
  return result


def markdown(result) -> str:
  """Per mapping: spectrum width, errors of network and NTK, kernel error."""
  settings = result['settings']
  lines = [
      f'# 1D NTK figures (preset {result["preset"]})', '',
      f'{settings["num_points"]} points, training on every '
      f'{settings["train_every"]}nd, signal spectrum (1+k)^-'
      f'{settings["signal_power"]:g}; ReLU MLP depth {settings["depth"]}, '
      f'width {settings["width"]}, NTK parameterisation (W_std '
      f'{settings["w_std"]:.3g}, b_std {settings["b_std"]:g}); '
      f'{settings["num_steps"]} gradient-descent steps of {result["lr"]:.3g}. '
      f'{result["minutes"]:.1f} minutes on {result["machine"]}.', '',
      f'Spectrum width: the highest frequency whose kernel spectrum is above '
      f'{SPECTRUM_FLOOR:g} of its peak. Kernel error: relative Frobenius '
      'distance of the initial network\'s empirical NTK (training inputs) '
      'from the analytic one.', '',
      '| mapping | spectrum width | train MSE: network / NTK | '
      'test MSE: network / NTK | kernel error |', '|---|---|---|---|---|']
  for name, m in result['mappings'].items():
    lines.append(f'| {name} | {m["spectrum_width"]} | {m["train_mse"]:.2e} / '
                 f'{m["theory_train_mse"]:.2e} | {m["test_mse"]:.2e} / '
                 f'{m["theory_test_mse"]:.2e} | {m["ntk_relative_error"]:.1%} |')
  lines += ['', '## Samplers (Fig. 4)', '',
            'Test MSE of the NTK prediction, mean over draws, per target '
            'standard deviation of b.', '',
            '| std(b) | ' + ' | '.join(SAMPLERS) + ' |',
            '|---' * (len(SAMPLERS) + 1) + '|']
  for std in settings['scatter_stds']:
    cells = [np.mean([p['test_mse'] for p in result['scatter']
                      if p['sampler'] == s and p['target_std'] == std])
             for s in SAMPLERS]
    lines.append(f'| {std:.3g} | ' + ' | '.join(f'{c:.2e}' for c in cells)
                 + ' |')
  return '\n'.join(lines) + '\n'


def plot_kernels(path, v, kernels):
  """Fig. 2: kernel rows against v - 1/2 and their spectra (log)."""
  fig, (ax_row, ax_spectrum) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
  colours = plt.cm.viridis(np.linspace(0, 0.9, len(kernels)))
  for (name, kernel), colour in zip(kernels.items(), colours):
    ax_row.plot(v - 0.5, kernel['row'], color=colour, label=name)
    frequencies = np.arange(len(kernel['spectrum']))
    ax_spectrum.plot(frequencies[1:], kernel['spectrum'][1:], color=colour,
                     label=name)
  ax_row.set_xlabel('v - 1/2')
  ax_row.set_ylabel('NTK K(v, 1/2) / K(1/2, 1/2)')
  ax_row.set_title('NTK, spatial', fontsize=10)
  ax_spectrum.set_yscale('log')
  ax_spectrum.set_xlabel('frequency (cycles per unit)')
  ax_spectrum.set_ylabel('|FFT| of the row')
  ax_spectrum.set_title('NTK, Fourier spectrum', fontsize=10)
  for ax in (ax_row, ax_spectrum):
    ax.grid(alpha=0.3)
  ax_row.legend(fontsize=7)
  outputs.save_figure(fig, path)


def plot_regression(path, fit):
  """Fig. 3: learned functions; train and test MSE, network vs NTK."""
  fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), dpi=100)
  colours = dict(zip(fit['fits'], plt.cm.viridis(
      np.linspace(0, 0.9, len(fit['fits'])))))
  v, train = fit['v'], fit['train']
  axes[0].plot(v, fit['signal'], color='black', linewidth=1, label='target')
  axes[0].plot(v[train], fit['signal'][train], 'k.', markersize=3,
               label='training points')
  for name in SHOWN_FUNCTIONS:
    if name in fit['fits']:
      axes[0].plot(v, fit['fits'][name]['function'], color=colours[name],
                   label=name)
      axes[0].plot(v, fit['fits'][name]['theory_function'], '--',
                   color=colours[name], linewidth=0.8)
  axes[0].set_title('learned functions (dashed: NTK)', fontsize=10)
  axes[0].set_xlabel('v')
  axes[0].legend(fontsize=7)
  steps = np.arange(1, len(next(iter(fit['fits'].values()))['train_mse']))
  for ax, split in zip(axes[1:], ('train', 'test')):
    for name, curves in fit['fits'].items():
      ax.plot(steps, curves[f'{split}_mse'][1:], color=colours[name],
              label=name)
      ax.plot(steps, curves[f'theory_{split}_mse'][1:], '--',
              color=colours[name], linewidth=0.8)
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('gradient-descent step')
    ax.set_ylabel('mean squared error')
    ax.set_title(f'{split} error (solid: network, dashed: NTK)', fontsize=10)
    ax.grid(alpha=0.3, which='both')
  axes[2].legend(fontsize=7)
  outputs.save_figure(fig, path)


def plot_scatter(path, points):
  """Fig. 4: test MSE against std(b) per sampler (log-log)."""
  fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=100)
  for sampler, marker in zip(SAMPLERS, 'osD^'):
    chosen = [p for p in points if p['sampler'] == sampler]
    ax.scatter([p['std'] for p in chosen], [p['test_mse'] for p in chosen],
               marker=marker, s=14, alpha=0.7, label=sampler)
  ax.set_xscale('log')
  ax.set_yscale('log')
  ax.set_xlabel('standard deviation of b')
  ax.set_ylabel('test MSE (NTK prediction)')
  ax.grid(alpha=0.3, which='both')
  ax.legend(fontsize=8)
  outputs.save_figure(fig, path)


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
