"""ReduceLROnPlateau with PyTorch semantics: a per-epoch state machine on the test loss, run
outside the train step (the trainer sets the optimizer's injected learning rate from it). Not
optax.contrib.reduce_on_plateau: it has no "max" mode, rejects threshold 0, lacks torch's eps
rule and scales updates inside the step, where the trainer needs a per-epoch learning rate.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mnist_jax.checks import is_int, require


class PlateauState(NamedTuple):
  """State of `Plateau`, scalar arrays: float32 `learning_rate` for the next epoch, `best`
  metric so far (+inf / -inf before the first epoch); int32 `num_bad_epochs` since the last
  improvement, `cooldown_counter` (epochs of cooldown left)."""
  learning_rate: jax.Array
  best: jax.Array
  num_bad_epochs: jax.Array
  cooldown_counter: jax.Array


@dataclasses.dataclass(frozen=True)
class Plateau:
  """``torch.optim.lr_scheduler.ReduceLROnPlateau`` as a pure per-epoch update: `init`, then
  per epoch train with `learning_rate(state)` and ``state = update(state, test_loss)`` (jittable;
  compares in JAX's default float dtype, torch in Python floats). Attributes: the torch
  arguments of the same names; build it with `reduce_on_plateau`, which checks them.
  """
  initial_learning_rate: float
  mode: str = "min"
  factor: float = 0.1
  patience: int = 10
  threshold: float = 1e-4
  threshold_mode: str = "rel"
  cooldown: int = 0
  min_lr: float = 0.0
  eps: float = 1e-8

  def init(self) -> PlateauState:
    """State before the first epoch: lr = initial, best = worst possible."""
    dtype = jnp.result_type(float)
    worst = math.inf if self.mode == "min" else -math.inf
    zero = jnp.asarray(0, jnp.int32)
    return PlateauState(jnp.asarray(self.initial_learning_rate, dtype), jnp.asarray(worst, dtype),
                        zero, zero)

  def _is_better(self, value: jax.Array, best: jax.Array) -> jax.Array:
    if self.mode == "min" and self.threshold_mode == "rel":
      return value < best * (1.0 - self.threshold)
    if self.mode == "min":
      return value < best - self.threshold
    if self.threshold_mode == "rel":
      return value > best * (1.0 + self.threshold)
    return value > best + self.threshold

  def update(self, state: PlateauState, value: jax.typing.ArrayLike) -> PlateauState:
    """Folds in `value`, the scalar metric (e.g. test loss) of the epoch just finished (torch:
    ``scheduler.step(value)``); returns the state whose `learning_rate` is the next epoch's."""
    value = jnp.asarray(value, state.best.dtype)
    improved = self._is_better(value, state.best)
    best = jnp.where(improved, value, state.best)
    num_bad_epochs = jnp.where(improved, 0, state.num_bad_epochs + 1)
    # Bad epochs during cooldown are ignored.
    in_cooldown = state.cooldown_counter > 0
    cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1, state.cooldown_counter)
    num_bad_epochs = jnp.where(in_cooldown, 0, num_bad_epochs)
    reduce = num_bad_epochs > self.patience
    old_lr = state.learning_rate
    new_lr = jnp.maximum(old_lr * self.factor, self.min_lr)
    learning_rate = jnp.where(reduce & (old_lr - new_lr > self.eps), new_lr, old_lr)
    return PlateauState(learning_rate.astype(old_lr.dtype), best,
                        jnp.where(reduce, 0, num_bad_epochs).astype(jnp.int32),
                        jnp.where(reduce, self.cooldown, cooldown_counter).astype(jnp.int32))

  def learning_rate(self, state: PlateauState) -> jax.Array:
    """Learning rate (float32 []) for the epoch after the last `update`."""
    return state.learning_rate


def reduce_on_plateau(learning_rate: float, mode: str = "min", factor: float = 0.1,
                      patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                      cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8, *,
                      check: bool = True) -> Plateau:
  """Builds a `Plateau` with torch ReduceLROnPlateau's arguments and defaults.

  The lr is multiplied by ``factor`` (not below ``min_lr``) once the metric has not improved
  for more than ``patience`` epochs (improved: ``value < best * (1 - threshold)`` for "min",
  "rel"; ``value < best - threshold`` for "min", "abs"; mirrored for "max"); then ``cooldown``
  epochs pass before bad epochs count again.

  Args:
    learning_rate: torch's optimizer ``lr``, > 0: the rate of the first epoch.
    mode: "min" or "max" (the metric's better direction).
    factor: in (0, 1).
    patience, cooldown: epochs, ints >= 0.
    threshold, min_lr: >= 0.
    threshold_mode: "rel" or "abs".
    eps: >= 0; smaller reductions are skipped.
    check: check the values (Python numbers). The training program passes its
      hyperparameters as arrays with ``check=False``: they were checked once, as numbers, by
      `hyperparameters.create`. The two modes are checked either way.

  Raises:
    ValueError: one line naming the argument, for a value outside these ranges.
  """
  require(mode in ("min", "max"), "mode", "one of ('min', 'max')", mode)
  require(threshold_mode in ("rel", "abs"), "threshold_mode", "one of ('rel', 'abs')",
          threshold_mode)
  if check:
    require(learning_rate > 0, "learning_rate", "> 0", learning_rate)
    require(0.0 < factor < 1.0, "factor", "in (0, 1)", factor)
    require(is_int(patience) and patience >= 0, "patience", "an int >= 0 (epochs)", patience)
    require(threshold >= 0, "threshold", ">= 0", threshold)
    require(is_int(cooldown) and cooldown >= 0, "cooldown", "an int >= 0 (epochs)", cooldown)
    require(min_lr >= 0, "min_lr", ">= 0", min_lr)
    require(eps >= 0, "eps", ">= 0", eps)
    learning_rate, factor, threshold, min_lr, eps = map(
        float, (learning_rate, factor, threshold, min_lr, eps))
  return Plateau(learning_rate, mode, factor, patience, threshold, threshold_mode, cooldown,
                 min_lr, eps)
