"""Shared pieces of the standalone 3-D task scripts (experiments.nerf,
experiments.occupancy): their encoding blocks and their training loop.

  encoding          the `encoding` block of none / basic / positional
                    (log_linear) / gaussian at given scales, m // 3
                    positional frequencies per axis, and its parameters
  finished_summary  a finished fit's summary (a rerun skips it)
  check_encodings   a CppnError naming encodings outside a set
  train_and_log     train in segments, an evaluation row at step 0 and after
                    each segment, appended to metrics.jsonl
"""

import json
import math
import pathlib
from typing import Callable

import ml_collections
import tqdm

from cppn import encodings
from cppn import outputs
from cppn.errors import CppnError


def encoding(name: str, sigma: float, sigma_p: float, num_features: int):
  """The `encoding` block of an encoding (Gaussian sigma, positional sigma_p)
  and its parameters for 3-D points."""
  config = ml_collections.ConfigDict({
      'name': name, 'spacing': 'log_linear', 'sigma': sigma,
      'sigma_p': sigma_p, 'num_features': num_features, 'seed': 0})
  return config, encodings.init_encoding(config, 0, dim=3)


def finished_summary(workdir: pathlib.Path):
  """A fit's summary.json if it finished, else None (workdir then exists)."""
  summary = outputs.read_json(workdir / 'summary.json')
  if summary is None:
    workdir.mkdir(parents=True, exist_ok=True)
  return summary


def check_encodings(chosen, known):
  """Raises CppnError naming the chosen encodings that are not known."""
  unknown = sorted(set(chosen) - set(known))
  if unknown:
    raise CppnError(f'unknown encodings {unknown}; choose of: '
                    + ', '.join(known))


def train_and_log(train: Callable[[int], float], evaluate: Callable[[], dict],
                  num_steps: int, num_evals: int, workdir: pathlib.Path,
                  progress: bool, label: str) -> list[dict]:
  """Runs num_steps steps in num_evals segments, evaluating before and after.

  Args:
    train: train(count) runs count steps and returns the last loss.
    evaluate: the metrics of the current fit, a dict of floats.
    num_steps, num_evals: the schedule.
    workdir: metrics.jsonl is written there, one row per evaluation.
    progress: show a progress bar.
    label: the fit's name, for the bar and errors.

  Returns:
    The rows: {'step': ..., **evaluate()} at step 0 and after each segment.

  Raises:
    CppnError: a loss that is not finite.
  """
  segment = max(1, num_steps // num_evals)
  rows, done = [], 0
  with open(workdir / 'metrics.jsonl', 'w') as log, tqdm.tqdm(
      total=num_steps, disable=not progress, desc=label) as bar:
    while True:
      rows.append({'step': done, **evaluate()})
      log.write(json.dumps(rows[-1]) + '\n')
      if done == num_steps:
        return rows
      count = min(segment, num_steps - done)
      if not math.isfinite(train(count)):
        raise CppnError(f'{label}: the loss diverged by step {done + count}')
      bar.update(count)
      done += count
