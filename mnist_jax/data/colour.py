"""torchvision ``ColorJitter(brightness=b, contrast=c)`` on one-channel float images in [0, 1]
(NHWC, before ``Normalize``), in pure JAX so it runs inside the jitted training step: the
counterpart of albumentations ``RandomBrightnessContrast`` in the smallest 99.4 % networks.

torchvision applies its adjustments in a random order per call; here brightness always comes
first, then contrast. Without the clamps the order would not matter (``c (b x - b m) + b m``
either way); with them the two orders differ only where a pixel is clamped.
"""

import jax
import jax.numpy as jnp


def _per_image(factors: jax.Array, images: jax.Array) -> jax.Array:
  if images.ndim != 4:
    raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}")
  if factors.shape != images.shape[:1]:
    raise ValueError(f"factors must be [B] = {images.shape[:1]}, got shape {factors.shape}")
  return factors.astype(images.dtype)[:, None, None, None]


def adjust_brightness(images: jax.Array, factors: jax.Array) -> jax.Array:
  """torchvision ``adjust_brightness(img, factor)`` per image: ``clamp(factor * img, 0, 1)``.

  Our own, not ``dm_pix.adjust_brightness``: that one adds a delta (tf.image's brightness);
  torchvision multiplies (its ``_blend`` with a black image).

  ``images`` float32 [B, H, W, C] in [0, 1], ``factors`` float32 [B] >= 0 (0: black, 1:
  unchanged, exactly) -> float32 [B, H, W, C] in [0, 1]. Raises ValueError when ``images`` is
  not rank 4 or ``factors`` is not [B].
  """
  return jnp.clip(_per_image(factors, images) * images, 0.0, 1.0)


def adjust_contrast(images: jax.Array, factors: jax.Array) -> jax.Array:
  """torchvision ``adjust_contrast(img, factor)`` per one-channel image: its ``_blend(img,
  mean, factor)``, ``clamp(factor * img + (1 - factor) * mean, 0, 1)``, with ``mean`` the
  image's mean pixel (torchvision's grayscale mean is the image itself for one channel).

  Our own, not ``dm_pix.adjust_contrast``: that one computes ``factor * (img - mean) + mean``,
  which differs from torchvision by rounding, is not exactly ``img`` at factor 1 (a swept 0
  would then differ from the run without it), and does not clamp.

  ``images`` float32 [B, H, W, 1] in [0, 1], ``factors`` float32 [B] >= 0 (0: the mean grey, 1:
  unchanged, exactly) -> float32 [B, H, W, 1] in [0, 1]. Raises ValueError when ``images`` is
  not [B, H, W, 1] or ``factors`` is not [B].
  """
  factors = _per_image(factors, images)
  if images.shape[-1] != 1:
    raise ValueError(f"adjust_contrast takes one-channel images (torchvision's mean is of the "
                     f"grayscale image), got shape {images.shape}")
  mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
  return jnp.clip(factors * images + (1 - factors) * mean, 0.0, 1.0)


def sample_factors(key: jax.Array, batch_size: int, amount) -> jax.Array:
  """float32 [batch_size] factors, uniform in [max(0, 1 - a), 1 + a] (exactly 1 where a is 0),
  as ``ColorJitter.get_params`` for ``brightness=a`` or ``contrast=a``. ``amount``: a >= 0, a
  Python number or a float32 [] array (a swept value, not checked). Raises ValueError for a
  Python number a < 0.
  """
  if not isinstance(amount, jax.Array) and amount < 0:
    raise ValueError(f"the jitter amount must be >= 0, got {amount}")
  return jax.random.uniform(key, (batch_size,), jnp.float32, jnp.maximum(0.0, 1 - amount),
                            1 + amount)


def random_brightness_contrast(key: jax.Array, images: jax.Array, brightness=0.0,
                               contrast=0.0) -> jax.Array:
  """torchvision ``ColorJitter(brightness, contrast)`` per image, brightness first (see the
  module docstring): factors from ``split(key)``, brightness's then contrast's (the training
  step passes ``fold_in(augment_key, augment.COLOUR_STREAM)`` as ``key``).

  ``images`` float32 [B, H, W, 1] in [0, 1] -> float32 [B, H, W, 1] in [0, 1]; ``brightness`` b
  and ``contrast`` c >= 0 draw factors in [max(0, 1 - b), 1 + b] and [max(0, 1 - c), 1 + c]
  (0 leaves the images unchanged). Raises ValueError for a negative amount, or bad shapes (see
  `adjust_contrast`).
  """
  brightness_key, contrast_key = jax.random.split(key)
  batch = images.shape[0]
  images = adjust_brightness(images, sample_factors(brightness_key, batch, brightness))
  return adjust_contrast(images, sample_factors(contrast_key, batch, contrast))
