"""Shared test fixtures.

The real MNIST comes from the repository's own copy (`data/mnist/`, the default of
`mnist_jax.data.load`), so the tests need nothing outside the repository. Tests that need it
fail, never skip, when it is absent: a skipped data test would let CI pass without having
looked at the data.
"""

import os
import pathlib

import numpy as np
import pytest

from mnist_jax import data
from mnist_jax import runtime

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


# Files whose tests train small networks (tens of seconds a test on the 2-core CPU), longest
# first by their measured time: pytest-xdist hands out files in collection order, so these
# start first and the workers finish together instead of one waiting on a late long file.
LONGEST_FILES = ("test_train.py", "test_epoch.py", "test_checkpoint.py", "test_sweep.py",
                 "test_notebook.py", "test_fast_cpu.py", "test_export.py",
                 "test_sweep_processes.py", "test_benchmark.py")


def pytest_collection_modifyitems(items):
  """Runs `LONGEST_FILES` first (a stable sort: the order within each file is kept)."""
  rank = {name: index for index, name in enumerate(LONGEST_FILES)}
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def mnist_dir() -> pathlib.Path:
  """Folder holding the four canonical MNIST IDX files: the repository's data/mnist."""
  path = data.REPOSITORY_DIR
  if not all((path / (name + ".gz")).is_file() for pair in data.IDX_FILES.values() for name in pair):
    pytest.fail(f"the repository's MNIST copy is incomplete in {path}; see data/mnist/README.md")
  return path


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory) -> pathlib.Path:
  """One JAX persistent compilation cache for the test run, as the scripts use by default.

  Many tests compile the same small training program; each compiles once. The scripts that
  tests run in subprocesses share it through the environment (never the user's own cache).
  """
  # Under pytest-xdist the workers share one cache (JAX locks it across processes), so a
  # program one worker compiled is not compiled again by the other.
  base = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    base = base.parent
  folder = base / "jax_compilation_cache"
  folder.mkdir(exist_ok=True)
  os.environ[runtime.CACHE_VARIABLE] = str(folder)
  runtime.enable_compilation_cache(str(folder))
  return folder


@pytest.fixture(scope="module")
def images(mnist_dir) -> np.ndarray:
  """First 256 MNIST test images, normalised as every write-up does (mean 0.1307, std 0.3081),
  float32 [256, 28, 28, 1]: the inputs of the parity tests (test_parity, test_frontier)."""
  x, _ = data.load("test", mnist_dir, source="idx")
  return ((x[:256].astype(np.float32) / 255.0 - 0.1307) / 0.3081).astype(np.float32)
