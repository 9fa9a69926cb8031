"""Tests for cppn.models: parameter counts, outputs, init, config checks.

Counts are checked against closed-form sums written here (the paper's 4 x 256
MLP, the seed project's pyramid at its four L_FACT values); shapes come from
jax.eval_shape where values are not needed, to keep the file fast. The
initial distributions are checked by their shape against scipy.stats (see
the Initialisation section), the forward passes against NumPy written from
the documented architectures.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from cppn import models
from cppn.errors import CppnError
import configs.default
import configs.seed


def model_config(**fields):
  """The default `model` block with the given fields set."""
  config = configs.default.get_config().model
  for field, value in fields.items():
    config[field] = value
  return config


def param_shapes(model, num_inputs):
  """The parameter pytree of `model` on `num_inputs` features, shapes only."""
  return jax.eval_shape(model.init, jax.random.PRNGKey(0),
                        jnp.zeros((1, num_inputs)))


def init_params(model, num_inputs, seeds=(0,)):
  """Initial parameters of `model` on `num_inputs` features, one per seed.

  One jitted init serves all seeds: compiling the random initialisers once is
  most of the cost of these tests.
  """
  init = jax.jit(model.init)
  x = jnp.zeros((1, num_inputs))
  return [init(jax.random.PRNGKey(seed), x) for seed in seeds]


def dense_layers(params):
  """[(kernel, bias)] in layer order, as float64 NumPy arrays."""
  layers = params['params']
  names = sorted(layers, key=lambda name: int(name.split('_')[-1]))
  return [(np.asarray(layers[n]['kernel'], np.float64),
           np.asarray(layers[n]['bias'], np.float64)) for n in names]


def mlp_count(depth, width, num_inputs, out_dim=3):
  """Closed-form parameter count of the paper's MLP."""
  if depth == 1:
    return num_inputs * out_dim + out_dim
  return ((num_inputs + 1) * width + (depth - 2) * (width + 1) * width
          + (width + 1) * out_dim)


# Parameter counts.


def test_paper_mlp_has_263683_params():
  model = models.make_model(model_config(depth=4, width=256))
  assert models.count_params(param_shapes(model, 512)) == 263_683


@pytest.mark.parametrize('depth,width,num_inputs', [
    (1, 16, 5), (2, 16, 4), (3, 7, 2), (6, 32, 10), (4, 256, 512)])
def test_mlp_count_matches_formula(depth, width, num_inputs):
  model = models.make_model(model_config(depth=depth, width=width))
  shapes = param_shapes(model, num_inputs)
  assert len(shapes['params']) == depth
  assert models.count_params(shapes) == mlp_count(depth, width, num_inputs)


@pytest.mark.parametrize('l_fact,expected', [
    (33, 11_115), (65, 44_075), (129, 175_531), (257, 700_587)])
def test_seed_pyramid_param_counts(l_fact, expected):
  # The seed's linear-sin encoding gives 2 (L_FACT - 1) features; its
  # pyramid on them has these counts (GUIDE.md section 1).
  num_inputs = 2 * (l_fact - 1)
  model = models.make_model(model_config(name='pyramid'))
  assert models.count_params(param_shapes(model, num_inputs)) == expected


def test_seed_pyramid_count_by_hand():
  # 64 inputs: widths 64, 64, 32, 16, 8, 4, 3 (six halvings of 64).
  by_hand = (64 * 64 + 64) + (64 * 64 + 64) + (64 * 32 + 32) + (32 * 16 + 16) \
      + (16 * 8 + 8) + (8 * 4 + 4) + (4 * 3 + 3)
  assert by_hand == 11_115
  # The seed config's model block builds that network.
  model = models.make_model(configs.seed.get_config().model)
  assert isinstance(model, models.PyramidMLP)
  assert models.count_params(param_shapes(model, 64)) == by_hand


def test_pyramid_widths_for_64_inputs():
  assert models.pyramid_widths(64) == [64, 64, 32, 16, 8, 4, 3]


@pytest.mark.parametrize('num_inputs', [2, 5, 64, 100, 512])
def test_pyramid_widths_halve_down_to_three(num_inputs):
  widths = models.pyramid_widths(num_inputs)
  halvings = math.ceil(math.log2(num_inputs))
  assert widths == [num_inputs] + [max(3, num_inputs // 2**i)
                                   for i in range(halvings)]
  assert widths[-1] == 3


def test_pyramid_layers_follow_widths():
  shapes = param_shapes(models.make_model(model_config(name='pyramid')), 64)
  layers = shapes['params']
  names = sorted(layers, key=lambda name: int(name.split('_')[-1]))
  widths = [64, 64, 32, 16, 8, 4, 3]
  assert [layers[n]['kernel'].shape for n in names] == list(
      zip([64] + widths[:-1], widths))


@pytest.fixture(scope='module')
def paper_mlp():
  """The paper's 4 x 256 MLP on 512 inputs and its parameters, seeds 0 and 1."""
  model = models.make_model(model_config())
  return model, init_params(model, 512, seeds=(0, 1))


@pytest.fixture(scope='module')
def pyramid():
  """The pyramid MLP on 512 inputs (widths 512, 512, 256, ..., 4, 3), its
  parameters (seed 0)."""
  model = models.make_model(model_config(name='pyramid'))
  return model, init_params(model, 512)[0]


@pytest.fixture(scope='module')
def paper_layers(paper_mlp):
  """[(kernel, bias)] of the paper MLP's seed-0 initialisation."""
  return dense_layers(paper_mlp[1][0])


def test_count_params_is_sum_of_sizes(paper_mlp):
  _, (params, _) = paper_mlp
  manual = sum(k.size + b.size for k, b in dense_layers(params))
  assert manual == 513 * 256 + 2 * 257 * 256 + 257 * 3
  assert models.count_params(params) == manual
  assert models.count_params({'a': jnp.zeros((2, 3)), 'b': [jnp.zeros(4)],
                              'c': jnp.zeros(())}) == 11


# Outputs.


def test_mlp_outputs_rgb_in_open_unit_interval(paper_mlp):
  model, (params, _) = paper_mlp
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 50, 512))
  y = np.asarray(jax.jit(model.apply)(params, x))
  assert y.shape == (2, 50, 3)
  assert (y > 0).all() and (y < 1).all()
  assert y.std() > 1e-3  # depends on the input, not a constant


def test_mlp_identity_output_leaves_unit_interval(paper_mlp):
  _, (params, _) = paper_mlp
  model = models.make_model(model_config(output_activation='identity'))
  y = np.asarray(jax.jit(model.apply)(params, 100 * jnp.ones((1, 512))))
  assert ((y < 0) | (y > 1)).any()


def test_make_model_passes_config_fields():
  model = models.make_model(model_config(depth=3, width=17, activation='tanh',
                                         output_activation='identity'))
  assert isinstance(model, models.MLP)
  assert (model.depth, model.width, model.activation,
          model.output_activation) == (3, 17, 'tanh', 'identity')
  assert isinstance(models.make_model(model_config(name='pyramid')),
                    models.PyramidMLP)


def test_pyramid_output_is_relu(pyramid):
  model, params = pyramid
  x = jax.random.normal(jax.random.PRNGKey(2), (500, 512))
  y = np.asarray(jax.jit(model.apply)(params, x))
  assert y.shape == (500, 3)
  assert (y >= 0).all()
  assert (y == 0).any() and (y > 0).any()  # clipped at 0, not saturating


# Initialisation.


# The initial distributions, tested by their shape: the standard deviation
# against the exact formula on layers with fan_in != fan_out (so glorot's
# fan average and lecun's fan_in differ by > 20%, against a sampling error
# of ~0.2%), the support (truncation point, uniform limit), the kurtosis
# (normal 3, normal truncated at 2 std 2.366, uniform 1.8; the sample
# kurtosis of n values scatters by ~4.8, 2.0 and 1.2 / sqrt(n), simulated
# with NumPy, and the tolerances are ~6 of those) and a Kolmogorov-Smirnov
# test against the exact distribution. The exact values come from
# scipy.stats, not from jax.

TRUNCATED = scipy.stats.truncnorm(-2, 2)  # jax's 'truncated_normal': N(0, 1) cut at +-2
TRUNCATED_STD = math.sqrt(TRUNCATED.var())  # 0.8796
TRUNCATED_KURTOSIS = float(TRUNCATED.stats(moments='k')) + 3  # 2.3655


def kurtosis(x):
  """E[(x - mean)^4] / var^2 (3 for a normal), float64."""
  x = np.asarray(x, np.float64).ravel()
  x = x - x.mean()
  return np.mean(x**4) / np.mean(x**2) ** 2


@pytest.fixture(scope='module')
def wide_mlp_layers():
  """[(kernel, bias)] of an MLP(depth=2, width=16384) on 64 inputs, seed 0:
  kernels (64, 16384) and (16384, 3), biases (16384,) and (3,)."""
  model = models.MLP(depth=2, width=16_384)
  return dense_layers(init_params(model, 64)[0])


@pytest.mark.parametrize('layer', [0, 1])
def test_mlp_weights_are_glorot_truncated_normal(wide_mlp_layers, layer):
  # stax.Dense's W_init, jax.nn.initializers.glorot_normal(): N(0, 1) cut
  # at +-2, rescaled to variance 2 / (fan_in + fan_out).
  kernel, _ = wide_mlp_layers[layer]
  fan_in, fan_out = kernel.shape
  assert (fan_in, fan_out) == [(64, 16_384), (16_384, 3)][layer]
  std = math.sqrt(2 / (fan_in + fan_out))
  lecun_std = math.sqrt(1 / fan_in)
  assert abs(lecun_std / std - 1) > 0.2  # the two are told apart below
  tolerance = 4 / math.sqrt(kernel.size)  # ~4 sampling errors of the std
  assert abs(kernel.std() / std - 1) < tolerance
  assert abs(kernel.mean()) < 4 * std / math.sqrt(kernel.size)
  # The support: nothing beyond the truncation point, and values near it.
  bound = 2 * std / TRUNCATED_STD
  assert np.abs(kernel).max() <= bound * (1 + 1e-6)
  assert np.abs(kernel).max() > 0.98 * bound
  if kernel.size > 100_000:  # enough samples for the shape statistics
    assert abs(kurtosis(kernel) - TRUNCATED_KURTOSIS) < 12 / math.sqrt(
        kernel.size)
    p_value = scipy.stats.kstest(kernel.ravel() / (std / TRUNCATED_STD),
                                 TRUNCATED.cdf).pvalue
    assert p_value > 1e-3


def test_paper_mlp_weights_have_the_glorot_std(paper_layers):
  shapes = [k.shape for k, _ in paper_layers]
  assert shapes == [(512, 256), (256, 256), (256, 256), (256, 3)]
  for kernel, _ in paper_layers:
    fan_in, fan_out = kernel.shape
    std = math.sqrt(2 / (fan_in + fan_out))
    assert abs(kernel.std() / std - 1) < 4 / math.sqrt(kernel.size)
    assert np.abs(kernel).max() <= 2 * std / TRUNCATED_STD * (1 + 1e-6)


def test_mlp_biases_are_normal_001(wide_mlp_layers):
  # stax.Dense's b_init, jax.nn.initializers.normal(): N(0, 0.01^2), not
  # truncated. 16,384 biases: the std to ~0.6%, the kurtosis to ~0.04.
  (_, bias), (_, out_bias) = wide_mlp_layers
  assert bias.shape == (16_384,) and out_bias.shape == (3,)
  assert abs(bias.std() / 0.01 - 1) < 0.025
  assert abs(bias.mean()) < 4 * 0.01 / math.sqrt(bias.size)
  assert abs(kurtosis(bias) - 3) < 30 / math.sqrt(bias.size)
  assert np.abs(bias).max() > 3 * 0.01  # a normal's tail, not cut at 2 std
  assert scipy.stats.kstest(bias / 0.01, 'norm').pvalue > 1e-3
  assert np.all(out_bias != 0) and np.abs(out_bias).max() < 0.05


def test_paper_mlp_biases_are_small_and_random(paper_layers):
  for _, bias in paper_layers:
    assert np.all(bias != 0) and np.abs(bias).max() < 0.06  # 6 std
  hidden = np.concatenate([b for _, b in paper_layers[:-1]])
  assert abs(hidden.std() / 0.01 - 1) < 0.1  # 768 values: ~2.6% error


def test_mlp_init_depends_on_seed(paper_mlp):
  _, (a, b) = paper_mlp
  assert not np.allclose(a['params']['Dense_0']['kernel'],
                         b['params']['Dense_0']['kernel'])


@pytest.fixture(scope='module')
def wide_pyramid_layers(pyramid):
  """[(kernel, bias)] of the pyramid on 512 inputs, seed 0: kernels
  (512, 512), (512, 512), (512, 256), (256, 128), ..., (4, 3)."""
  return dense_layers(pyramid[1])


def test_pyramid_biases_start_at_zero(wide_pyramid_layers):
  for _, bias in wide_pyramid_layers:
    np.testing.assert_array_equal(bias, 0)


@pytest.mark.parametrize('layer', [1, 2, 3])
def test_pyramid_weights_are_glorot_uniform(wide_pyramid_layers, layer):
  # Keras' default: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).
  kernel, _ = wide_pyramid_layers[layer]
  fan_in, fan_out = kernel.shape
  assert (fan_in, fan_out) == [None, (512, 512), (512, 256),
                               (256, 128)][layer]
  limit = math.sqrt(6 / (fan_in + fan_out))
  std = limit / math.sqrt(3)
  assert np.abs(kernel).max() <= limit
  assert np.abs(kernel).max() > (1 - 20 / kernel.size) * limit
  assert abs(kernel.std() / std - 1) < 4 / math.sqrt(kernel.size)
  if fan_in != fan_out:  # lecun-uniform (fan_in) is > 10% off here
    assert abs(math.sqrt(1 / fan_in) / std - 1) > 0.1
  assert abs(kurtosis(kernel) - 1.8) < 7 / math.sqrt(kernel.size)
  assert scipy.stats.kstest(kernel.ravel(), scipy.stats.uniform(
      -limit, 2 * limit).cdf).pvalue > 1e-3


# Config checks.


@pytest.mark.parametrize('fields,pattern', [
    ({'name': 'resnet'}, r"'resnet'.*mlp, pyramid"),
    ({'depth': 0}, r'model\.depth.*got 0'),
    ({'depth': -2}, r'model\.depth.*got -2'),
    ({'width': 0}, r'model\.width.*got 0'),
    ({'activation': 'swish'}, r"model\.activation 'swish'.*relu"),
    ({'output_activation': 'softmax'},
     r"model\.output_activation 'softmax'.*sigmoid"),
    ({'matmul_precision': 'float16'},
     r"model\.matmul_precision 'float16'.*float32, tensorfloat32, bfloat16"),
])
def test_make_model_rejects_bad_config(fields, pattern):
  with pytest.raises(CppnError, match=pattern):
    models.make_model(model_config(**fields))


def test_every_activation_is_accepted():
  for name in models.ACTIVATIONS:
    model = models.make_model(model_config(depth=2, width=4, activation=name))
    assert model.activation == name


@pytest.mark.skipif(jax.default_backend() == 'gpu', reason='TF32 runs there')
def test_tensorfloat32_is_refused_off_gpu():
  with pytest.raises(CppnError, match='tensorfloat32.*needs an NVIDIA GPU'):
    models.make_model(model_config(matmul_precision='tensorfloat32'))


# The feature-major dense layer against independent NumPy.


NUMPY_ACTIVATIONS = {
    'relu': lambda z: np.maximum(z, 0),
    'tanh': np.tanh,
    'sigmoid': lambda z: 1 / (1 + np.exp(-z)),
    'identity': lambda z: z,
}


def numpy_mlp(params, x, depth=3, width=64, activation='relu',
              output_activation='sigmoid'):
  """The documented MLP in float64 NumPy, pixel-major: (P, F) -> (P, 3).

  (depth - 1) x [x @ W + b, activation], then x @ W + b, output activation;
  the kernel shapes are checked against that architecture first.
  """
  layers = dense_layers(params)
  widths = [x.shape[1]] + [width] * (depth - 1) + [3]
  assert [k.shape for k, _ in layers] == list(zip(widths[:-1], widths[1:]))
  assert [b.shape for _, b in layers] == [(w,) for w in widths[1:]]
  for kernel, bias in layers[:-1]:
    x = NUMPY_ACTIVATIONS[activation](x @ kernel + bias)
  kernel, bias = layers[-1]
  return NUMPY_ACTIVATIONS[output_activation](x @ kernel + bias)


def numpy_pyramid(params, x):
  """The seed's pyramid in float64 NumPy: (P, n) -> (P, 3), ReLU after every
  layer; widths n, then n // 2^i floored at 3 for i < ceil(log2 n)."""
  n = x.shape[1]
  widths = [n] + [max(3, n // 2**i) for i in range(math.ceil(math.log2(n)))]
  layers = dense_layers(params)
  assert [k.shape for k, _ in layers] == list(zip([n] + widths[:-1], widths))
  for kernel, bias in layers:
    x = np.maximum(x @ kernel + bias, 0)
  return x


@pytest.fixture(scope='module')
def small_mlp_problem():
  model = models.MLP(depth=3, width=64)
  params = init_params(model, 32)[0]
  x = np.random.default_rng(0).normal(size=(200, 32)).astype(np.float32)
  return model, params, x


def test_mlp_matches_numpy_in_both_layouts(small_mlp_problem):
  model, params, x = small_mlp_problem
  expected = numpy_mlp(params, x.astype(np.float64))
  np.testing.assert_allclose(model.apply(params, x), expected, atol=2e-6)
  np.testing.assert_allclose(model.apply(params, x.T, feature_major=True),
                             expected.T, atol=2e-6)
  # Leading axes: (2, 100, F) -> (2, 100, 3), pixel by pixel.
  np.testing.assert_allclose(model.apply(params, x.reshape(2, 100, 32)),
                             expected.reshape(2, 100, 3), atol=2e-6)


def test_mlp_with_other_activations_matches_numpy(small_mlp_problem):
  _, params, x = small_mlp_problem
  model = models.make_model(model_config(
      depth=3, width=64, activation='tanh', output_activation='identity'))
  expected = numpy_mlp(params, x.astype(np.float64), activation='tanh',
                       output_activation='identity')
  np.testing.assert_allclose(model.apply(params, x), expected, atol=2e-6)
  assert (expected < 0).any()  # not squashed: the identity output


def test_pyramid_matches_numpy(pyramid):
  model, params = pyramid
  # Zero biases would hide a missing bias term: give every bias a value.
  rng = np.random.default_rng(3)
  params = jax.tree_util.tree_map(np.asarray, params)
  for layer in params['params'].values():
    layer['bias'] = rng.normal(scale=0.1, size=layer['bias'].shape).astype(
        np.float32)
  x = rng.normal(size=(300, 512)).astype(np.float32)
  expected = numpy_pyramid(params, x.astype(np.float64))
  assert (expected == 0).any() and (expected > 0).any()
  np.testing.assert_allclose(model.apply(params, x), expected, atol=2e-6)
  np.testing.assert_allclose(model.apply(params, x.T, feature_major=True),
                             expected.T, atol=2e-6)


def test_dense_gradients_match_numpy():
  rng = np.random.default_rng(1)
  kernel, bias, h, cotangent = (rng.normal(size=shape).astype(np.float32)
                                for shape in ((8, 5), (5,), (8, 30), (5, 30)))
  loss = lambda k, b, x: jnp.sum(models.dense(k, b, x, 'float32') * cotangent)
  grads = jax.grad(loss, argnums=(0, 1, 2))(kernel, bias, h)
  # z = kernel^T h + bias: dz/dkernel = h . ct^T, dz/dbias = ct 1, dz/dh = kernel ct.
  expected = (h @ cotangent.T, cotangent.sum(1), kernel @ cotangent)
  for got, want in zip(grads, expected):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  # Forward mode agrees with reverse mode (the rule is a custom JVP).
  tangent = rng.normal(size=kernel.shape).astype(np.float32)
  _, jvp = jax.jvp(lambda k: loss(k, bias, h), (kernel,), (tangent,))
  np.testing.assert_allclose(jvp, np.sum(grads[0] * tangent), rtol=1e-4)


def test_bfloat16_matmuls_round_but_stay_close(small_mlp_problem):
  _, params, x = small_mlp_problem
  expected = numpy_mlp(params, x.astype(np.float64))
  got = np.asarray(models.MLP(depth=3, width=64, matmul_precision='bfloat16')
                   .apply(params, x))
  error = np.abs(got - expected).max()
  assert 1e-5 < error < 2e-2  # rounded operands (7 mantissa bits), not fp32


def test_an_mlp_on_grid_features_equals_it_on_the_assembled_features():
  rng = np.random.default_rng(0)
  shape = (3, 4, 5)  # a grid N_0 x N_1 x N_2
  tables = [rng.normal(size=(6, n)).astype(np.float32) for n in shape]
  # NumPy: the features of point (i, j, k) are t0[:, i] + t1[:, j] + t2[:, k].
  features = (tables[0][:, :, None, None] + tables[1][:, None, :, None]
              + tables[2][:, None, None, :]).reshape(6, -1)
  grid = models.GridFeatures(tuple(jnp.asarray(t) for t in tables))
  model = models.MLP(depth=3, width=8, activation='softplus', out_dim=2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 6)))['params']
  apply = lambda p, x: model.apply({'params': p}, x, feature_major=True)
  np.testing.assert_allclose(apply(params, grid), apply(params, features),
                             rtol=1e-5, atol=1e-6)
  weights = jnp.asarray(rng.normal(size=(2, 60)).astype(np.float32))
  loss = lambda p, x: jnp.sum(weights * apply(p, x))
  grid_grads = jax.grad(loss)(params, grid)
  dense_grads = jax.grad(loss)(params, jnp.asarray(features))
  for a, b in zip(jax.tree_util.tree_leaves(grid_grads),
                  jax.tree_util.tree_leaves(dense_grads)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_outer_sum_and_its_gradient_match_numpy():
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
  out = models.outer_sum(jnp.asarray(a, jnp.float32),
                         jnp.asarray(b, jnp.float32))
  np.testing.assert_allclose(out, a[:, :, None] + b[:, None, :], rtol=1e-6)
  cotangent = rng.normal(size=(2, 3, 4))
  da, db = jax.vjp(models.outer_sum, jnp.asarray(a, jnp.float32),
                   jnp.asarray(b, jnp.float32))[1](
                       jnp.asarray(cotangent, jnp.float32))
  np.testing.assert_allclose(da, cotangent.sum(axis=2), rtol=1e-5)
  np.testing.assert_allclose(db, cotangent.sum(axis=1), rtol=1e-5)
