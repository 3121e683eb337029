"""The references' torchvision pipeline (``ToTensor()``, ``Normalize((0.1307,), (0.3081,))``,
from their augmentation steps on ``RandomRotation``) in pure JAX on NHWC arrays, so it runs
inside the jitted training step; and the pieces of the smallest 99.4 % networks' pipelines
(albumentations ``ShiftScaleRotate``, ``RandomBrightnessContrast``) as their torchvision
counterparts ``RandomAffine(degrees, translate, scale)`` and ``ColorJitter(brightness,
contrast)``.
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

  ``images`` float32 [B, H, W, C] -> float32 [B, H, W, C], rotated by ``angles`` float32 [B] in
  degrees; ``fill`` in the units of ``images`` (0.0: black in [0, 1]).

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
  """float32 [batch_size] angles in degrees, uniform in ``[min, max)``, as
  ``RandomRotation.get_params``. ``degrees``: (min, max) in degrees, or a non-negative number d
  for (-d, d): Python numbers, static under jit, or d as a float32 [] array (a swept value, not
  checked). Raises ValueError for min > max or a negative single number.
  """
  low, high = _degree_range(degrees)
  return jax.random.uniform(key, (batch_size,), jnp.float32, minval=low, maxval=high)


def random_rotation(key: jax.Array, images: jax.Array, degrees: Degrees = (-7.0, 7.0),
                    fill: float = 0.0) -> jax.Array:
  """torchvision ``RandomRotation(degrees, fill=fill)`` per image: `rotate` float32 [B, H, W, C]
  ``images`` (-> the same shape and dtype) by the angles of ``sample_angles(key, B, degrees)``
  (split the key per batch for fresh angles); ``fill`` in the units of ``images``. Raises
  ValueError as `sample_angles` (bad degrees) and `rotate` (bad shapes) do.
  """
  return rotate(images, sample_angles(key, images.shape[0], degrees), fill=fill)


# Streams of the augment key beyond the rotation angles (which use the key itself, so the
# draws of rotation-only runs stay what they were): `jax.random.fold_in(key, stream)`.
AFFINE_STREAM = 1
COLOUR_STREAM = 2


def affine(images: jax.Array, angles: jax.Array, translations: jax.Array, scales: jax.Array,
           fill: float = 0.0) -> jax.Array:
  """Rotates, scales and shifts each image as torchvision's tensor ``affine(img, -angle,
  translate=[tx, ty], scale, shear=0, InterpolationMode.NEAREST, fill=fill)`` (its angle is
  clockwise; ours counter-clockwise as in `rotate`): output pixel o takes the input pixel
  nearest to ``R(angle) @ (o - centre - t) / scale + centre``, uncovered ones get ``fill``. With
  zero translations and unit scales it is `rotate`, bit for bit (the same matrix and offset).

  ``images`` float32 [B, H, W, C] -> float32 [B, H, W, C]; ``angles`` float32 [B] in degrees,
  counter-clockwise; ``translations`` float32 [B, 2], (tx, ty) in pixels, tx to the right, ty
  down; ``scales`` float32 [B] > 0, above 1 enlarging the image about its centre; ``fill`` in
  the units of ``images``.

  Raises:
    ValueError: ``images`` is not rank 4, or the others are not [B] / [B, 2].
  """
  if images.ndim != 4:
    raise ValueError(f"images must be [B, H, W, C], got shape {images.shape}")
  batch = images.shape[:1]
  if angles.shape != batch or scales.shape != batch or translations.shape != batch + (2,):
    raise ValueError(f"angles and scales must be [B] = {batch}, translations [B, 2]; got "
                     f"{angles.shape}, {scales.shape}, {translations.shape}")

  def one(image, angle, translation, scale):
    # dm_pix.rotate's inverse map over (row, col, channel), its rows divided by the scale, and
    # the shift (ty, tx, 0) taken off before it: `rotate`'s offset when the shift is 0.
    radians = jnp.deg2rad(angle)
    c, s = jnp.cos(radians), jnp.sin(radians)
    matrix = jnp.array([[c / scale, s / scale, 0], [-s / scale, c / scale, 0], [0, 0, 1]])
    centre = (jnp.asarray(image.shape) - 1.) / 2.
    shift = jnp.stack([translation[1], translation[0], jnp.zeros_like(translation[0])])
    return dm_pix.affine_transform(image, matrix, offset=centre - matrix @ (centre + shift),
                                   order=0, mode="constant", cval=fill)

  return jax.vmap(one)(images, angles, translations, scales)


def _check_fraction(name: str, value, closed: bool = False) -> None:
  """Raises ValueError unless a Python number is in [0, 1) ([0, 1] if `closed`); arrays are
  swept values, checked with the config (training.config_checks)."""
  if not isinstance(value, jax.Array) and not (0 <= value < 1 or (closed and value == 1)):
    raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value}")


def sample_translations(key: jax.Array, batch_size: int, translate, size: tuple[int, int]
                        ) -> jax.Array:
  """float32 [batch_size, 2]: (tx, ty) in pixels per image as ``RandomAffine.get_params``,
  ``round(uniform(-t * W, t * W))`` and ``round(uniform(-t * H, t * H))`` (rounded half to even,
  as Python's round), for ``size`` (H, W) in pixels. ``translate``: t in [0, 1), the largest
  shift as a fraction of the image side, a Python number or a float32 [] array (a swept value,
  not checked). Raises ValueError for t outside [0, 1).
  """
  _check_fraction("translate", translate)
  limits = jnp.asarray(translate, jnp.float32) * jnp.array([size[1], size[0]], jnp.float32)
  return jnp.round(jax.random.uniform(key, (batch_size, 2), jnp.float32, -limits, limits))


def sample_scales(key: jax.Array, batch_size: int, scale) -> jax.Array:
  """float32 [batch_size] scale factors, uniform in [1 - s, 1 + s] (exactly 1 where s is 0), as
  ``RandomAffine(scale=(1 - s, 1 + s))``. ``scale``: s in [0, 1), a Python number or a float32 []
  array (swept, not checked). Raises ValueError for s outside [0, 1).
  """
  _check_fraction("scale", scale)
  return jax.random.uniform(key, (batch_size,), jnp.float32, 1 - scale, 1 + scale)


def random_affine(key: jax.Array, images: jax.Array, degrees: Degrees = (-7.0, 7.0),
                  translate=0.0, scale=0.0, fill: float = 0.0, probability=1.0) -> jax.Array:
  """torchvision ``RandomApply([RandomAffine(degrees, (t, t), (1 - s, 1 + s), fill=fill)], p)``
  per image, with `affine` (nearest). The angles are `random_rotation`'s (``sample_angles(key,
  ...)``); translations, scales and the choice of images to transform come from
  ``fold_in(key, AFFINE_STREAM)``, so with t = s = 0 and p = 1 this is `random_rotation`.

  ``images`` float32 [B, H, W, C] -> float32 [B, H, W, C]; ``degrees`` as for `sample_angles`,
  ``translate`` t (fraction of the image side) as for `sample_translations`, ``scale`` s as for
  `sample_scales`, ``fill`` in the units of ``images``; ``probability`` p in [0, 1], the chance
  each image is transformed (else left as it is), a Python number (1: no draw) or a float32 []
  array. Raises ValueError where a range is violated, or for bad shapes (see `affine`).
  """
  batch = images.shape[0]
  angles = sample_angles(key, batch, degrees)
  translate_key, scale_key, apply_key = jax.random.split(jax.random.fold_in(key, AFFINE_STREAM), 3)
  translations = sample_translations(translate_key, batch, translate, images.shape[1:3])
  out = affine(images, angles, translations, sample_scales(scale_key, batch, scale), fill)
  if isinstance(probability, jax.Array) or probability != 1:
    _check_fraction("probability", probability, closed=True)
    chosen = jax.random.uniform(apply_key, (batch,)) < probability
    out = jnp.where(chosen[:, None, None, None], out, images)
  return out
