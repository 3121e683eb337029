"""Layer specs: a model is data about layers.

Each reference network is a tuple of the frozen dataclasses below, in the published
PyTorch call order. Three interpreters read the same tuple:

- `Network` (here): the Flax module used for training (NHWC);
- `mnist_jax.torch_mirror.build`: the `torch.nn` mirror (NCHW) for parity tests;
- `mnist_jax.summary`: the torchsummary-style table and the receptive field.

Specs follow torch defaults (``Conv(use_bias=True)``, max-pool stride = window) so a spec
reads like the ``nn.Module`` it mirrors. ``functional=True`` marks an op the reference
calls as ``F.relu``/``F.max_pool2d``/``x.view``/``F.log_softmax`` rather than as a module:
torchsummary does not list those, so neither does our table.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from mnist_jax.models import ops


INPUT_SHAPE = (28, 28, 1)  # H, W, C of one MNIST image, the input of every model.


@dataclasses.dataclass(frozen=True)
class Conv:
  """``nn.Conv2d(in, features, kernel_size, stride, padding, dilation, bias=use_bias)``."""
  features: int
  kernel_size: int
  padding: int = 0
  stride: int = 1
  dilation: int = 1
  use_bias: bool = True


@dataclasses.dataclass(frozen=True)
class ReLU:
  """``nn.ReLU()``, or ``F.relu`` when ``functional``."""
  functional: bool = False


@dataclasses.dataclass(frozen=True)
class BatchNorm:
  """``nn.BatchNorm2d(C)`` (or ``BatchNorm1d`` after a flatten): eps 1e-5, momentum 0.1."""


@dataclasses.dataclass(frozen=True)
class Dropout:
  """``nn.Dropout2d(p)`` when ``channelwise`` (drops whole channels), else ``nn.Dropout(p)``.

  The rate is the model's ``dropout_rate`` so one override changes every dropout layer.
  """
  channelwise: bool = False


@dataclasses.dataclass(frozen=True)
class MaxPool:
  """``nn.MaxPool2d(window, stride)``; stride defaults to the window, as in torch."""
  window: int = 2
  stride: int | None = None
  functional: bool = False


@dataclasses.dataclass(frozen=True)
class AvgPool:
  """``nn.AvgPool2d(window, stride)``; the references use it as GAP with window = map size."""
  window: int
  stride: int | None = None
  functional: bool = False


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
  """``nn.AdaptiveAvgPool2d(1)``: mean over the whole feature map, keeps a 1x1 map."""
  functional: bool = False


@dataclasses.dataclass(frozen=True)
class Flatten:
  """``x.view(N, -1)``. Flax flattens NHWC; `torch_reference` permutes Linear weights to match."""
  functional: bool = True


@dataclasses.dataclass(frozen=True)
class Dense:
  """``nn.Linear(in, features, bias=use_bias)``."""
  features: int
  use_bias: bool = True


@dataclasses.dataclass(frozen=True)
class LogSoftmax:
  """``F.log_softmax(x, dim=-1)``, the last op of every reference network."""
  functional: bool = True


Layer = Union[Conv, ReLU, BatchNorm, Dropout, MaxPool, AvgPool, GlobalAvgPool, Flatten, Dense,
              LogSoftmax]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One registered network.

  Attributes:
    name: registry name, ``ref<k>_<step>``.
    layers: the layer specs in call order.
    dropout_rate: default rate of every `Dropout` layer (0 where the model has none).
    source: where the architecture comes from (write-up file and step).
  """
  name: str
  layers: tuple[Layer, ...]
  dropout_rate: float
  source: str


def stride_of(layer: MaxPool | AvgPool) -> int:
  return layer.window if layer.stride is None else layer.stride


def output_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
  """Shape after `layer` for one example: ``(H, W, C)`` for maps, ``(F,)`` after a flatten.

  Raises:
    ValueError: if the layer does not fit the input (e.g. a kernel larger than the map).
  """
  match layer:
    case Conv(features=features, kernel_size=k, padding=p, stride=s, dilation=d):
      height, width, _ = shape
      size = lambda n: (n + 2 * p - d * (k - 1) - 1) // s + 1
      out = (size(height), size(width), features)
    case MaxPool() | AvgPool():
      height, width, channels = shape
      k, s = layer.window, stride_of(layer)
      out = ((height - k) // s + 1, (width - k) // s + 1, channels)
    case GlobalAvgPool():
      out = (1, 1, shape[-1])
    case Flatten():
      out = (math.prod(shape),)
    case Dense(features=features):
      if len(shape) != 1:
        raise ValueError(f"Dense needs a flat input, got shape {shape}; add Flatten() before it")
      out = (features,)
    case _:
      out = tuple(shape)
  if min(out) < 1:
    raise ValueError(f"{layer} does not fit input shape {shape} (output {out})")
  return out


class Im2colConv(nn.Module):
  """2-D convolution as patches times one matrix (im2col), with `flax.linen.Conv`'s variables.

  Our own because XLA:CPU's convolutions are slow for these tiny channel counts, above all
  the weight gradient and, under `jax.vmap` over replicas, the grouped convolution vmap
  turns them into; here every layer and its gradients are plain (batched) matmuls. Measured
  on the 2-core CPU, ref2 Final, batch 128, a train step took 418 ms with `nn.Conv` and
  115 ms with this; two vmapped replicas 656 vs 128 ms per replica (docs/PERFORMANCE.md).

  Attributes:
    features: output channels.
    kernel_size: square kernel side.
    stride, padding, dilation: as in `torch.nn.Conv2d` (symmetric zero padding, pixels).
    use_bias: add a bias per output channel.

  Variables: params ``kernel`` float32 [k, k, C_in, features] (HWIO, lecun-normal init) and
  ``bias`` float32 [features] (zeros), exactly as ``nn.Conv`` creates them.
  """
  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  dilation: int = 1
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: float32 [N, H, W, C_in] -> float32 [N, H_out, W_out, features]."""
    k, s, d, p = self.kernel_size, self.stride, self.dilation, self.padding
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features))
    if p:
      x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    height = (x.shape[1] - d * (k - 1) - 1) // s + 1
    width = (x.shape[2] - d * (k - 1) - 1) // s + 1
    # Patch channels in (row, column, channel) order match the HWIO kernel reshaped to 2-D.
    patches = jnp.concatenate(
        [x[:, i * d:i * d + (height - 1) * s + 1:s, j * d:j * d + (width - 1) * s + 1:s, :]
         for i in range(k) for j in range(k)], axis=-1)
    y = jnp.einsum("nhwk,kf->nhwf", patches, kernel.reshape(-1, self.features))
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


class Conv2d(Im2colConv):
  """`Im2colConv` (same attributes and variables) that switches to `ops.conv_nhwc` for layers
  with a large patch matrix: stride 1, undilated, kernel > 1, >= 8 input channels and a
  map of >= 400 pixels (ref2 Final's 26x26x10 -> 24x24x20 layer).

  There im2col's patch matrix is ~26 MB per batch of 128 and XLA's own convolution is
  faster; im2col is faster for every smaller layer (docs/PERFORMANCE.md, study 2). Only on
  the CPU, where that was measured: on an H100, im2col everywhere made the flagship's
  8-seed epoch 24 % faster and the 1-seed epoch no slower (docs/PERFORMANCE.md, GPU).
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: float32 [N, H, W, C_in] -> float32 [N, H_out, W_out, features]."""
    k, p = self.kernel_size, self.padding
    large = k > 1 and x.shape[-1] >= 8 and x.shape[1] * x.shape[2] >= 400
    if jax.default_backend() != "cpu" or not (large and self.stride == 1 and self.dilation == 1):
      return super().__call__(x)
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features))
    y = ops.conv_nhwc(x, kernel, ((p, p), (p, p)))
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


class TorchBatchNorm(nn.Module):
  """Batch normalisation with torch semantics, over all axes but the last (channels).

  Our own because ``flax.linen.BatchNorm`` updates the running variance with the biased
  batch variance, while torch uses the unbiased one (times n/(n-1)); the running
  statistics, hence eval-mode outputs, would drift from the reference otherwise.
  Normalisation in train mode uses the biased batch variance, as in torch.
  ``momentum`` is torch's: ``running = (1 - momentum) * running + momentum * batch``.

  Variables: params ``scale`` (init 1), ``bias`` (init 0); batch_stats ``mean`` (init 0),
  ``var`` (init 1); all float32 [C].
  """
  momentum: float = 0.1
  epsilon: float = 1e-5

  def _variables(self, features: int):
    """Declares scale, bias (params) and the running mean, var (batch_stats), float32 [C]."""
    scale = self.param("scale", nn.initializers.ones, (features,), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
    running_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
    running_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
    return scale, bias, running_mean, running_var

  def _update_running_stats(self, running_mean, running_var, mean: jax.Array, var: jax.Array,
                            count: int) -> None:
    """torch's update from the batch mean and biased var over `count` values per channel."""
    if self.is_initializing() or not self.is_mutable_collection("batch_stats"):
      return
    unbiased_var = var * (count / max(count - 1, 1))
    running_mean.value = (1 - self.momentum) * running_mean.value + self.momentum * mean
    running_var.value = (1 - self.momentum) * running_var.value + self.momentum * unbiased_var

  @nn.compact
  def __call__(self, x: jax.Array, use_running_average: bool) -> jax.Array:
    features = x.shape[-1]
    scale, bias, running_mean, running_var = self._variables(features)
    if use_running_average:
      mean, var = running_mean.value, running_var.value
    else:
      axes = tuple(range(x.ndim - 1))
      mean = jnp.mean(x, axis=axes)
      var = jnp.mean(jnp.square(x - mean), axis=axes)
      self._update_running_stats(running_mean, running_var, mean, var, x.size // features)
    return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias


class DropoutMask(nn.Module):
  """The keep mask `flax.linen.Dropout(rate)` would draw at this module's path.

  Lets `Network` fuse a Dropout layer into `ReluBatchNorm` while keeping its random
  stream: same ``dropout`` rng stream, same module name, hence same key and mask.
  """
  rate: float

  @nn.compact
  def __call__(self, shape: tuple[int, ...]) -> jax.Array:
    """Returns bool `shape`, True where the value is kept."""
    return ops.dropout_keep_mask(self.make_rng("dropout"), self.rate, shape)


class ReluBatchNorm(TorchBatchNorm):
  """ReLU -> `TorchBatchNorm` (train mode) -> optional dropout as one op with its own VJP.

  Same variables and running-statistics update as `TorchBatchNorm`; the math of
  `ops.relu_batch_norm_dropout`. Used by `Network` in train mode only.
  """

  @nn.compact
  def __call__(self, z: jax.Array, keep_mask: jax.Array | None = None,
               keep_prob: float = 1.0) -> jax.Array:
    """z float32 [..., C] (before the ReLU); keep_mask bool like z or None -> float32 like z."""
    features = z.shape[-1]
    scale, bias, running_mean, running_var = self._variables(features)
    y, mean, var = ops.relu_batch_norm_dropout(z, scale, bias, keep_mask, keep_prob, self.epsilon)
    self._update_running_stats(running_mean, running_var, mean, var, z.size // features)
    return y


class Network(nn.Module):
  """Flax interpreter of a layer-spec tuple.

  Submodule names are ``layers_<i>`` with ``i`` the index in `layers`, matching the keys of
  the ``torch.nn.Sequential`` mirror built by `mnist_jax.torch_mirror.build`.

  In train mode a ReLU -> BatchNorm (-> element-wise Dropout) run is computed by
  `ReluBatchNorm` in one fused op; variables, random streams and math are those of the
  separate layers (tests/test_ops.py), only faster on CPU.

  Attributes:
    layers: layer specs in call order (see `ModelSpec`).
    dropout_rate: rate of every `Dropout` layer.
  """
  layers: Sequence[Layer]
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    """Runs the network.

    Args:
      x: float32 [N, 28, 28, 1] normalised images (NHWC).
      train: batch statistics and dropout on (needs ``rngs={'dropout': key}`` when the
        model has dropout with a rate > 0, and ``mutable=['batch_stats']``).

    Returns:
      float32 [N, num_classes] log-probabilities when the spec ends with `LogSoftmax`.
    """
    layers = tuple(self.layers)
    index = 0
    while index < len(layers):
      layer, name = layers[index], f"layers_{index}"
      if train and _is_relu_batch_norm(layers[index:index + 2]):
        keep_mask, keep_prob, fused = None, 1.0, 2
        following = layers[index + 2] if index + 2 < len(layers) else None
        if isinstance(following, Dropout) and not (following.channelwise and x.ndim == 4):
          fused = 3
          if self.dropout_rate > 0:
            keep_prob = 1.0 - self.dropout_rate
            keep_mask = DropoutMask(self.dropout_rate, name=f"layers_{index + 2}")(x.shape)
        x = ReluBatchNorm(name=f"layers_{index + 1}")(x, keep_mask, keep_prob)
        index += fused
        continue
      index += 1
      match layer:
        case Conv():
          x = Conv2d(layer.features, layer.kernel_size, stride=layer.stride,
                     padding=layer.padding, dilation=layer.dilation,
                     use_bias=layer.use_bias, name=name)(x)
        case ReLU():
          x = nn.relu(x)
        case BatchNorm():
          x = TorchBatchNorm(name=name)(x, use_running_average=not train)
        case Dropout():
          # NHWC: broadcasting the mask over H and W drops whole channels like Dropout2d.
          broadcast_dims = (1, 2) if layer.channelwise and x.ndim == 4 else ()
          x = nn.Dropout(self.dropout_rate, broadcast_dims=broadcast_dims,
                         deterministic=not train, name=name)(x)
        case MaxPool():
          s = stride_of(layer)
          if layer.window == s == 2 and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0:
            x = ops.max_pool_2x2(x)
          else:
            x = nn.max_pool(x, (layer.window, layer.window), strides=(s, s), padding="VALID")
        case AvgPool():
          s = stride_of(layer)
          x = nn.avg_pool(x, (layer.window, layer.window), strides=(s, s), padding="VALID")
        case GlobalAvgPool():
          x = jnp.mean(x, axis=(1, 2), keepdims=True)
        case Flatten():
          x = x.reshape((x.shape[0], -1))
        case Dense():
          x = nn.Dense(layer.features, use_bias=layer.use_bias, name=name)(x)
        case LogSoftmax():
          x = nn.log_softmax(x, axis=-1)
        case _:
          raise TypeError(f"unknown layer spec {layer!r}")
    return x


def _is_relu_batch_norm(layers: Sequence[Layer]) -> bool:
  return len(layers) == 2 and isinstance(layers[0], ReLU) and isinstance(layers[1], BatchNorm)
