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
                      anneal_strategy: str, three_phase: bool) -> optax.Schedule:
  """``start -> peak -> end`` (three_phase: ``-> start -> end``) as torch's OneCycleLR.get_lr;
  phases end at the float steps ``pct_start * total_steps - 1``, (three_phase:
  ``2 * pct_start * total_steps - 2``,) ``total_steps - 1``. Torch's float64
  ``end + (start - end) / 2 * (cos(pi * pct) + 1)`` is here ``start * w(1 - pct) + end * w(pct)``
  with ``w(x) = sin(pi * x / 2) ** 2`` (linear: ``w(x) = x``): ~1e-7 relative accuracy in float32
  near the tiny final lr, where the torch form cancels. Raises ValueError for total_steps,
  pct_start or anneal_strategy out of range, or an empty phase.
  """
  checks.require_positive_ints(total_steps=total_steps)
  _require((0.0 < pct_start) & (pct_start < 1.0), "pct_start", "in (0, 1)", pct_start)
  _require(anneal_strategy in ANNEAL_STRATEGIES, "anneal_strategy",
           f"one of {ANNEAL_STRATEGIES}", anneal_strategy)
  # Floats as in torch (an array when pct_start is swept).
  ends = [pct_start * total_steps - 1, float(total_steps - 1)]
  if three_phase:
    ends.insert(1, 2 * pct_start * total_steps - 2)
  starts = [0.0] + ends[:-1]
  # torch divides by (end - start); a phase of zero or negative length breaks it.
  if not isinstance(pct_start, jax.Array) and any(
      phase_end <= phase_start for phase_start, phase_end in zip(starts, ends)):
    raise ValueError(
        f"pct_start={pct_start} with total_steps={total_steps}"
        f"{' and three_phase' if three_phase else ''} gives empty cycle phases "
        f"(ends {ends}); need pct_start * total_steps > 1"
        f"{' and pct_start < 0.5' if three_phase else ' and pct_start < 1'}")
  values = [start, peak, start, end] if three_phase else [start, peak, end]
  phases = list(zip(starts, ends, values[:-1], values[1:]))
  weight = ((lambda x: jnp.square(jnp.sin((0.5 * math.pi) * x))) if anneal_strategy == "cos"
            else (lambda x: x))

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
  """Learning rate of ``torch.optim.lr_scheduler.OneCycleLR`` (its arguments and defaults),
  stepped per batch: ``max_lr / div_factor`` up to ``max_lr``, then down to
  ``max_lr / (div_factor * final_div_factor)`` (three_phase: back to the initial value first).
  max_lr, div_factor, final_div_factor > 0; total_steps: optimizer steps in the run, an int > 0;
  pct_start: the fraction spent increasing, in (0, 1); anneal_strategy: "cos" or "linear".
  Returns a schedule of the 0-based step count (int scalar or array) giving a float32 lr; steps
  past ``total_steps - 1`` hold the last value (torch raises). Raises ValueError for values out
  of range or an empty phase (pct_start * total_steps <= 1).
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
  """SGD momentum of ``OneCycleLR`` with ``cycle_momentum=True`` (it overwrites the
  optimizer's), stepped per batch: ``max_momentum`` -> ``base_momentum`` (at the lr peak) while
  the lr rises, back while it falls (three_phase: then stays). Both momenta in [0, 1), the rest
  as for `one_cycle`. Returns a schedule of the 0-based step count giving a float32 momentum;
  ValueError for values out of range.
  """
  for name, momentum in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
    _require((0.0 <= momentum) & (momentum < 1.0), name, "in [0, 1)", momentum)
  return _one_cycle_anneal(max_momentum, base_momentum, max_momentum, total_steps, pct_start,
                           anneal_strategy, three_phase)
