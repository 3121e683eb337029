"""The recipe of a run, built once (`Recipe`): SGD and its schedules, each replica's swept
values (data, so one transformation serves every replica), and ReduceLROnPlateau's per-epoch
hook (`init_epoch_state`, then `end_epoch` after each epoch)."""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mnist_jax.optim import schedules as schedules_lib
from mnist_jax.optim import sweep

Values = Mapping[str, jax.Array]


class Recipe:
  """SGD, schedules, swept values and the per-epoch hook of one run (every replica). `values`:
  {key: [R] array} (`sweep.replica_values`), {} without a sweep; `optimizer`: one
  ``optax.GradientTransformationExtraArgs`` whose ``update`` takes a replica's ``values=``.
  """

  def __init__(self, config: ml_collections.ConfigDict, steps_per_epoch: int):
    """Checks the recipe of every sweep cell (ValueError, one line naming the field and the
    cell, for an unknown schedule, a missing field or a value out of range)."""
    sweep.check(config, lambda cell: schedules_lib.create(cell, steps_per_epoch, cell.num_epochs))
    self.config = config
    self.steps_per_epoch = steps_per_epoch
    self.values = {key: jnp.asarray(value) for key, value in sweep.replica_values(config).items()}
    self.num_replicas = len(sweep.replicas(config))
    self._per_epoch = self._schedules({}).plateau is not None
    self.optimizer = optax.GradientTransformationExtraArgs(
        lambda params: self.init(params, {}), self._update)
    self._end_epoch = jax.jit(jax.vmap(lambda state, values, loss:
                                       self._schedules(values).plateau.update(state, loss)))

  def _schedules(self, values: Values) -> schedules_lib.Schedules:
    return schedules_lib.create(self.config, self.steps_per_epoch, self.config.num_epochs,
                                values=values)

  def _sgd(self, values: Values) -> optax.GradientTransformation:
    # Built at trace time from the replica's values: one structure of optimizer state for all.
    return schedules_lib.create_optimizer(self.config, self._schedules(values), values=values)

  def init(self, params: Any, values: Values | None = None) -> optax.OptState:
    """One replica's optimizer state, its swept learning rate, momentum and weight decay in the
    injected hyperparameters (float32 [])."""
    return self._sgd(values or {}).init(params)

  def _update(self, updates, state, params=None, *, values: Values | None = None, **unused):
    del unused
    return self._sgd(values or {}).update(updates, state, params)

  def init_epoch_state(self) -> Any:
    """The per-epoch hook's state for every replica (leading axis [R]); None when the
    schedule has no per-epoch hook (all but ReduceLROnPlateau)."""
    if not self._per_epoch:
      return None
    return jax.vmap(lambda values, _: self._schedules(values).plateau.init())(
        self.values, np.arange(self.num_replicas))

  def end_epoch(self, states: Any, epoch_state: Any, loss: np.ndarray) -> tuple[Any, Any]:
    """The per-epoch hook: ReduceLROnPlateau stepped on `loss` (float32 [R], the epoch's
    validation loss, else test loss, as the references step it), its lr set into each replica
    of `states` (TrainState [R, ...], swept values in ``recipe``); without a hook, unchanged.
    """
    if epoch_state is None:
      return states, None
    epoch_state = self._end_epoch(epoch_state, states.recipe, np.asarray(loss, np.float32))
    return schedules_lib.set_learning_rate(states, epoch_state.learning_rate), epoch_state
