r"""The seed project's results table, and the same budgets spent on Gaussian features.

The seed (a Keras script) fed linear-sin features sin(k p), k = 1 .. L_FACT-1
on integer pixel indices, into its pyramid MLP and memorised one image
(configs/seed.py: split 'memorize', Adam 1e-3, minibatches of 32 pixels;
encoding.num_freqs = L_FACT - 1).
For L_FACT = 33 / 65 / 129 / 257 this table lists the parameters (exactly
11,115 / 44,075 / 175,531 / 700,587), the model size at fp32 against the
image's PNG size, the PSNR each reaches (over every pixel) and its training
GIF; then, for each of those parameter budgets, the paper's MLP (depth 4,
sigmoid output) on m = width Gaussian Fourier features (sigma_g 10 at 512 px,
scaled to N), its width chosen so that its parameter count is the closest to
the budget (within 1%), trained with the same recipe.

  python -m experiments.seed_table --preset=cpu --workdir=runs/seed_table \
      [--noprogress]

writes runs/ (one cppn run per fit), gifs/ (each run's progress.gif, copied),
seed_table.md, seed_table.json and seed_table.png (PSNR against parameters,
both families, the PNG size marked). Parameter counts and sizes are listed
for all four L_FACT in every preset; the tiny preset trains only the first.
Presets: tiny (16 px, seconds), cpu (256 px as the seed, 10,000 steps = 5
epochs), paper (256 px, 51,200 steps = the seed's 25 epochs).
"""

import dataclasses
import pathlib
import shutil
import time
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import ml_collections

from configs import seed
from cppn import cli
from cppn import data
from cppn import encodings
from cppn import models
from cppn import outputs
from cppn.errors import CppnError
from experiments import command
from experiments import common

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

L_FACTS = (33, 65, 129, 257)  # the seed's L_FACT (encoding.num_freqs + 1)
GAUSSIAN_SIGMA = 10.0  # sigma_g at 512 px, scaled to the resolution
GAUSSIAN_DEPTH = 4  # the paper's MLP depth
MAX_WIDTH = 4096  # the width search's upper bound


@dataclasses.dataclass(frozen=True)
class Preset:
  """Image and schedule of the seed table."""
  image: str  # a data.load_target source
  resolution: int  # N
  trained_l_facts: tuple[int, ...]  # the L_FACT values that are trained
  num_steps: int  # Adam steps of 32 pixels
  num_evals: int = 10  # evaluations (GIF frames) per fit


PRESETS = {
    'tiny': Preset(image='astronaut', resolution=16, trained_l_facts=(33,),
                   num_steps=20, num_evals=2),
    'cpu': Preset(image='astronaut', resolution=256, trained_l_facts=L_FACTS,
                  num_steps=10_000),
    'paper': Preset(image='astronaut', resolution=256,
                    trained_l_facts=L_FACTS, num_steps=51_200),
}


def seed_recipe(preset: Preset) -> ml_collections.ConfigDict:
  """configs/seed.py on the preset's image and schedule."""
  config = seed.get_config()
  config.data.image = preset.image
  config.data.resolution = preset.resolution
  config.train.num_steps = preset.num_steps
  config.train.eval_every_steps = max(1, preset.num_steps // preset.num_evals)
  return config


def seed_config(preset: Preset, l_fact: int) -> ml_collections.ConfigDict:
  """The seed at L_FACT = l_fact: encoding.num_freqs = l_fact - 1."""
  config = seed_recipe(preset)
  config.encoding.num_freqs = l_fact - 1
  return config


def gaussian_config(preset: Preset, width: int) -> ml_collections.ConfigDict:
  """The seed's recipe with the paper's MLP on m = width Gaussian features."""
  config = seed_recipe(preset)
  config.encoding.name = 'gaussian'
  config.encoding.sigma = common.sigma_at(GAUSSIAN_SIGMA, preset.resolution)
  config.encoding.num_features = width
  config.model.name = 'mlp'
  config.model.depth = GAUSSIAN_DEPTH
  config.model.width = width
  return config


def num_params(config: ml_collections.ConfigDict) -> int:
  """The parameter count of a config's model (shapes only, nothing computed)."""

  features = jnp.zeros((1, encodings.width(config.encoding)))
  shapes = jax.eval_shape(lambda: models.make_model(config.model).init(
      jax.random.PRNGKey(0), features))
  return models.count_params(shapes['params'])


def matching_width(preset: Preset, budget: int) -> int:
  """The width (= m) whose Gaussian MLP's parameter count is closest to budget."""
  low, high = 1, MAX_WIDTH  # counts grow with width: bisect for >= budget
  if num_params(gaussian_config(preset, high)) < budget:
    raise CppnError(f'no width up to {MAX_WIDTH} reaches {budget} parameters')
  while low < high:
    middle = (low + high) // 2
    if num_params(gaussian_config(preset, middle)) < budget:
      low = middle + 1
    else:
      high = middle
  return min((max(low - 1, 1), low), key=lambda w: abs(
      num_params(gaussian_config(preset, w)) - budget))


def size_text(num_bytes: int) -> str:
  """Bytes as KB (1024 bytes) below 1 MB, else MB (1024^2 bytes)."""
  if num_bytes < 2**20:
    return f'{num_bytes / 2**10:.2f} KB'
  return f'{num_bytes / 2**20:.2f} MB'


def run(preset_name: str, workdir: pathlib.Path,
        progress: bool) -> dict[str, Any]:
  """Counts, trains and compares; writes the table, figure, JSON and GIFs."""
  start = time.time()
  preset = PRESETS[preset_name]
  png_bytes = len(outputs.png_bytes(data.load_target(preset.image,
                                                     preset.resolution)))
  rows = []
  for l_fact in L_FACTS:
    config = seed_config(preset, l_fact)
    params = num_params(config)
    width = matching_width(preset, params)
    rows.append({'l_fact': l_fact,
                 'num_features': encodings.width(config.encoding),
                 'num_params': params, 'model_bytes': 4 * params,
                 'trained': l_fact in preset.trained_l_facts,
                 'gaussian_width': width,
                 'gaussian_params': num_params(gaussian_config(preset, width))})
  trained = [row for row in rows if row['trained']]
  fits = [(row, 'seed', seed_config(preset, row['l_fact']),
           f'seed_L{row["l_fact"]}') for row in trained]
  fits += [(row, 'gaussian', gaussian_config(preset, row['gaussian_width']),
            f'gaussian_w{row["gaussian_width"]}') for row in trained]
  runs = [workdir / 'runs' / name for *_, name in fits]
  results = common.train_all([config for _, _, config, _ in fits], runs,
                             progress)
  (workdir / 'gifs').mkdir(exist_ok=True)
  for (row, family, _, name), run_path, summary in zip(fits, runs, results):
    row[f'{family}_psnr'] = summary.get('test_psnr')
    row[f'{family}_error'] = summary.get('error')
    row[f'{family}_gif'] = None
    if 'error' not in summary:
      row[f'{family}_gif'] = f'gifs/{name}.gif'
      shutil.copyfile(run_path / 'progress.gif', workdir / 'gifs' /
                      f'{name}.gif')
  result = {'preset': preset_name, 'settings': dataclasses.asdict(preset),
            'png_bytes': png_bytes,
            'gaussian_sigma': common.sigma_at(GAUSSIAN_SIGMA,
                                              preset.resolution),
            'machine': common.machine(), 'minutes': (time.time() - start) / 60,
            'fit_minutes': common.fit_minutes(results),
            'rows': rows}
  common.write_report(workdir, 'seed_table', result, markdown(result))
  plot(workdir / 'seed_table.png', result)
  return result


def _psnr(row, family) -> str:
  """A table cell: PSNR, 'not trained' or 'failed'."""
  if not row['trained']:
    return 'not trained'
  if row[f'{family}_error']:
    return 'failed'
  return f'{row[f"{family}_psnr"]:.2f} ([gif]({row[f"{family}_gif"]}))'


def markdown(result) -> str:
  """The seed's table and the Gaussian comparison."""
  settings, png = result['settings'], result['png_bytes']
  epochs = settings['num_steps'] * 32 / settings['resolution']**2
  lines = [
      f'# The seed\'s results table (preset {result["preset"]})', '',
      f'{settings["image"]} at {settings["resolution"]} px, memorised (PSNR '
      f'over every pixel), Adam 1e-3 on minibatches of 32 pixels, '
      f'{settings["num_steps"]:,} steps ({epochs:.1f} epochs; the seed ran '
      f'25). PNG of the image: {size_text(png)}. '
      f'{result["minutes"]:.1f} minutes on {result["machine"]} (training '
      f'{result["fit_minutes"]:.1f}, from the runs\' summaries).', '',
      '| L_FACT | features | parameters | fp32 size | size / PNG | PSNR (dB) '
      '| Gaussian MLP (depth 4, width = m) | parameters | PSNR (dB) |',
      '|---|---|---|---|---|---|---|---|---|']
  for row in result['rows']:
    gap = row['gaussian_params'] / row['num_params'] - 1
    lines.append(
        f'| {row["l_fact"]} | {row["num_features"]} | {row["num_params"]:,} '
        f'| {size_text(row["model_bytes"])} | '
        f'{row["model_bytes"] / png:.2f}x | {_psnr(row, "seed")} | '
        f'width {row["gaussian_width"]} | {row["gaussian_params"]:,} '
        f'({gap:+.1%}) | {_psnr(row, "gaussian")} |')
  lines += ['', f'Gaussian features: sigma {result["gaussian_sigma"]:g} '
            f'(10 at 512 px), sigmoid output; same data, optimiser, batch '
            'and steps as the seed.']
  return '\n'.join(lines) + '\n'


def plot(path, result):
  """PSNR against parameters (log) for both families; the PNG size as a line."""
  fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=100)
  for family, label in (('seed', 'seed: linear sin + pyramid'),
                        ('gaussian', 'Gaussian features + MLP')):
    points = [(row['num_params'], row[f'{family}_psnr'])
              for row in result['rows']
              if row['trained'] and row[f'{family}_psnr'] is not None]
    if points:
      ax.plot(*zip(*points), 'o-', label=label)
  ax.axvline(result['png_bytes'] / 4, color='gray', linestyle='--',
             label='parameters whose fp32 size = the PNG')
  ax.set_xscale('log')
  ax.set_xlabel('parameters')
  ax.set_ylabel('PSNR, every pixel (dB)')
  ax.set_title(f'{result["settings"]["image"]}, '
               f'{result["settings"]["resolution"]} px, memorised',
               fontsize=10)
  ax.grid(alpha=0.3, which='both')
  ax.legend(fontsize=8)
  outputs.save_figure(fig, path)


COMMAND = command.experiment(run)

if __name__ == '__main__':
  cli.run(COMMAND)
