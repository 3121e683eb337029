"""The references' torchvision pipeline (``ToTensor()``, ``Normalize((0.1307,), (0.3081,))``,
``RandomRotation``) in pure JAX on NHWC arrays, so it runs inside the jitted training step, and
albumentations ``ShiftScaleRotate`` of the smallest 99.4 % networks as torchvision's
``RandomAffine(degrees, translate, scale)`` (``RandomBrightnessContrast``: `colour`).
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
  """Rotates float32 [B, H, W, C] ``images`` (-> the same) by ``angles`` float32 [B] in degrees,
  counter-clockwise as displayed, about ((H - 1) / 2, (W - 1) / 2), as torchvision's tensor
  ``rotate(img, angle, InterpolationMode.NEAREST, expand=False, center=None, fill=fill)``:
  nearest input pixel, ``fill`` (units of ``images``) where uncovered. Exact half-pixel ties may
  round differently (half away from zero here, half to even in torch): no random angle hits one.

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


def _degree_range(degrees: Degrees, check: bool = True) -> tuple[float, float]:
  if not check:  # the training program's d, a float32 [] array: (-d, d)
    return -degrees, degrees
  if isinstance(degrees, (int, float)):
    if degrees < 0:
      raise ValueError(f"degrees must be non-negative when a single number, got {degrees}")
    return -float(degrees), float(degrees)
  low, high = (float(d) for d in degrees)
  if low > high:
    raise ValueError(f"degrees must be (min, max) with min <= max, got ({low}, {high})")
  return low, high


def sample_angles(key: jax.Array, batch_size: int, degrees: Degrees = (-7.0, 7.0), *,
                  check: bool = True) -> jax.Array:
  """float32 [batch_size] angles in degrees, uniform in ``[min, max)``, as
  ``RandomRotation.get_params``.

  Args:
    key: a raw PRNG key.
    batch_size: angles drawn.
    degrees: (min, max), or d >= 0 for (-d, d), Python numbers; with ``check=False`` d may be
      a float32 [] array (the training program's hyperparameter, checked before training).
    check: check `degrees` (Python numbers only).

  Raises:
    ValueError: with `check`, min > max or d < 0.
  """
  low, high = _degree_range(degrees, check)
  return jax.random.uniform(key, (batch_size,), jnp.float32, minval=low, maxval=high)


def random_rotation(key: jax.Array, images: jax.Array, degrees: Degrees = (-7.0, 7.0),
                    fill: float = 0.0, *, check: bool = True) -> jax.Array:
  """torchvision ``RandomRotation(degrees, fill=fill)`` per image: `rotate` float32 [B, H, W, C]
  ``images`` (-> the same) by ``sample_angles(key, B, degrees, check=check)`` (split the key per
  batch). Raises ValueError as `sample_angles` (bad degrees) and `rotate` (bad shapes) do."""
  return rotate(images, sample_angles(key, images.shape[0], degrees, check=check), fill=fill)


# Streams of the augment key beyond the rotation angles (which use the key itself, so the
# draws of rotation-only runs stay what they were): `jax.random.fold_in(key, stream)`.
AFFINE_STREAM = 1
COLOUR_STREAM = 2


def affine(images: jax.Array, angles: jax.Array, translations: jax.Array, scales: jax.Array,
           fill: float = 0.0) -> jax.Array:
  """Rotates, scales and shifts each image as torchvision's tensor ``affine(img, -angle,
  translate=[tx, ty], scale, shear=0, InterpolationMode.NEAREST, fill=fill)`` (its angle turns
  clockwise): output pixel o takes the input pixel nearest to ``R(angle) @ (o - centre - t) /
  scale + centre``, else ``fill``; zero shifts and unit scales give `rotate` bit for bit.
  ``images`` float32 [B, H, W, C] -> the same; ``angles`` float32 [B] in degrees as in `rotate`;
  ``translations`` float32 [B, 2], (tx, ty) in pixels, right and down; ``scales`` float32 [B] > 0
  (> 1 enlarges).

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
  """Raises ValueError unless the Python number `value` is in [0, 1) ([0, 1] if `closed`)."""
  if not (0 <= value < 1 or (closed and value == 1)):
    raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value}")


def sample_translations(key: jax.Array, batch_size: int, translate, size: tuple[int, int], *,
                        check: bool = True) -> jax.Array:
  """float32 [batch_size, 2]: (tx, ty) in pixels per image as ``RandomAffine.get_params``,
  ``round(uniform(-t * W, t * W))``, ``round(uniform(-t * H, t * H))`` (half to even) for
  ``size`` (H, W). ``translate``: t in [0, 1), the largest shift as a fraction of the side, a
  Python number (with ``check=False`` also a float32 [] array, checked before training).
  Raises ValueError, with `check`, for t outside [0, 1)."""
  if check:
    _check_fraction("translate", translate)
  limits = jnp.asarray(translate, jnp.float32) * jnp.array([size[1], size[0]], jnp.float32)
  return jnp.round(jax.random.uniform(key, (batch_size, 2), jnp.float32, -limits, limits))


def sample_scales(key: jax.Array, batch_size: int, scale, *, check: bool = True) -> jax.Array:
  """float32 [batch_size] scale factors, uniform in [1 - s, 1 + s] (exactly 1 where s is 0), as
  ``RandomAffine(scale=(1 - s, 1 + s))``. ``scale``: s in [0, 1), a Python number (with
  ``check=False`` also a float32 [] array, checked before training). Raises ValueError, with
  `check`, for s outside [0, 1)."""
  if check:
    _check_fraction("scale", scale)
  return jax.random.uniform(key, (batch_size,), jnp.float32, 1 - scale, 1 + scale)


def random_affine(key: jax.Array, images: jax.Array, degrees: Degrees = (-7.0, 7.0),
                  translate=0.0, scale=0.0, fill: float = 0.0, probability=1.0, *,
                  check: bool = True) -> jax.Array:
  """torchvision ``RandomApply([RandomAffine(degrees, (t, t), (1 - s, 1 + s), fill=fill)], p)``
  per image with `affine`: angles as `random_rotation`'s; shifts, scales and which images to
  transform from ``fold_in(key, AFFINE_STREAM)``, so t = s = 0, p = 1 is `random_rotation`.
  ``images`` float32 [B, H, W, C] -> the same; ``degrees``, ``translate``, ``scale`` as for
  `sample_angles`, `sample_translations`, `sample_scales`; ``probability`` p in [0, 1] that an
  image is transformed, a Python number (1: no draw). ``check``: check the values, Python
  numbers; the training program passes its hyperparameters as float32 [] arrays with
  ``check=False`` (checked before training). Raises ValueError for a range violated (with
  `check`), or bad shapes (see `affine`).
  """
  batch = images.shape[0]
  angles = sample_angles(key, batch, degrees, check=check)
  translate_key, scale_key, apply_key = jax.random.split(jax.random.fold_in(key, AFFINE_STREAM), 3)
  translations = sample_translations(translate_key, batch, translate, images.shape[1:3],
                                     check=check)
  out = affine(images, angles, translations,
               sample_scales(scale_key, batch, scale, check=check), fill)
  if not check or probability != 1:
    if check:
      _check_fraction("probability", probability, closed=True)
    chosen = jax.random.uniform(apply_key, (batch,)) < probability
    out = jnp.where(chosen[:, None, None, None], out, images)
  return out
