"""Shared test fixtures.

The real MNIST lives outside the repository (``MNIST_DIR``, default ``../shared/data/mnist``
beside the checkout). Tests that need it fail, never skip, when it is absent: a skipped
data test would let CI pass without having looked at the data.
"""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_dir() -> pathlib.Path:
  """Folder holding the four canonical MNIST IDX files."""
  path = pathlib.Path(os.environ.get("MNIST_DIR", REPO_ROOT.parent / "shared" / "data" / "mnist"))
  if not (path / "train-images-idx3-ubyte.gz").exists() and not (path / "train-images-idx3-ubyte").exists():
    pytest.fail(f"real MNIST not found in {path}; set MNIST_DIR to the folder with the IDX files")
  return path
