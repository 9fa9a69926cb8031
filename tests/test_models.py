"""Tests for cppn.models: parameter counts, outputs, init, config checks.

Counts are checked against closed-form sums written here (the paper's 4 x 256
MLP, the seed project's pyramid at its four L_FACT values); shapes come from
jax.eval_shape where values are not needed, to keep the file fast.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cppn import encodings
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


@pytest.mark.parametrize('num_freqs,expected', [
    (33, 11_115), (65, 44_075), (129, 175_531), (257, 700_587)])
def test_seed_pyramid_param_counts(num_freqs, expected):
  config = configs.seed.get_config()
  config.encoding.num_freqs = num_freqs
  params = encodings.init_encoding(config.encoding, config.data.resolution)
  features = jax.eval_shape(
      lambda p: encodings.encode('linear_sin', p, jnp.zeros((1, 2))), params)
  num_inputs = features.shape[-1]
  assert num_inputs == 2 * (num_freqs - 1)
  model = models.make_model(config.model)
  assert models.count_params(param_shapes(model, num_inputs)) == expected


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
  """The pyramid MLP on 16 inputs (widths 16, 16, 8, 4, 3), its parameters."""
  model = models.make_model(model_config(name='pyramid'))
  return model, init_params(model, 16)[0]


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
  x = jax.random.normal(jax.random.PRNGKey(2), (500, 16))
  y = np.asarray(jax.jit(model.apply)(params, x))
  assert y.shape == (500, 3)
  assert (y >= 0).all()
  assert (y == 0).any() and (y > 0).any()  # clipped at 0, not saturating


# Initialisation.


def test_mlp_biases_are_normal_001(paper_layers):
  for _, bias in paper_layers[:-1]:
    assert bias.shape == (256,)
    assert abs(bias.std() / 0.01 - 1) < 0.2
    assert abs(bias.mean()) < 0.003


def test_mlp_weights_are_glorot_normal(paper_layers):
  shapes = [k.shape for k, _ in paper_layers]
  assert shapes == [(512, 256), (256, 256), (256, 256), (256, 3)]
  for kernel, _ in paper_layers:
    fan_in, fan_out = kernel.shape
    expected = math.sqrt(2 / (fan_in + fan_out))
    assert abs(kernel.std() / expected - 1) < 0.15, kernel.shape
    assert abs(kernel.mean()) < 0.1 * expected


def test_mlp_init_depends_on_seed(paper_mlp):
  _, (a, b) = paper_mlp
  assert not np.allclose(a['params']['Dense_0']['kernel'],
                         b['params']['Dense_0']['kernel'])


def test_pyramid_biases_start_at_zero(pyramid):
  for _, bias in dense_layers(pyramid[1]):
    np.testing.assert_array_equal(bias, 0)


def test_pyramid_weights_are_glorot_uniform(pyramid):
  scaled = []  # each kernel over its glorot-uniform limit: U(-1, 1) pooled
  for kernel, _ in dense_layers(pyramid[1]):
    fan_in, fan_out = kernel.shape
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= limit, kernel.shape
    scaled.append(kernel.ravel() / limit)
  assert abs(np.concatenate(scaled).std() * math.sqrt(3) - 1) < 0.1


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


def numpy_mlp(params, x):
  """The paper MLP in float64 NumPy, pixel-major: (P, F) -> (P, 3)."""
  layers = dense_layers(params)
  for kernel, bias in layers[:-1]:
    x = np.maximum(x @ kernel + bias, 0)
  kernel, bias = layers[-1]
  return 1 / (1 + np.exp(-(x @ kernel + bias)))


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
