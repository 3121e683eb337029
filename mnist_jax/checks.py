"""Argument checks shared by the schedules and the optimizer: one clear line per bad value.

Checks take Python values. The training program's hyperparameters are arrays and are never
checked inside it: `mnist_jax.optim.hyperparameters.create` checked every sweep cell, as
Python numbers, before training (the builders take ``check=False`` there).
"""

from __future__ import annotations

import numbers
from typing import Any


def require(ok: bool, field: str, valid: str, value: Any) -> None:
  """Raises ``ValueError("<field> must be <valid>, got <value>")`` unless `ok` (one line, which
  `schedules.create` prefixes with ``config.schedule.``)."""
  if not ok:
    raise ValueError(f"{field} must be {valid}, got {value!r}")


def require_positive_ints(**values: Any) -> None:
  """`require` for each keyword: a positive int."""
  for field, value in values.items():
    require(is_int(value) and value > 0, field, "a positive int", value)


def is_int(value: Any) -> bool:
  """Whether `value` is an int (numpy ints included, bools not)."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)
