"""On-device image transforms mirroring the references' torchvision pipeline.

The references train on ``ToTensor()``, ``Normalize((0.1307,), (0.3081,))`` and
(from their augmentation steps on) ``RandomRotation``. Everything here is pure
JAX on NHWC float arrays, so it runs inside the jitted training step.
"""

from typing import Union

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

# torchvision Normalize values used by all five references (MNIST train-set
# mean and standard deviation of pixel values in [0, 1]).
MEAN = 0.1307
STD = 0.3081

Degrees = Union[float, tuple[float, float]]

# ToTensor's value for each uint8 pixel, divided exactly as torch does.
_UINT8_TO_FLOAT = np.arange(256, dtype=np.float32) / np.float32(255)


def to_float(images: jax.Array) -> jax.Array:
  """uint8 pixels 0-255 -> float32 in [0, 1], like torchvision ``ToTensor``.

  Args:
    images: uint8 [..., H, W, C].

  Returns:
    float32 array of the same shape, ``images / 255`` bit for bit as torch.
  """
  # A lookup, not images / 255: XLA rewrites division by a constant as
  # multiplication by its reciprocal, which is 1 ulp off torch for some pixels.
  return jnp.asarray(_UINT8_TO_FLOAT)[jnp.asarray(images, jnp.int32)]


def normalize(x: jax.Array) -> jax.Array:
  """``(x - MEAN) / STD``, like torchvision ``Normalize((0.1307,), (0.3081,))``.

  Args:
    x: float [...], pixel values in [0, 1].

  Returns:
    float array of the same shape and dtype.
  """
  return (x - MEAN) / STD


def rotate(images: jax.Array, angles: jax.Array, fill: float = 0.0) -> jax.Array:
  """Rotates each image about its centre, like torchvision ``functional.rotate``.

  Matches torchvision's tensor ``rotate(img, angle, InterpolationMode.NEAREST,
  expand=False, center=None, fill=fill)``: positive angles turn the image
  counter-clockwise as displayed (row 0 at the top), the pivot is the image
  centre ((H - 1) / 2, (W - 1) / 2) in pixel indices, each output pixel takes
  the nearest input pixel, and pixels whose source falls outside the image get
  ``fill``. Rounding of exact half-pixel ties may differ (half away from zero
  here, half to even in torch), which no continuous random angle hits.

  Args:
    images: float32 [B, H, W, C].
    angles: float32 [B], rotation angles in degrees.
    fill: value for the pixels the rotated image does not cover, in the units
      of ``images`` (e.g. 0.0 for black in [0, 1] images).

  Returns:
    float32 [B, H, W, C], the rotated images.

  Raises:
    ValueError: ``images`` is not rank 4 or ``angles`` is not [B].
  """
  if images.ndim != 4:
    raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}")
  if angles.shape != images.shape[:1]:
    raise ValueError(f"angles must be [B] = {images.shape[:1]}, got shape {angles.shape}")

  def rotate_one(image: jax.Array, angle: jax.Array) -> jax.Array:
    # dm_pix.rotate takes radians, counter-clockwise, and pivots on
    # (shape - 1) / 2: the same inverse map as torchvision's affine grid.
    return dm_pix.rotate(image, jnp.deg2rad(angle), order=0, mode="constant", cval=fill)

  return jax.vmap(rotate_one)(images, angles)


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
  """Draws one angle per image, uniform in ``[degrees[0], degrees[1])``.

  Like torchvision ``RandomRotation.get_params``: a single number ``d`` means
  ``(-d, d)``.

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


def random_rotation(
    key: jax.Array,
    images: jax.Array,
    degrees: Degrees = (-7.0, 7.0),
    fill: float = 0.0,
) -> jax.Array:
  """Rotates each image by its own random angle, like torchvision ``RandomRotation``.

  ``RandomRotation((-7.0, 7.0), fill=fill)`` applied per image, with the angles
  from ``sample_angles(key, B, degrees)`` and the rotation of ``rotate``. Split
  the key per batch to get fresh angles each step.

  Args:
    key: PRNG key.
    images: float32 [B, H, W, C].
    degrees: (min, max) in degrees, or a non-negative number d for (-d, d).
      Python numbers, static under jit.
    fill: value for uncovered pixels, in the units of ``images``.

  Returns:
    float32 [B, H, W, C], same shape and dtype as ``images``.

  Raises:
    ValueError: min > max, or bad shapes (see ``rotate``).
  """
  angles = sample_angles(key, images.shape[0], degrees)
  return rotate(images, angles, fill=fill)
