"""Argument checks shared by the schedules and the optimizer: one clear line per bad value. A
JAX array is a swept value inside the training program (`mnist_jax.optim.sweep`), unchecked
here: each sweep cell was checked with Python numbers before training.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax


def require(ok: bool, field: str, valid: str, value: Any) -> None:
  """Raises ``ValueError("<field> must be <valid>, got <value>")`` unless `ok` (one line, which
  `schedules.create` prefixes with ``config.schedule.``); a JAX array `value` is not checked."""
  if isinstance(value, jax.Array):
    return
  if not ok:
    raise ValueError(f"{field} must be {valid}, got {value!r}")


def require_positive_ints(**values: Any) -> None:
  """`require` for each keyword: a positive int (or a swept array, not checked here)."""
  for field, value in values.items():
    require(is_int(value) and value > 0, field, "a positive int", value)


def as_float(value: Any) -> float | jax.Array:
  """`float(value)`, or `value` itself when it is a JAX array (a swept value, see `require`)."""
  return value if isinstance(value, jax.Array) else float(value)


def is_int(value: Any) -> bool:
  """Whether `value` is an int (numpy ints included, bools not)."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)
