"""Tests for mnist_jax.data.augment: torchvision semantics of ToTensor, Normalize, rotate."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnist_jax.data import augment
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
