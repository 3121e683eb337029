"""The optimizer of a run, built once (`Optimizer`): ``torch.optim.SGD`` under its schedule, one
transformation for every replica (each update takes the replica's `Hyperparameters`), and
ReduceLROnPlateau's per-epoch hook (`init_epoch_state`, then `end_epoch` after each epoch)."""

from __future__ import annotations

from typing import Any

import jax
import ml_collections
import numpy as np
import optax

from mnist_jax.optim import hyperparameters as hyperparameters_lib
from mnist_jax.optim import schedules as schedules_lib

Hyperparameters = hyperparameters_lib.Hyperparameters


class Optimizer:
  """SGD and its schedule for every replica of one run, and the per-epoch hook.

  Attributes:
    config: the run's config (``nesterov``, ``schedule.name`` and the schedule's non-numeric
      fields are read from it; every number from the replica's `Hyperparameters`).
    steps_per_epoch: optimizer steps per epoch (the schedules count steps).
    tx: one ``optax.GradientTransformationExtraArgs`` whose ``update`` takes the replica's
      hyperparameters as ``hparams=`` (scalar leaves); its optimizer state has the same
      structure for every replica, so the replicas stack along a leading axis.
  """

  def __init__(self, config: ml_collections.ConfigDict, steps_per_epoch: int):
    """Raises ValueError (one line) for an unknown schedule or a missing schedule field."""
    self.config = config
    self.steps_per_epoch = steps_per_epoch
    # Checks the schedule's name and fields; its values are checked per cell by
    # `hyperparameters.create`.
    self.has_epoch_hook = schedules_lib.create(
        config, steps_per_epoch, config.num_epochs).plateau is not None
    self.tx = optax.GradientTransformationExtraArgs(self._init_structure, self._update)
    self._end_epoch = jax.jit(jax.vmap(self._plateau_update))

  def _schedules(self, hparams: Hyperparameters | None) -> schedules_lib.Schedules:
    return schedules_lib.create(self.config, self.steps_per_epoch, self.config.num_epochs,
                                hparams=hparams)

  def _sgd(self, hparams: Hyperparameters | None) -> optax.GradientTransformation:
    # Built at trace time from the replica's values: one structure of optimizer state for all.
    return schedules_lib.create_optimizer(self.config, self._schedules(hparams), hparams=hparams)

  def init(self, params: Any, hparams: Hyperparameters) -> optax.OptState:
    """One replica's optimizer state: ``optax.inject_hyperparams``' state holding its learning
    rate, momentum and weight decay (float32 []); hparams: the replica's (scalar leaves)."""
    return self._sgd(hparams).init(params)

  def _init_structure(self, params: Any) -> optax.OptState:
    # `tx.init` without a replica: the config's values, for the state's structure only.
    return self._sgd(None).init(params)

  def _update(self, updates, state, params=None, *, hparams: Hyperparameters | None = None,
              **unused):
    del unused
    return self._sgd(hparams).update(updates, state, params)

  def _plateau_update(self, state: Any, hparams: Hyperparameters, loss: jax.Array) -> Any:
    return self._schedules(hparams).plateau.update(state, loss)

  def init_epoch_state(self, hparams: Hyperparameters) -> Any:
    """The per-epoch hook's state for every replica (leading axis [R]) from [R] `hparams`;
    None when the schedule has no per-epoch hook (all but ReduceLROnPlateau)."""
    if not self.has_epoch_hook:
      return None
    return jax.vmap(lambda h: self._schedules(h).plateau.init())(hparams)

  def end_epoch(self, states: Any, epoch_state: Any, loss: np.ndarray) -> tuple[Any, Any]:
    """The per-epoch hook: ReduceLROnPlateau stepped on `loss` (float32 [R], the epoch's
    validation loss, else test loss, as the references step it), its lr set into each replica
    of `states` (TrainState [R, ...]); without a hook, both returned unchanged.
    """
    if epoch_state is None:
      return states, None
    epoch_state = self._end_epoch(epoch_state, states.hparams, np.asarray(loss, np.float32))
    return schedules_lib.set_learning_rate(states, epoch_state.learning_rate), epoch_state
