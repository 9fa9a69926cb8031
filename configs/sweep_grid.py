r"""A 64-member grid: 8 Gaussian scales x 8 seeds, trained as one group.

configs/sweep_scale.py (the paper's network, m = 256 Gaussian features, Adam
1e-3, 'astronaut' at 64 px, paper split, 200 steps) with every sigma
= 0.5 .. 64 run under seeds 0..7; member (sigma, k) draws both the network
initialisation (seed) and B (encoding.seed) from k. All 64 differ only in
values, so they train as one group (vmapped on a GPU): the size of sweep
that fills an accelerator, and the workload of the 64-member speed goal
(`python -m experiments.sweep_speed --config=configs/sweep_grid.py`).

  python -m cppn.main --config=configs/sweep_grid.py --workdir=runs/grid

Measured (results.csv, mean test PSNR over the 8 seeds and its range):
sigma 0.5: 17.78 (17.46-18.05) dB, 1: 18.72 (18.48-18.90), 2: 18.32
(18.05-18.40), 4: 17.86 (17.71-17.95), 8: 15.43 (14.99-16.21), 16: 9.64,
32: 8.82, 64: 9.34; mean train PSNR climbs from 19.5 dB at sigma 0.5 to
44-49 dB from sigma 4 up. The group trains in 78 s on the 2-core CPU (4.1
steps/s for 64 members); the whole command takes 1 min 36 s (2026-11-25).
"""

from configs import sweep_scale


def get_config():
  """The base config every member starts from (sweep_scale's)."""
  return sweep_scale.get_config()


def get_sweep():
  """Every sigma of sweep_scale under seeds 0..7 (seed fastest)."""
  return [{'encoding.sigma': sigma, 'seed': seed, 'encoding.seed': seed}
          for sigma in (0.5, 1, 2, 4, 8, 16, 32, 64) for seed in range(8)]
