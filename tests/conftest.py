"""Shared test fixtures.

The real MNIST comes from the repository's own copy (`data/mnist/`, the default of
`mnist_jax.data.load`), so the tests need nothing outside the repository. Tests that need it
fail, never skip, when it is absent: a skipped data test would let CI pass without having
looked at the data.
"""

import importlib.util
import os
import pathlib

import numpy as np
import pytest

from mnist_jax import data
from mnist_jax import runtime

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


# Files whose tests train small networks (tens of seconds a test on the 2-core CPU), longest
# first by their measured time. pytest-xdist's default `--loadscope-reorder` hands files out by
# their number of tests, which overrides this order between files; it still orders the tests
# within the collection (measured: --no-loadscope-reorder made the fast tier slower, 230 s).
LONGEST_FILES = ("test_crashes.py", "test_config_fuzz.py", "test_train.py",
                 "test_recipe_pieces.py", "test_export.py", "test_checkpoint.py",
                 "test_accelerator_program.py", "test_epoch.py", "test_sweep.py",
                 "test_notebook.py", "test_fast_cpu.py", "test_augment_sweep.py",
                 "test_divergence.py", "test_hyperparameters.py",
                 "test_sweep_processes.py", "test_benchmark.py", "test_full_disk.py",
                 "test_workdir.py")


def pytest_addoption(parser):
  parser.addoption("--slow", action="store_true",
                   help="also run the tests marked slow (full epochs, the notebook, several "
                        "processes): both tiers, as .ci/run does")


def pytest_collection_modifyitems(config, items):
  """Leaves out the `slow` tier unless --slow (or a -m expression) asks for it, then runs
  `LONGEST_FILES` first (a stable sort: the order within each file is kept)."""
  if not config.getoption("--slow") and not config.getoption("markexpr"):
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
      config.hook.pytest_deselected(items=slow)
      items[:] = [item for item in items if not item.get_closest_marker("slow")]
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
def float32_arithmetic():
  """Where JAX has a CUDA plugin, float32 matrix products and convolutions in full float32,
  not TF32 (its default there): the tests compare two programs within float32 rounding
  (about 1e-6), which TF32's 10-bit mantissa would exceed. The environment variable reaches
  the scripts that tests run in subprocesses. The CPU computes float32 either way."""
  if any(importlib.util.find_spec(f"jax_cuda{version}_plugin") for version in (12, 13)):
    os.environ["JAX_DEFAULT_MATMUL_PRECISION"] = "highest"
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture(scope="session", autouse=True)
def compilation_cache() -> pathlib.Path:
  """JAX's persistent compilation cache for the tests, kept between test runs.

  Many tests compile the same small training programs; a second run of the suite loads them
  instead of compiling again. It lives apart from the scripts' own cache, in
  `$MNIST_JAX_TEST_CACHE` if set, else `$XDG_CACHE_HOME/mnist_jax/tests` (`~/.cache` by
  default); the scripts that tests run in subprocesses share it through the environment.
  Under pytest-xdist the workers share it too (JAX writes its entries atomically).
  """
  cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  folder = pathlib.Path(os.environ.get("MNIST_JAX_TEST_CACHE")
                        or os.path.join(cache_home, "mnist_jax", "tests"))
  folder.mkdir(parents=True, exist_ok=True)
  os.environ[runtime.CACHE_VARIABLE] = str(folder)
  runtime.enable_compilation_cache(str(folder))
  return folder


@pytest.fixture(scope="module")
def images(mnist_dir) -> np.ndarray:
  """First 256 MNIST test images, normalised as every write-up does (mean 0.1307, std 0.3081),
  float32 [256, 28, 28, 1]: the inputs of the parity tests (test_parity, test_frontier)."""
  x, _ = data.load("test", mnist_dir, source="idx")
  return ((x[:256].astype(np.float32) / 255.0 - 0.1307) / 0.3081).astype(np.float32)
