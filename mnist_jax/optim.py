"""SGD and its learning-rate and momentum schedules, step for step as in PyTorch.

The references train with ``torch.optim.SGD`` and StepLR, OneCycleLR or ReduceLROnPlateau, and
runs are compared with PyTorch runs. Per-step schedules are optax schedules of the 0-based step
count (the value used by the update at that step) that run inside ``jit``; ReduceLROnPlateau
depends on the test loss, so it is a per-epoch state machine (`mnist_jax.plateau`).

Typical use in a trainer::

  schedules = optim.create(config, steps_per_epoch, num_epochs)
  state = TrainState.create(..., tx=optim.create_optimizer(config, schedules))
  ...  # each epoch: train, evaluate -> test_loss; then, where schedules.plateau is not None:
  plateau_state = schedules.plateau.update(plateau_state, test_loss)
  state = optim.set_learning_rate(state, schedules.plateau.learning_rate(plateau_state))
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import optax

from mnist_jax import plateau as plateau_lib

ANNEAL_STRATEGIES = ("cos", "linear")

_require = plateau_lib.require


def _require_positive_ints(**values: Any) -> None:
  for field, value in values.items():
    _require(plateau_lib.is_int(value) and value > 0, field, "a positive int", value)


# ------------------------------------------------------------------- StepLR


def step_lr(learning_rate: float, step_size: int, gamma: float, steps_per_epoch: int,
            num_epochs: int) -> optax.Schedule:
  """``torch.optim.lr_scheduler.StepLR`` stepped once per epoch.

  The learning rate during epoch ``e = step // steps_per_epoch`` is
  ``learning_rate * gamma ** (e // step_size)``; steps past the run hold its last value.

  Args:
    learning_rate: initial learning rate (torch: the optimizer's ``lr``), > 0.
    step_size: decay period in epochs, positive int.
    gamma: multiplicative decay per period, > 0.
    steps_per_epoch: optimizer steps (batches) per epoch, positive int.
    num_epochs: epochs in the run, positive int (the decays within it are optax boundaries).

  Returns:
    Schedule mapping the 0-based step count (int scalar or array) to a float32 learning rate
    of the same shape.

  Raises:
    ValueError: for a non-positive argument.
  """
  _require(learning_rate > 0, "learning_rate", "> 0", learning_rate)
  _require(gamma > 0, "gamma", "> 0", gamma)
  _require_positive_ints(step_size=step_size, steps_per_epoch=steps_per_epoch,
                         num_epochs=num_epochs)
  # piecewise_constant_schedule compares the int step count with int boundaries, so each decay
  # lands on torch's epoch exactly. Not exponential_decay(staircase=True): it floors
  # count / transition_steps in float32, and XLA's division gives e.g. 705 / 705 = 0.99999994,
  # so the decay would land one step late at some epoch boundaries.
  period = step_size * steps_per_epoch
  decays = {period * k: gamma for k in range(1, (num_epochs - 1) // step_size + 1)}
  schedule = optax.piecewise_constant_schedule(learning_rate, decays)
  # Without a boundary optax returns the Python float: the same array either way.
  return lambda count: jnp.full(jnp.shape(count), schedule(count), jnp.result_type(float))


# --------------------------------------------------------------- OneCycleLR
#
# Our own rather than optax.cosine_onecycle_schedule: optax ends the phases at
# int(pct_start * total_steps) and total_steps, torch at float(pct_start * total_steps) - 1 and
# total_steps - 1 (the peak and the minimum one step earlier, at fractional positions); optax
# also has no linear annealing, no three-phase variant and no momentum cycle.


def _one_cycle_anneal(start: float, peak: float, end: float, total_steps: int,
                      pct_start: float, anneal_strategy: str,
                      three_phase: bool) -> optax.Schedule:
  """``start -> peak -> end`` (three_phase: ``-> start -> end``) as torch's OneCycleLR.get_lr.

  Phases end at the float steps ``pct_start * total_steps - 1``, (three_phase:
  ``2 * pct_start * total_steps - 2``,) ``total_steps - 1`` as in torch, which evaluates
  ``end + (start - end) / 2 * (cos(pi * pct) + 1)`` (or ``(end - start) * pct + start``) in
  float64. Here the same values are ``start * w(1 - pct) + end * w(pct)``, with
  ``w(x) = sin(pi * x / 2) ** 2`` for cos and ``w(x) = x`` for linear: both terms are
  non-negative, so float32 keeps ~1e-7 relative accuracy even near the final lr of
  max_lr / (div_factor * final_div_factor), where the torch form cancels in float32.

  Raises:
    ValueError: for total_steps, pct_start or anneal_strategy out of range, or an empty phase.
  """
  _require_positive_ints(total_steps=total_steps)
  _require(0.0 < pct_start < 1.0, "pct_start", "in (0, 1)", pct_start)
  _require(anneal_strategy in ANNEAL_STRATEGIES, "anneal_strategy",
           f"one of {ANNEAL_STRATEGIES}", anneal_strategy)
  ends = [float(pct_start * total_steps) - 1, float(total_steps - 1)]
  if three_phase:
    ends.insert(1, float(2 * pct_start * total_steps) - 2)
  starts = [0.0] + ends[:-1]
  # torch divides by (end - start); a phase of zero or negative length breaks it.
  if any(phase_end <= phase_start for phase_start, phase_end in zip(starts, ends)):
    raise ValueError(
        f"pct_start={pct_start} with total_steps={total_steps}"
        f"{' and three_phase' if three_phase else ''} gives empty cycle phases "
        f"(ends {ends}); need pct_start * total_steps > 1"
        f"{' and pct_start < 0.5' if three_phase else ' and pct_start < 1'}")
  values = [start, peak, start, end] if three_phase else [start, peak, end]
  phases = list(zip(starts, ends, values[:-1], values[1:]))
  if anneal_strategy == "cos":
    weight = lambda x: jnp.square(jnp.sin((0.5 * math.pi) * x))
  else:
    weight = lambda x: x

  def schedule(count: jax.typing.ArrayLike) -> jax.Array:
    # Torch raises past total_steps; holding the last value is safer in a jit.
    step = jnp.clip(jnp.asarray(count), 0, total_steps - 1).astype(jnp.result_type(float))
    # torch: the first phase with step <= its end, else the last phase.
    value = None
    for step_0, step_1, value_0, value_1 in reversed(phases):
      length = step_1 - step_0
      phase_value = (value_0 * weight((step_1 - step) / length)
                     + value_1 * weight((step - step_0) / length))
      value = phase_value if value is None else jnp.where(step <= step_1, phase_value, value)
    return value

  return schedule


def one_cycle(max_lr: float, total_steps: int, pct_start: float = 0.3,
              anneal_strategy: str = "cos", div_factor: float = 25.0,
              final_div_factor: float = 1e4, three_phase: bool = False) -> optax.Schedule:
  """Learning rate of ``torch.optim.lr_scheduler.OneCycleLR``, stepped per batch.

  Anneals from ``max_lr / div_factor`` up to ``max_lr``, then down to
  ``max_lr / (div_factor * final_div_factor)`` (three_phase: back to the initial value first).
  Arguments and defaults as in torch.

  Args:
    max_lr: peak learning rate, > 0.
    total_steps: optimizer steps in the whole run (epochs * steps_per_epoch), positive int.
    pct_start: fraction of the steps spent increasing, in (0, 1).
    anneal_strategy: "cos" or "linear".
    div_factor: initial lr = max_lr / div_factor, > 0.
    final_div_factor: minimum lr = initial lr / final_div_factor, > 0.
    three_phase: torch's three-phase variant.

  Returns:
    Schedule mapping the 0-based step count (int scalar or array) to a float32 learning rate;
    steps past ``total_steps - 1`` hold the last value (torch raises there).

  Raises:
    ValueError: for values out of range or an empty phase (pct_start * total_steps <= 1).
  """
  _require(max_lr > 0, "max_lr", "> 0", max_lr)
  _require(div_factor > 0, "div_factor", "> 0", div_factor)
  _require(final_div_factor > 0, "final_div_factor", "> 0", final_div_factor)
  initial_lr = max_lr / div_factor
  return _one_cycle_anneal(initial_lr, max_lr, initial_lr / final_div_factor, total_steps,
                           pct_start, anneal_strategy, three_phase)


def one_cycle_momentum(total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
                       base_momentum: float = 0.85, max_momentum: float = 0.95,
                       three_phase: bool = False) -> optax.Schedule:
  """SGD momentum of ``OneCycleLR`` with ``cycle_momentum=True``, stepped per batch.

  Moves inversely to the learning rate: ``max_momentum`` -> ``base_momentum`` while the lr
  rises, back to ``max_momentum`` while it falls (three_phase: then stays there). Torch
  overwrites the optimizer's own momentum with these values.

  Args:
    total_steps, pct_start, anneal_strategy, three_phase: as for `one_cycle`.
    base_momentum: momentum at the lr peak, in [0, 1).
    max_momentum: momentum at the start and end, in [0, 1).

  Returns:
    Schedule mapping the 0-based step count to a float32 momentum.

  Raises:
    ValueError: for values outside the ranges above or those of `one_cycle`.
  """
  _require(0.0 <= base_momentum < 1.0, "base_momentum", "in [0, 1)", base_momentum)
  _require(0.0 <= max_momentum < 1.0, "max_momentum", "in [0, 1)", max_momentum)
  return _one_cycle_anneal(max_momentum, base_momentum, max_momentum, total_steps, pct_start,
                           anneal_strategy, three_phase)


# ---------------------------------------------------------------------- SGD


class Schedules(NamedTuple):
  """What `create_optimizer` and the trainer need, built by `create`.

  Attributes:
    learning_rate: a schedule for "step" and "one_cycle"; a float for "constant" and
      "plateau", so that ``optax.inject_hyperparams`` keeps it as a settable hyperparameter.
    momentum: a schedule for "one_cycle" with cycle_momentum, else ``config.momentum``.
    plateau: the per-epoch `plateau.Plateau` for "plateau", else None; its `learning_rate`
      replaces the lr hyperparameter after each epoch (`set_learning_rate`).
  """
  learning_rate: optax.ScalarOrSchedule
  momentum: optax.ScalarOrSchedule
  plateau: plateau_lib.Plateau | None


def create_optimizer(config: ml_collections.ConfigDict,
                     schedules: Schedules) -> optax.GradientTransformation:
  """``torch.optim.SGD``: weight decay added to the gradient, then (Nesterov) momentum.

  Args:
    config: needs ``nesterov`` (bool) and ``weight_decay`` (float, L2 coefficient).
    schedules: from `create`; they drive the learning rate and momentum per step.

  Returns:
    An ``optax.inject_hyperparams`` transformation: its state's ``hyperparams`` dict holds
    float32 [] ``learning_rate``, ``momentum`` and ``weight_decay``, the values of the last
    update, so that ReduceLROnPlateau can set the learning rate between epochs.
  """

  def torch_sgd(learning_rate, momentum, weight_decay):
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.sgd(learning_rate, momentum=momentum, nesterov=config.nesterov))

  return optax.inject_hyperparams(torch_sgd)(
      learning_rate=schedules.learning_rate, momentum=schedules.momentum,
      weight_decay=config.weight_decay)


def set_learning_rate(state: train_state.TrainState,
                      learning_rate: jax.typing.ArrayLike) -> train_state.TrainState:
  """Replaces the injected learning rate of `create_optimizer` (ReduceLROnPlateau per epoch).

  Args:
    state: a TrainState, or replicas of one stacked on a leading axis [R, ...].
    learning_rate: float32 [] (or [R] for stacked replicas), the lr of the next steps. Only a
      float `Schedules.learning_rate` keeps it; a schedule overwrites it at the next step.

  Returns:
    The state with the new learning rate.
  """
  # A copy: the state is donated to the next epoch and must not share buffers with the caller's.
  hyperparams = dict(state.opt_state.hyperparams,
                     learning_rate=jnp.array(learning_rate, jnp.float32, copy=True))
  return state.replace(opt_state=state.opt_state._replace(hyperparams=hyperparams))


# ------------------------------------------------------------------ create


class _Run(NamedTuple):
  """What `create` passes every schedule builder besides the schedule's own fields."""
  learning_rate: float
  momentum: float
  steps_per_epoch: int
  num_epochs: int


def _constant(run: _Run) -> Schedules:
  return Schedules(run.learning_rate, run.momentum, None)


def _step(run: _Run, **fields: Any) -> Schedules:
  return Schedules(step_lr(run.learning_rate, steps_per_epoch=run.steps_per_epoch,
                           num_epochs=run.num_epochs, **fields), run.momentum, None)


def _one_cycle(run: _Run, *, max_lr: float, div_factor: float, final_div_factor: float,
               cycle_momentum: bool, base_momentum: float, max_momentum: float,
               **shape: Any) -> Schedules:
  # As torch's OneCycleLR(epochs=, steps_per_epoch=).
  total_steps = run.steps_per_epoch * run.num_epochs
  lr = one_cycle(max_lr, total_steps, div_factor=div_factor,
                 final_div_factor=final_div_factor, **shape)
  if not cycle_momentum:
    return Schedules(lr, run.momentum, None)
  return Schedules(lr, one_cycle_momentum(total_steps, base_momentum=base_momentum,
                                          max_momentum=max_momentum, **shape), None)


def _plateau(run: _Run, **fields: Any) -> Schedules:
  return Schedules(run.learning_rate, run.momentum,
                   plateau_lib.reduce_on_plateau(run.learning_rate, **fields))


# The one list of schedule fields: name -> (fields of config.schedule, builder). `create`
# requires exactly these fields and passes them by keyword to the builder, whose arguments (and
# those of step_lr, one_cycle, one_cycle_momentum and reduce_on_plateau behind it) carry the
# same names, as do configs/base.py's constructors.
SCHEDULES: dict[str, tuple[tuple[str, ...], Callable[..., Schedules]]] = {
    "constant": ((), _constant),
    "step": (("step_size", "gamma"), _step),
    "one_cycle": (("max_lr", "pct_start", "div_factor", "final_div_factor", "anneal_strategy",
                   "three_phase", "cycle_momentum", "base_momentum", "max_momentum"),
                  _one_cycle),
    "plateau": (("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                 "min_lr"), _plateau),
}


def create(config: ml_collections.ConfigDict, steps_per_epoch: int,
           num_epochs: int) -> Schedules:
  """Builds the schedules named by ``config.schedule.name``.

  Args:
    config: needs ``learning_rate`` (the initial lr, except for one_cycle's max_lr),
      ``momentum`` (SGD momentum unless one_cycle cycles it) and ``schedule``, a ConfigDict
      with ``name``, a key of `SCHEDULES`, and the fields `SCHEDULES` lists for that name;
      they mean what the builder argument of the same name means (`step_lr`, `one_cycle`,
      `one_cycle_momentum`, `plateau.reduce_on_plateau`; step_size and patience in epochs).
    steps_per_epoch: optimizer steps (batches) per epoch, positive int.
    num_epochs: epochs in the run, positive int.

  Returns:
    The `Schedules`.

  Raises:
    ValueError: one line naming the field, for an unknown schedule name, a missing field or
      a value outside its valid range.
  """
  _require_positive_ints(steps_per_epoch=steps_per_epoch, num_epochs=num_epochs)
  for field in ("learning_rate", "momentum", "schedule"):
    if field not in config:
      raise ValueError(f"config.{field} is missing")
  _require(config.learning_rate > 0, "config.learning_rate", "> 0", config.learning_rate)
  _require(0.0 <= config.momentum < 1.0, "config.momentum", "in [0, 1)", config.momentum)
  schedule = config.schedule
  name = schedule.get("name")
  _require(name in SCHEDULES, "config.schedule.name", f"one of {tuple(SCHEDULES)}", name)
  fields, build = SCHEDULES[name]
  for field in fields:
    if field not in schedule:
      raise ValueError(f"config.schedule.{field} is missing (needed by the "
                       f"{name!r} schedule: {', '.join(fields)})")
  run = _Run(float(config.learning_rate), float(config.momentum), steps_per_epoch, num_epochs)
  try:
    return build(run, **{field: schedule[field] for field in fields})
  except ValueError as error:
    raise ValueError(f"config.schedule.{error}") from None
