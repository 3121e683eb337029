"""Im2colConv equals XLA's convolution (flax.linen.Conv) for every geometry the specs use."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from mnist_jax.models import layers


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, use_bias", [
    (3, 1, 0, 1, False), (3, 1, 1, 1, True), (5, 1, 2, 1, True), (1, 1, 0, 1, False),
    (3, 2, 1, 1, True), (3, 1, 0, 2, False), (2, 2, 0, 1, True)])
def test_im2col_conv_matches_flax_conv(kernel_size, stride, padding, dilation, use_bias):
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 13, 13, 3))
  ours = layers.Im2colConv(7, kernel_size, stride=stride, padding=padding, dilation=dilation,
                           use_bias=use_bias)
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
