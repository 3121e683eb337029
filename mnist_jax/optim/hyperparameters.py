"""The hyperparameters of every replica as one typed tree (`Hyperparameters`), built and checked
once from the config and its sweep grid, and the static description of which optional pieces
the compiled program contains (`Features`).

Every sweepable field is a leaf of shape [R] (R replicas: sweep cells x seeds, `sweep.replicas`
order), whether or not it is swept: a single run is R = 1 of the same program, so the training
code never asks whether a value is swept. Inside the program, mapped over replicas, each leaf is
a scalar.

Adding a sweepable hyperparameter: a numeric field of ``config.schedule`` needs nothing here
(`Hyperparameters.schedule` holds them all), only its use in the schedule's builder; a top-level
config field needs its leaf in `Hyperparameters`, its range in `RANGES` (and its name in
`sweep.SWEEPABLE`, which this module checks at import), then its one use in the program.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mnist_jax import checks
from mnist_jax import models
from mnist_jax.optim import schedules
from mnist_jax.optim import sweep


@dataclasses.dataclass(frozen=True)
class Range:
  """The valid values of one hyperparameter: ``low <= value`` (``low < value`` when not
  `low_closed`) and ``value < high`` (``<=`` when `high_closed`); `meaning` ends the error line
  (e.g. "0 = off")."""
  low: float
  high: float = float("inf")
  low_closed: bool = True
  high_closed: bool = False
  meaning: str = ""

  def contains(self, value: float) -> bool:
    above = value >= self.low if self.low_closed else value > self.low
    below = value <= self.high if self.high_closed else value < self.high
    return bool(above and below)

  def describe(self) -> str:
    if self.high == float("inf"):
      text = f"{'>=' if self.low_closed else '>'} {self.low:g}"
    else:
      text = (f"in {'[' if self.low_closed else '('}{self.low:g}, {self.high:g}"
              f"{']' if self.high_closed else ')'}")
    return f"{text} ({self.meaning})" if self.meaning else text


# The one table of the top-level hyperparameters' ranges (`check_cell`), and their values in a
# config.json written before the field existed (`DEFAULTS`). The schedule's own fields are
# checked by building the schedule (`schedules.create`), which knows what each one means.
RANGES: dict[str, Range] = {
    "learning_rate": Range(0.0, low_closed=False),
    "momentum": Range(0.0, 1.0),
    "weight_decay": Range(0.0),
    "dropout_rate": Range(0.0, 1.0, meaning="None = the model's published rate"),
    "rotation_degrees": Range(0.0, meaning="0 = no rotation"),
    "translate": Range(0.0, 1.0),
    "scale": Range(0.0, 1.0),
    "affine_probability": Range(0.0, 1.0, high_closed=True),
    "brightness": Range(0.0, meaning="0 = off"),
    "contrast": Range(0.0, meaning="0 = off"),
    "label_smoothing": Range(0.0, 1.0, meaning="0 = off"),
    "ema_decay": Range(0.0, 1.0, meaning="0 = off"),
}
DEFAULTS = {"affine_probability": 1.0}
if set(RANGES) != set(sweep.SWEEPABLE):
  raise ImportError("hyperparameters.RANGES and sweep.SWEEPABLE must name the same fields")


@flax.struct.dataclass
class Hyperparameters:
  """The values the training program computes with, one leaf float32 [R] (int32 for an integer
  schedule field: StepLR's step_size, ReduceLROnPlateau's patience and cooldown) per field.

  Attributes (config fields of the same names; ref*.md give the published values):
    learning_rate, momentum, weight_decay: ``torch.optim.SGD``'s lr, momentum, weight_decay.
    dropout_keep_prob: 1 - the dropout rate (config.dropout_rate, else the model's), computed
      in float64 and rounded to float32, as `flax.linen.Dropout` computes it.
    rotation_degrees: d of RandomRotation((-d, d)), degrees; 0 = off.
    translate, scale, affine_probability: RandomAffine's shift (fraction of the side), scale
      range (1 - s, 1 + s) and the probability an image is transformed.
    brightness, contrast: ColorJitter's factors; 0 = off.
    label_smoothing: eps of ``nn.CrossEntropyLoss(label_smoothing=eps)``; 0 = plain NLL.
    ema_decay: the decay of the weight average (`step.update_ema`); 0 = off.
    schedule: every numeric field of ``config.schedule`` by name (e.g. "max_lr", "pct_start").
  """

  learning_rate: jax.Array
  momentum: jax.Array
  weight_decay: jax.Array
  dropout_keep_prob: jax.Array
  rotation_degrees: jax.Array
  translate: jax.Array
  scale: jax.Array
  affine_probability: jax.Array
  brightness: jax.Array
  contrast: jax.Array
  label_smoothing: jax.Array
  ema_decay: jax.Array
  schedule: dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Features:
  """Which optional pieces the compiled program contains: each is in it when some replica turns
  it on, and off for all when none does, so a run without a piece compiles the program it always
  did. Static (hashable): part of the program's identity, computed once by `features`.

  Attributes:
    rotation: RandomRotation (some rotation_degrees > 0).
    affine: RandomAffine instead (some translate or scale > 0, or affine_probability < 1).
    colour: ColorJitter (some brightness or contrast > 0).
    dropout: dropout masks drawn (some dropout_keep_prob < 1).
    label_smoothing: the label-smoothed loss (some label_smoothing > 0).
    ema: the weight average kept and evaluated (some ema_decay > 0).
  """

  rotation: bool = False
  affine: bool = False
  colour: bool = False
  dropout: bool = False
  label_smoothing: bool = False
  ema: bool = False


def config_value(config: ml_collections.ConfigDict, field: str) -> float:
  """A top-level hyperparameter of a plain (one-cell) config as a Python float: the config's,
  `DEFAULTS` (else 0) where a config.json written before the field lacks it, and for
  "dropout_rate" None the model's published rate."""
  value = config.get(field, DEFAULTS.get(field, 0.0))
  if field == "dropout_rate" and value is None:
    value = models.spec(config.model).dropout_rate
  return float(value)


def schedule_fields(config: ml_collections.ConfigDict) -> list[str]:
  """The numeric fields of ``config.schedule`` (its leaves of `Hyperparameters.schedule`)."""
  return [path.removeprefix("schedule.") for path in sweep.sweepable_fields(config)
          if path.startswith("schedule.")]


def check_ranges(config: ml_collections.ConfigDict) -> None:
  """Checks each top-level hyperparameter of one plain config (a sweep cell) against its
  `RANGES`. Raises ValueError, one line naming the field and its valid range."""
  for field, valid in RANGES.items():
    value = config.get(field, DEFAULTS.get(field, 0.0))
    if field == "dropout_rate" and value is None:
      continue
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)
            and valid.contains(value)):
      raise ValueError(f"config.{field} must be {valid.describe()}, got {value!r}")


def check_cell(config: ml_collections.ConfigDict, steps_per_epoch: int) -> None:
  """`check_ranges`, then the schedule's fields by building it (`schedules.create`, which needs
  the run's `steps_per_epoch`). Raises ValueError, one line naming the field."""
  check_ranges(config)
  schedules.create(config, steps_per_epoch, config.num_epochs)


def create(config: ml_collections.ConfigDict, steps_per_epoch: int = 1000) -> Hyperparameters:
  """Every replica's hyperparameters as host arrays [R] (numpy), each cell checked first.

  Args:
    config: the run's config with its sweep grid (`sweep`).
    steps_per_epoch: optimizer steps per epoch, for the schedule's checks (each OneCycle phase
      must hold a step).

  Returns:
    `Hyperparameters` with leaves float32 [R] (int32 [R] for an integer schedule field), in
    `sweep.replicas` order.

  Raises:
    ValueError: one line naming the field, the valid range and the sweep cell, for a value out
      of range or a schedule field missing (`sweep.check`).
  """
  sweep.check(config, lambda cell: check_cell(cell, steps_per_epoch))
  cells = [sweep.cell_config(config, cell) for _, cell in sweep.replicas(config)]

  def column(values: list[Any]) -> np.ndarray:
    return np.asarray(values, np.int32 if checks.is_int(values[0]) else np.float32)

  top = {field: column([config_value(cell, field) for cell in cells])
         for field in RANGES if field != "dropout_rate"}
  # Flax's keep probability: 1 - rate in float64, then float32 (bit for bit nn.Dropout's).
  keep = np.asarray([1.0 - config_value(cell, "dropout_rate") for cell in cells], np.float32)
  schedule = {field: column([cell.schedule[field] for cell in cells])
              for field in schedule_fields(config)}
  return Hyperparameters(dropout_keep_prob=keep, schedule=schedule, **top)


def features(hparams: Hyperparameters) -> Features:
  """The `Features` some replica of host `hparams` (from `create`) turns on."""
  h = jax.tree.map(np.asarray, hparams)
  affine = bool(np.max(h.translate) > 0 or np.max(h.scale) > 0
                or np.min(h.affine_probability) < 1)
  return Features(rotation=bool(np.max(h.rotation_degrees) > 0) and not affine,
                  affine=affine,
                  colour=bool(np.max(h.brightness) > 0 or np.max(h.contrast) > 0),
                  dropout=bool(np.min(h.dropout_keep_prob) < 1),
                  label_smoothing=bool(np.max(h.label_smoothing) > 0),
                  ema=bool(np.max(h.ema_decay) > 0))


def replica(hparams: Hyperparameters, index: int) -> Hyperparameters:
  """Replica `index` of [R] `hparams`: every leaf a scalar JAX array (as inside the program:
  optax's inject_hyperparams takes numpy scalars for static values)."""
  return jax.tree.map(lambda leaf: jnp.asarray(leaf[index]), hparams)
