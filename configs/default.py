r"""The paper's natural-image setting (Tancik et al. 2020, Table 1, Gaussian).

A 4 x 256 ReLU MLP on m = 256 Gaussian Fourier features (sigma = 10) fits the
bundled 512 x 512 photograph 'astronaut': trained on the even pixels
[::2, ::2], tested on the odd ones [1::2, 1::2], full-batch Adam at 1e-3 for
2000 steps.

  python -m cppn.main --config=configs/default.py --workdir=runs/default

Measured on 2 CPU cores: test PSNR 27.37 dB, SSIM 0.897, 8.3 minutes (the
paper's DIV2K mean for this setting is 25.57 dB). `--config.data.resolution=256`
takes about 2 minutes (use sigma 5, sigma_p 5 at 256 px: the frequencies
scale with the resolution).
"""

import ml_collections


def get_config():
  """The default config; other configs start from it and change a few fields."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # PRNG seed of the network's initialisation and minibatches

  config.data = ml_collections.ConfigDict()
  # A file path (PNG, JPEG, TIFF, ...), a bundled photograph (astronaut,
  # chelsea, coffee, rocket, hubble_deep_field, immunohistochemistry, retina,
  # motorcycle, camera, brick, grass, gravel, moon), 'text:SEED' for a
  # generated text image, or 'FILE.npz[:KEY]:INDEX' for the paper's data.
  config.data.image = 'astronaut'
  config.data.resolution = 512  # side in pixels after centre crop and resize
  # 'paper': train on pixels [::2, ::2], test on [1::2, 1::2];
  # 'memorize': train and test on all pixels (the seed project's task).
  config.data.split = 'paper'

  config.encoding = ml_collections.ConfigDict()
  # none | basic | positional | gaussian | uniform | uniform_log | laplacian |
  # linear_sin | seed_gaussian (see cppn/encodings.py for the formulas).
  config.encoding.name = 'gaussian'
  # sigma: std of the Gaussian B (cycles per unit), max of the uniform ones,
  # sigma_p (log2 of the top frequency) of positional log_linear, and the
  # variance of seed_gaussian.
  config.encoding.scale = 10.0
  config.encoding.num_features = 256  # m, rows of B (2m features)
  # L: frequencies per axis of positional octave (2^0 .. 2^(L-1)); the seed's
  # L_FACT for linear_sin (frequencies 1 .. L-1).
  config.encoding.num_freqs = 8
  # positional only: 'log_linear' (the paper's 2^linspace(0, sigma_p, m/2) - 1)
  # or 'octave' (NeRF's 2^k, k < num_freqs).
  config.encoding.spacing = 'log_linear'
  config.encoding.seed = 0  # PRNG seed of B, apart from `seed` so each can vary

  config.model = ml_collections.ConfigDict()
  config.model.name = 'mlp'  # 'mlp' (the paper's) or 'pyramid' (the seed's)
  config.model.depth = 4  # Dense layers including the output layer (mlp)
  config.model.width = 256  # hidden units per layer (mlp)
  config.model.activation = 'relu'  # hidden activation (mlp)
  config.model.output_activation = 'sigmoid'  # maps outputs to (0, 1) (mlp)
  # Matmul arithmetic, forward and backward: 'float32' (exact), or the faster
  # 'tensorfloat32' (NVIDIA GPUs only) or 'bfloat16' (float32 accumulation).
  config.model.matmul_precision = 'float32'

  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 2000  # Adam steps
  config.train.learning_rate = 1e-3  # Adam step size (1e-2 for none/basic)
  config.train.batch_size = 0  # 0: full batch; > 0: random pixels per step
  config.train.eval_every_steps = 100  # evaluate, checkpoint, GIF frame
  # Pixels per chunk of the full-batch gradient and of rendering: bounds
  # memory, same result up to rounding. 0: one chunk. 2048 keeps a chunk's
  # activations (2 MiB per layer) in the CPU's caches: 86% of the matmul
  # rate at 16k and 65k training pixels against 74-79% at 8192. On a GPU,
  # where each chunk costs kernel launches, larger chunks (or 0) should be
  # faster: not measured yet (no GPU lent so far).
  config.train.chunk_size = 2048
  # Precompute the training features when they take at most this many MiB;
  # larger images encode each chunk on the fly at every step instead.
  config.train.feature_cache_mb = 2048
  return config
