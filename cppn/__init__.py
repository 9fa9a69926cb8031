"""cppn: coordinate-based MLPs that fit one image each, through input encodings.

Modules (data flows down this list):
  data       image -> coordinate grid and pixel splits
  encodings  coordinates -> features (identity, Fourier features, seed encodings)
  models     features -> RGB (Flax Linen MLPs)
  train      a jit-compiled, resumable training loop
  outputs    files written into a run's workdir
  main       the command line
"""

__version__ = "0.1.0"
