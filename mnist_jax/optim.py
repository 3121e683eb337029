"""Learning-rate and momentum schedules with PyTorch semantics.

The references train with ``torch.optim.lr_scheduler`` (StepLR, OneCycleLR,
ReduceLROnPlateau), and runs are compared against PyTorch runs, so each schedule
here reproduces its torch counterpart step for step.

Per-step schedules are optax schedules: functions of the optimizer step count
(0-based int; the value is the one used by the update at that step), written in
``jnp`` so that they run inside ``jit`` and ``optax.inject_hyperparams``.
ReduceLROnPlateau depends on the test loss, so it is a small per-epoch state
machine (`Plateau`) run outside the train step.

Typical use in a trainer::

  schedules = optim.create(config, steps_per_epoch, num_epochs)
  tx = optax.inject_hyperparams(optax.sgd)(
      learning_rate=schedules.learning_rate, momentum=schedules.momentum)
  if schedules.plateau is not None:
    plateau_state = schedules.plateau.init()
  for epoch in ...:
    ...  # train one epoch, evaluate -> test_loss
    if schedules.plateau is not None:
      plateau_state = schedules.plateau.update(plateau_state, test_loss)
      opt_state.hyperparams["learning_rate"] = (
          schedules.plateau.learning_rate(plateau_state))
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import optax

SCHEDULE_NAMES = ("constant", "step", "one_cycle", "plateau")
ANNEAL_STRATEGIES = ("cos", "linear")


def _require(ok: bool, field: str, valid: str, value: Any) -> None:
  """Raises a one-line ValueError naming `field` and its valid range."""
  if not ok:
    raise ValueError(f"{field} must be {valid}, got {value!r}")


def _is_int(value: Any) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# ------------------------------------------------------------------- StepLR


def step_lr(
    learning_rate: float,
    step_size: int,
    gamma: float,
    steps_per_epoch: int,
) -> optax.Schedule:
  """``torch.optim.lr_scheduler.StepLR`` stepped once per epoch.

  The learning rate during epoch ``e`` is
  ``learning_rate * gamma ** (e // step_size)``, with
  ``e = step // steps_per_epoch``.

  Args:
    learning_rate: initial learning rate (torch: the optimizer's ``lr``), > 0.
    step_size: decay period in epochs, positive int.
    gamma: multiplicative decay per period, > 0.
    steps_per_epoch: optimizer steps (batches) per epoch, positive int.

  Returns:
    Schedule mapping the 0-based step count (int scalar or array) to a float32
    learning rate of the same shape.

  Raises:
    ValueError: for a non-positive ``learning_rate``, ``step_size``, ``gamma``
      or ``steps_per_epoch``.
  """
  _require(learning_rate > 0, "learning_rate", "> 0", learning_rate)
  _require(_is_int(step_size) and step_size > 0, "step_size", "a positive int (epochs)",
           step_size)
  _require(gamma > 0, "gamma", "> 0", gamma)
  _require(_is_int(steps_per_epoch) and steps_per_epoch > 0, "steps_per_epoch",
           "a positive int", steps_per_epoch)
  # Not optax.exponential_decay(staircase=True): it floors count / transition_steps
  # in float32, and XLA's division gives e.g. 705 / 705 = 0.99999994, so the
  # decay lands one step late at some epoch boundaries. Integer division is exact.
  period = step_size * steps_per_epoch

  def schedule(count: jax.typing.ArrayLike) -> jax.Array:
    decays = jnp.maximum(jnp.asarray(count), 0) // period
    return learning_rate * jnp.power(jnp.asarray(gamma, jnp.result_type(float)), decays)

  return schedule


# --------------------------------------------------------------- OneCycleLR
#
# Our own rather than optax.cosine_onecycle_schedule: optax puts the phase ends at
# int(pct_start * total_steps) and total_steps, while torch puts them at
# float(pct_start * total_steps) - 1 and total_steps - 1 (so the peak and the
# minimum are reached one step earlier and at fractional positions); optax also
# has no linear annealing, no three-phase variant and no momentum cycle.


class _Phase(NamedTuple):
  end_step: float
  start_value: float
  end_value: float


def _one_cycle_phase_ends(total_steps: int, pct_start: float,
                          three_phase: bool) -> list[float]:
  """Phase end steps exactly as torch's OneCycleLR computes them."""
  if three_phase:
    ends = [float(pct_start * total_steps) - 1,
            float(2 * pct_start * total_steps) - 2,
            float(total_steps - 1)]
  else:
    ends = [float(pct_start * total_steps) - 1, float(total_steps - 1)]
  starts = [0.0] + ends[:-1]
  # torch divides by (end - start); a phase of zero or negative length breaks it.
  if any(end <= start for start, end in zip(starts, ends)):
    raise ValueError(
        f"pct_start={pct_start} with total_steps={total_steps}"
        f"{' and three_phase' if three_phase else ''} gives empty cycle phases "
        f"(ends {ends}); need pct_start * total_steps > 1"
        f"{' and pct_start < 0.5' if three_phase else ' and pct_start < 1'}")
  return ends


def _check_one_cycle_common(total_steps: int, pct_start: float,
                            anneal_strategy: str) -> None:
  _require(_is_int(total_steps) and total_steps > 0, "total_steps", "a positive int",
           total_steps)
  _require(0.0 < pct_start < 1.0, "pct_start", "in (0, 1)", pct_start)
  _require(anneal_strategy in ANNEAL_STRATEGIES, "anneal_strategy",
           f"one of {ANNEAL_STRATEGIES}", anneal_strategy)


def _piecewise_anneal(phases: Sequence[_Phase], anneal_strategy: str,
                      total_steps: int) -> optax.Schedule:
  """Schedule that anneals through `phases` like torch's OneCycleLR.get_lr.

  Torch evaluates ``end + (start - end) / 2 * (cos(pi * pct) + 1)`` (or
  ``(end - start) * pct + start``) in float64. The same values are written here
  as ``start * w(1 - pct) + end * w(pct)``, with ``w(x) = sin(pi * x / 2) ** 2``
  for cos and ``w(x) = x`` for linear: mathematically equal, but both terms
  are non-negative, so float32 keeps ~1e-7 relative accuracy even near the
  final learning rate of max_lr / (div_factor * final_div_factor), where the
  torch form cancels catastrophically in float32.
  """
  if anneal_strategy == "cos":
    weight = lambda x: jnp.square(jnp.sin((0.5 * math.pi) * x))
  else:
    weight = lambda x: x

  def schedule(count: jax.typing.ArrayLike) -> jax.Array:
    # Torch raises past total_steps; holding the last value is safer in a jit.
    step = jnp.clip(jnp.asarray(count), 0, total_steps - 1).astype(jnp.result_type(float))
    value = None
    start_step = 0.0
    for index, phase in enumerate(phases):
      length = phase.end_step - start_step
      pct = (step - start_step) / length
      rest = (phase.end_step - step) / length
      phase_value = (phase.start_value * weight(rest)
                     + phase.end_value * weight(pct))
      if value is None:
        value = phase_value
        in_earlier = step <= phase.end_step
      else:
        # torch: the first phase with step <= end_step, else the last phase.
        use_this = jnp.logical_not(in_earlier)
        if index < len(phases) - 1:
          use_this = use_this & (step <= phase.end_step)
        value = jnp.where(use_this, phase_value, value)
        in_earlier = in_earlier | (step <= phase.end_step)
      start_step = phase.end_step
    return value

  return schedule


def one_cycle(
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> optax.Schedule:
  """Learning rate of ``torch.optim.lr_scheduler.OneCycleLR``, stepped per batch.

  Starts at ``max_lr / div_factor``, anneals to ``max_lr`` at step
  ``pct_start * total_steps - 1``, then to
  ``max_lr / (div_factor * final_div_factor)`` at step ``total_steps - 1``
  (three_phase: back to the initial value at ``2 * pct_start * total_steps - 2``
  first). Arguments and defaults as in torch.

  Args:
    max_lr: peak learning rate, > 0.
    total_steps: optimizer steps in the whole run (epochs * steps_per_epoch).
    pct_start: fraction of the steps spent increasing, in (0, 1).
    anneal_strategy: "cos" or "linear".
    div_factor: initial lr = max_lr / div_factor, > 0.
    final_div_factor: minimum lr = initial lr / final_div_factor, > 0.
    three_phase: torch's three-phase variant.

  Returns:
    Schedule mapping the 0-based step count (int scalar or array) to a float32
    learning rate; steps past ``total_steps - 1`` hold the last value (torch
    raises there).

  Raises:
    ValueError: for values outside the ranges above or a cycle with an empty
      phase (pct_start * total_steps <= 1).
  """
  _require(max_lr > 0, "max_lr", "> 0", max_lr)
  _check_one_cycle_common(total_steps, pct_start, anneal_strategy)
  _require(div_factor > 0, "div_factor", "> 0", div_factor)
  _require(final_div_factor > 0, "final_div_factor", "> 0", final_div_factor)
  initial_lr = max_lr / div_factor
  min_lr = initial_lr / final_div_factor
  ends = _one_cycle_phase_ends(total_steps, pct_start, three_phase)
  if three_phase:
    values = [(initial_lr, max_lr), (max_lr, initial_lr), (initial_lr, min_lr)]
  else:
    values = [(initial_lr, max_lr), (max_lr, min_lr)]
  phases = [_Phase(end, *value) for end, value in zip(ends, values)]
  return _piecewise_anneal(phases, anneal_strategy, total_steps)


def one_cycle_momentum(
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    three_phase: bool = False,
) -> optax.Schedule:
  """SGD momentum of ``OneCycleLR`` with ``cycle_momentum=True``, per batch.

  Momentum moves inversely to the learning rate: ``max_momentum`` ->
  ``base_momentum`` while the lr rises, back to ``max_momentum`` while it falls
  (three_phase: then stays at ``max_momentum``). Torch overwrites the
  optimizer's own momentum with these values.

  Args:
    total_steps: optimizer steps in the whole run.
    pct_start: fraction of the steps spent increasing the lr, in (0, 1).
    anneal_strategy: "cos" or "linear".
    base_momentum: momentum at the lr peak, in [0, 1).
    max_momentum: momentum at the start and end, in [0, 1).
    three_phase: torch's three-phase variant.

  Returns:
    Schedule mapping the 0-based step count to a float32 momentum.

  Raises:
    ValueError: for values outside the ranges above.
  """
  _check_one_cycle_common(total_steps, pct_start, anneal_strategy)
  _require(0.0 <= base_momentum < 1.0, "base_momentum", "in [0, 1)", base_momentum)
  _require(0.0 <= max_momentum < 1.0, "max_momentum", "in [0, 1)", max_momentum)
  ends = _one_cycle_phase_ends(total_steps, pct_start, three_phase)
  if three_phase:
    values = [(max_momentum, base_momentum), (base_momentum, max_momentum),
              (max_momentum, max_momentum)]
  else:
    values = [(max_momentum, base_momentum), (base_momentum, max_momentum)]
  phases = [_Phase(end, *value) for end, value in zip(ends, values)]
  return _piecewise_anneal(phases, anneal_strategy, total_steps)


# -------------------------------------------------------- ReduceLROnPlateau
#
# Our own rather than optax.contrib.reduce_on_plateau: optax has no "max" mode
# (a relative threshold for "max" would need a negative rtol, which it rejects),
# rejects threshold 0, lacks torch's eps rule (skip reductions smaller than
# eps) and is a gradient transformation that scales updates inside the step,
# whereas the trainer needs a per-epoch learning rate it can set and report.
# (Its plateau test `count == patience` is torch's `num_bad_epochs > patience`
# shifted by one, so that part alone would have fitted.)


class PlateauState(NamedTuple):
  """State of `Plateau`: a pytree of scalar arrays (checkpointable with Orbax).

  Attributes:
    learning_rate: float32 [], the learning rate for the next epoch.
    best: float32 [], best metric so far (+inf / -inf before the first epoch).
    num_bad_epochs: int32 [], epochs since the last improvement.
    cooldown_counter: int32 [], epochs of cooldown left.
  """
  learning_rate: jax.Array
  best: jax.Array
  num_bad_epochs: jax.Array
  cooldown_counter: jax.Array


@dataclasses.dataclass(frozen=True)
class Plateau:
  """``torch.optim.lr_scheduler.ReduceLROnPlateau`` as a pure per-epoch update.

  Use outside the train step, once per epoch::

    state = plateau.init()
    for epoch in range(num_epochs):
      lr = plateau.learning_rate(state)   # lr for this epoch
      ...                                 # train with lr, evaluate -> test_loss
      state = plateau.update(state, test_loss)

  ``update`` is pure ``jnp`` (``jax.jit(plateau.update)`` works). Comparisons
  run in JAX's default float dtype (float32 unless x64 is enabled); torch
  compares Python floats.

  Attributes: as the torch arguments of the same names; build it with
  `reduce_on_plateau`, which checks them.
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
    return PlateauState(
        learning_rate=jnp.asarray(self.initial_learning_rate, dtype),
        best=jnp.asarray(worst, dtype),
        num_bad_epochs=jnp.asarray(0, jnp.int32),
        cooldown_counter=jnp.asarray(0, jnp.int32),
    )

  def _is_better(self, value: jax.Array, best: jax.Array) -> jax.Array:
    if self.mode == "min" and self.threshold_mode == "rel":
      return value < best * (1.0 - self.threshold)
    if self.mode == "min":
      return value < best - self.threshold
    if self.threshold_mode == "rel":
      return value > best * (1.0 + self.threshold)
    return value > best + self.threshold

  def update(self, state: PlateauState, value: jax.typing.ArrayLike) -> PlateauState:
    """Folds in one epoch's metric (torch: ``scheduler.step(value)``).

    Args:
      state: the state after the previous epoch (or `init`).
      value: scalar metric of the epoch just finished, e.g. the test loss.

    Returns:
      The new state; `learning_rate` gives the lr for the next epoch.
    """
    value = jnp.asarray(value, state.best.dtype)
    improved = self._is_better(value, state.best)
    best = jnp.where(improved, value, state.best)
    num_bad_epochs = jnp.where(improved, 0, state.num_bad_epochs + 1)
    # Bad epochs during cooldown are ignored.
    in_cooldown = state.cooldown_counter > 0
    cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1,
                                 state.cooldown_counter)
    num_bad_epochs = jnp.where(in_cooldown, 0, num_bad_epochs)
    reduce = num_bad_epochs > self.patience
    old_lr = state.learning_rate
    new_lr = jnp.maximum(old_lr * self.factor, self.min_lr)
    learning_rate = jnp.where(reduce & (old_lr - new_lr > self.eps), new_lr, old_lr)
    return PlateauState(
        learning_rate=learning_rate.astype(old_lr.dtype),
        best=best,
        num_bad_epochs=jnp.where(reduce, 0, num_bad_epochs).astype(jnp.int32),
        cooldown_counter=jnp.where(reduce, self.cooldown,
                                   cooldown_counter).astype(jnp.int32),
    )

  def learning_rate(self, state: PlateauState) -> jax.Array:
    """Learning rate (float32 []) for the epoch after the last `update`."""
    return state.learning_rate


def reduce_on_plateau(
    learning_rate: float,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
) -> Plateau:
  """Builds a `Plateau` with torch ReduceLROnPlateau's arguments and defaults.

  The lr is multiplied by ``factor`` (not below ``min_lr``) once the metric has
  not improved for more than ``patience`` epochs; improvement means
  ``value < best * (1 - threshold)`` ("min", "rel"), ``value < best - threshold``
  ("min", "abs") and the mirror images for "max". After a reduction,
  ``cooldown`` epochs pass before bad epochs count again. The first epoch
  always sets ``best``.

  Args:
    learning_rate: initial learning rate (the optimizer's lr in torch), > 0.
    mode: "min" (for a loss) or "max" (for an accuracy).
    factor: reduction factor, in (0, 1).
    patience: bad epochs tolerated before reducing, int >= 0.
    threshold: improvement threshold, >= 0.
    threshold_mode: "rel" or "abs".
    cooldown: epochs to wait after a reduction, int >= 0.
    min_lr: lower bound on the lr, >= 0.
    eps: reductions smaller than this are skipped, >= 0.

  Returns:
    The `Plateau`.

  Raises:
    ValueError: for a value outside the ranges above.
  """
  _require(learning_rate > 0, "learning_rate", "> 0", learning_rate)
  _require(mode in ("min", "max"), "mode", "one of ('min', 'max')", mode)
  _require(0.0 < factor < 1.0, "factor", "in (0, 1)", factor)
  _require(_is_int(patience) and patience >= 0, "patience", "an int >= 0 (epochs)",
           patience)
  _require(threshold >= 0, "threshold", ">= 0", threshold)
  _require(threshold_mode in ("rel", "abs"), "threshold_mode",
           "one of ('rel', 'abs')", threshold_mode)
  _require(_is_int(cooldown) and cooldown >= 0, "cooldown", "an int >= 0 (epochs)",
           cooldown)
  _require(min_lr >= 0, "min_lr", ">= 0", min_lr)
  _require(eps >= 0, "eps", ">= 0", eps)
  return Plateau(
      initial_learning_rate=float(learning_rate), mode=mode, factor=float(factor),
      patience=patience, threshold=float(threshold), threshold_mode=threshold_mode,
      cooldown=cooldown, min_lr=float(min_lr), eps=float(eps))


# ------------------------------------------------------------------ dispatch


class Schedules(NamedTuple):
  """What the trainer needs to build and drive its optimizer.

  Attributes:
    learning_rate: a schedule (0-based step -> lr) for "step" and "one_cycle";
      a float for "constant" and "plateau", so that
      ``optax.inject_hyperparams`` keeps it as a settable hyperparameter.
    momentum: SGD momentum, a schedule for "one_cycle" with cycle_momentum,
      else ``config.momentum``.
    plateau: the per-epoch `Plateau` for "plateau", else None. Its
      `learning_rate` replaces the lr hyperparameter after each epoch.
  """
  learning_rate: optax.ScalarOrSchedule
  momentum: optax.ScalarOrSchedule
  plateau: Plateau | None


_SCHEDULE_FIELDS = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "one_cycle": ("max_lr", "pct_start", "div_factor", "final_div_factor",
                  "anneal_strategy", "three_phase", "cycle_momentum",
                  "base_momentum", "max_momentum"),
    "plateau": ("mode", "factor", "patience", "threshold", "threshold_mode",
                "cooldown", "min_lr"),
}


def create(config: ml_collections.ConfigDict, steps_per_epoch: int,
           num_epochs: int) -> Schedules:
  """Builds the schedules named by ``config.schedule.name``.

  Args:
    config: needs ``learning_rate`` (base lr of "constant", "step", "plateau"),
      ``momentum`` (SGD momentum) and ``schedule``, a ConfigDict with ``name``
      in {"constant", "step", "one_cycle", "plateau"} and that schedule's
      fields: step: step_size (epochs), gamma; one_cycle: max_lr, pct_start,
      div_factor, final_div_factor, anneal_strategy, three_phase,
      cycle_momentum, base_momentum, max_momentum; plateau: mode, factor,
      patience, threshold, threshold_mode, cooldown, min_lr.
    steps_per_epoch: optimizer steps (batches) per epoch, positive int.
    num_epochs: epochs in the run, positive int (one_cycle's total_steps is
      ``steps_per_epoch * num_epochs``, as torch's ``epochs=, steps_per_epoch=``).

  Returns:
    The `Schedules`.

  Raises:
    ValueError: one line naming the field, for an unknown schedule name, a
      missing field or a value outside its valid range.
  """
  _require(_is_int(steps_per_epoch) and steps_per_epoch > 0, "steps_per_epoch",
           "a positive int", steps_per_epoch)
  _require(_is_int(num_epochs) and num_epochs > 0, "num_epochs", "a positive int",
           num_epochs)
  for field in ("learning_rate", "momentum", "schedule"):
    if field not in config:
      raise ValueError(f"config.{field} is missing")
  learning_rate = config.learning_rate
  momentum = config.momentum
  _require(learning_rate > 0, "config.learning_rate", "> 0", learning_rate)
  _require(0.0 <= momentum < 1.0, "config.momentum", "in [0, 1)", momentum)
  schedule = config.schedule
  name = schedule.get("name")
  _require(name in SCHEDULE_NAMES, "config.schedule.name", f"one of {SCHEDULE_NAMES}",
           name)
  for field in _SCHEDULE_FIELDS[name]:
    if field not in schedule:
      raise ValueError(f"config.schedule.{field} is missing (needed by the "
                       f"{name!r} schedule: {', '.join(_SCHEDULE_FIELDS[name])})")

  try:
    if name == "constant":
      return Schedules(float(learning_rate), float(momentum), None)
    if name == "step":
      return Schedules(
          step_lr(learning_rate, schedule.step_size, schedule.gamma, steps_per_epoch),
          float(momentum), None)
    if name == "one_cycle":
      total_steps = steps_per_epoch * num_epochs
      lr = one_cycle(
          schedule.max_lr, total_steps, pct_start=schedule.pct_start,
          anneal_strategy=schedule.anneal_strategy, div_factor=schedule.div_factor,
          final_div_factor=schedule.final_div_factor,
          three_phase=schedule.three_phase)
      if schedule.cycle_momentum:
        cycled: optax.ScalarOrSchedule = one_cycle_momentum(
            total_steps, pct_start=schedule.pct_start,
            anneal_strategy=schedule.anneal_strategy,
            base_momentum=schedule.base_momentum,
            max_momentum=schedule.max_momentum, three_phase=schedule.three_phase)
      else:
        cycled = float(momentum)
      return Schedules(lr, cycled, None)
    plateau = reduce_on_plateau(
        learning_rate, mode=schedule.mode, factor=schedule.factor,
        patience=schedule.patience, threshold=schedule.threshold,
        threshold_mode=schedule.threshold_mode, cooldown=schedule.cooldown,
        min_lr=schedule.min_lr)
    return Schedules(float(learning_rate), float(momentum), plateau)
  except ValueError as error:
    raise ValueError(f"config.schedule.{error}") from None
