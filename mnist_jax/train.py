"""The main loop: `train_and_evaluate(config, workdir)` and `evaluate_checkpoint`.

The host sets up (config checks, data, replica states, resume), then per epoch calls the
compiled epoch program (`mnist_jax.epoch`), evaluates, reports the references' console lines,
writes metrics and saves an Orbax checkpoint (`mnist_jax.checkpoint`); plots and summary.json
when done. Several seeds (`config.num_seeds`) train as replicas of one program, replica r
from seed `config.seed + r`.
"""

import json
import os
import time
from typing import Any

from absl import logging
import jax
from jax.sharding import NamedSharding, PartitionSpec
import jax.numpy as jnp
import ml_collections
import numpy as np

from mnist_jax import checkpoint
from mnist_jax import console
from mnist_jax import data
from mnist_jax import epoch as epoch_lib
from mnist_jax import metrics as metrics_lib
from mnist_jax import models
from mnist_jax import optim
from mnist_jax import run_files
from mnist_jax import steps
from mnist_jax import summary


class TrainingError(RuntimeError):
  """A run that cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""


class Interrupted(TrainingError):
  """SIGINT or SIGTERM stopped the run between two segments of an epoch; the message names the
  last checkpoint, from which the same command resumes."""


# ---------------------------------------------------------------------------------------------
# Configuration checks
# ---------------------------------------------------------------------------------------------


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError (one line, naming the field and the valid range) for impossible values."""
  if config.model not in models.names():
    raise ValueError(f"unknown model {config.model!r}; valid models: {', '.join(models.names())}")
  positive_ints = ("batch_size", "eval_batch_size", "num_epochs", "num_seeds", "keep_checkpoints")
  for field in positive_ints:
    value = config[field]
    if not isinstance(value, int) or value <= 0:
      raise ValueError(f"config.{field} must be a positive integer, got {value!r}")
  if not config.learning_rate > 0:
    raise ValueError(f"config.learning_rate must be > 0, got {config.learning_rate!r}")
  if not 0 <= config.momentum < 1:
    raise ValueError(f"config.momentum must be in [0, 1), got {config.momentum!r}")
  if config.weight_decay < 0:
    raise ValueError(f"config.weight_decay must be >= 0, got {config.weight_decay!r}")
  if config.rotation_degrees < 0:
    raise ValueError(f"config.rotation_degrees must be >= 0 (0 = no rotation), got {config.rotation_degrees!r}")
  for field in ("train_subset", "test_subset"):
    if config[field] < 0:
      raise ValueError(f"config.{field} must be >= 0 (0 = the whole split), got {config[field]!r}")
  if config.dropout_rate is not None and not 0 <= config.dropout_rate < 1:
    raise ValueError(f"config.dropout_rate must be in [0, 1) or None (model default), got {config.dropout_rate!r}")
  try:
    models.uses_fast_path(config.get("fast_path", "auto"))
  except ValueError as e:
    raise ValueError(f"config.{e}") from None


def prepare_workdir(workdir: str) -> None:
  """Creates `workdir` and checks it is writable; raises ValueError naming it otherwise."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, ".write_test")
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise ValueError(f"workdir {workdir!r} is not writable: {e.strerror or e}") from None


# ---------------------------------------------------------------------------------------------
# The main loop
# ---------------------------------------------------------------------------------------------


def load_datasets(config: ml_collections.ConfigDict):
  """Train and test arrays (uint8 images, int32 labels), cut to the configured subsets."""
  data_dir = config.data_dir or None
  train = data.load("train", data_dir=data_dir, source=config.data_source)
  test = data.load("test", data_dir=data_dir, source=config.data_source)
  if config.train_subset:
    train = tuple(a[:config.train_subset] for a in train)
  if config.test_subset:
    test = tuple(a[:config.test_subset] for a in test)
  return train, test


def create_replica_states(config: ml_collections.ConfigDict, schedule: optim.Schedules):
  """Fresh states of all replicas: (steps.TrainState [R, ...], plateau state [R, ...] or None).

  Replica r is initialised from `jax.random.PRNGKey(config.seed + r)` (`replica_seeds`).
  """
  model = steps.create_model(config)
  tx = optim.create_optimizer(config, schedule)
  keys = jnp.stack([jax.random.PRNGKey(s) for s in replica_seeds(config)])
  states = jax.jit(jax.vmap(lambda k: steps.create_train_state(k, model, tx)))(keys)
  plateau_state = (jax.vmap(lambda _: schedule.plateau.init())(keys[:, 0])
                   if schedule.plateau is not None else None)
  return states, plateau_state


def replica_seeds(config: ml_collections.ConfigDict) -> list[int]:
  """Seed of each replica: `config.seed + r` for r in range(num_seeds)."""
  return [config.seed + r for r in range(config.num_seeds)]


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
  """Trains `config.model` with its recipe, evaluating and checkpointing every epoch.

  Re-running with the same `workdir` resumes from the latest checkpoint. Writes to `workdir`:
  config.json, metrics.jsonl (one line per epoch, every value a list over replicas),
  steps.jsonl (per-step losses and learning rates), TensorBoard events, checkpoints/,
  summary.json and, when `config.plots`, curves.png, learning_rate.png, misclassified.png.

  Returns:
    The per-epoch history (the records of metrics.jsonl).

  Raises:
    ValueError: an impossible config value, an unknown model, an unwritable workdir, or a
      workdir holding another run (`checkpoint.config_differences`; nothing is written).
    checkpoint.CheckpointError: the workdir's checkpoints exist but none restores.
    data.DataError: missing or corrupt data files.
    TrainingError: a non-finite training loss (the last good checkpoint is kept).
    Interrupted: SIGINT or SIGTERM (the last checkpoint is kept; rerun to resume).
  """
  validate_config(config)
  prepare_workdir(workdir)
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints)
  checkpoint.check_same_run(workdir, config, has_checkpoints=bool(manager.all_steps()))
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=2))

  (train_images, train_labels), (test_images, test_labels) = load_datasets(config)
  num_train, num_test = len(train_labels), len(test_labels)
  num_steps = epoch_lib.steps_per_epoch(num_train, config.batch_size)
  schedule = optim.create(config, steps_per_epoch=num_steps, num_epochs=config.num_epochs)

  seeds = replica_seeds(config)
  states, plateau_state = create_replica_states(config, schedule)
  num_params = summary.count_params({"params": jax.tree.map(lambda x: x[0], states.params)})

  mesh = jax.make_mesh((jax.device_count(),), ("batch",), axis_types=(jax.sharding.AxisType.Auto,))
  replicated = NamedSharding(mesh, PartitionSpec())
  train_images, train_labels, test_images, test_labels = jax.device_put(
      (train_images, train_labels, test_images, test_labels), replicated)

  history: list[dict[str, Any]] = []
  start_epoch = 0
  restored = checkpoint.restore_latest(manager, states, plateau_state)
  if restored is not None:
    start_epoch, states, plateau_state, history = restored
    logging.info("Resumed from %s at epoch %d.", manager.directory, start_epoch)
    print(f"Resuming from the checkpoint after epoch {start_epoch}.")
  # Fresh or restored (Orbax commits its arrays to a sharding), the states are placed alike, so
  # a resumed run compiles the same programs and finds them in the persistent cache.
  states, plateau_state = jax.device_put((states, plateau_state), replicated)
  metrics_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "metrics.jsonl"))
  steps_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "steps.jsonl"))
  metrics_writer.rewrite(history)
  steps_writer.rewrite([r for r in metrics_lib.read_json_lines(steps_writer.path) if r["epoch"] < start_epoch])
  summary_writer = metrics_lib.create_summary_writer(workdir)
  if summary_writer is not None and start_epoch == 0:
    summary_writer.write_hparams({k: v for k, v in config.items() if not isinstance(v, ml_collections.ConfigDict)})

  progress = console.Progress(num_steps, enabled=config.progress_bar)
  train_steps = jax.jit(epoch_lib.make_train_steps(config, num_train, mesh), donate_argnums=(0, 1))
  evaluate = jax.jit(epoch_lib.make_evaluate(config, num_test))
  # Tracing and lowering (Python) apart from compiling (XLA, or a load from JAX's persistent
  # compilation cache, which the scripts turn on).
  trace_start = time.perf_counter()
  lowered = (train_steps.lower(states, epoch_lib.empty_epoch_output(len(seeds), num_steps), train_images,
                               train_labels, jnp.int32(0), jnp.int32(0), jnp.int32(0)),
             evaluate.lower(states, test_images, test_labels))
  compile_start = time.perf_counter()
  train_steps, evaluate = (program.compile() for program in lowered)
  compile_seconds = time.perf_counter() - compile_start
  trace_seconds = compile_start - trace_start
  update_plateau = jax.jit(jax.vmap(schedule.plateau.update)) if schedule.plateau is not None else None

  print(f"Model {config.model}: {num_params:,} parameters; {len(seeds)} seed(s) {seeds}; "
        f"{num_train} train / {num_test} test images; device {jax.devices()[0].device_kind} "
        f"x{jax.device_count()}; traced in {trace_seconds:.1f} s, compiled in {compile_seconds:.1f} s")
  stop_request = console.StopRequest()
  try:
    for epoch in range(start_epoch, config.num_epochs):
      print(f"EPOCH: {epoch}")
      epoch_start = time.perf_counter()
      progress.start()
      out = epoch_lib.empty_epoch_output(len(seeds), num_steps)
      for start, stop in progress.segments():
        if stop_request.signal is not None:
          progress.close()
          stop_request.restore()
          raise Interrupted(console.interrupted_line(stop_request.signal, epoch, manager))
        states, out = train_steps(states, out, train_images, train_labels, jnp.int32(epoch),
                                  jnp.int32(start), jnp.int32(stop))
        progress.update(out, stop)
      test_metrics = evaluate(states, test_images, test_labels)
      step_losses = np.asarray(out.step_losses)
      learning_rates = np.asarray(out.learning_rates)
      train_result = jax.device_get(epoch_lib.compute_per_replica(out.metrics))
      test_result = jax.device_get(epoch_lib.compute_per_replica(test_metrics))
      epoch_seconds = time.perf_counter() - epoch_start
      progress.close()

      last_good = ("not saved, no checkpoint yet" if manager.latest_step() is None else
                   f"not saved, last good checkpoint: epoch {manager.latest_step()} in {manager.directory}")
      if not np.all(np.isfinite(step_losses)):
        replica, step = np.argwhere(~np.isfinite(step_losses))[0]
        raise TrainingError(f"non-finite training loss at epoch {epoch} step {step} "
                            f"(seed {seeds[replica]}); {last_good}")
      if not np.all(np.isfinite(test_result["loss"])):
        replica = np.flatnonzero(~np.isfinite(test_result["loss"]))[0]
        # BatchNorm can keep the training loss finite while its running statistics overflow.
        raise TrainingError(f"non-finite test loss at epoch {epoch} (seed {seeds[replica]}); {last_good}")

      test_correct = np.rint(np.asarray(test_metrics.accuracy.total)).astype(int)
      record = {
          "epoch": epoch,
          "seeds": seeds,
          "train_loss": train_result["loss"],
          "train_accuracy": 100.0 * train_result["accuracy"],
          "test_loss": test_result["loss"],
          "test_accuracy": 100.0 * test_result["accuracy"],
          "test_correct": test_correct,
          "test_total": num_test,
          "learning_rate": learning_rates[:, 0],
          "epoch_seconds": epoch_seconds,
      }
      record = metrics_lib.to_builtin(record)
      history.append(record)
      for r, seed in enumerate(seeds):
        prefix = "" if len(seeds) == 1 else f"[seed {seed}] "
        print(prefix + console.test_line(record["test_loss"][r], int(test_correct[r]), num_test))

      if update_plateau is not None:
        plateau_state = update_plateau(plateau_state, jnp.asarray(test_result["loss"]))
        states = optim.set_learning_rate(states, jax.vmap(schedule.plateau.learning_rate)(plateau_state))

      checkpoint.save_checkpoint(manager, epoch + 1, states, plateau_state, history,
                                 float(np.mean(record["test_accuracy"])))
      metrics_writer.write(record)
      steps_writer.write({"epoch": epoch, "step_loss": step_losses, "learning_rate": learning_rates})
      if summary_writer is not None:
        first_step = epoch * num_steps
        for i in range(step_losses.shape[1]):
          summary_writer.write_scalars(first_step + i, {"train_step_loss": float(step_losses[:, i].mean())})
        summary_writer.write_scalars((epoch + 1) * num_steps, {
            k: float(np.mean(record[k])) for k in
            ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate")})
        summary_writer.flush()

  finally:
    stop_request.restore()  # also when training fails
  run_summary = run_files.write_summary(workdir, config, history, num_params, compile_seconds)
  if config.plots:
    run_files.make_plots(workdir, states, history, test_images, test_labels)
  if summary_writer is not None:
    summary_writer.close()
  manager.close()
  print(json.dumps(run_summary["test_accuracy"], indent=None))
  return history


def evaluate_checkpoint(workdir: str, step: int | None = None) -> dict[str, Any]:
  """Evaluates a saved checkpoint of `workdir` (default: the best) on the configured test set.

  Returns:
    {"epoch": checkpoint step (epochs finished), "seeds": [...], "test_loss": [per seed],
     "test_correct": [per seed], "test_total": int}.

  Raises:
    ValueError: `workdir` has no config.json, no checkpoint, or none at `step`.
  """
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise ValueError(f"no run in workdir {workdir!r}: config.json is missing")
  with open(config_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints)
  saved_steps = manager.all_steps()
  step = manager.best_step() if step is None else step
  if step is None:
    raise ValueError(f"no checkpoint in {manager.directory}")
  if step not in saved_steps:
    raise ValueError(f"no checkpoint {step} in {manager.directory}; "
                     f"saved: {', '.join(map(str, sorted(saved_steps)))}")
  _, (test_images, test_labels) = load_datasets(config)
  # Restored without a target: evaluation needs the variables, not the optimizer or schedule.
  arrays = checkpoint.restore_arrays(manager, step)
  manager.close()
  states = steps.InferenceState(steps.create_model(config).apply, arrays["params"],
                                arrays.get("batch_stats", {}))
  test_metrics = jax.jit(epoch_lib.make_evaluate(config, len(test_labels)))(states, test_images, test_labels)
  result = jax.device_get(epoch_lib.compute_per_replica(test_metrics))
  return {
      "epoch": step,
      "seeds": replica_seeds(config),
      "test_loss": result["loss"].tolist(),
      "test_correct": np.rint(np.asarray(test_metrics.accuracy.total)).astype(int).tolist(),
      "test_total": len(test_labels),
  }
