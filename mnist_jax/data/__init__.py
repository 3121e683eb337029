"""MNIST as numpy arrays, from the IDX files torchvision's ``datasets.MNIST`` downloads (byte
for byte a PyTorch run's data; ``data/mnist/`` carries them, so a clone trains offline) or, as
the last resort, from TFDS (a download; TensorFlow imported only there)."""

import gzip
import math
import os
import pathlib
import zlib
from typing import Optional, Union

import numpy as np

SPLITS = ("train", "test")
SOURCES = ("auto", "idx", "tfds")

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# Canonical names of the MNIST database files (images, labels) per split.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX magic numbers: two zero bytes, the element type (0x08 = uint8), the number of dimensions.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# torchvision's datasets.MNIST(root) keeps the files in root/MNIST/raw/.
TORCHVISION_SUBDIR = pathlib.Path("MNIST", "raw")

PathLike = Union[str, os.PathLike]

# The repository's own copy of the four files (data/mnist/README.md: source, license, md5).
# Absent from a non-editable install, where `load` falls back to TFDS.
REPOSITORY_DIR = pathlib.Path(__file__).resolve().parents[2] / "data" / "mnist"

# The ways out of a failed TFDS download, named in its error message.
OFFLINE_FIXES = ("set MNIST_DIR to a folder with the four MNIST IDX files, pass "
                 "--config.data_dir=FOLDER, or train from a git clone, which carries them in "
                 "data/mnist/")


class DataError(ValueError):
  """A data file is missing, truncated or corrupt; the message names the file."""


def load(split: str, data_dir: Optional[PathLike] = None,
         source: str = "auto") -> tuple[np.ndarray, np.ndarray]:
  """Loads MNIST ``split`` "train" (60,000 examples) or "test" (10,000) into host memory as
  ``(images, labels)``: images uint8 [N, 28, 28, 1] with values 0-255 (no scaling), labels int32
  [N] with values 0-9, in the files' order. ``data_dir``: the IDX folder, flat or torchvision's
  ``data_dir/MNIST/raw/``, files raw or ``.gz`` (for TFDS, its ``data_dir``); ``source``: "auto",
  "idx" or "tfds", see `resolve`.

  Raises:
    ValueError: unknown ``split`` or ``source``.
    DataError: a missing, truncated or corrupt IDX file, a wrong magic number, image and
      label counts that disagree, or a failed TFDS download.
  """
  _check_split(split)
  source, folder = resolve(data_dir, source)
  if source == "idx":
    return load_idx(split, folder)
  return load_tfds(split, folder)


def resolve(data_dir: Optional[PathLike] = None,
            source: str = "auto") -> tuple[str, Optional[pathlib.Path]]:
  """Which source and folder ``load`` reads: ("idx", IDX folder) or ("tfds", data_dir or None).
  "auto": the first of ``data_dir``, ``MNIST_DIR`` and `REPOSITORY_DIR` holding IDX files, else
  TFDS (downloads on first use); "idx": the first folder given (``data_dir``, ``MNIST_DIR``), else
  the repository copy.

  Raises:
    ValueError: unknown ``source``.
    DataError: ``source="idx"`` with no folder given and no repository copy.
  """
  if source not in SOURCES:
    raise ValueError(f"unknown source {source!r}; valid choices: {', '.join(SOURCES)}")
  given = [pathlib.Path(d) for d in (data_dir, os.environ.get("MNIST_DIR")) if d]
  if source == "idx" and given:
    return "idx", given[0]
  if source != "tfds":
    for folder in ([] if source == "idx" else given) + [REPOSITORY_DIR]:
      if has_idx_files(folder):
        return "idx", folder
  if source == "idx":
    raise DataError("source='idx' needs data_dir or the MNIST_DIR environment variable "
                    f"(no repository copy in {REPOSITORY_DIR})")
  return "tfds", pathlib.Path(data_dir) if data_dir else None


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; valid choices: {', '.join(SPLITS)}")


def has_idx_files(data_dir: PathLike) -> bool:
  """Whether ``data_dir`` holds any MNIST IDX file (flat or MNIST/raw/, raw or .gz): one is
  enough, so a folder missing some fails with a DataError naming them, not falling to TFDS."""
  return any(path.is_file() for pair in IDX_FILES.values() for name in pair
             for path in _candidates(pathlib.Path(data_dir), name))


def load_idx(split: str, data_dir: PathLike) -> tuple[np.ndarray, np.ndarray]:
  """Loads one split from the IDX files in ``data_dir``; see ``load``."""
  _check_split(split)
  images_path, labels_path = (find_idx_file(data_dir, name) for name in IDX_FILES[split])
  images, labels = read_idx(images_path, IMAGES_MAGIC), read_idx(labels_path, LABELS_MAGIC)
  if images.shape[1:] != IMAGE_SHAPE[:2]:
    raise DataError(
        f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28")
  if len(images) != len(labels):
    raise DataError(
        f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
  if labels.size and labels.max() >= NUM_CLASSES:
    raise DataError(f"{labels_path}: label {labels.max()} outside 0-{NUM_CLASSES - 1}")
  return images[..., np.newaxis], labels.astype(np.int32)


def find_idx_file(data_dir: PathLike, name: str) -> pathlib.Path:
  """Path of IDX file ``name`` in ``data_dir``: flat before MNIST/raw/, raw before ``.gz``.
  Raises DataError when the file is in none of the four places."""
  candidates = _candidates(pathlib.Path(data_dir), name)
  for path in candidates:
    if path.is_file():
      return path
  others = ", ".join(str(path) for path in candidates[1:])
  raise DataError(f"{candidates[0]}: missing (also looked for {others})")


def _candidates(data_dir: pathlib.Path, name: str) -> list[pathlib.Path]:
  folders = (data_dir, data_dir / TORCHVISION_SUBDIR)
  return [folder / file for folder in folders for file in (name, name + ".gz")]


def read_idx(path: PathLike, magic: int) -> np.ndarray:
  """Reads a uint8 IDX file (``.gz``: decompressed on the fly) whose header carries ``magic``
  (``IMAGES_MAGIC`` or ``LABELS_MAGIC``) as uint8 of the header's shape, e.g. [N, 28, 28].
  IDX (yann.lecun.com/exdb/mnist): a big-endian int32 magic whose last byte is the number of
  dimensions, a big-endian int32 per dimension, the data row-major. Read in chunks, so a
  corrupt header (e.g. 2^31 images) never allocates more than the file holds.
  Raises DataError: missing file, bad gzip, wrong magic, a size that disagrees with the header,
  or dimensions no array can have (0 images of 2^31 x 2^31 pixels).
  """
  path = pathlib.Path(path)
  ndim = magic & 0xFF
  header_size = 4 + 4 * ndim
  try:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
      head = f.read(header_size)
      if len(head) < 4:
        raise DataError(
            f"{path}: truncated, {len(head)} bytes, shorter than the IDX magic number")
      found_magic = int.from_bytes(head[:4], "big")
      if found_magic != magic:
        raise DataError(
            f"{path}: wrong IDX magic number 0x{found_magic:08x}, expected 0x{magic:08x}")
      if len(head) < header_size:
        raise DataError(f"{path}: truncated, {len(head)} bytes, shorter than the "
                        f"{header_size}-byte IDX header")
      shape = tuple(int.from_bytes(head[i:i + 4], "big") for i in range(4, header_size, 4))
      expected = header_size + math.prod(shape)
      body = _read_at_most(f, expected - header_size + 1)
  except FileNotFoundError:
    raise DataError(f"{path}: missing") from None
  except (EOFError, zlib.error, gzip.BadGzipFile) as e:
    raise DataError(f"{path}: truncated or corrupt gzip ({e})") from e
  except OSError as e:
    raise DataError(f"{path}: unreadable ({e})") from e
  size = header_size + len(body)
  if size != expected:
    problem = "truncated" if size < expected else "wrong size"
    shown = f"{size}" if size < expected else f"more than {expected}"
    raise DataError(
        f"{path}: {problem}, {shown} bytes but header dimensions {shape} need {expected}")
  try:
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)
  except ValueError:  # numpy's "array is too big", though it holds no byte
    raise DataError(f"{path}: header dimensions {shape} describe no array numpy can hold") from None


def _read_at_most(f, limit: int, chunk: int = 1 << 20) -> bytearray:
  """Up to `limit` bytes of `f`, read in chunks (memory grows with what the file holds)."""
  body = bytearray()
  while len(body) < limit:
    block = f.read(min(chunk, limit - len(body)))
    if not block:
      break
    body += block
  return body


def load_tfds(split: str, data_dir: Optional[PathLike] = None) -> tuple[np.ndarray, np.ndarray]:
  """Loads one split with ``tfds.load("mnist")``; same dtypes and shapes as ``load``. The first
  use downloads the dataset into ``data_dir`` (None: ``~/tensorflow_datasets``).

  Raises:
    ValueError: unknown ``split``.
    DataError: a failed download (the message names the cause and the offline fixes), or a
      split of unknown size or unexpected shape.
  """
  _check_split(split)
  import requests  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  try:
    dataset = tfds.load("mnist", split=split, as_supervised=True,
                        data_dir=None if data_dir is None else os.fspath(data_dir))
  except (requests.exceptions.RequestException, tfds.download.DownloadError, OSError) as e:
    cause = " ".join(f"{type(e).__name__}: {e}".split())  # one line
    raise DataError(f"could not download MNIST through TFDS ({cause}); to train offline, "
                    f"{OFFLINE_FIXES}") from e
  # One batch of the whole split. Not batch_size=-1: when TFDS does not know the split size
  # (e.g. under tfds.testing.mock_data) it batches by sys.maxsize, aborting TF 2.21.
  num_examples = int(dataset.cardinality())
  if num_examples <= 0:
    raise DataError(f"tfds mnist/{split}: unknown number of examples ({num_examples})")
  images, labels = tfds.as_numpy(dataset.batch(num_examples).get_single_element())
  images, labels = np.asarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int32)
  if images.shape[1:] != IMAGE_SHAPE or labels.shape != (len(images),):
    raise DataError(f"tfds mnist/{split}: images {images.shape} and labels {labels.shape}, "
                    "expected [N, 28, 28, 1] and [N]")
  return images, labels
