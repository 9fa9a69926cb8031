r"""The paper's natural-image setting (Tancik et al. 2020, Table 1, Gaussian).

A 4 x 256 ReLU MLP on m = 256 Gaussian Fourier features (sigma = 10) fits the
bundled 512 x 512 photograph 'astronaut': trained on the even pixels
[::2, ::2], tested on the odd ones [1::2, 1::2], full-batch Adam at 1e-3 for
2000 steps.

  python -m cppn.main --config=configs/default.py --workdir=runs/default

Measured on 2 CPU cores: test PSNR 27.37 or 27.62 dB (fresh installs on
different days), SSIM 0.896-0.897, 8.3 minutes on a quiet host (the
paper's DIV2K mean for this setting is 25.57 dB). `--config.data.resolution=256`
with `--config.encoding.sigma=5` (the frequencies scale with the
resolution) gives test PSNR 24.91 dB in 2-6 minutes; the default sigma 10
gives 24.27 dB there.
"""

import ml_collections


def get_config():
  """The default config; other configs start from it and change a few fields."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # PRNG seed of the network's initialisation and minibatches

  config.task = ml_collections.ConfigDict()
  # What is fitted and how it is seen (cppn/tasks): 'image' (RGB pixels),
  # 'ct' (a grey image through parallel projections), 'mri' (a volume
  # through subsampled 3D k-space), 'signal1d' (a 1D signal, sample by
  # sample), 'occupancy' (a 3D solid through the inside / outside labels
  # of points) or 'nerf' (a 3D scene through images from known cameras).
  # Each reads only its own fields below.
  config.task.name = 'image'
  config.task.num_angles = 20  # ct: projection angles k pi / A, 1..1024
  # ct, mri: std of the noise added to every Shepp-Logan parameter of a
  # 'shepp:K' phantom (the paper's 0.05).
  config.task.perturbation = 0.05
  # mri: k-space draws per voxel (the paper's 200,000 at 96^3 = 0.2261,
  # which sample ~12.6% of k-space), in (0, 10].
  config.task.kspace_draws = 0.2261
  # mri: std of the Gaussian draws around DC, as a fraction of the side (the
  # paper's sqrt(192) / 96 = 0.1443), in (0, 1].
  config.task.kspace_std = 0.1443
  # occupancy: fresh points uniform in the shape's box at every step (the
  # paper's 32,768).
  config.task.points_per_step = 32768
  # occupancy: points in each test set, uniform and near-surface (the
  # paper's 2^18).
  config.task.test_points = 2**18
  # occupancy, a mesh shape: its training points are drawn from this many
  # points labelled once (ray parity is too slow for every step).
  config.task.pool_size = 2**22
  # nerf: rays drawn from the training views' pixels at every step (the
  # paper's 1024).
  config.task.rays_per_step = 1024
  # nerf: samples per ray, stratified in training, on [near, far] (world
  # units along the ray's direction; the paper's 128 on [2, 6]).
  config.task.num_samples = 128
  config.task.near = 2.0
  config.task.far = 6.0

  config.data = ml_collections.ConfigDict()
  # The target. Image task: a file path (PNG, JPEG, TIFF, ...), a bundled
  # photograph (astronaut, chelsea, coffee, rocket, hubble_deep_field,
  # immunohistochemistry, retina, motorcycle, camera, brick, grass, gravel,
  # moon), 'text:SEED' for a generated 512-px text image, or the paper's
  # data: 'FILE.npz[:KEY]:INDEX' or 'DIR:INDEX' (the INDEX-th image file of
  # a folder, sorted by name).
  # ct: 'shepp:K' (the K-th perturbed Shepp-Logan phantom) or an image
  # source, made grey. mri: 'shepp:K' (3D) or a volume file (.npy, .nii,
  # .nii.gz). signal1d: a .wav file, 'tones' (a generated chord) or
  # 'powerlaw:ALPHA:K' (the paper's 1/f^alpha random signals). occupancy: a
  # shape: sphere, bumpy, gyroid (procedural), bunny, cow, bone, airplane
  # (pymeshlab's meshes) or a watertight mesh file (cppn/shapes.py). nerf:
  # 'synthetic' (the project's scene), a Blender-format folder or a
  # tiny-NeRF .npz (cppn/nerf_data.py).
  config.data.image = 'astronaut'
  # Side in pixels of the centre crop taken from the image before resizing
  # (0: the largest centred square); at least data.resolution.
  config.data.crop = 0
  # Side in pixels after centre crop and resize (voxels per side: mri;
  # samples: signal1d; occupancy: the grid per side of fit.obj's marching
  # cubes; nerf: the synthetic views' side, a user's views keep theirs).
  config.data.resolution = 512
  # 'paper': train on pixels [::2, ::2], test on [1::2, 1::2];
  # 'memorize': train and test on all pixels (the seed project's task).
  config.data.split = 'paper'

  config.encoding = ml_collections.ConfigDict()
  # none | basic | positional | gaussian | uniform | uniform_log | laplacian |
  # linear_sin | seed_gaussian (see cppn/encodings.py for the formulas). Each
  # reads only its own fields below; setting one it does not read on the
  # command line or in a sweep is an error.
  config.encoding.name = 'gaussian'
  # gaussian, uniform, laplacian: B = sigma * X, X ~ N(0, 1), U[0, 1) or
  # Laplace(0, 1) (cycles per unit).
  config.encoding.sigma = 10.0
  # positional, log_linear spacing: b = 2^linspace(0, sigma_p, m/2) - 1.
  config.encoding.sigma_p = 6.0
  # uniform_log: B = max_freq ** U[0, 1), log-uniform in [1, max_freq).
  config.encoding.max_freq = 10.0
  # seed_gaussian: variance of its frequencies b ~ N(0, variance).
  config.encoding.variance = 10.0
  # m, rows of B (2m features; 4m for seed_gaussian): the random encodings
  # and positional with log_linear spacing.
  config.encoding.num_features = 256
  # L, frequencies per axis: positional octave (2^0 .. 2^(L-1)) and
  # linear_sin (1 .. L).
  config.encoding.num_freqs = 8
  # positional only: 'log_linear' (the paper's, reads sigma_p, num_features)
  # or 'octave' (NeRF's, reads num_freqs).
  config.encoding.spacing = 'log_linear'
  # PRNG seed of the random encodings' B, apart from `seed` so each can vary.
  config.encoding.seed = 0
  # The Fourier encodings (basic, positional, gaussian, uniform, uniform_log,
  # laplacian): True divides the features by ||a|| (a = 1 / sqrt(m)), as
  # the paper's 3D occupancy fits; False keeps a = 1.
  config.encoding.normalize = False

  config.model = ml_collections.ConfigDict()
  # 'mlp' (the paper's), 'pyramid' (the seed's), or a family of
  # cppn/families (siren, finer, gauss, wire, wire2d, fourier_net,
  # gabor_net, hashgrid, grid, c2f, lff; they need encoding.name='none' and
  # configs/<family>.py holds each one's published settings). Each reads
  # only its own fields below; setting one it does not read is an error.
  config.model.name = 'mlp'
  # Dense layers including the output layer (every network but pyramid and
  # grid; for the MFNs also the number of filters).
  config.model.depth = 4
  # Units per hidden layer (complex units for wire, wire2d; the MLP after
  # the encoding for hashgrid, c2f, lff).
  config.model.width = 256
  config.model.activation = 'relu'  # hidden activation (mlp, lff)
  # Maps outputs to (0, 1) (mlp, lff).
  config.model.output_activation = 'sigmoid'
  # siren, finer, wire, wire2d: omega of the first layer, and of the later
  # ones (sin(omega z); WIRE's exp(i omega z ...)).
  config.model.omega_first = 30.0
  config.model.omega_hidden = 30.0
  # finer: k > 0 draws the first layer's bias from U(-k, k); 0 keeps
  # PyTorch's default U(+-1 / sqrt(fan_in)).
  config.model.first_bias_scale = 0.0
  # gauss, wire, wire2d: s, the inverse width of the Gaussian exp(-(s z)^2).
  config.model.gaussian_scale = 10.0
  # fourier_net, gabor_net: the filters' frequency scale, and the hidden
  # kernels' U(+-sqrt(weight_scale / width)).
  config.model.input_scale = 256.0
  config.model.weight_scale = 1.0
  # gabor_net: gamma ~ Gamma(shape gabor_alpha / depth, rate gabor_beta).
  config.model.gabor_alpha = 6.0
  config.model.gabor_beta = 1.0
  # hashgrid: L levels, F features per entry, T entries per hashed level (a
  # power of two), N_min vertices per axis of the coarsest level, and b, the
  # growth of the resolution from one level to the next.
  config.model.num_levels = 16
  config.model.features_per_level = 2
  config.model.table_size = 2**15
  config.model.base_resolution = 16
  config.model.growth_factor = 1.5
  config.model.grid_resolution = 256  # grid: vertices per axis
  # c2f: L bands per coordinate (2^k pi, k < L), opened by training progress
  # from c2f_start to c2f_end (fractions of train.num_steps).
  config.model.num_bands = 8
  config.model.c2f_start = 0.0
  config.model.c2f_end = 0.4
  # lff: m rows of the trained B, drawn as fourier_sigma * N(0, 1).
  config.model.num_fourier_features = 256
  config.model.fourier_sigma = 10.0
  # Matmul arithmetic, forward and backward: 'float32' (exact), or the faster
  # 'tensorfloat32' (NVIDIA GPUs only) or 'bfloat16' (float32 accumulation).
  config.model.matmul_precision = 'float32'

  config.train = ml_collections.ConfigDict()
  config.train.num_steps = 2000  # Adam steps
  config.train.learning_rate = 1e-3  # Adam step size (1e-2 for none/basic)
  # The rate at step i is learning_rate * lr_decay_rate^(i / lr_decay_steps)
  # (a continuous exponential decay; the occupancy paper's 0.1 per 5000
  # steps); lr_decay_rate in (0, 1], 1: a constant rate.
  config.train.lr_decay_rate = 1.0
  config.train.lr_decay_steps = 1000
  config.train.batch_size = 0  # 0: full batch; > 0: random pixels per step
  config.train.eval_every_steps = 100  # evaluate, checkpoint, GIF frame
  # Pixels per chunk of the full-batch gradient and of evaluation: bounds
  # memory, same result up to rounding. 0: one chunk. -1: by backend
  # (cppn/backend.py): 2048 on a CPU, where a chunk's activations (2 MiB per
  # layer) stay in the caches (on 2 CPU cores, 86% of the matmul rate at 16k
  # and 65k training pixels against 74-79% at 8192); on a GPU or TPU, where
  # each chunk is a kernel launch, one chunk when the group fits in its
  # memory, else the largest power of two that does.
  config.train.chunk_size = -1
  # Precompute the training features when they take at most this many MiB;
  # larger images encode each chunk on the fly at every step instead.
  config.train.feature_cache_mb = 2048

  config.log = ml_collections.ConfigDict()
  # TensorBoard event files in the workdir (cppn/tensorboard.py): scalars and
  # the reconstruction at every evaluation, a sweep member's swept fields as
  # hparams. Needs tensorboardX: pip install -e '.[tensorboard]'.
  config.log.tensorboard = False
  return config
