"""The plain Flax interpreter of a layer-spec tuple: each spec layer becomes the Flax module or
function computing what its torch counterpart computes (`fast_cpu`: the same, faster on XLA:CPU).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from mnist_jax.models.layers import (AvgPool, BatchNorm, Conv, Dense, Dropout, Flatten,
                                     GlobalAvgPool, Layer, LogSoftmax, MaxPool, ReLU, stride_of)


class TorchBatchNorm(nn.Module):
  """Batch normalisation with torch semantics, over all axes but the last (channels). Our own:
  ``flax.linen.BatchNorm`` updates the running variance with the biased batch variance, torch
  with the unbiased one (both normalise by the biased one). ``momentum`` is torch's: ``running =
  (1 - momentum) * running + momentum * batch``. Variables, all float32 [C]: params ``scale``
  (init 1), ``bias`` (init 0); batch_stats ``mean`` (init 0), ``var`` (init 1).
  """
  momentum: float = 0.1
  epsilon: float = 1e-5

  def _variables(self, features: int):
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
    """x: float32 [..., C] -> float32 like x."""
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


class SweptDropout(nn.Module):
  """`flax.linen.Dropout` in train mode with the keep probability as an array (the run's
  hyperparameters, one per replica; Flax's takes a Python number): the same mask and scaling,
  bit for bit."""
  broadcast_dims: Sequence[int] = ()

  @nn.compact
  def __call__(self, x: jax.Array, keep_prob: jax.Array) -> jax.Array:
    """x: float32 [...]; keep_prob: float32 [] -> float32 like x."""
    shape = tuple(1 if axis in self.broadcast_dims else size for axis, size in enumerate(x.shape))
    keep = jax.random.bernoulli(self.make_rng("dropout"), keep_prob, shape)
    # Times the reciprocal: what XLA makes of Flax's division by a constant keep probability,
    # so an array keep_prob gives the bits of `nn.Dropout(rate)`.
    return jax.lax.select(jnp.broadcast_to(keep, x.shape), x * (1.0 / keep_prob),
                          jnp.zeros_like(x))


class Network(nn.Module):
  """Flax interpreter of `layers` (specs in call order); `dropout_rate`: every `Dropout`'s.
  Submodules are ``layers_<i>``, i the index in `layers`, as the torch mirror's keys. Conv
  variables: ``kernel`` float32 [k, k, C_in / groups, C_out] (HWIO), ``bias`` float32 [C_out];
  Dense: ``kernel`` [F_in, F_out], ``bias`` [F_out].
  """
  layers: Sequence[Layer]
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False,
               keep_prob: jax.Array | None = None) -> jax.Array:
    """x float32 [N, 28, 28, 1] normalised images (NHWC) -> float32 [N, num_classes]
    log-probabilities when the spec ends with `LogSoftmax`. `train`: batch statistics and
    dropout on (needs ``mutable=['batch_stats']`` and, with dropout, ``rngs={'dropout': key}``);
    `keep_prob` float32 [] replaces ``1 - dropout_rate`` for a swept rate (computed as Flax does).
    """
    layers = tuple(self.layers)
    index = 0
    while index < len(layers):
      x, consumed = self.apply_layers(layers, index, x, train, keep_prob)
      index += consumed
    return x

  def apply_layers(self, layers: tuple[Layer, ...], index: int, x: jax.Array, train: bool,
                   keep_prob: jax.Array | None = None) -> tuple[jax.Array, int]:
    """Applies ``layers[index]`` to x; returns the output and the layers consumed (1; the
    fast path's override may take a run). Raises TypeError for an unknown layer spec."""
    layer, name = layers[index], f"layers_{index}"
    match layer:
      case Conv():
        p, d = layer.padding, layer.dilation
        x = nn.Conv(layer.features, (layer.kernel_size, layer.kernel_size),
                    strides=layer.stride, padding=((p, p), (p, p)), kernel_dilation=(d, d),
                    feature_group_count=layer.groups, use_bias=layer.use_bias, name=name)(x)
      case ReLU():
        x = nn.relu(x)
      case BatchNorm():
        x = TorchBatchNorm(name=name)(x, use_running_average=not train)
      case Dropout():
        # NHWC: broadcasting the mask over H and W drops whole channels like Dropout2d.
        broadcast_dims = (1, 2) if layer.channelwise and x.ndim == 4 else ()
        if keep_prob is None:
          x = nn.Dropout(self.dropout_rate, broadcast_dims=broadcast_dims,
                         deterministic=not train, name=name)(x)
        elif train:
          x = SweptDropout(broadcast_dims, name=name)(x, keep_prob)
      case MaxPool() | AvgPool():
        pool, s = nn.max_pool if isinstance(layer, MaxPool) else nn.avg_pool, stride_of(layer)
        x = pool(x, (layer.window, layer.window), strides=(s, s), padding="VALID")
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
    return x, 1
