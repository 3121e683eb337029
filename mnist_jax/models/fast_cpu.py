"""The XLA:CPU fast path (``config.fast_path``): `FastCpuNetwork` computes what `network.Network`
computes, with the same variables, random streams and math (tests/test_fast_cpu.py,
tests/test_epoch.py), only faster; the measurements behind each choice: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from mnist_jax.models import fast_cpu_ops
from mnist_jax.models import network
from mnist_jax.models.layers import BatchNorm, Conv, Dropout, Layer, MaxPool, ReLU, stride_of


def _windows(x: jax.Array, layer: Conv) -> list[jax.Array]:
  """The k * k shifted windows of x [N, H, W, C] a convolution reads, kernel tap (i, j) in
  row-major order, each [N, H_out, W_out, C] (after the layer's zero padding)."""
  k, s, d, p = layer.kernel_size, layer.stride, layer.dilation, layer.padding
  if p:
    x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
  height = (x.shape[1] - d * (k - 1) - 1) // s + 1
  width = (x.shape[2] - d * (k - 1) - 1) // s + 1
  return [x[:, i * d:i * d + (height - 1) * s + 1:s, j * d:j * d + (width - 1) * s + 1:s, :]
          for i in range(k) for j in range(k)]


class Im2colConv(nn.Module):
  """2-D convolution as patches times one matrix (im2col), with `flax.linen.Conv`'s variables.

  Our own because XLA:CPU's convolutions (above all the weight gradient, and the grouped ones
  `jax.vmap` makes over replicas) are slow for these tiny channel counts; here all are plain
  matmuls. ref2 Final, batch 128, 2-core CPU: a train step 418 ms with `nn.Conv`, 115 ms with
  this; two vmapped replicas 656 vs 128 ms per replica (docs/PERFORMANCE.md).

  ``layer``: the `layers.Conv` spec. Variables as ``nn.Conv`` creates them: params ``kernel``
  float32 [k, k, C_in, features] (HWIO, lecun-normal) and ``bias`` float32 [features] (zeros).
  """
  layer: Conv

  def _kernel(self, in_features: int) -> jax.Array:
    k = self.layer.kernel_size
    shape = (k, k, in_features, self.layer.features)
    return self.param("kernel", nn.initializers.lecun_normal(), shape)

  def _add_bias(self, y: jax.Array) -> jax.Array:
    if not self.layer.use_bias:
      return y
    return y + self.param("bias", nn.initializers.zeros, (self.layer.features,))

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: float32 [N, H, W, C_in] -> float32 [N, H_out, W_out, features]."""
    kernel = self._kernel(x.shape[-1])
    # Patch channels in (row, column, channel) order match the HWIO kernel reshaped to 2-D.
    patches = jnp.concatenate(_windows(x, self.layer), axis=-1)
    return self._add_bias(
        jnp.einsum("nhwk,kf->nhwf", patches, kernel.reshape(-1, self.layer.features)))


class Conv2d(Im2colConv):
  """`Im2colConv` that switches to `fast_cpu_ops.conv_nhwc` for a large patch matrix: stride 1,
  undilated, kernel > 1, >= 8 input channels, >= 400 pixels (ref2 Final's 26x26x10 -> 24x24x20:
  ~26 MB per batch of 128), where XLA:CPU's convolution is faster (docs/PERFORMANCE.md, study 2).
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: float32 [N, H, W, C_in] -> float32 [N, H_out, W_out, features]."""
    layer = self.layer
    large = layer.kernel_size > 1 and x.shape[-1] >= 8 and x.shape[1] * x.shape[2] >= 400
    if not (large and layer.stride == 1 and layer.dilation == 1):
      return super().__call__(x)
    p = layer.padding
    return self._add_bias(fast_cpu_ops.conv_nhwc(x, self._kernel(x.shape[-1]), ((p, p), (p, p))))


class DepthwiseConv(Im2colConv):
  """A depthwise convolution (``groups`` = input channels = features) as k * k shifted
  element-wise multiply-adds, with `flax.linen.Conv`'s variables.

  Our own because XLA:CPU's grouped convolution, above all its gradients, is far slower: a
  frontier_2k_separable train step at batch 64 took 181.9 ms with ``nn.Conv``, 37.6 ms with this
  (docs/measurements/depthwise_conv/depthwise_step.log; docs/EXPERIMENTS.md, "Frontier").

  Variables: params ``kernel`` float32 [k, k, 1, C] (as ``nn.Conv`` with
  ``feature_group_count=C`` creates it) and ``bias`` float32 [C] when ``use_bias``.
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: float32 [N, H, W, C] -> float32 [N, H_out, W_out, C]."""
    kernel = self._kernel(1).reshape(-1, self.layer.features)  # [k * k, C], taps row-major
    return self._add_bias(sum(w * kernel[t] for t, w in enumerate(_windows(x, self.layer))))


class DropoutMask(nn.Module):
  """The keep mask `flax.linen.Dropout(rate)` would draw at this module's path (same rng
  stream and module name, hence key), so a Dropout fused into `ReluBatchNorm` keeps its mask."""
  rate: float | None

  @nn.compact
  def __call__(self, shape: tuple[int, ...], keep_prob: jax.Array | None = None) -> jax.Array:
    """Returns bool `shape`, True where the value is kept (keep_prob: a swept 1 - rate)."""
    return fast_cpu_ops.dropout_keep_mask(self.make_rng("dropout"), self.rate, shape, keep_prob)


class ReluBatchNorm(network.TorchBatchNorm):
  """ReLU -> `TorchBatchNorm` (train mode only) -> optional dropout as one op with its own VJP
  (`fast_cpu_ops.relu_batch_norm_dropout`); `TorchBatchNorm`'s variables and update."""

  @nn.compact
  def __call__(self, z: jax.Array, keep_mask: jax.Array | None = None,
               keep_prob: float = 1.0) -> jax.Array:
    """z float32 [..., C] (before the ReLU); keep_mask bool like z or None -> float32 like z."""
    features = z.shape[-1]
    scale, bias, running_mean, running_var = self._variables(features)
    y, mean, var = fast_cpu_ops.relu_batch_norm_dropout(z, scale, bias, keep_mask, keep_prob,
                                                        self.epsilon)
    self._update_running_stats(running_mean, running_var, mean, var, z.size // features)
    return y


class FastCpuNetwork(network.Network):
  """`network.Network` with the XLA:CPU fast path (same attributes, variables and outputs): in
  train mode ReLU -> BatchNorm (-> element-wise Dropout) is one `ReluBatchNorm`; dense convs are
  `Conv2d`, depthwise ones `DepthwiseConv`; 2x2/2 max-pools on even maps `max_pool_2x2`."""

  def apply_layers(self, layers: tuple[Layer, ...], index: int, x: jax.Array, train: bool,
                   keep_prob: jax.Array | None = None) -> tuple[jax.Array, int]:
    """As `network.Network.apply_layers`; may consume a ReLU -> BatchNorm (-> Dropout) run."""
    layer, name = layers[index], f"layers_{index}"
    following = layers[index + 1:index + 3]
    if train and isinstance(layer, ReLU) and following and isinstance(following[0], BatchNorm):
      return self._relu_batch_norm(following[1:], index, x, keep_prob)
    match layer:
      case Conv() if layer.groups == 1:  # im2col is for dense convolutions.
        return Conv2d(layer, name=name)(x), 1
      case Conv() if layer.groups == x.shape[-1] == layer.features:
        return DepthwiseConv(layer, name=name)(x), 1
      case MaxPool() if (layer.window == stride_of(layer) == 2
                         and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0):
        return fast_cpu_ops.max_pool_2x2(x), 1
    return super().apply_layers(layers, index, x, train, keep_prob)

  def _relu_batch_norm(self, rest: tuple[Layer, ...], index: int, x: jax.Array,
                       swept_keep_prob: jax.Array | None) -> tuple[jax.Array, int]:
    """ReLU at `index`, BatchNorm after it, and `rest[0]` if it is an element-wise Dropout."""
    keep_mask, keep_prob, consumed = None, 1.0, 2
    if rest and isinstance(rest[0], Dropout) and not (rest[0].channelwise and x.ndim == 4):
      consumed = 3
      mask = DropoutMask(self.dropout_rate, name=f"layers_{index + 2}")
      if swept_keep_prob is not None:
        keep_prob, keep_mask = swept_keep_prob, mask(x.shape, swept_keep_prob)
      elif self.dropout_rate > 0:
        keep_prob, keep_mask = 1.0 - self.dropout_rate, mask(x.shape)
    return ReluBatchNorm(name=f"layers_{index + 1}")(x, keep_mask, keep_prob), consumed
