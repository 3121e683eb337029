"""The checks of a run's config before anything is written: one line per impossible value.

The hyperparameters' ranges live in one table, `hyperparameters.RANGES`, checked here for every
sweep cell (and with the schedule by `hyperparameters.create`, once the run's size is known);
this module adds the fields that shape the run (sizes, counts, the model, the fast path)."""

import ml_collections

from mnist_jax import models
from mnist_jax.optim import hyperparameters
from mnist_jax.optim import sweep


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Checks the fields of `config` and of each of its sweep cells (`sweep.check`).

  Raises:
    ValueError: one line naming the field (and the sweep cell) and the valid range, for an
      unknown model, an impossible value, or a field that cannot be swept.
  """
  sweep.fields(config)  # one line for a field that cannot be swept
  sweep.check(config, _validate_cell)
  sweep.check(config, hyperparameters.check_ranges)


def _validate_cell(config: ml_collections.ConfigDict) -> None:
  if config.model not in models.names():
    raise ValueError(f"unknown model {config.model!r}; valid models: {', '.join(models.names())}")
  positive_ints = ("batch_size", "eval_batch_size", "num_epochs", "num_seeds", "keep_checkpoints")
  for field in positive_ints:
    value = config[field]
    if not isinstance(value, int) or value <= 0:
      raise ValueError(f"config.{field} must be a positive integer, got {value!r}")
  for field in ("train_subset", "test_subset"):
    if config[field] < 0:
      raise ValueError(f"config.{field} must be >= 0 (0 = the whole split), got {config[field]!r}")
  if not isinstance(config.get("validation_size", 0), int) or config.get("validation_size", 0) < 0:
    raise ValueError(f"config.validation_size must be an integer >= 0 (0 = no validation split), "
                     f"got {config.validation_size!r}")
  try:
    models.uses_fast_path(config.get("fast_path", "auto"))
  except ValueError as e:
    raise ValueError(f"config.{e}") from None
