"""``torch.optim.lr_scheduler.OneCycleLR``: learning rate and momentum, stepped per batch. Not
optax.cosine_onecycle_schedule: its phases end at int(pct_start * total_steps) and total_steps,
torch's at float(pct_start * total_steps) - 1 and total_steps - 1; and it has no linear
annealing, no three phases and no momentum cycle.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from mnist_jax import checks

ANNEAL_STRATEGIES = ("cos", "linear")

_require = checks.require


def _one_cycle_anneal(start: float, peak: float, end: float, total_steps: int, pct_start: float,
                      anneal_strategy: str, three_phase: bool, check: bool) -> optax.Schedule:
  """``start -> peak -> end`` (three_phase: ``-> start -> end``) as torch's OneCycleLR.get_lr;
  phases end at the float steps ``pct_start * total_steps - 1``, (three_phase:
  ``2 * pct_start * total_steps - 2``,) ``total_steps - 1``. Torch's float64
  ``end + (start - end) / 2 * (cos(pi * pct) + 1)`` is here ``start * w(1 - pct) + end * w(pct)``
  with ``w(x) = sin(pi * x / 2) ** 2`` (linear: ``w(x) = x``): ~1e-7 relative accuracy in float32
  near the tiny final lr, where the torch form cancels. With `check` (Python numbers), raises
  ValueError for total_steps, pct_start or anneal_strategy out of range, or an empty phase.
  """
  if check:
    checks.require_positive_ints(total_steps=total_steps)
    _require(0.0 < pct_start < 1.0, "pct_start", "in (0, 1)", pct_start)
  # Structure, not a value: checked with arrays too.
  _require(anneal_strategy in ANNEAL_STRATEGIES, "anneal_strategy",
           f"one of {ANNEAL_STRATEGIES}", anneal_strategy)
  # Floats as in torch (arrays inside the training program).
  ends = [pct_start * total_steps - 1, float(total_steps - 1)]
  if three_phase:
    ends.insert(1, 2 * pct_start * total_steps - 2)
  starts = [0.0] + ends[:-1]
  # torch divides by (end - start); a phase of zero or negative length breaks it.
  if check and any(phase_end <= phase_start for phase_start, phase_end in zip(starts, ends)):
    raise ValueError(
        f"pct_start={pct_start} with total_steps={total_steps}"
        f"{' and three_phase' if three_phase else ''} gives empty cycle phases "
        f"(ends {ends}); need pct_start * total_steps > 1"
        f"{' and pct_start < 0.5' if three_phase else ' and pct_start < 1'}")
  values = [start, peak, start, end] if three_phase else [start, peak, end]
  phases = list(zip(starts, ends, values[:-1], values[1:]))
  cosine = anneal_strategy == "cos"

  def weight(steps_into_phase, inverse_length):
    # w(steps / length), written as XLA rewrites it for a constant length (times the
    # reciprocal, the constant factors multiplied first), so that a schedule of arrays (the
    # run's `hyperparameters`) computes the float32 bits one of Python numbers computes.
    if cosine:
      return jnp.square(jnp.sin(steps_into_phase * (inverse_length * (0.5 * math.pi))))
    return steps_into_phase * inverse_length

  def schedule(count: jax.typing.ArrayLike) -> jax.Array:
    # Torch raises past total_steps; holding the last value is safer in a jit.
    step = jnp.clip(jnp.asarray(count), 0, total_steps - 1).astype(jnp.result_type(float))
    # torch: the first phase with step <= its end, else the last phase.
    value = None
    for step_0, step_1, value_0, value_1 in reversed(phases):
      inverse_length = 1.0 / jnp.asarray(step_1 - step_0, jnp.float32)
      phase_value = (value_0 * weight(step_1 - step, inverse_length)
                     + value_1 * weight(step - step_0, inverse_length))
      value = phase_value if value is None else jnp.where(step <= step_1, phase_value, value)
    return value

  return schedule


def one_cycle(max_lr: float, total_steps: int, pct_start: float = 0.3,
              anneal_strategy: str = "cos", div_factor: float = 25.0,
              final_div_factor: float = 1e4, three_phase: bool = False, *,
              check: bool = True) -> optax.Schedule:
  """Learning rate of ``torch.optim.lr_scheduler.OneCycleLR`` (its arguments and defaults),
  stepped per batch: ``max_lr / div_factor`` up to ``max_lr``, then down to
  ``max_lr / (div_factor * final_div_factor)`` (three_phase: back to the initial value first).

  Args:
    max_lr: the peak learning rate, > 0.
    total_steps: optimizer steps in the run (epochs x steps per epoch), an int > 0.
    pct_start: the fraction of the steps spent increasing, in (0, 1).
    anneal_strategy: "cos" or "linear".
    div_factor: initial lr = max_lr / div_factor, > 0.
    final_div_factor: final lr = initial lr / final_div_factor, > 0.
    three_phase: torch's three-phase cycle.
    check: check the values (Python numbers). The training program passes its
      hyperparameters as float32 [] arrays with ``check=False``: they were checked once, as
      numbers, by `hyperparameters.create`.

  Returns:
    A schedule of the 0-based step count (int scalar or array) giving a float32 lr; steps past
    ``total_steps - 1`` hold the last value (torch raises).

  Raises:
    ValueError: with `check`, a value out of range, or an empty phase (pct_start *
      total_steps <= 1).
  """
  if check:
    _require(max_lr > 0, "max_lr", "> 0", max_lr)
    _require(div_factor > 0, "div_factor", "> 0", div_factor)
    _require(final_div_factor > 0, "final_div_factor", "> 0", final_div_factor)
  initial_lr = max_lr / div_factor
  # One rounding, not two, in float32: torch's initial_lr / final_div_factor in float64.
  final_lr = max_lr / (div_factor * final_div_factor)
  return _one_cycle_anneal(initial_lr, max_lr, final_lr, total_steps,
                           pct_start, anneal_strategy, three_phase, check)


def one_cycle_momentum(total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
                       base_momentum: float = 0.85, max_momentum: float = 0.95,
                       three_phase: bool = False, *, check: bool = True) -> optax.Schedule:
  """SGD momentum of ``OneCycleLR`` with ``cycle_momentum=True`` (it overwrites the
  optimizer's), stepped per batch: ``max_momentum`` -> ``base_momentum`` (at the lr peak) while
  the lr rises, back while it falls (three_phase: then stays).

  Args:
    total_steps, pct_start, anneal_strategy, three_phase, check: as for `one_cycle`.
    base_momentum: the momentum at the lr peak, in [0, 1).
    max_momentum: the momentum at the start and end, in [0, 1).

  Returns:
    A schedule of the 0-based step count giving a float32 momentum.

  Raises:
    ValueError: with `check`, a value out of range.
  """
  if check:
    for name, momentum in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
      _require(0.0 <= momentum < 1.0, name, "in [0, 1)", momentum)
  return _one_cycle_anneal(max_momentum, base_momentum, max_momentum, total_steps, pct_start,
                           anneal_strategy, three_phase, check)
