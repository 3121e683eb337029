"""The XLA:CPU fast path (mnist_jax.models.fast_cpu and its ops) equals the plain ops it replaces."""

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist_jax import models
from mnist_jax.models import fast_cpu
from mnist_jax.models import fast_cpu_ops
from mnist_jax.models import layers
from mnist_jax.models import network


@pytest.mark.parametrize("shape, kernel_size, padding", [
    ((4, 26, 26, 10), 3, 0), ((3, 12, 12, 8), 3, 1), ((2, 9, 11, 5), 5, 2), ((2, 7, 7, 3), 1, 0)])
def test_conv_nhwc_values_and_gradients_equal_lax_convolution(shape, kernel_size, padding):
  x = jax.random.normal(jax.random.PRNGKey(0), shape)
  kernel = jax.random.normal(jax.random.PRNGKey(1), (kernel_size, kernel_size, shape[-1], 6))
  pads = ((padding, padding), (padding, padding))
  reference = lambda x, k: lax.conv_general_dilated(
      x, k, (1, 1), pads, dimension_numbers=("NHWC", "HWIO", "NHWC"))
  ours = lambda x, k: fast_cpu_ops.conv_nhwc(x, k, pads)
  np.testing.assert_allclose(ours(x, kernel), reference(x, kernel), rtol=1e-5, atol=1e-5)
  weights = jax.random.normal(jax.random.PRNGKey(2), reference(x, kernel).shape)
  loss = lambda conv: lambda x, k: jnp.sum(conv(x, k) * weights)
  for a, b in zip(jax.grad(loss(ours), argnums=(0, 1))(x, kernel),
                  jax.grad(loss(reference), argnums=(0, 1))(x, kernel)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_conv2d_uses_conv_nhwc_on_large_layers_and_matches_im2col():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 26, 26, 10))
  conv = fast_cpu.Conv2d(layers.Conv(20, 3))
  variables = conv.init(jax.random.PRNGKey(1), x)
  jaxpr = str(jax.make_jaxpr(lambda v: conv.apply(v, x))(variables))
  assert "conv_general_dilated" in jaxpr  # the large-layer path was taken
  im2col = fast_cpu.Im2colConv(layers.Conv(20, 3))
  np.testing.assert_allclose(conv.apply(variables, x), im2col.apply(variables, x), rtol=1e-5, atol=1e-5)
  small = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 10))
  assert "conv_general_dilated" not in str(jax.make_jaxpr(lambda v: conv.apply(v, small))(variables))


def test_fast_path_is_chosen_once_by_the_config_field(monkeypatch):
  # Replaces the backend check that used to sit inside Conv2d: "auto" decides by backend,
  # once, in models.create; "on" and "off" are the same on every backend.
  assert type(models.create("ref2_final", fast_path="on")) is fast_cpu.FastCpuNetwork
  assert type(models.create("ref2_final", fast_path="off")) is network.Network
  # Each backend named, so the test holds on whichever machine runs it.
  monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
  assert type(models.create("ref2_final", fast_path="auto")) is fast_cpu.FastCpuNetwork
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert type(models.create("ref2_final", fast_path="auto")) is network.Network
  assert type(models.create("ref2_final", fast_path="on")) is fast_cpu.FastCpuNetwork
  with pytest.raises(ValueError, match="fast_path must be one of auto, on, off, got 'fast'"):
    models.create("ref2_final", fast_path="fast")


def _tied_maps(shape):
  # Few distinct values, so most 2x2 windows hold ties: the gradient must go to the first.
  return jnp.round(jax.random.normal(jax.random.PRNGKey(3), shape) * 1.5).clip(0)


@pytest.mark.parametrize("values", [_tied_maps, lambda s: jax.random.normal(jax.random.PRNGKey(4), s)])
def test_max_pool_2x2_values_and_gradient_routing_equal_flax_max_pool(values):
  x = values((3, 12, 10, 4))
  reference = lambda x: nn.max_pool(x, (2, 2), strides=(2, 2), padding="VALID")
  np.testing.assert_array_equal(fast_cpu_ops.max_pool_2x2(x), reference(x))
  weights = jax.random.normal(jax.random.PRNGKey(5), (3, 6, 5, 4))
  ours = jax.grad(lambda x: jnp.sum(fast_cpu_ops.max_pool_2x2(x) * weights))(x)
  expected = jax.grad(lambda x: jnp.sum(reference(x) * weights))(x)
  np.testing.assert_array_equal(ours, expected)
  if values is _tied_maps:
    assert int(jnp.sum(x == 0)) > x.size // 4  # the ties are really there


def test_max_pool_2x2_rejects_odd_maps():
  with pytest.raises(ValueError, match="even height and width, got 5x4"):
    fast_cpu_ops.max_pool_2x2(jnp.zeros((1, 5, 4, 1)))


class _Separate(nn.Module):
  rate: float

  @nn.compact
  def __call__(self, x):
    x = network.TorchBatchNorm(name="layers_1")(nn.relu(x), use_running_average=False)
    return nn.Dropout(self.rate, deterministic=False, name="layers_2")(x)


class _Fused(nn.Module):
  rate: float

  @nn.compact
  def __call__(self, x):
    keep_mask = fast_cpu.DropoutMask(self.rate, name="layers_2")(x.shape) if self.rate else None
    return fast_cpu.ReluBatchNorm(name="layers_1")(x, keep_mask, 1.0 - self.rate)


@pytest.mark.parametrize("partitionable", [False, True])
@pytest.mark.parametrize("rate, shape", [(0.1, (16, 6, 6, 5)), (0.05, (8, 7)), (0.0, (16, 4, 4, 3))])
def test_relu_batch_norm_dropout_equals_the_three_flax_layers(rate, shape, partitionable):
  z = jax.random.normal(jax.random.PRNGKey(0), shape) + 0.3
  params = {"layers_1": {"scale": jnp.linspace(0.5, 1.5, shape[-1]),
                         "bias": jnp.linspace(-0.2, 0.2, shape[-1])}}
  batch_stats = {"layers_1": {"mean": jnp.full(shape[-1], 0.1), "var": jnp.full(shape[-1], 2.0)}}
  weights = jax.random.normal(jax.random.PRNGKey(1), shape)

  def run(module, params, z):
    y, updates = module.apply({"params": params, "batch_stats": batch_stats}, z,
                              rngs={"dropout": jax.random.PRNGKey(7)}, mutable=["batch_stats"])
    return jnp.sum(y * weights), (y, updates)

  with jax.threefry_partitionable(partitionable):
    results = [jax.value_and_grad(run, argnums=(1, 2), has_aux=True)(module(rate), params, z)
               for module in (_Fused, _Separate)]
  (_, (y, stats)), grads = results[0]
  (_, (expected_y, expected_stats)), expected_grads = results[1]
  if rate:
    np.testing.assert_array_equal(y == 0, expected_y == 0)  # the same dropout mask
    assert 0 < int(jnp.sum(expected_y == 0)) < y.size // 3
  np.testing.assert_allclose(y, expected_y, rtol=1e-5, atol=1e-6)
  for a, b in zip(jax.tree.leaves(stats), jax.tree.leaves(expected_stats)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(expected_grads)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(1,), (7,), (128, 26, 26, 10), (3, 5, 5)])
def test_threefry_random_bits_equal_jax_random_bits(shape):
  for key in (jax.random.PRNGKey(0), jax.random.fold_in(jax.random.key(3), 11)):
    with jax.threefry_partitionable(False):
      expected = jax.random.bits(key, shape, jnp.uint32)
      np.testing.assert_array_equal(fast_cpu_ops.threefry_random_bits(key, shape), expected)
      np.testing.assert_array_equal(jax.jit(fast_cpu_ops.threefry_random_bits, static_argnums=1)(key, shape), expected)


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.1, 0.25, 0.5])
def test_dropout_keep_mask_equals_bernoulli(rate):
  key = jax.random.PRNGKey(42)
  for partitionable in (False, True):
    with jax.threefry_partitionable(partitionable):
      np.testing.assert_array_equal(fast_cpu_ops.dropout_keep_mask(key, rate, (64, 100)),
                                    jax.random.bernoulli(key, 1.0 - rate, (64, 100)))


def test_dropout_keep_mask_rejects_bad_rate():
  with pytest.raises(ValueError, match=r"dropout rate must be in \[0, 1\), got 1.0"):
    fast_cpu_ops.dropout_keep_mask(jax.random.PRNGKey(0), 1.0, (3,))


# Im2colConv equals XLA's convolution (flax.linen.Conv) for every geometry the specs use.
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, use_bias", [
    (3, 1, 0, 1, False), (3, 1, 1, 1, True), (5, 1, 2, 1, True), (1, 1, 0, 1, False),
    (3, 2, 1, 1, True), (3, 1, 0, 2, False), (2, 2, 0, 1, True)])
def test_im2col_conv_matches_flax_conv(kernel_size, stride, padding, dilation, use_bias):
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 13, 13, 3))
  ours = fast_cpu.Im2colConv(layers.Conv(7, kernel_size, stride=stride, padding=padding,
                                         dilation=dilation, use_bias=use_bias))
  variables = ours.init(jax.random.PRNGKey(1), x)
  if use_bias:
    variables = {"params": dict(variables["params"], bias=np.arange(7, dtype=np.float32))}
  flax_conv = nn.Conv(7, (kernel_size, kernel_size), strides=stride,
                      padding=((padding, padding), (padding, padding)),
                      kernel_dilation=dilation, use_bias=use_bias)
  assert jax.tree.map(np.shape, flax_conv.init(jax.random.PRNGKey(1), x)) == jax.tree.map(np.shape, variables)
  expected = flax_conv.apply(variables, x)
  actual = ours.apply(variables, x)
  assert actual.shape == expected.shape
  np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)
  # Gradients too: training runs through them.
  grad_ours = jax.grad(lambda v: (ours.apply(v, x) ** 2).sum())(variables)
  grad_flax = jax.grad(lambda v: (flax_conv.apply(v, x) ** 2).sum())(variables)
  for a, b in zip(jax.tree.leaves(grad_ours), jax.tree.leaves(grad_flax)):
    np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-4)


# DepthwiseConv equals XLA's grouped convolution (flax.linen.Conv, feature_group_count = C),
# values and gradients with respect to the input and the variables.
@pytest.mark.parametrize("kernel_size, stride, padding, dilation, use_bias", [
    (3, 1, 0, 1, False), (3, 1, 1, 1, True), (3, 2, 1, 1, False), (3, 1, 0, 2, True)])
def test_depthwise_conv_matches_flax_grouped_conv(kernel_size, stride, padding, dilation, use_bias):
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 11, 11, 6))
  ours = fast_cpu.DepthwiseConv(layers.Conv(6, kernel_size, stride=stride, padding=padding,
                                            dilation=dilation, use_bias=use_bias, groups=6))
  variables = ours.init(jax.random.PRNGKey(1), x)
  if use_bias:
    variables = {"params": dict(variables["params"], bias=np.arange(6, dtype=np.float32))}
  flax_conv = nn.Conv(6, (kernel_size, kernel_size), strides=stride,
                      padding=((padding, padding), (padding, padding)), kernel_dilation=dilation,
                      feature_group_count=6, use_bias=use_bias)
  assert jax.tree.map(np.shape, flax_conv.init(jax.random.PRNGKey(1), x)) == jax.tree.map(np.shape, variables)
  np.testing.assert_allclose(ours.apply(variables, x), flax_conv.apply(variables, x),
                             atol=1e-5, rtol=1e-5)
  grad_ours = jax.grad(lambda v, x: (ours.apply(v, x) ** 2).sum(), argnums=(0, 1))(variables, x)
  grad_flax = jax.grad(lambda v, x: (flax_conv.apply(v, x) ** 2).sum(), argnums=(0, 1))(variables, x)
  for a, b in zip(jax.tree.leaves(grad_ours), jax.tree.leaves(grad_flax)):
    np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-4)


def test_fast_path_takes_depthwise_conv_for_depthwise_layers_only():
  x = jnp.zeros((2, 8, 8, 4))
  spec = (layers.Conv(4, 3, use_bias=False, groups=4), layers.Conv(8, 3, use_bias=False, groups=2))
  network = fast_cpu.FastCpuNetwork(layers=spec, dropout_rate=0.0)
  calls = []
  original = fast_cpu.DepthwiseConv.__call__
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(fast_cpu.DepthwiseConv, "__call__",
                  lambda self, x: calls.append(self.layer) or original(self, x))
    network.init(jax.random.PRNGKey(0), x, train=False)
  # The 4 -> 4 depthwise layer, not the 2-group 4 -> 8 one (the plain grouped convolution).
  assert calls == [spec[0]]
