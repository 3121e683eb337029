"""The checks of a run's config before anything is written: one line per impossible value."""

import ml_collections

from mnist_jax import models
from mnist_jax.optim import sweep


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Checks the fields of `config` and of each of its sweep cells (`sweep.check`).

  Raises:
    ValueError: one line naming the field (and the sweep cell) and the valid range, for an
      unknown model, an impossible value, or a field that cannot be swept.
  """
  sweep.fields(config)  # one line for a field that cannot be swept
  sweep.check(config, _validate_cell)


def _validate_cell(config: ml_collections.ConfigDict) -> None:
  if config.model not in models.names():
    raise ValueError(f"unknown model {config.model!r}; valid models: {', '.join(models.names())}")
  positive_ints = ("batch_size", "eval_batch_size", "num_epochs", "num_seeds", "keep_checkpoints")
  for field in positive_ints:
    value = config[field]
    if not isinstance(value, int) or value <= 0:
      raise ValueError(f"config.{field} must be a positive integer, got {value!r}")
  if not config.learning_rate > 0:
    raise ValueError(f"config.learning_rate must be > 0, got {config.learning_rate!r}")
  if not 0 <= config.momentum < 1:
    raise ValueError(f"config.momentum must be in [0, 1), got {config.momentum!r}")
  if config.weight_decay < 0:
    raise ValueError(f"config.weight_decay must be >= 0, got {config.weight_decay!r}")
  if config.rotation_degrees < 0:
    raise ValueError("config.rotation_degrees must be >= 0 (0 = no rotation), "
                     f"got {config.rotation_degrees!r}")
  for field, closed in (("translate", False), ("scale", False), ("affine_probability", True)):
    value = config.get(field, 0.0)  # absent from a config.json written before them
    if not (0 <= value < 1 or (closed and value == 1)):
      raise ValueError(f"config.{field} must be in [0, 1{']' if closed else ')'}, got {value!r}")
  for field in ("brightness", "contrast"):
    if config.get(field, 0.0) < 0:
      raise ValueError(f"config.{field} must be >= 0 (0 = off), got {config[field]!r}")
  for field in ("train_subset", "test_subset"):
    if config[field] < 0:
      raise ValueError(f"config.{field} must be >= 0 (0 = the whole split), got {config[field]!r}")
  if not isinstance(config.get("validation_size", 0), int) or config.get("validation_size", 0) < 0:
    raise ValueError(f"config.validation_size must be an integer >= 0 (0 = no validation split), "
                     f"got {config.validation_size!r}")
  for field in ("label_smoothing", "ema_decay"):  # absent from a config.json written before them
    if not 0 <= config.get(field, 0.0) < 1:
      raise ValueError(f"config.{field} must be in [0, 1) (0 = off), got {config[field]!r}")
  if config.dropout_rate is not None and not 0 <= config.dropout_rate < 1:
    raise ValueError("config.dropout_rate must be in [0, 1) or None (model default), "
                     f"got {config.dropout_rate!r}")
  try:
    models.uses_fast_path(config.get("fast_path", "auto"))
  except ValueError as e:
    raise ValueError(f"config.{e}") from None
