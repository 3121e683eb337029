"""The references' torchvision pipeline (``ToTensor()``, ``Normalize((0.1307,), (0.3081,))``,
from their augmentation steps on ``RandomRotation``) in pure JAX on NHWC arrays, so it runs
inside the jitted training step.
"""

from typing import Union

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

# The references' Normalize values: MNIST train-set mean and std of pixel values in [0, 1].
MEAN = 0.1307
STD = 0.3081

Degrees = Union[float, tuple[float, float]]

# ToTensor's value for each uint8 pixel, divided exactly as torch does.
_UINT8_TO_FLOAT = np.arange(256, dtype=np.float32) / np.float32(255)


def to_float(images: jax.Array) -> jax.Array:
  """uint8 [..., H, W, C] pixels 0-255 -> float32 of the same shape in [0, 1], ``images / 255``
  bit for bit as torchvision ``ToTensor``."""
  # A lookup, not images / 255: XLA rewrites division by a constant as multiplication by its
  # reciprocal, which is 1 ulp off torch for some pixels.
  return jnp.asarray(_UINT8_TO_FLOAT)[jnp.asarray(images, jnp.int32)]


def normalize(x: jax.Array) -> jax.Array:
  """``(x - MEAN) / STD`` as torchvision ``Normalize((0.1307,), (0.3081,))``: x float [...]
  in [0, 1] -> the same shape and dtype."""
  return (x - MEAN) / STD


def rotate(images: jax.Array, angles: jax.Array, fill: float = 0.0) -> jax.Array:
  """Rotates each image about its centre as torchvision's tensor ``rotate(img, angle,
  InterpolationMode.NEAREST, expand=False, center=None, fill=fill)``: positive angles turn it
  counter-clockwise as displayed, the pivot is ((H - 1) / 2, (W - 1) / 2), each output pixel
  takes the nearest input pixel, uncovered ones get ``fill``. Exact half-pixel ties may round
  differently (half away from zero here, half to even in torch): no random angle hits one.

  Args:
    images: float32 [B, H, W, C].
    angles: float32 [B], rotation angles in degrees.
    fill: value for the uncovered pixels, in the units of ``images`` (0.0: black in [0, 1]).

  Returns:
    float32 [B, H, W, C], the rotated images.

  Raises:
    ValueError: ``images`` is not rank 4 or ``angles`` is not [B].
  """
  if images.ndim != 4:
    raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}")
  if angles.shape != images.shape[:1]:
    raise ValueError(f"angles must be [B] = {images.shape[:1]}, got shape {angles.shape}")
  # dm_pix.rotate: radians, counter-clockwise, pivot (shape - 1) / 2, torchvision's inverse map.
  return jax.vmap(lambda image, angle: dm_pix.rotate(
      image, jnp.deg2rad(angle), order=0, mode="constant", cval=fill))(images, angles)


def _degree_range(degrees: Degrees) -> tuple[float, float]:
  if isinstance(degrees, jax.Array):  # a swept d (one per replica of a sweep): (-d, d)
    return -degrees, degrees
  if isinstance(degrees, (int, float)):
    if degrees < 0:
      raise ValueError(f"degrees must be non-negative when a single number, got {degrees}")
    return -float(degrees), float(degrees)
  low, high = (float(d) for d in degrees)
  if low > high:
    raise ValueError(f"degrees must be (min, max) with min <= max, got ({low}, {high})")
  return low, high


def sample_angles(key: jax.Array, batch_size: int, degrees: Degrees = (-7.0, 7.0)) -> jax.Array:
  """Draws one angle per image, uniform in ``[min, max)``, as ``RandomRotation.get_params``.

  Args:
    key: PRNG key.
    batch_size: number of angles B.
    degrees: (min, max) in degrees, or a non-negative number d for (-d, d): Python numbers,
      static under jit, or d as a float32 [] array (a swept value, not checked).

  Returns:
    float32 [B], angles in degrees.

  Raises:
    ValueError: min > max, or a negative single number.
  """
  low, high = _degree_range(degrees)
  return jax.random.uniform(key, (batch_size,), jnp.float32, minval=low, maxval=high)


def random_rotation(key: jax.Array, images: jax.Array, degrees: Degrees = (-7.0, 7.0),
                    fill: float = 0.0) -> jax.Array:
  """torchvision ``RandomRotation(degrees, fill=fill)`` per image: `rotate` by the angles of
  ``sample_angles(key, B, degrees)`` (split the key per batch for fresh angles).

  Args:
    key: PRNG key.
    images: float32 [B, H, W, C].
    degrees: as for `sample_angles`.
    fill: value for uncovered pixels, in the units of ``images``.

  Returns:
    float32 [B, H, W, C], same shape and dtype as ``images``.

  Raises:
    ValueError: min > max, or bad shapes (see ``rotate``).
  """
  angles = sample_angles(key, images.shape[0], degrees)
  return rotate(images, angles, fill=fill)
