"""Ops of the XLA:CPU fast path (`fast_cpu`), where XLA:CPU's autodiff is slow: each computes
what the plain JAX/Flax op computes (same math, same random stream), only faster
(docs/PERFORMANCE.md, "Study"); tests/test_fast_cpu.py checks values and gradients.
"""

from __future__ import annotations

import functools

import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

_NHWC = ("NHWC", "HWIO", "NHWC")


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_nhwc(x: jax.Array, kernel: jax.Array, padding: tuple[tuple[int, int], ...]) -> jax.Array:
  """Stride-1, undilated convolution: x float32 [N, H, W, C] * kernel float32 [kh, kw, C, F]
  (HWIO), zero `padding` ((top, bottom), (left, right)) in pixels ->
  float32 [N, H + top + bottom - kh + 1, W + left + right - kw + 1, F]. Our own VJP: inside
  `lax.scan` XLA:CPU runs autodiff's conv gradients in non-canonical dimension orders on a slow
  generic path (ref2 Final's 26x26 weight gradient: 180 vs 11 ms per step as NHWC/HWIO here).
  """
  return lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=_NHWC)


def _conv_forward(x, kernel, padding):
  return conv_nhwc(x, kernel, padding), (x, kernel)


def _conv_backward(padding, residuals, g):
  x, kernel = residuals
  kh, kw = kernel.shape[:2]
  (top, bottom), (left, right) = padding
  # Input gradient: full convolution of g with the flipped kernel, [kh, kw, F, C] as HWIO.
  dx = lax.conv_general_dilated(
      g, kernel[::-1, ::-1].transpose(0, 1, 3, 2), (1, 1),
      ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right)),
      dimension_numbers=_NHWC)
  # Kernel gradient: batch and channels swapped, [C, H, W, N] * [H', W', N, F] -> [C, kh, kw, F].
  padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
  dkernel = lax.conv_general_dilated(
      padded.transpose(3, 1, 2, 0), g.transpose(1, 2, 0, 3), (1, 1), "VALID",
      dimension_numbers=_NHWC).transpose(1, 2, 0, 3)
  return dx, dkernel


conv_nhwc.defvjp(_conv_forward, _conv_backward)


@jax.custom_vjp
def max_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 max-pool with stride 2 on even maps: float32 [N, H, W, C] -> [N, H/2, W/2, C]. Our own:
  `reduce_window`'s gradient (`select_and_scatter`) is slow on XLA:CPU. The gradient goes to the
  first maximum of each window in row-major order, as torch's MaxPool2d (`jnp.max`'s would split
  ties). Raises ValueError for an odd H or W (use `flax.linen.max_pool` there).
  """
  n, h, w, c = x.shape
  if h % 2 or w % 2:
    raise ValueError(f"max_pool_2x2 needs an even height and width, got {h}x{w}")
  return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _pool_forward(x):
  return max_pool_2x2(x), x


def _pool_backward(x, g):
  n, h, w, c = x.shape
  windows = x.reshape(n, h // 2, 2, w // 2, 2, c)
  a, b, c_, d = (windows[:, :, i, :, j] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
  # The winner is chosen from the four values alone, never by `x == forward max`: XLA may
  # recompute x in this fusion with other rounding, and then nothing would match.
  take_a = (a >= b) & (a >= c_) & (a >= d)
  take_b = ~take_a & (b >= c_) & (b >= d)
  take_c = ~(take_a | take_b) & (c_ >= d)
  take_d = ~(take_a | take_b | take_c)
  grads = [jnp.where(take, g, 0.0) for take in (take_a, take_b, take_c, take_d)]
  top, bottom = jnp.stack(grads[:2], axis=3), jnp.stack(grads[2:], axis=3)
  return (jnp.stack([top, bottom], axis=2).reshape(n, h, w, c),)


max_pool_2x2.defvjp(_pool_forward, _pool_backward)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def relu_batch_norm_dropout(z: jax.Array, scale: jax.Array, bias: jax.Array,
                            keep_mask: jax.Array | None, keep_prob: float | jax.Array,
                            epsilon: float) -> tuple[jax.Array, jax.Array, jax.Array]:
  """dropout(batch_norm(relu(z))) in train mode, normalising by the batch statistics.

  ``z`` float32 [..., C] (channels last); ``scale``, ``bias`` float32 [C], BatchNorm's affine
  parameters; ``keep_mask`` bool like z (True = keep) or None for no dropout; ``keep_prob``
  1 - rate (a float, or float32 [] when swept), kept values divided by it; ``epsilon``
  BatchNorm's. Returns (y float32 like z, batch mean and biased variance float32 [C], for the
  running averages, without gradient). Our own VJP: autodiff of the three ops makes about a
  dozen passes over each activation, this two; 0.69x the unfused step time (2-core CPU).
  """
  return _rbd_forward(z, scale, bias, keep_mask, keep_prob, epsilon)[0]


def _rbd_forward(z, scale, bias, keep_mask, keep_prob, epsilon):
  axes = tuple(range(z.ndim - 1))
  a = jnp.maximum(z, 0.0)
  mean = jnp.mean(a, axis=axes)
  var = jnp.mean(jnp.square(a - mean), axis=axes)
  inverse_std = lax.rsqrt(var + epsilon)
  y = (a - mean) * inverse_std * scale + bias
  if keep_mask is not None:
    # Times the reciprocal: what XLA makes of a division by a constant, so an array keep_prob
    # (the run's hyperparameters) gives the bits a Python number gives.
    y = lax.select(keep_mask, y * (1.0 / keep_prob), jnp.zeros_like(y))
  return (y, mean, var), (z, keep_mask, keep_prob, mean, inverse_std, scale)


def _rbd_backward(epsilon, residuals, cotangents):
  del epsilon
  g = cotangents[0]  # mean and var only feed the running statistics
  z, keep_mask, keep_prob, mean, inverse_std, scale = residuals
  axes = tuple(range(z.ndim - 1))
  count = z.size // z.shape[-1]
  if keep_mask is not None:
    g = lax.select(keep_mask, g * (1.0 / keep_prob), jnp.zeros_like(g))
  normalized = (jnp.maximum(z, 0.0) - mean) * inverse_std
  dbias = jnp.sum(g, axis=axes)
  dscale = jnp.sum(g * normalized, axis=axes)
  da = (scale * inverse_std) * (g - dbias / count - normalized * (dscale / count))
  return jnp.where(z > 0, da, 0.0), dscale, dbias, None, None


relu_batch_norm_dropout.defvjp(_rbd_forward, _rbd_backward)


def keep_threshold(keep_prob: float) -> int:
  """T such that `bits < T` equals `jax.random.bernoulli(key, keep_prob)` on the same bits.

  bernoulli compares the float32 uniform `(bits >> 9) * 2**-23` with float32(keep_prob).
  """
  return int(np.ceil(np.float64(np.float32(keep_prob)) * 2.0 ** 23)) << 9


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry_random_bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """uint32 `shape`, equal to `jax.random.bits(key, shape)` under `threefry_partitionable(False)`;
  `key`: a threefry key (typed, or raw uint32 [2]). Our own: JAX lowers threefry on CPU as a
  rolled loop over the counters; the 20 rounds written out fuse (1.5 M bits: 2.6 vs 3.6 ms).
  """
  size = int(np.prod(shape))
  half = (size + 1) // 2
  count = lax.iota(jnp.uint32, 2 * half)
  if size % 2:
    count = count.at[-1].set(0)  # JAX pads an odd count with a zero
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  k0, k1 = key[0], key[1]
  key_schedule = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
  x0, x1 = count[:half] + key_schedule[0], count[half:] + key_schedule[1]
  for i in range(5):
    for rotation in _ROTATIONS[i % 2]:
      x0 = x0 + x1
      x1 = (x1 << np.uint32(rotation)) | (x1 >> np.uint32(32 - rotation))
      x1 = x0 ^ x1
    x0 = x0 + key_schedule[(i + 1) % 3]
    x1 = x1 + key_schedule[(i + 2) % 3] + np.uint32(i + 1)
  return jnp.concatenate([x0, x1])[:size].reshape(shape)


def dropout_keep_mask(key: jax.Array, rate: float | None, shape: tuple[int, ...],
                      keep_prob: jax.Array | None = None) -> jax.Array:
  """bool `shape`: the keep mask `flax.linen.Dropout(rate)` draws from `key` (the layer's
  dropout key). `rate`: a Python float in [0, 1), None when `keep_prob` (float32 [], 1 - rate
  as Flax computes it, for a swept rate) is given. Raises ValueError for a rate outside [0, 1).
  The bits come from `threefry_random_bits` under `jax.threefry_partitionable(False)` (as the
  epoch is traced), else from `jax.random.bits`.
  """
  if keep_prob is None and not 0.0 <= rate < 1.0:
    raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
  if jax.config.jax_threefry_partitionable:
    bits = jax.random.bits(key, shape, jnp.uint32)
  else:
    bits = threefry_random_bits(key, shape)
  if keep_prob is None:
    return bits < jnp.uint32(keep_threshold(1.0 - rate))
  # keep_threshold in float32 (exact: a power-of-two scaling and a ceil), compared before the
  # shift so that keep_prob = 1 (threshold 2**32) keeps everything.
  return (bits >> 9) < jnp.ceil(keep_prob.astype(jnp.float32) * 2.0 ** 23).astype(jnp.uint32)
