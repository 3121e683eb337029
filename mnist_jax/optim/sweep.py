"""The replica axis: seeds times the cells of a sweep grid, trained as replicas of one program.

``config.sweep`` maps config fields to lists of values, nested like the config::

  config.sweep = {"schedule": {"max_lr": [0.05, 0.1], "pct_start": [0.2, 0.3]}}

The grid is the product of the lists, fields in path order; each cell trains the seeds
``config.seed`` to ``config.seed + num_seeds - 1``: replica ``r = cell * num_seeds + s``. Only
fields that leave the program's shapes and structure alone can be swept (`sweepable_fields`).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import ml_collections
import numpy as np

from mnist_jax import checks
from mnist_jax.optim import schedules

# Fields outside `config.schedule` that can be swept: the top-level fields of
# `hyperparameters.Hyperparameters` (dropout_rate as its keep probability).
SWEEPABLE = ("learning_rate", "momentum", "weight_decay", "dropout_rate", "rotation_degrees",
             "label_smoothing", "ema_decay", "translate", "scale", "affine_probability",
             "brightness", "contrast")
# Fields that set array shapes; a different value is a different program.
SHAPE_FIELDS = ("model", "batch_size", "eval_batch_size", "num_epochs", "num_seeds",
                "train_subset", "test_subset", "validation_size")


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(tree, (dict, ml_collections.ConfigDict)):
    return {path: value for key, subtree in tree.items()
            for path, value in _flatten(subtree, f"{prefix}{key}.").items()}
  return {prefix[:-1]: tree}


def sweepable_fields(config: ml_collections.ConfigDict) -> list[str]:
  """The field paths `config.sweep` accepts: `SWEEPABLE` and the numeric schedule fields."""
  schedule_fields = schedules.SCHEDULES.get(config.schedule.get("name"), ((), None))[0]
  # A field the schedule lacks (its name changed alone) is `schedules.create`'s one line.
  numeric = [f"schedule.{field}" for field in schedule_fields
             if isinstance(config.schedule.get(field), (int, float))
             and not isinstance(config.schedule[field], bool)]
  return list(SWEEPABLE) + numeric


def fields(config: ml_collections.ConfigDict) -> list[tuple[str, tuple]]:
  """The swept fields in path order, each with its values: [(path, (value, ...)), ...]. Raises
  ValueError, one line, for a path that is not a config field, a field that cannot be swept
  (naming why and the sweepable ones), or a value list that is empty or not numbers."""
  sweep = config.get("sweep") or {}
  result = []
  valid = sweepable_fields(config)
  for path, values in sorted(_flatten(sweep).items()):
    if path not in _flatten(config) or path.startswith("sweep."):
      raise ValueError(f"config.sweep.{path}: no such config field; sweepable: {', '.join(valid)}")
    if path in SHAPE_FIELDS:
      raise ValueError(f"config.sweep.{path} cannot be swept: it changes the shapes of the "
                       f"compiled program (train one run per value); sweepable: {', '.join(valid)}")
    if path not in valid:
      raise ValueError(f"config.sweep.{path} cannot be swept: it changes the compiled program, "
                       f"not only the values it computes with; sweepable: {', '.join(valid)}")
    values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                             for v in values):
      raise ValueError(f"config.sweep.{path} must be a non-empty list of numbers, got {values!r}")
    result.append((path, values))
  return result


def cells(config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
  """The grid's cells in order, each {path: value}; [{}] without a sweep."""
  swept = fields(config)
  return [dict(zip([path for path, _ in swept], combination))
          for combination in itertools.product(*[values for _, values in swept])]


def cell_config(config: ml_collections.ConfigDict,
                cell: dict[str, Any]) -> ml_collections.ConfigDict:
  """The plain run of one cell: `config` with the cell's values and no sweep."""
  single = ml_collections.ConfigDict(config.to_dict())
  single.sweep = ml_collections.ConfigDict()
  for path, value in cell.items():
    *parents, name = path.split(".")
    target = single
    for parent in parents:
      target = target[parent]
    # A swept int field (step_size, patience) stays an int; a float field takes ints as floats.
    target[name] = int(value) if checks.is_int(target[name]) else float(value)
  return single


def replicas(config: ml_collections.ConfigDict) -> list[tuple[int, dict[str, Any]]]:
  """(seed, cell) of every replica, cell-major: replica r = cell * num_seeds + s."""
  return [(config.seed + s, cell) for cell in cells(config) for s in range(config.num_seeds)]


def replica_seeds(config: ml_collections.ConfigDict) -> list[int]:
  """Seed of each replica (`replicas`)."""
  return [seed for seed, _ in replicas(config)]


def cell_value(config: ml_collections.ConfigDict, path: str) -> Any:
  """The value at a dotted field path of `config`."""
  value = config
  for name in path.split("."):
    value = value[name]
  return value


def check(config: ml_collections.ConfigDict,
          check_cell: Callable[[ml_collections.ConfigDict], Any]) -> None:
  """Runs `check_cell` on every cell's plain config (`cell_config`); raises the first cell's
  ValueError, prefixed with the cell's values."""
  for cell in cells(config):
    try:
      check_cell(cell_config(config, cell))
    except ValueError as error:
      where = " ".join(f"{path}={value}" for path, value in cell.items())
      raise ValueError(f"sweep cell {where}: {error}" if cell else str(error)) from None


def replica_label(config: ml_collections.ConfigDict, replica: int) -> str:
  """E.g. "schedule.max_lr=0.05 seed 1" (just "seed 1" without a sweep)."""
  seed, cell = replicas(config)[replica]
  return " ".join([f"{path}={value}" for path, value in cell.items()] + [f"seed {seed}"])
