"""Puts the repository root on sys.path so `configs` and an uninstalled `mnist_jax` import."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))
