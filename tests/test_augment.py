"""Tests for mnist_jax.data.augment and colour: torchvision semantics of ToTensor, Normalize,
rotate, affine and the colour jitter."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnist_jax.data import augment
from mnist_jax.data import colour
from mnist_jax import data


def torch_rotate(images: np.ndarray, angles: np.ndarray, fill: float) -> np.ndarray:
  """Independent torch reference for torchvision's tensor ``rotate`` (nearest, no expand).

  For square images torchvision samples output pixel centre (x, y), taken
  relative to the image centre with y pointing down, from input
  (x cos a - y sin a, x sin a + y cos a) with grid_sample(align_corners=False,
  nearest), and marks pixels whose source lies outside the image with ``fill``
  (via a sampled all-ones mask). affine_grid builds the same grid in normalised
  coordinates, which rotate like pixel coordinates when H == W.

  Args:
    images: float32 [B, H, W, C] with H == W.
    angles: [B], degrees, counter-clockwise.
    fill: value for uncovered pixels.

  Returns:
    float32 [B, H, W, C].
  """
  assert images.shape[1] == images.shape[2]
  x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2)
  radians = torch.deg2rad(torch.as_tensor(np.asarray(angles), dtype=torch.float64))
  cos, sin, zero = torch.cos(radians), torch.sin(radians), torch.zeros_like(radians)
  theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
  grid = F.affine_grid(theta.float(), list(x.shape), align_corners=False)
  sample = functools.partial(F.grid_sample, grid=grid, mode="nearest", padding_mode="zeros",
                             align_corners=False)
  covered = sample(torch.ones_like(x)) > 0.5
  out = torch.where(covered, sample(x), torch.full_like(x, fill))
  return out.permute(0, 2, 3, 1).numpy()


def distance_to_half_pixel_tie(size: int, row: int, col: int, angle: float) -> float:
  """How close the exact (float64) source coordinates of output pixel (row, col) are to a tie."""
  a = math.radians(angle)
  centre = (size - 1) / 2
  y, x = row - centre, col - centre
  source = (x * math.sin(a) + y * math.cos(a) + centre, x * math.cos(a) - y * math.sin(a) + centre)
  return min(abs(s - math.floor(s) - 0.5) for s in source)


@pytest.fixture(scope="module")
def digits(mnist_dir):
  images, _ = data.load("test", mnist_dir, source="idx")
  return augment.to_float(images[:256])


def test_constants_are_the_references_normalize_values():
  assert augment.MEAN == 0.1307
  assert augment.STD == 0.3081


def test_to_float_is_to_tensor_scaling():
  pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
  x = augment.to_float(jnp.asarray(pixels))
  assert x.dtype == jnp.float32 and x.shape == pixels.shape
  # torchvision ToTensor on uint8: img.float().div(255).
  expected = torch.from_numpy(pixels).float().div(255).numpy()
  np.testing.assert_array_equal(np.asarray(x), expected)
  assert float(x.min()) == 0.0 and float(x.max()) == 1.0


def test_normalize_matches_formula():
  x = np.linspace(0.0, 1.0, 11, dtype=np.float32).reshape(1, 11, 1, 1)
  np.testing.assert_allclose(np.asarray(augment.normalize(jnp.asarray(x))),
                             (x - 0.1307) / 0.3081, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(float(augment.normalize(jnp.float32(0.1307))), 0.0, atol=1e-7)


def test_zero_degrees_is_the_identity(digits):
  rotated = augment.rotate(digits, jnp.zeros((len(digits),), jnp.float32), fill=-1.0)
  np.testing.assert_array_equal(np.asarray(rotated), np.asarray(digits))


@pytest.mark.parametrize("size", [28, 5])
@pytest.mark.parametrize("angle, k", [(90.0, 1), (-90.0, -1), (180.0, 2), (270.0, 3)])
def test_quarter_turns_match_rot90_counter_clockwise(size, angle, k):
  # torchvision: rotate(img, 90) on a square tensor == torch.rot90(img, 1, dims=(-2, -1)),
  # which is np.rot90(img, 1) on [H, W]: counter-clockwise with row 0 at the top.
  image = np.arange(size * size, dtype=np.float32).reshape(1, size, size, 1)
  rotated = augment.rotate(jnp.asarray(image), jnp.array([angle], jnp.float32), fill=-1.0)
  np.testing.assert_array_equal(np.asarray(rotated)[0], np.rot90(image[0], k=k, axes=(0, 1)))


def test_positive_angle_moves_the_top_to_the_left():
  # A bar along the top row ends up along the left column after +90 degrees.
  image = np.zeros((1, 5, 5, 1), np.float32)
  image[0, 0, :, 0] = 1.0
  rotated = np.asarray(augment.rotate(jnp.asarray(image), jnp.array([90.0], jnp.float32)))
  np.testing.assert_array_equal(rotated[0, :, 0, 0], np.ones(5))
  assert rotated.sum() == 5


def test_matches_torch_reference_on_digits(digits):
  angles = np.concatenate([
      np.asarray(augment.sample_angles(jax.random.PRNGKey(0), 128, (-7.0, 7.0))),
      np.asarray(augment.sample_angles(jax.random.PRNGKey(1), 128, (-180.0, 180.0))),
  ])
  fill = -0.25
  ours = np.asarray(augment.rotate(digits, jnp.asarray(angles), fill=fill))
  reference = torch_rotate(np.asarray(digits), angles, fill)
  assert (ours == fill).sum() > 1000  # the fill path is exercised
  mismatches = np.argwhere(ours != reference)
  # float32 may round differently only where the exact source coordinate sits
  # on a half-pixel tie; a sign or centre error would differ almost everywhere.
  assert len(mismatches) <= 10, f"{len(mismatches)} pixels differ from the torch reference"
  for b, row, col, _ in mismatches:
    assert distance_to_half_pixel_tie(28, row, col, angles[b]) < 1e-5, (b, row, col, angles[b])


def test_fill_only_where_the_rotated_image_does_not_cover():
  ones = jnp.ones((1, 28, 28, 1), jnp.float32)
  rotated = np.asarray(augment.rotate(ones, jnp.array([30.0], jnp.float32), fill=-1.0))[0, ..., 0]
  assert set(np.unique(rotated).tolist()) == {-1.0, 1.0}
  for corner in (rotated[0, 0], rotated[0, -1], rotated[-1, 0], rotated[-1, -1]):
    assert corner == -1.0
  assert rotated[13, 13] == 1.0 and rotated[14, 14] == 1.0
  rows, cols = np.mgrid[:28, :28]
  inside = np.hypot(rows - 13.5, cols - 13.5) <= 13.5
  assert (rotated[inside] == 1.0).all()
  assert (rotated == -1.0).sum() > 50


def test_sampled_angles_stay_in_bounds_and_vary():
  angles = np.asarray(augment.sample_angles(jax.random.PRNGKey(0), 10_000, (-7.0, 7.0)))
  assert angles.dtype == np.float32 and angles.shape == (10_000,)
  assert angles.min() >= -7.0 and angles.max() <= 7.0
  assert angles.min() < -6.9 and angles.max() > 6.9  # covers the range
  assert len(np.unique(angles)) > 9_000
  assert abs(angles.mean()) < 0.2


def test_asymmetric_range_and_single_number():
  angles = np.asarray(augment.sample_angles(jax.random.PRNGKey(0), 1000, (10.0, 20.0)))
  assert angles.min() >= 10.0 and angles.max() <= 20.0
  angles = np.asarray(augment.sample_angles(jax.random.PRNGKey(0), 1000, 5.0))
  assert angles.min() >= -5.0 and angles.max() <= 5.0 and angles.min() < 0 < angles.max()


@pytest.mark.parametrize("degrees", [(7.0, -7.0), -3.0])
def test_bad_degree_range(degrees, digits):
  with pytest.raises(ValueError, match="degrees"):
    augment.random_rotation(jax.random.PRNGKey(0), digits[:2], degrees=degrees)


def test_bad_shapes():
  with pytest.raises(ValueError, match="B, H, W, C"):
    augment.rotate(jnp.zeros((28, 28, 1)), jnp.zeros((28,)))
  with pytest.raises(ValueError, match="angles"):
    augment.rotate(jnp.zeros((2, 28, 28, 1)), jnp.zeros((3,)))


def test_random_rotation_is_rotate_with_sampled_angles(digits):
  key = jax.random.PRNGKey(3)
  rotated = augment.random_rotation(key, digits, degrees=(-7.0, 7.0), fill=0.0)
  assert rotated.shape == digits.shape and rotated.dtype == digits.dtype
  expected = augment.rotate(digits, augment.sample_angles(key, len(digits), (-7.0, 7.0)))
  np.testing.assert_array_equal(np.asarray(rotated), np.asarray(expected))
  assert not np.array_equal(np.asarray(rotated), np.asarray(digits))


def test_works_under_jit_with_a_key_per_batch(digits):
  uint8_batch = jnp.round(digits[:32] * 255).astype(jnp.uint8)

  @functools.partial(jax.jit, static_argnames="degrees")
  def preprocess(key, images, degrees):
    return augment.normalize(augment.random_rotation(key, augment.to_float(images), degrees))

  keys = jax.random.split(jax.random.PRNGKey(0), 2)
  first = preprocess(keys[0], uint8_batch, degrees=(-7.0, 7.0))
  second = preprocess(keys[1], uint8_batch, degrees=(-7.0, 7.0))
  assert first.shape == (32, 28, 28, 1) and first.dtype == jnp.float32
  assert not np.array_equal(np.asarray(first), np.asarray(second))  # fresh angles per key
  eager = augment.normalize(augment.random_rotation(keys[0], augment.to_float(uint8_batch)))
  np.testing.assert_allclose(np.asarray(first), np.asarray(eager), rtol=1e-6, atol=1e-6)
  np.testing.assert_array_equal(np.asarray(preprocess(keys[0], uint8_batch, degrees=(-7.0, 7.0))),
                                np.asarray(first))


def test_rotate_under_jit_and_vmap(digits):
  angles = jnp.linspace(-7.0, 7.0, 8)
  batches = jnp.stack([digits[:8], digits[8:16]])
  vmapped = jax.jit(jax.vmap(augment.rotate, in_axes=(0, None)))(batches, angles)
  for i in range(2):
    np.testing.assert_array_equal(np.asarray(vmapped[i]),
                                  np.asarray(augment.rotate(batches[i], angles)))


# Random affine (torchvision RandomAffine) and colour jitter (ColorJitter).


def torch_affine(images: np.ndarray, angles: np.ndarray, translations: np.ndarray,
                 scales: np.ndarray, fill: float) -> np.ndarray:
  """Independent torch reference for torchvision's tensor ``affine(img, -angle, [tx, ty],
  scale, shear=0, NEAREST, fill)`` on square images.

  torchvision's ``_get_inverse_affine_matrix`` with centre 0 and shear 0 (transcribed in float64)
  maps centred output pixel (x, y) to input ((cos r) (x - tx) + (sin r) (y - ty)) / scale, ...
  with r the (clockwise) angle; divided by W / 2 it is affine_grid's theta in normalised
  coordinates, sampled as `torch_rotate` does (grid_sample nearest, fill via an all-ones mask).

  Args:
    images: float32 [B, H, W, C] with H == W.
    angles: [B], degrees, counter-clockwise (torchvision's affine gets -angle).
    translations: [B, 2], (tx, ty) in pixels.
    scales: [B].
    fill: value for uncovered pixels.

  Returns:
    float32 [B, H, W, C].
  """
  size = images.shape[1]
  assert images.shape[2] == size
  thetas = []
  for angle, (tx, ty), scale in zip(np.asarray(angles, np.float64),
                                    np.asarray(translations, np.float64), scales):
    rot = math.radians(-angle)  # torchvision affine's angle is clockwise
    a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    m = [x / float(scale) for x in (d, -b, 0.0, -c, a, 0.0)]  # inverted = True
    m[2] += m[0] * -tx + m[1] * -ty
    m[5] += m[3] * -tx + m[4] * -ty
    thetas.append([[m[0], m[1], m[2] / (size / 2)], [m[3], m[4], m[5] / (size / 2)]])
  x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2)
  grid = F.affine_grid(torch.tensor(thetas, dtype=torch.float32), list(x.shape),
                       align_corners=False)
  sample = functools.partial(F.grid_sample, grid=grid, mode="nearest", padding_mode="zeros",
                             align_corners=False)
  covered = sample(torch.ones_like(x)) > 0.5
  return torch.where(covered, sample(x), torch.full_like(x, fill)).permute(0, 2, 3, 1).numpy()


def test_affine_matches_torch_reference_on_digits(digits):
  keys = jax.random.split(jax.random.PRNGKey(7), 3)
  batch = len(digits)
  angles = np.asarray(augment.sample_angles(keys[0], batch, (-15.0, 15.0)))
  translations = np.asarray(augment.sample_translations(keys[1], batch, 0.2, (28, 28)))
  scales = np.asarray(augment.sample_scales(keys[2], batch, 0.3))
  fill = -0.25
  ours = np.asarray(augment.affine(digits, jnp.asarray(angles), jnp.asarray(translations),
                                   jnp.asarray(scales), fill=fill))
  reference = torch_affine(np.asarray(digits), angles, translations, scales, fill)
  assert ours.shape == digits.shape and ours.dtype == np.float32
  assert (ours == fill).sum() > 1000  # shifted and shrunk images uncover pixels
  # float32 coordinates may round differently only within an ulp of a half-pixel tie.
  # (8 such batches of 256 differ from torch in 1 pixel of 1.6 million.)
  assert (ours != reference).sum() <= 5, f"{(ours != reference).sum()} pixels differ"


@pytest.mark.parametrize("angle, tx, ty, scale", [
    (0.0, 3.0, -2.0, 1.0), (0.0, 0.0, 0.0, 2.0), (0.0, 1.0, 1.0, 0.8), (90.0, 1.0, 0.0, 1.0),
    (-30.0, -2.0, 1.0, 1.3)])
def test_affine_of_fixed_parameters_matches_torch_exactly(angle, tx, ty, scale):
  # 8 x 8: the centre is 3.5, so none of these maps lands on a half-pixel tie (on 7 x 7,
  # scale 2 would, and torch rounds those half to even, we away from zero).
  image = np.arange(1, 8 * 8 + 1, dtype=np.float32).reshape(1, 8, 8, 1)
  ours = augment.affine(jnp.asarray(image), jnp.array([angle], jnp.float32),
                        jnp.array([[tx, ty]], jnp.float32), jnp.array([scale], jnp.float32))
  np.testing.assert_array_equal(np.asarray(ours),
                                torch_affine(image, [angle], [[tx, ty]], [scale], 0.0))
  if angle == 0.0 and scale == 1.0:  # a whole-pixel shift: right by tx = 3, up by -ty = 2
    np.testing.assert_array_equal(np.asarray(ours)[0, :6, 3:, 0], image[0, 2:, :5, 0])
    assert np.all(np.asarray(ours)[0, 6:] == 0) and np.all(np.asarray(ours)[0, :, :3] == 0)


def test_random_affine_without_shift_or_scale_is_random_rotation(digits):
  key, digits = jax.random.PRNGKey(11), digits[:64]
  rotated = np.asarray(augment.random_rotation(key, digits, 7.0))
  np.testing.assert_array_equal(np.asarray(augment.random_affine(key, digits, 7.0)), rotated)
  # Zeros as arrays (as the training program passes them) and p = 1, under jit: the same bits.
  swept = jax.jit(lambda d, t, s, p: augment.random_affine(key, digits, d, t, s, 0.0, p,
                                                           check=False))(
      jnp.float32(7.0), jnp.float32(0.0), jnp.float32(0.0), jnp.float32(1.0))
  np.testing.assert_array_equal(np.asarray(swept), rotated)


def test_random_affine_draws_its_ranges_and_probability(digits):
  key = jax.random.PRNGKey(5)
  translate_key, scale_key, _ = jax.random.split(jax.random.fold_in(key, augment.AFFINE_STREAM), 3)
  shifts = np.asarray(augment.sample_translations(translate_key, 4000, 0.09, (28, 28)))
  assert shifts.shape == (4000, 2) and shifts.dtype == np.float32
  # round(uniform(-2.52, 2.52)): whole pixels -3 .. 3, every one of them drawn.
  assert set(np.unique(shifts).tolist()) == {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}
  scales = np.asarray(augment.sample_scales(scale_key, 4000, 0.09))
  assert 0.91 <= scales.min() < 0.92 and 1.08 < scales.max() <= 1.09
  assert np.all(np.asarray(augment.sample_scales(scale_key, 10, 0.0)) == 1.0)
  out = np.asarray(augment.random_affine(key, digits, 7.0, 0.09, 0.09, probability=0.5))
  assert out.shape == digits.shape and out.dtype == np.float32
  assert out.min() >= 0.0 and out.max() <= 1.0
  unchanged = np.all(out == np.asarray(digits), axis=(1, 2, 3))
  assert 0.3 < unchanged.mean() < 0.7  # about half the images left as they are
  full = np.asarray(augment.random_affine(key, digits, 7.0, 0.09, 0.09))
  np.testing.assert_array_equal(out[~unchanged], full[~unchanged])


@pytest.mark.parametrize("call", [
    lambda x: augment.random_affine(jax.random.PRNGKey(0), x, 7.0, translate=1.0),
    lambda x: augment.random_affine(jax.random.PRNGKey(0), x, 7.0, scale=-0.1),
    lambda x: augment.random_affine(jax.random.PRNGKey(0), x, 7.0, probability=1.5),
    lambda x: colour.random_brightness_contrast(jax.random.PRNGKey(0), x, brightness=-0.1),
    lambda x: colour.adjust_contrast(jnp.concatenate([x, x], -1), jnp.ones(len(x))),
    lambda x: augment.affine(x, jnp.zeros(2), jnp.zeros((2,)), jnp.ones(2)),
])
def test_affine_and_jitter_reject_bad_values(call, digits):
  with pytest.raises(ValueError):
    call(digits[:2])


def torch_brightness_contrast(images: np.ndarray, brightness: np.ndarray,
                              contrast: np.ndarray) -> np.ndarray:
  """torchvision's ``adjust_brightness`` then ``adjust_contrast`` in torch: its ``_blend(img1,
  img2, r) = (r * img1 + (1 - r) * img2).clamp(0, 1)`` with a black image, then with the mean
  of the grayscale image (0.299 R + 0.587 G + 0.114 B, the channel itself for one channel)."""
  x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2)
  out = []
  for image, b, c in zip(x, brightness, contrast):
    b, c = float(b), float(c)
    image = (b * image + (1.0 - b) * torch.zeros_like(image)).clamp(0, 1)
    mean = torch.mean(image, dim=(-3, -2, -1), keepdim=True)
    out.append((c * image + (1.0 - c) * mean).clamp(0, 1))
  return torch.stack(out).permute(0, 2, 3, 1).numpy()


def test_brightness_contrast_match_torchvision_formulas(digits):
  batch = len(digits)
  keys = jax.random.split(jax.random.PRNGKey(2))
  brightness = colour.sample_factors(keys[0], batch, 0.8)
  contrast = colour.sample_factors(keys[1], batch, 0.8)
  ours = colour.adjust_contrast(colour.adjust_brightness(digits, brightness), contrast)
  assert ours.shape == digits.shape and ours.dtype == jnp.float32
  reference = torch_brightness_contrast(np.asarray(digits), np.asarray(brightness),
                                        np.asarray(contrast))
  np.testing.assert_allclose(np.asarray(ours), reference, rtol=0, atol=1e-6)
  assert float(ours.min()) == 0.0 and float(ours.max()) == 1.0  # both clamps reached
  # The random version: the same factors, drawn from split(key), brightness first.
  np.testing.assert_array_equal(
      np.asarray(colour.random_brightness_contrast(jax.random.PRNGKey(2), digits, 0.8, 0.8)),
      np.asarray(ours))


def test_jitter_factors_lie_in_their_ranges_and_zero_is_the_identity(digits):
  key = jax.random.PRNGKey(4)
  factors = np.asarray(colour.sample_factors(key, 4000, 0.3))
  assert factors.dtype == np.float32 and factors.shape == (4000,)
  assert 0.7 <= factors.min() < 0.71 and 1.29 < factors.max() <= 1.3
  wide = np.asarray(colour.sample_factors(key, 4000, 1.5))
  assert 0.0 <= wide.min() < 0.01 and 2.49 < wide.max() <= 2.5  # max(0, 1 - b)
  for amount in (0.0, jnp.float32(0.0)):  # a Python 0 and a swept one: exactly unchanged
    same = colour.random_brightness_contrast(key, digits, amount, amount)
    np.testing.assert_array_equal(np.asarray(same), np.asarray(digits))
