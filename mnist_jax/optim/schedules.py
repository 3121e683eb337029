"""``torch.optim.SGD`` and its schedules step for step (StepLR here, OneCycleLR in `one_cycle`,
ReduceLROnPlateau per epoch in `plateau`), built from a config by `create` (`SCHEDULES`).
Per-step schedules map the 0-based step count (of the update using the value) inside ``jit``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import optax

from mnist_jax import checks
from mnist_jax.optim import one_cycle as one_cycle_lib
from mnist_jax.optim import plateau as plateau_lib

if TYPE_CHECKING:
  from mnist_jax.optim.hyperparameters import Hyperparameters

_require = checks.require
_require_positive_ints = checks.require_positive_ints


def step_lr(learning_rate: float, step_size: int, gamma: float, steps_per_epoch: int,
            num_epochs: int, *, check: bool = True) -> optax.Schedule:
  """``torch.optim.lr_scheduler.StepLR`` stepped once per epoch.

  During epoch ``e = step // steps_per_epoch`` the lr is ``learning_rate * gamma ** (e //
  step_size)``; steps past the run hold its last value.

  Args:
    learning_rate: torch's optimizer ``lr``, > 0.
    step_size: epochs between two decays, a positive int.
    gamma: the factor of each decay, > 0.
    steps_per_epoch: optimizer steps per epoch, a positive int.
    num_epochs: epochs in the run, a positive int.
    check: check the values (Python numbers). The training program passes its
      hyperparameters as arrays (float32 [], step_size int32 []) with ``check=False``: they
      were checked once, as numbers, by `hyperparameters.create`.

  Returns:
    A schedule of the 0-based step count (int scalar or array) giving the float32 lr of the
    same shape.

  Raises:
    ValueError: with `check`, a value out of range (one line naming it).
  """
  if check:
    _require(learning_rate > 0, "learning_rate", "> 0", learning_rate)
    _require(gamma > 0, "gamma", "> 0", gamma)
    _require_positive_ints(step_size=step_size, steps_per_epoch=steps_per_epoch,
                           num_epochs=num_epochs)
  # Our own: optax.piecewise_constant_schedule takes Python boundaries (a swept step_size is an
  # array); exponential_decay(staircase=True) floors a float32 count / transition_steps, where
  # XLA gives e.g. 705 / 705 = 0.99999994, a decay one step late. Integer division is exact.
  period = step_size * steps_per_epoch
  last_decays = (num_epochs - 1) // step_size

  def schedule(count: jax.typing.ArrayLike) -> jax.Array:
    decays = jnp.minimum(jnp.maximum(jnp.asarray(count), 0) // period, last_decays)
    return learning_rate * jnp.power(jnp.asarray(gamma, jnp.result_type(float)), decays)

  return schedule


class Schedules(NamedTuple):
  """What `create_optimizer` and the trainer need, built by `create`: ``learning_rate``, a
  schedule for "step" and "one_cycle", else a float (``optax.inject_hyperparams`` keeps it
  settable); ``momentum``, a schedule for "one_cycle" with cycle_momentum, else
  ``config.momentum``; ``plateau``, the per-epoch `plateau.Plateau` for "plateau", else None,
  whose `learning_rate` replaces the lr after each epoch (`set_learning_rate`).
  """
  learning_rate: optax.ScalarOrSchedule
  momentum: optax.ScalarOrSchedule
  plateau: plateau_lib.Plateau | None


def create_optimizer(config: ml_collections.ConfigDict, schedules: Schedules,
                     hparams: "Hyperparameters | None" = None) -> optax.GradientTransformation:
  """``torch.optim.SGD``: weight decay added to the gradient, then (Nesterov) momentum.

  Args:
    config: needs ``nesterov`` and ``weight_decay`` (L2, used without `hparams`).
    schedules: from `create`; they drive the learning rate and momentum per step.
    hparams: one replica's `hyperparameters.Hyperparameters` (scalar leaves), whose
      ``weight_decay`` replaces the config's; None: the config's.

  Returns:
    An ``optax.inject_hyperparams`` transformation whose state's ``hyperparams`` hold float32
    [] ``learning_rate``, ``momentum`` and ``weight_decay`` (ReduceLROnPlateau sets the lr
    there), each the value of the update last made.
  """

  def torch_sgd(learning_rate, momentum, weight_decay):
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.sgd(learning_rate, momentum=momentum, nesterov=config.nesterov))

  weight_decay = config.weight_decay if hparams is None else hparams.weight_decay
  return optax.inject_hyperparams(torch_sgd)(
      learning_rate=schedules.learning_rate, momentum=schedules.momentum,
      weight_decay=weight_decay)


def set_learning_rate(state: train_state.TrainState,
                      learning_rate: jax.typing.ArrayLike) -> train_state.TrainState:
  """`state` (a TrainState, or replicas stacked [R, ...]) with the injected learning rate of
  `create_optimizer` replaced by `learning_rate`, float32 [] (or [R]), for ReduceLROnPlateau.
  Only a float `Schedules.learning_rate` keeps it; a schedule overwrites it at the next step.
  """
  # A copy: the state is donated to the next epoch and must not share buffers with the caller's.
  hyperparams = dict(state.opt_state.hyperparams,
                     learning_rate=jnp.array(learning_rate, jnp.float32, copy=True))
  return state.replace(opt_state=state.opt_state._replace(hyperparams=hyperparams))


class _Run(NamedTuple):
  """What `create` passes every schedule builder besides the schedule's own fields."""
  learning_rate: float | jax.Array
  momentum: float | jax.Array
  steps_per_epoch: int
  num_epochs: int
  check: bool  # Python numbers, checked; False: the program's arrays, checked before


def _constant(run: _Run) -> Schedules:
  return Schedules(run.learning_rate, run.momentum, None)


def _step(run: _Run, **fields: Any) -> Schedules:
  return Schedules(step_lr(run.learning_rate, steps_per_epoch=run.steps_per_epoch,
                           num_epochs=run.num_epochs, check=run.check, **fields),
                   run.momentum, None)


def _one_cycle(run: _Run, *, max_lr: float, div_factor: float, final_div_factor: float,
               cycle_momentum: bool, base_momentum: float, max_momentum: float,
               **shape: Any) -> Schedules:
  # As torch's OneCycleLR(epochs=, steps_per_epoch=).
  total_steps = run.steps_per_epoch * run.num_epochs
  lr = one_cycle_lib.one_cycle(max_lr, total_steps, div_factor=div_factor,
                               final_div_factor=final_div_factor, check=run.check, **shape)
  if not cycle_momentum:
    return Schedules(lr, run.momentum, None)
  return Schedules(lr, one_cycle_lib.one_cycle_momentum(
      total_steps, base_momentum=base_momentum, max_momentum=max_momentum, check=run.check,
      **shape), None)


def _plateau(run: _Run, **fields: Any) -> Schedules:
  return Schedules(run.learning_rate, run.momentum,
                   plateau_lib.reduce_on_plateau(run.learning_rate, check=run.check, **fields))


# Schedules whose values do not depend on the run's length: a resume may extend num_epochs.
EPOCH_FREE = ("constant", "step", "plateau")
# The fields that tell two schedules of one kind apart at a glance (the results' recipe table).
MAIN_FIELDS = {"step": ("step_size", "gamma"), "one_cycle": ("max_lr", "pct_start"),
               "plateau": ("factor", "patience")}

# The one list of schedule fields: name -> (fields of config.schedule, builder). `create` passes
# exactly these by keyword to the builder, whose arguments (and those of the functions behind
# it) carry the same names, as do configs/base.py's constructors.
SCHEDULES: dict[str, tuple[tuple[str, ...], Callable[..., Schedules]]] = {
    "constant": ((), _constant),
    "step": (("step_size", "gamma"), _step),
    "one_cycle": (("max_lr", "pct_start", "div_factor", "final_div_factor", "anneal_strategy",
                   "three_phase", "cycle_momentum", "base_momentum", "max_momentum"),
                  _one_cycle),
    "plateau": (("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                 "min_lr"), _plateau),
}


def create(config: ml_collections.ConfigDict, steps_per_epoch: int, num_epochs: int,
           hparams: "Hyperparameters | None" = None) -> Schedules:
  """Builds the `Schedules` named by ``config.schedule.name``.

  Args:
    config: needs ``learning_rate`` (the initial lr; one_cycle: max_lr), ``momentum`` and
      ``schedule``: ``name``, a key of `SCHEDULES`, and the fields it lists (the builders'
      arguments; step_size and patience in epochs).
    steps_per_epoch, num_epochs: positive ints.
    hparams: one replica's `hyperparameters.Hyperparameters` (scalar arrays, inside the
      training program): its learning_rate, momentum and numeric schedule fields replace the
      config's, and no value is checked (`hyperparameters.create` checked every cell, with
      Python numbers, through this function with hparams None). None: the config's values,
      checked here.

  Raises:
    ValueError: one line naming the field, for an unknown schedule name, a missing field or
      (hparams None) a value outside its valid range.
  """
  _require_positive_ints(steps_per_epoch=steps_per_epoch, num_epochs=num_epochs)
  for field in ("learning_rate", "momentum", "schedule"):
    if field not in config:
      raise ValueError(f"config.{field} is missing")
  schedule = config.schedule
  name = schedule.get("name")
  _require(name in SCHEDULES, "config.schedule.name", f"one of {tuple(SCHEDULES)}", name)
  fields, build = SCHEDULES[name]
  for field in fields:
    if field not in schedule:
      raise ValueError(f"config.schedule.{field} is missing (needed by the "
                       f"{name!r} schedule: {', '.join(fields)})")
  if hparams is None:
    learning_rate, momentum, values = config.learning_rate, config.momentum, {}
    _require(learning_rate > 0, "config.learning_rate", "> 0", learning_rate)
    _require(0.0 <= momentum < 1.0, "config.momentum", "in [0, 1)", momentum)
    run = _Run(float(learning_rate), float(momentum), steps_per_epoch, num_epochs, check=True)
  else:
    run = _Run(hparams.learning_rate, hparams.momentum, steps_per_epoch, num_epochs, check=False)
    values = hparams.schedule
  try:
    return build(run, **{field: values.get(field, schedule[field]) for field in fields})
  except ValueError as error:
    raise ValueError(f"config.schedule.{error}") from None
