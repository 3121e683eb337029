"""The main loop: `train_and_evaluate(config, workdir)` and `evaluate_checkpoint`.

The host sets up (config checks, data, replica states, resume), then per epoch calls the
compiled epoch program (`mnist_jax.training.epoch`), evaluates, reports the references' console lines,
writes metrics and saves an Orbax checkpoint (`mnist_jax.training.checkpoint`); plots and summary.json
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
import ml_collections
import numpy as np

from mnist_jax.training import checkpoint
from mnist_jax.training import console
from mnist_jax import data
from mnist_jax.training import epoch as epoch_lib
from mnist_jax.training import metrics as metrics_lib
from mnist_jax import models
from mnist_jax import optim
from mnist_jax.training import run_files
from mnist_jax.training import step as step_lib
from mnist_jax.models import table as model_table
from mnist_jax.training import sweep


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
  if not isinstance(config.get("validation_size", 0), int) or config.get("validation_size", 0) < 0:
    raise ValueError(f"config.validation_size must be an integer >= 0 (0 = no validation split), "
                     f"got {config.validation_size!r}")
  if config.dropout_rate is not None and not 0 <= config.dropout_rate < 1:
    raise ValueError(f"config.dropout_rate must be in [0, 1) or None (model default), got {config.dropout_rate!r}")
  try:
    models.uses_fast_path(config.get("fast_path", "auto"))
  except ValueError as e:
    raise ValueError(f"config.{e}") from None
  sweep.fields(config)  # one line for a field that cannot be swept


def prepare_workdir(workdir: str) -> None:
  """Creates `workdir` and checks it is writable; raises ValueError naming it otherwise."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f".write_test_{os.getpid()}")  # one per process
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise ValueError(f"workdir {workdir!r} is not writable: {e.strerror or e}") from None


# ---------------------------------------------------------------------------------------------
# The main loop
# ---------------------------------------------------------------------------------------------


def load_splits(config: ml_collections.ConfigDict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{"train", "validation" (only when config.validation_size > 0), "test"}: (uint8 images
  [N, 28, 28, 1], int32 labels [N]). The validation images are the last
  `config.validation_size` of the 60,000 training images, held out of training; then the
  subsets cut the remaining training images and the test set.

  Raises:
    ValueError: a validation split that leaves no training image.
  """
  data_dir = config.data_dir or None
  train = data.load("train", data_dir=data_dir, source=config.data_source)
  test = data.load("test", data_dir=data_dir, source=config.data_source)
  splits = {}
  held_out = config.get("validation_size", 0)
  if held_out:
    if held_out >= len(train[1]):
      raise ValueError(f"config.validation_size must be below the {len(train[1])} training "
                       f"images, got {held_out}")
    splits["validation"] = tuple(a[-held_out:] for a in train)
    train = tuple(a[:-held_out] for a in train)
  if config.train_subset:
    train = tuple(a[:config.train_subset] for a in train)
  if config.test_subset:
    test = tuple(a[:config.test_subset] for a in test)
  return {"train": train, **splits, "test": test}


def load_datasets(config: ml_collections.ConfigDict):
  """(train, test) of `load_splits`: each (uint8 images, int32 labels)."""
  splits = load_splits(config)
  return splits["train"], splits["test"]


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
  # Several processes (jax.distributed) train one run; process 0 writes what is not a checkpoint.
  primary = jax.process_index() == 0
  if primary:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  splits = load_splits(config)
  (train_images, train_labels), (test_images, test_labels) = splits["train"], splits["test"]
  num_train = len(train_labels)
  num_steps = epoch_lib.steps_per_epoch(num_train, config.batch_size)
  sweep.check(config, lambda cell: (validate_config(cell), optim.create(cell, num_steps, cell.num_epochs)))
  schedule = optim.create(config, steps_per_epoch=num_steps, num_epochs=config.num_epochs)

  seeds = sweep.replica_seeds(config)
  labels = [sweep.replica_label(config, r) for r in range(len(seeds))]
  states, plateau_state = sweep.create_replica_states(config, num_steps)
  num_params = model_table.count_params({"params": jax.tree.map(lambda x: x[0], states.params)})

  mesh = epoch_lib.create_mesh(len(seeds))
  replicated = NamedSharding(mesh, PartitionSpec())
  by_replica = NamedSharding(mesh, PartitionSpec("replica"))
  # Evaluated each epoch, in this order: the validation split (if any), then the test set.
  eval_sets = {name: epoch_lib.place(splits[name], replicated) for name in ("validation", "test")
               if name in splits}
  train_images, train_labels = epoch_lib.place((train_images, train_labels), replicated)
  # Placed before a restore, so that Orbax restores into the same shardings: a resumed run
  # compiles the same programs as a fresh one and finds them in the persistent cache.
  states, plateau_state = epoch_lib.place((states, plateau_state), by_replica)

  history: list[dict[str, Any]] = []
  start_epoch = 0
  restored = checkpoint.restore_latest(manager, states, plateau_state)
  if restored is not None:
    start_epoch, states, plateau_state, history = restored
    logging.info("Resumed from %s at epoch %d.", manager.directory, start_epoch)
    print(f"Resuming from the checkpoint after epoch {start_epoch}.")
  metrics_writer = steps_writer = summary_writer = None
  if primary:
    metrics_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "metrics.jsonl"))
    steps_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "steps.jsonl"))
    metrics_writer.rewrite(history)
    steps_writer.rewrite([r for r in metrics_lib.read_json_lines(steps_writer.path) if r["epoch"] < start_epoch])
    summary_writer = metrics_lib.create_summary_writer(workdir)
  if summary_writer is not None and start_epoch == 0:
    summary_writer.write_hparams({k: v for k, v in config.items() if not isinstance(v, ml_collections.ConfigDict)})

  # The bar reads the partial epoch, which several processes hold in parts.
  progress = console.Progress(num_steps, enabled=config.progress_bar and jax.process_count() == 1)
  empty_output = lambda: epoch_lib.place(epoch_lib.empty_epoch_output(len(seeds), num_steps), by_replica)
  train_steps = jax.jit(epoch_lib.make_train_steps(config, num_train, mesh), donate_argnums=(0, 1))
  # Tracing and lowering (Python) apart from compiling (XLA, or a load from JAX's persistent
  # compilation cache, which the scripts turn on).
  trace_start = time.perf_counter()
  lowered = [train_steps.lower(states, empty_output(), train_images, train_labels, np.int32(0),
                               np.int32(0), np.int32(0))]
  lowered += [jax.jit(epoch_lib.make_evaluate(config, len(labels_), mesh)).lower(states, images, labels_)
              for images, labels_ in eval_sets.values()]
  compile_start = time.perf_counter()
  train_steps, *evaluators = (program.compile() for program in lowered)
  compile_seconds = time.perf_counter() - compile_start
  trace_seconds = compile_start - trace_start
  if schedule.plateau is not None:
    update_plateau = jax.jit(jax.vmap(
        lambda state, recipe, loss: sweep.plateau_for(config, num_steps, recipe).update(state, loss)))

  num_cells = len(sweep.cells(config))
  grid = f" x {num_cells} sweep cells = {len(seeds)} replicas" if config.get("sweep") else ""
  say = print if primary else lambda *args: None
  say(f"Model {config.model}: {num_params:,} parameters; {config.num_seeds} seed(s) "
        f"{seeds[:config.num_seeds]}{grid}; "
        f"{num_train} train / {' / '.join(f'{len(l)} {n}' for n, (_, l) in eval_sets.items())} images; "
        f"device {jax.devices()[0].device_kind} x{jax.device_count()}; "
        f"traced in {trace_seconds:.1f} s, compiled in {compile_seconds:.1f} s")
  stop_request = console.StopRequest()
  try:
    for epoch in range(start_epoch, config.num_epochs):
      say(f"EPOCH: {epoch}")
      epoch_start = time.perf_counter()
      progress.start()
      out = empty_output()
      for start, stop in progress.segments():
        if stop_request.signal is not None:
          progress.close()
          stop_request.restore()
          raise Interrupted(console.interrupted_line(stop_request.signal, epoch, manager))
        states, out = train_steps(states, out, train_images, train_labels, np.int32(epoch),
                                  np.int32(start), np.int32(stop))
        progress.update(out, stop)
      evaluations = {name: evaluate(states, *eval_sets[name])
                     for name, evaluate in zip(eval_sets, evaluators)}
      step_losses, learning_rates = epoch_lib.to_host((out.step_losses, out.learning_rates))
      record = run_files.epoch_record(config, epoch, out, evaluations, learning_rates)
      record["epoch_seconds"] = time.perf_counter() - epoch_start
      progress.close()
      _check_finite(epoch, step_losses, record, labels, manager)
      history.append(record)
      for name in evaluations:
        for r, label in enumerate(labels):
          prefix = "" if len(labels) == 1 else f"[{label}] "
          say(prefix + console.eval_line(name, record[f"{name}_loss"][r],
                                           record[f"{name}_correct"][r], record[f"{name}_total"]))

      if schedule.plateau is not None:
        # Stepped on the test loss, as the references do; on the validation loss where there is one.
        loss = record["validation_loss" if "validation" in evaluations else "test_loss"]
        plateau_state = update_plateau(plateau_state, states.recipe, np.asarray(loss, np.float32))
        states = optim.set_learning_rate(states, plateau_state.learning_rate)

      checkpoint.save_checkpoint(manager, epoch + 1, states, plateau_state, history, {
          f"{name}_accuracy": np.mean(record[f"{name}_accuracy"]) for name in evaluations})
      if primary:
        metrics_writer.write(record)
        steps_writer.write({"epoch": epoch, "step_loss": step_losses, "learning_rate": learning_rates})
        metrics_lib.write_epoch_summaries(summary_writer, record, step_losses, epoch * num_steps)

  finally:
    stop_request.restore()  # also when training fails
  host_states = epoch_lib.to_host(states) if config.plots else None  # every process takes part
  manager.close()
  if not primary:
    return history
  run_summary = run_files.write_summary(workdir, config, history, num_params, compile_seconds)
  if config.plots:
    run_files.make_plots(workdir, host_states, history, test_images, test_labels)
  if summary_writer is not None:
    summary_writer.close()
  print(json.dumps(run_summary["test_accuracy"], indent=None))
  return history


def _check_finite(epoch: int, step_losses: np.ndarray, record: dict[str, Any], labels: list[str],
                  manager) -> None:
  """Raises TrainingError naming the replica for a non-finite training or evaluation loss."""
  last_good = ("not saved, no checkpoint yet" if manager.latest_step() is None else
               f"not saved, last good checkpoint: epoch {manager.latest_step()} in {manager.directory}")
  if not np.all(np.isfinite(step_losses)):
    replica, step = np.argwhere(~np.isfinite(step_losses))[0]
    raise TrainingError(f"non-finite training loss at epoch {epoch} step {step} "
                        f"({labels[replica]}); {last_good}")
  for name in ("validation", "test"):
    losses = np.asarray(record.get(f"{name}_loss", []), np.float64)
    if not np.all(np.isfinite(losses)):
      replica = np.flatnonzero(~np.isfinite(losses))[0]
      # BatchNorm can keep the training loss finite while its running statistics overflow.
      raise TrainingError(f"non-finite {name} loss at epoch {epoch} ({labels[replica]}); {last_good}")


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
  states = step_lib.InferenceState(step_lib.create_model(config).apply, arrays["params"],
                                arrays.get("batch_stats", {}))
  test_metrics = jax.jit(epoch_lib.make_evaluate(config, len(test_labels)))(states, test_images, test_labels)
  result = jax.device_get(epoch_lib.compute_per_replica(test_metrics))
  return {
      "epoch": step,
      "seeds": sweep.replica_seeds(config),
      "test_loss": result["loss"].tolist(),
      "test_correct": np.rint(np.asarray(test_metrics.accuracy.total)).astype(int).tolist(),
      "test_total": len(test_labels),
  }
