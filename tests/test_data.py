"""Tests for mnist_jax.data: the real IDX files, where data comes from, bad files, TFDS."""

import functools
import gzip
import hashlib
import http.server
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest

from mnist_jax import data

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

# Per-class label counts, from data/mnist/README.md ("Label counts").
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

# md5 of the uncompressed files, from the same README's table.
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


def write_idx(path: pathlib.Path, array: np.ndarray, magic: int | None = None) -> None:
  """Writes ``array`` as a uint8 IDX file (gzip-compressed when the name ends in .gz)."""
  array = np.asarray(array, dtype=np.uint8)
  if magic is None:
    magic = 0x0800 | array.ndim
  payload = magic.to_bytes(4, "big")
  payload += b"".join(d.to_bytes(4, "big") for d in array.shape)
  payload += array.tobytes()
  if path.name.endswith(".gz"):
    payload = gzip.compress(payload)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(payload)


def write_test_split(folder: pathlib.Path, num_examples: int = 5, suffix: str = "",
                     num_labels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Writes a small synthetic test split; returns (images [N, 28, 28], labels [N])."""
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, size=(num_examples, 28, 28), dtype=np.uint8)
  labels = np.arange(num_examples if num_labels is None else num_labels, dtype=np.uint8) % 10
  write_idx(folder / ("t10k-images-idx3-ubyte" + suffix), images)
  write_idx(folder / ("t10k-labels-idx1-ubyte" + suffix), labels)
  return images, labels


def error_message(excinfo: pytest.ExceptionInfo) -> str:
  message = str(excinfo.value)
  assert "\n" not in message, f"message should be one line: {message!r}"
  return message


# Real data.


@pytest.fixture(scope="module")
def real(mnist_dir):
  return {split: data.load(split, mnist_dir, source="idx") for split in data.SPLITS}


@pytest.mark.parametrize("split, counts",
                         [("train", TRAIN_LABEL_COUNTS), ("test", TEST_LABEL_COUNTS)])
def test_real_split_shapes_dtypes_and_label_counts(real, split, counts):
  images, labels = real[split]
  assert images.shape == (sum(counts), 28, 28, 1)
  assert images.dtype == np.uint8
  assert labels.shape == (sum(counts),)
  assert labels.dtype == np.int32
  assert np.bincount(labels, minlength=10).tolist() == counts
  assert images.min() == 0 and images.max() == 255


@pytest.mark.parametrize("split", data.SPLITS)
def test_real_split_is_byte_identical_to_the_files(real, split):
  # Re-encode the arrays as IDX and compare with the README's md5 of the
  # uncompressed files: proves order, dtype and values are untouched.
  images, labels = real[split]
  images_name, labels_name = data.IDX_FILES[split]
  dims = (len(images), 28, 28)
  header = (0x803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
  assert hashlib.md5(header + images.tobytes()).hexdigest() == MD5[images_name]
  header = (0x801).to_bytes(4, "big") + len(labels).to_bytes(4, "big")
  assert hashlib.md5(header + labels.astype(np.uint8).tobytes()).hexdigest() == MD5[labels_name]


def decompress(source: pathlib.Path, target: pathlib.Path) -> None:
  target.parent.mkdir(parents=True, exist_ok=True)
  target.write_bytes(gzip.decompress(source.read_bytes()))


@pytest.mark.parametrize("layout", ["flat_raw", "torchvision_gz", "torchvision_raw"])
def test_raw_files_and_torchvision_layout_load_the_same_arrays(real, mnist_dir, tmp_path, layout):
  folder = tmp_path / "MNIST" / "raw" if layout.startswith("torchvision") else tmp_path
  folder.mkdir(parents=True, exist_ok=True)
  for name in data.IDX_FILES["test"]:
    if layout.endswith("gz"):
      shutil.copy(mnist_dir / (name + ".gz"), folder / (name + ".gz"))
    else:
      decompress(mnist_dir / (name + ".gz"), folder / name)
  images, labels = data.load("test", tmp_path, source="idx")
  np.testing.assert_array_equal(images, real["test"][0])
  np.testing.assert_array_equal(labels, real["test"][1])


# Synthetic files.


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_synthetic_idx_round_trip(tmp_path, suffix):
  images, labels = write_test_split(tmp_path, num_examples=5, suffix=suffix)
  loaded_images, loaded_labels = data.load("test", tmp_path, source="idx")
  np.testing.assert_array_equal(loaded_images, images[..., None])
  np.testing.assert_array_equal(loaded_labels, labels)
  assert loaded_images.dtype == np.uint8 and loaded_labels.dtype == np.int32


def test_mnist_dir_environment_variable_is_the_default(tmp_path, monkeypatch):
  images, _ = write_test_split(tmp_path, num_examples=3)
  monkeypatch.setenv("MNIST_DIR", str(tmp_path))
  loaded_images, _ = data.load("test", source="idx")
  np.testing.assert_array_equal(loaded_images, images[..., None])


def test_repository_copy_is_the_default(monkeypatch):
  monkeypatch.delenv("MNIST_DIR", raising=False)
  assert data.resolve() == ("idx", data.REPOSITORY_DIR)
  assert data.resolve(source="idx") == ("idx", data.REPOSITORY_DIR)
  assert (data.REPOSITORY_DIR / "README.md").is_file()


def test_mnist_dir_overrides_the_repository_copy_and_data_dir_overrides_both(tmp_path, monkeypatch):
  env_dir, arg_dir = tmp_path / "env", tmp_path / "arg"
  env_images, _ = write_test_split(env_dir, num_examples=3)
  arg_images, _ = write_test_split(arg_dir, num_examples=4)
  monkeypatch.setenv("MNIST_DIR", str(env_dir))
  assert data.resolve() == ("idx", env_dir)
  np.testing.assert_array_equal(data.load("test")[0], env_images[..., None])
  assert data.resolve(arg_dir) == ("idx", arg_dir)
  np.testing.assert_array_equal(data.load("test", arg_dir)[0], arg_images[..., None])


def test_folders_without_idx_files_fall_through_to_the_repository_copy(tmp_path, monkeypatch):
  monkeypatch.setenv("MNIST_DIR", str(tmp_path / "empty_env"))
  assert data.resolve(tmp_path) == ("idx", data.REPOSITORY_DIR)


def test_missing_file(tmp_path):
  write_test_split(tmp_path)
  (tmp_path / "t10k-labels-idx1-ubyte").unlink()
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(tmp_path / "t10k-labels-idx1-ubyte") in message
  assert "missing" in message


def test_auto_with_some_files_missing_fails_rather_than_falling_back(tmp_path):
  write_test_split(tmp_path)
  (tmp_path / "t10k-images-idx3-ubyte").unlink()
  with pytest.raises(data.DataError, match="missing") as excinfo:
    data.load("test", tmp_path)
  assert str(tmp_path / "t10k-images-idx3-ubyte") in error_message(excinfo)


def test_truncated_raw_file(tmp_path):
  write_test_split(tmp_path)
  path = tmp_path / "t10k-images-idx3-ubyte"
  path.write_bytes(path.read_bytes()[:-100])
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(path) in message and "truncated" in message


def test_truncated_header(tmp_path):
  write_test_split(tmp_path)
  path = tmp_path / "t10k-images-idx3-ubyte"
  path.write_bytes(path.read_bytes()[:9])
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(path) in message and "truncated" in message


def test_file_longer_than_its_header_says(tmp_path):
  write_test_split(tmp_path)
  path = tmp_path / "t10k-labels-idx1-ubyte"
  path.write_bytes(path.read_bytes() + b"\x00")
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(path) in message and "wrong size" in message


def test_truncated_gzip(tmp_path):
  write_test_split(tmp_path, suffix=".gz")
  path = tmp_path / "t10k-images-idx3-ubyte.gz"
  path.write_bytes(path.read_bytes()[:-20])
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(path) in message and "gzip" in message


def test_corrupt_gzip(tmp_path):
  write_test_split(tmp_path, suffix=".gz")
  path = tmp_path / "t10k-labels-idx1-ubyte.gz"
  path.write_bytes(b"this is not gzip data")
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(path) in message and "gzip" in message


def test_wrong_magic_number(tmp_path):
  write_test_split(tmp_path)
  path = tmp_path / "t10k-labels-idx1-ubyte"
  write_idx(path, np.zeros((5,), np.uint8), magic=0x00000803)
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(path) in message
  assert "magic" in message and "0x00000803" in message and "0x00000801" in message


def test_image_and_label_counts_disagree(tmp_path):
  write_test_split(tmp_path, num_examples=5, num_labels=4)
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  message = error_message(excinfo)
  assert str(tmp_path / "t10k-images-idx3-ubyte") in message
  assert str(tmp_path / "t10k-labels-idx1-ubyte") in message
  assert "5" in message and "4" in message


def test_images_that_are_not_28x28(tmp_path):
  write_test_split(tmp_path)
  path = tmp_path / "t10k-images-idx3-ubyte"
  write_idx(path, np.zeros((5, 4, 4), np.uint8))
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  assert str(path) in error_message(excinfo)


def test_label_outside_0_to_9(tmp_path):
  write_test_split(tmp_path)
  path = tmp_path / "t10k-labels-idx1-ubyte"
  write_idx(path, np.array([0, 1, 2, 3, 10], np.uint8))
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="idx")
  assert str(path) in error_message(excinfo)


def test_data_error_is_a_value_error():
  assert issubclass(data.DataError, ValueError)


def test_unknown_split(tmp_path):
  write_test_split(tmp_path)
  with pytest.raises(ValueError, match="validation") as excinfo:
    data.load("validation", tmp_path)
  assert "train" in str(excinfo.value) and "test" in str(excinfo.value)


def test_unknown_source(tmp_path):
  with pytest.raises(ValueError, match="torchvision") as excinfo:
    data.load("test", tmp_path, source="torchvision")
  for choice in ("auto", "idx", "tfds"):
    assert choice in str(excinfo.value)


def test_idx_source_without_a_folder_or_repository_copy(tmp_path, monkeypatch):
  monkeypatch.delenv("MNIST_DIR", raising=False)
  monkeypatch.setattr(data, "REPOSITORY_DIR", tmp_path / "not_installed")
  with pytest.raises(data.DataError, match="MNIST_DIR"):
    data.load("test", source="idx")


# TFDS, offline through tfds.testing.mock_data.


@pytest.fixture
def mock_tfds():
  # Installed with the project (pyproject.toml); absent on a GPU machine whose packages are
  # carried as wheels (.ci/gpu), where TensorFlow is too large to carry.
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=3):
    yield


@pytest.mark.parametrize("split", data.SPLITS)
def test_tfds_source_shapes_and_dtypes(mock_tfds, tmp_path, split):
  images, labels = data.load(split, tmp_path, source="tfds")
  assert images.shape == (3, 28, 28, 1) and images.dtype == np.uint8
  assert labels.shape == (3,) and labels.dtype == np.int32
  assert ((labels >= 0) & (labels < 10)).all()


def test_auto_picks_tfds_when_no_folder_has_idx_files(mock_tfds, tmp_path, monkeypatch):
  monkeypatch.delenv("MNIST_DIR", raising=False)
  monkeypatch.setattr(data, "REPOSITORY_DIR", tmp_path / "not_installed")  # e.g. a wheel install
  assert data.resolve(tmp_path) == ("tfds", tmp_path)
  images, labels = data.load("test", tmp_path)
  assert images.shape == (3, 28, 28, 1) and labels.shape == (3,)


def test_auto_picks_idx_when_the_folder_has_them(mock_tfds, tmp_path):
  write_test_split(tmp_path, num_examples=5, suffix=".gz")
  images, labels = data.load("test", tmp_path)
  assert images.shape == (5, 28, 28, 1) and labels.shape == (5,)


def test_auto_picks_idx_in_torchvision_layout(mock_tfds, tmp_path):
  write_test_split(tmp_path / "MNIST" / "raw", num_examples=5)
  images, _ = data.load("test", tmp_path)
  assert images.shape == (5, 28, 28, 1)


# TFDS's real download-and-prepare path, against servers on 127.0.0.1 only.


@pytest.fixture
def loopback_server():
  """An HTTP server on 127.0.0.1 serving the repository's data/mnist; yields (url, requested paths)."""
  requested = []

  class Handler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):  # keep the test output quiet
      requested.append(self.path)

  handler = functools.partial(Handler, directory=str(data.REPOSITORY_DIR))
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield f"http://127.0.0.1:{server.server_port}/", requested
  server.shutdown()
  server.server_close()


def refused_url() -> str:
  """A loopback URL whose port refuses connections (bound, then closed)."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  return f"http://127.0.0.1:{port}/"


def image_label_digests(images, labels) -> list[str]:
  """Order-free fingerprint of a split (TFDS shuffles examples when it prepares them)."""
  return sorted(hashlib.md5(image.tobytes() + bytes([label])).hexdigest()
                for image, label in zip(images, labels))


@pytest.mark.slow
def test_tfds_downloads_and_prepares_mnist_from_a_loopback_server(loopback_server, real, tmp_path,
                                                                   monkeypatch):
  from tensorflow_datasets.image_classification import mnist  # pylint: disable=g-import-not-at-top
  url, requested = loopback_server
  monkeypatch.setattr(mnist.MNIST, "URL", url)
  images, labels = data.load("test", tmp_path, source="tfds")
  assert sorted(requested) == sorted(f"/{name}.gz" for pair in data.IDX_FILES.values() for name in pair)
  assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8 and labels.dtype == np.int32
  assert image_label_digests(images, labels) == image_label_digests(*real["test"])


def test_tfds_refused_download_is_one_line_naming_the_fixes(tmp_path, monkeypatch):
  from tensorflow_datasets.core.download import downloader  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.image_classification import mnist  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(mnist.MNIST, "URL", refused_url())
  # TFDS retries a refused connection 10 times with exponential backoff (minutes); the first
  # refusal is the case under test.
  monkeypatch.setattr(downloader, "MAX_RETRIES", 0)
  with pytest.raises(data.DataError) as excinfo:
    data.load("test", tmp_path, source="tfds")
  message = error_message(excinfo)
  assert message.startswith("could not download MNIST through TFDS (ConnectionError: ")
  for fix in ("MNIST_DIR", "--config.data_dir", "data/mnist/"):
    assert fix in message


def test_train_script_offline_prints_exactly_one_error_line(tmp_path):
  # The real script, its TFDS download refused: one `error:` line on stderr, exit status 1.
  code = (
      "import runpy, sys;"
      "from tensorflow_datasets.core.download import downloader;"
      "from tensorflow_datasets.image_classification import mnist;"
      "mnist.MNIST.URL = sys.argv[1]; downloader.MAX_RETRIES = 0;"
      "sys.argv = ['scripts/train.py'] + sys.argv[2:]; sys.path.insert(0, 'scripts');"
      "runpy.run_path('scripts/train.py', run_name='__main__')")
  env = {k: v for k, v in os.environ.items() if k != "MNIST_DIR"}
  result = subprocess.run(
      [sys.executable, "-c", code, refused_url(), "--config", "configs/final.py",
       "--workdir", str(tmp_path / "run"), "--config.data_source=tfds",
       f"--config.data_dir={tmp_path / 'tfds'}", "--nocompilation_cache"],
      cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
  assert result.returncode == 1, result.stderr[-2000:]
  lines = result.stderr.strip().splitlines()
  assert [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr[-2000:]
  assert lines[-1].startswith("error: could not download MNIST through TFDS (ConnectionError: ")
  assert "Traceback" not in result.stderr


def test_import_does_not_load_tensorflow():
  code = ("import sys, mnist_jax.data, mnist_jax.data.augment; "
          "loaded = [m for m in ('tensorflow', 'tensorflow_datasets') if m in sys.modules]; "
          "assert not loaded, loaded")
  python_path = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
  env = dict(os.environ, PYTHONPATH=python_path)
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr
