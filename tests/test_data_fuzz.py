"""Fuzzing the IDX reader with hypothesis: any bytes give arrays or one `data.DataError`."""

import gzip
import tracemalloc

from hypothesis import example, given, settings, HealthCheck
from hypothesis import strategies as st
import numpy as np
import pytest

from mnist_jax import data

MAGICS = (data.IMAGES_MAGIC, data.LABELS_MAGIC)


def header(magic: int, dims: list[int]) -> bytes:
  return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


@st.composite
def idx_files(draw):
  """(kind, magic, bytes): an IDX file ("valid"), one cut short ("truncated") or with bytes
  after its data ("oversized"), a header with any dimensions ("header") or any bytes ("random")."""
  kind = draw(st.sampled_from(["random", "header", "valid", "truncated", "oversized"]))
  magic = draw(st.sampled_from(MAGICS))
  if kind == "random":
    return kind, magic, draw(st.binary(max_size=200))
  ndim = magic & 0xFF
  if kind == "header":  # any dimensions, up to 2^32 - 1 each, and a few bytes of data
    dims = draw(st.lists(st.integers(0, 2**32 - 1), min_size=ndim, max_size=ndim))
    return kind, magic, header(magic, dims) + draw(st.binary(max_size=64))
  dims = draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim))
  payload = draw(st.binary(min_size=int(np.prod(dims)), max_size=int(np.prod(dims))))
  content = header(magic, dims) + payload
  if kind == "truncated":
    return kind, magic, content[:draw(st.integers(0, max(len(content) - 1, 0)))]
  if kind == "oversized":
    return kind, magic, content + draw(st.binary(min_size=1, max_size=32))
  return kind, magic, content


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=idx_files(), compress=st.booleans())
# Found by this test: 0 images of 3,036,988,439 x 3,037,012,561 pixels, no byte to hold.
@example(file=("header", 2051, b"\x00\x00\x08\x03\x00\x00\x00\x00\xb5\x04\xc4\x17\xb5\x05\"Q"),
         compress=False)
def test_reader_returns_arrays_or_data_error(tmp_path, file, compress):
  kind, magic, content = file
  path = tmp_path / ("file.gz" if compress else "file")
  path.write_bytes(gzip.compress(content) if compress else content)
  ndim = magic & 0xFF
  if kind == "valid":  # a well-formed file loads, whatever its dimensions (0 included)
    dims = [int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = np.frombuffer(content[4 + 4 * ndim:], np.uint8).reshape(dims)
    array = data.read_idx(path, magic)
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, expected, strict=True)
    return
  try:
    array = data.read_idx(path, magic)
  except data.DataError as e:
    assert "\n" not in str(e) and str(path) in str(e)
    return
  # Too short or too long for its header is never an array; other bytes may happen to be one.
  assert kind not in ("truncated", "oversized"), (kind, content)
  dims = [int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
  assert array.dtype == np.uint8 and list(array.shape) == dims
  assert array.tobytes() == content[4 + 4 * ndim:]


@pytest.mark.parametrize("compress", [False, True])
def test_a_header_claiming_2_31_images_allocates_nothing_large(tmp_path, compress):
  content = header(data.IMAGES_MAGIC, [2**31, 28, 28]) + bytes(28 * 28 * 3)
  path = tmp_path / ("images.gz" if compress else "images")
  path.write_bytes(gzip.compress(content) if compress else content)
  tracemalloc.start()
  try:
    with pytest.raises(data.DataError, match="truncated") as excinfo:
      data.read_idx(path, data.IMAGES_MAGIC)
    _, peak = tracemalloc.get_traced_memory()
  finally:
    tracemalloc.stop()
  assert str(path) in str(excinfo.value)
  assert peak < 4 * 2**20, f"{peak} bytes allocated for a {path.stat().st_size}-byte file"
