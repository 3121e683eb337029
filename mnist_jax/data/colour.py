"""torchvision ``ColorJitter(brightness=b, contrast=c)`` on one-channel float images in [0, 1]
(NHWC, before ``Normalize``) in pure JAX, for the jitted training step: the counterpart of
albumentations ``RandomBrightnessContrast`` in the smallest 99.4 % networks. torchvision applies
the two in a random order; here brightness comes first, which differs only where a pixel is
clamped (unclamped, both orders give ``c (b x - b m) + b m``).
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
  """torchvision ``adjust_brightness(img, factor)`` per image: ``clamp(factor * img, 0, 1)``
  (``dm_pix.adjust_brightness`` adds a delta instead). ``images`` float32 [B, H, W, C] in [0, 1],
  ``factors`` float32 [B] >= 0 (0: black, 1: unchanged, exactly) -> float32 [B, H, W, C] in
  [0, 1]. Raises ValueError when ``images`` is not rank 4 or ``factors`` is not [B].
  """
  return jnp.clip(_per_image(factors, images) * images, 0.0, 1.0)


def adjust_contrast(images: jax.Array, factors: jax.Array) -> jax.Array:
  """torchvision ``adjust_contrast(img, factor)`` per one-channel image: ``clamp(factor * img +
  (1 - factor) * mean, 0, 1)``, ``mean`` the image's mean pixel. Not ``dm_pix.adjust_contrast``:
  its ``factor * (img - mean) + mean`` rounds differently, is not exactly ``img`` at factor 1 (a
  swept 0 would differ from the run without it) and does not clamp. ``images`` float32
  [B, H, W, 1] in [0, 1], ``factors`` float32 [B] >= 0 (0: the mean grey, 1: unchanged, exactly)
  -> float32 [B, H, W, 1] in [0, 1]. Raises ValueError for other shapes.
  """
  factors = _per_image(factors, images)
  if images.shape[-1] != 1:
    raise ValueError(f"adjust_contrast takes one-channel images (torchvision's mean is of the "
                     f"grayscale image), got shape {images.shape}")
  mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
  return jnp.clip(factors * images + (1 - factors) * mean, 0.0, 1.0)


def sample_factors(key: jax.Array, batch_size: int, amount, *, check: bool = True) -> jax.Array:
  """float32 [batch_size] factors, uniform in [max(0, 1 - a), 1 + a] (exactly 1 where a is 0),
  as ``ColorJitter.get_params`` for ``brightness=a`` or ``contrast=a``. ``amount``: a >= 0, a
  Python number (with ``check=False`` also a float32 [] array, checked before training).
  Raises ValueError, with `check`, for a < 0."""
  if check and amount < 0:
    raise ValueError(f"the jitter amount must be >= 0, got {amount}")
  return jax.random.uniform(key, (batch_size,), jnp.float32, jnp.maximum(0.0, 1 - amount),
                            1 + amount)


def random_brightness_contrast(key: jax.Array, images: jax.Array, brightness=0.0,
                               contrast=0.0, *, check: bool = True) -> jax.Array:
  """torchvision ``ColorJitter(brightness, contrast)`` per image, brightness first, factors from
  ``split(key)`` (the step's ``key``: ``fold_in(augment_key, augment.COLOUR_STREAM)``). ``images``
  float32 [B, H, W, 1] in [0, 1] -> the same; ``brightness`` b, ``contrast`` c >= 0 as for
  `sample_factors` (0: unchanged; ``check`` as there). Raises ValueError for a negative
  amount (with `check`), or bad shapes.
  """
  brightness_key, contrast_key = jax.random.split(key)
  batch = images.shape[0]
  images = adjust_brightness(images, sample_factors(brightness_key, batch, brightness,
                                                    check=check))
  return adjust_contrast(images, sample_factors(contrast_key, batch, contrast, check=check))
