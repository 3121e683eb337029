"""One run's training parts (`Trainer`), which `train.train_and_evaluate`'s loop calls: the
set-up (hyperparameters, optimizer, replicas on the device mesh, the data placed once, the
compiled programs), and per epoch `train_epoch`, `evaluate`, `check_divergence`, `end_epoch`
and `save`."""

import time
from typing import Any

import jax
from jax.sharding import NamedSharding, PartitionSpec
import ml_collections
import numpy as np

from mnist_jax.models import table as model_table
from mnist_jax.optim import hyperparameters as hyperparameters_lib
from mnist_jax.optim import optimizer as optimizer_lib
from mnist_jax.optim import sweep
from mnist_jax.training import checkpoint
from mnist_jax.training import console
from mnist_jax.training import divergence
from mnist_jax.training import epoch as epoch_lib
from mnist_jax.training import evaluate as evaluate_lib
from mnist_jax.training import replicas as replicas_lib
from mnist_jax.training import run_files
from mnist_jax.training import step as step_lib
from mnist_jax.training.errors import Interrupted

# Evaluated each epoch, in this order, where the run has them.
EVALUATION_SPLITS = ("validation", "test")


class Trainer:
  """The replicas of one run and the compiled programs that train and evaluate them.

  Attributes:
    config: the run's config.
    hparams: every replica's `hyperparameters.Hyperparameters` (host arrays [R]).
    features: the optional pieces the program contains (`hyperparameters.features`).
    optimizer: SGD and its schedule (`optimizer.Optimizer`).
    program: the epoch program's static description (`epoch.EpochProgram`).
    states: TrainState [R, ...] on the mesh, split by replica; epoch_state: the
      ReduceLROnPlateau state [R] (None for other schedules).
    eval_sets: {"validation"?, "test": (uint8 images, int32 labels)} on the device.
    labels: one per replica (`sweep.replica_label`); num_params: of one replica's network.
  """

  def __init__(self, config: ml_collections.ConfigDict, splits: dict[str, tuple]):
    """Builds every replica from `config` and places `splits` ({"train", "validation"?,
    "test"} -> (uint8 images [N, 28, 28, 1], int32 labels [N])) on the device mesh.

    Raises:
      ValueError: one line for a hyperparameter out of range (naming the sweep cell).
    """
    self.config = config
    train_images, train_labels = splits["train"]
    num_train = len(train_labels)
    self.optimizer = optimizer_lib.Optimizer(config, epoch_lib.steps_per_epoch(
        num_train, config.batch_size))
    self.hparams = hyperparameters_lib.create(config, self.optimizer.steps_per_epoch)
    self.features = hyperparameters_lib.features(self.hparams)
    self.labels = [sweep.replica_label(config, r) for r in range(len(sweep.replicas(config)))]
    mesh = replicas_lib.create_mesh(len(self.labels))
    self.program = epoch_lib.EpochProgram.create(config, num_train, mesh, self.features)
    states = step_lib.create_replica_states(config, self.optimizer, self.hparams)
    epoch_state = self.optimizer.init_epoch_state(self.hparams)
    first = jax.tree.map(lambda x: x[0], states.params)
    self.num_params = model_table.count_params({"params": first})
    replicated = NamedSharding(mesh, PartitionSpec())
    self.by_replica = NamedSharding(mesh, PartitionSpec("replica"))
    self.eval_sets = {name: replicas_lib.place(splits[name], replicated)
                      for name in EVALUATION_SPLITS if name in splits}
    self.train_set = replicas_lib.place((train_images, train_labels), replicated)
    # Placed before a restore, so that Orbax restores into the same shardings: a resumed run
    # compiles the same programs as a fresh one and finds them in the persistent cache.
    self.states, self.epoch_state = replicas_lib.place((states, epoch_state), self.by_replica)
    self.diverged: list[Any] = [None] * len(self.labels)
    self._train_steps = self._evaluators = None
    self._epoch_start = time.perf_counter()

  def restore(self, manager, history: list[dict[str, Any]]) -> int:
    """Restores the newest checkpoint that restores into the replicas, appending its history
    to `history`; returns the epoch to start from (0 without a checkpoint).

    Raises:
      checkpoint.CheckpointError: checkpoints exist but none restores.
    """
    restored = checkpoint.restore_latest(manager, self.states, self.epoch_state)
    if restored is None:
      return 0
    start_epoch, self.states, self.epoch_state, saved_history = restored
    history.extend(saved_history)
    self.diverged = divergence.restored_divergence(saved_history, len(self.labels))
    return start_epoch

  def compile(self) -> tuple[float, float]:
    """Lowers and compiles the training program and one evaluation per split ahead of time;
    returns (tracing and lowering seconds, compiling seconds: XLA, or the persistent cache)."""
    trace_start = time.perf_counter()
    train_steps = jax.jit(epoch_lib.train_steps, static_argnums=0,
                          donate_argnames=("states", "partial"))
    lowered = [train_steps.lower(self.program, self.states, self.empty_output(),
                                 *self.train_set, epoch_lib.whole_epoch(self.program, 0))]
    lowered += [jax.jit(evaluate_lib.make_evaluate(self.config, len(labels), self.program.mesh))
                .lower(self.states, images, labels)
                for images, labels in self.eval_sets.values()]
    compile_start = time.perf_counter()
    self._train_steps, *self._evaluators = (program.compile() for program in lowered)
    return compile_start - trace_start, time.perf_counter() - compile_start

  def empty_output(self) -> epoch_lib.EpochOutput:
    """A fresh epoch's output on the mesh, the replicas diverged so far frozen."""
    frozen = np.asarray([d is not None for d in self.diverged], bool)
    return replicas_lib.place(epoch_lib.empty_epoch_output(len(self.labels),
                                                           self.program.num_steps, frozen),
                              self.by_replica)

  def train_epoch(self, epoch: int, progress: console.Progress,
                  stop_request: console.StopRequest, manager) -> epoch_lib.EpochOutput:
    """Trains every replica for epoch `epoch` in the progress bar's segments.

    Raises:
      errors.Interrupted: a signal arrived (checked between segments).
    """
    self._epoch_start = time.perf_counter()
    progress.start()
    out = self.empty_output()
    for start, stop in progress.segments():
      if stop_request.signal is not None:
        progress.close()
        stop_request.restore()
        raise Interrupted(console.interrupted_line(stop_request.signal, epoch, manager))
      segment = epoch_lib.Segment(np.int32(epoch), np.int32(start), np.int32(stop))
      self.states, out = self._train_steps(self.states, out, *self.train_set, segment)
      progress.update(out, stop)
    progress.close()
    return out

  def evaluate(self, epoch: int, out: epoch_lib.EpochOutput
               ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Evaluates every replica on each split (`EVALUATION_SPLITS` order) after `epoch`.

    Returns (the epoch's metrics.jsonl record, with "epoch_seconds" from the start of
    `train_epoch` to the end of evaluation; the host step losses and learning rates, float32
    [R, steps]); see `run_files.epoch_record`."""
    evaluations = {name: evaluate(self.states, *self.eval_sets[name])
                   for name, evaluate in zip(self.eval_sets, self._evaluators)}
    record, step_losses, learning_rates = run_files.epoch_record(self.config, epoch, out,
                                                                 evaluations)
    record["epoch_seconds"] = time.perf_counter() - self._epoch_start
    return record, step_losses, learning_rates

  def check_divergence(self, epoch: int, step_losses: np.ndarray, record: dict[str, Any],
                       manager) -> list[str]:
    """`divergence.check_epoch` of the epoch: records the replicas that diverged in it (in
    `record` and in `diverged`, which the next epoch's program keeps frozen) and returns one
    console line for each.

    Raises:
      errors.TrainingError: a single run, or every replica of a sweep, diverged.
    """
    self.diverged, lines = divergence.check_epoch(epoch, step_losses, record, self.labels,
                                                  self.diverged, self.program.freeze_diverged,
                                                  manager)
    return lines

  def end_epoch(self, record: dict[str, Any]) -> None:
    """The schedule's per-epoch hook (ReduceLROnPlateau) on the epoch's validation loss where
    there is one, else its test loss, as the references step it."""
    monitored = "validation_loss" if "validation" in self.eval_sets else "test_loss"
    self.states, self.epoch_state = self.optimizer.end_epoch(self.states, self.epoch_state,
                                                             record[monitored])

  def save(self, manager, epoch: int, history: list[dict[str, Any]],
           record: dict[str, Any]) -> None:
    """Checkpoints the replicas after `epoch` (0-based) with `history`; the best checkpoint is
    chosen on the mean validation accuracy, else the mean test accuracy."""
    checkpoint.save_checkpoint(manager, epoch + 1, self.states, self.epoch_state, history, {
        f"{name}_accuracy": np.mean(record[f"{name}_accuracy"]) for name in self.eval_sets})

  def host_states(self) -> Any:
    """The replicas' states as numpy arrays (every process takes part: `to_host`)."""
    return replicas_lib.to_host(self.states)

