"""The main loop, `train_and_evaluate(config, workdir)`: per epoch the compiled epoch program,
evaluation, the references' console lines, metrics and an Orbax checkpoint."""

import contextlib
import os
import time
from typing import Any

from absl import logging
import jax
from jax.sharding import NamedSharding, PartitionSpec
import ml_collections
import numpy as np

from mnist_jax.data import splits as splits_lib
from mnist_jax.models import table as model_table
from mnist_jax.optim import recipe as recipe_lib
from mnist_jax.optim import sweep
from mnist_jax.training import checkpoint
from mnist_jax.training import config_checks
from mnist_jax.training import console
from mnist_jax.training import epoch as epoch_lib
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import run_files
from mnist_jax.training import step as step_lib
from mnist_jax.training import workdir as workdir_lib


class TrainingError(RuntimeError):
  """A run that cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""


class Interrupted(TrainingError):
  """SIGINT or SIGTERM stopped the run between two segments of an epoch; the message names the
  last checkpoint, from which the same command resumes."""


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
  """Trains `config.model` with its recipe, evaluating and checkpointing every epoch.

  Re-running with the same `workdir` resumes from the latest checkpoint. Writes to `workdir`:
  config.json, metrics.jsonl (one line per epoch, every value a list over replicas),
  steps.jsonl (per-step losses and learning rates), TensorBoard events, checkpoints/,
  summary.json and, when `config.plots`, curves.png, learning_rate.png, misclassified.png.
  Returns the per-epoch history (the records of metrics.jsonl).

  Raises:
    ValueError: an impossible config value, an unknown model, an unwritable workdir, or a
      workdir holding another run (`checkpoint.config_differences`; nothing is written).
    workdir.WorkdirError (a ValueError): another live run holds the workdir (`WorkdirLock`),
      one of its files cannot be read, or a write was refused (a full disk: the partial
      checkpoint is removed and the previous one kept).
    checkpoint.CheckpointError: the workdir's checkpoints exist but none restores.
    data.DataError: missing or corrupt data files.
    TrainingError: a non-finite training loss (the last good checkpoint is kept).
    Interrupted: SIGINT or SIGTERM (the last checkpoint is kept; rerun to resume).
  """
  config_checks.validate_config(config)
  checkpoint.prepare_workdir(workdir)
  # Several processes (jax.distributed) train one run; process 0 writes what is not a checkpoint.
  primary = jax.process_index() == 0
  with workdir_lib.WorkdirLock(workdir) if primary else contextlib.nullcontext():
    try:
      return _train(config, workdir, primary)
    except OSError as e:  # a write the file system refused: a full disk, lost permissions
      line = workdir_lib.io_error_line(e, workdir)
      if line is None:
        raise
      raise workdir_lib.WorkdirError(line) from None


def _train(config: ml_collections.ConfigDict, workdir: str, primary: bool) -> list[dict[str, Any]]:
  """`train_and_evaluate` in a prepared, locked workdir."""
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints,
                                                writer=True)
  checkpoint.check_same_run(workdir, config, has_checkpoints=bool(manager.all_steps()))
  if primary:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))

  splits = splits_lib.load_splits(config)
  (train_images, train_labels), (test_images, test_labels) = splits["train"], splits["test"]
  num_train = len(train_labels)
  num_steps = epoch_lib.steps_per_epoch(num_train, config.batch_size)
  recipe = recipe_lib.Recipe(config, num_steps)

  seeds = sweep.replica_seeds(config)
  labels = [sweep.replica_label(config, r) for r in range(len(seeds))]
  states = step_lib.create_replica_states(config, recipe)
  epoch_state = recipe.init_epoch_state()  # the schedule's per-epoch hook, if it has one
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
  states, epoch_state = epoch_lib.place((states, epoch_state), by_replica)

  history: list[dict[str, Any]] = []
  start_epoch = 0
  restored = checkpoint.restore_latest(manager, states, epoch_state)
  if restored is not None:
    start_epoch, states, epoch_state, history = restored
    logging.info("Resumed from %s at epoch %d.", manager.directory, start_epoch)
    print(f"Resuming from the checkpoint after epoch {start_epoch}.")
  metrics_writer = steps_writer = tensorboard = None
  if primary:
    metrics_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "metrics.jsonl"))
    steps_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "steps.jsonl"))
    metrics_writer.rewrite(history)
    steps = workdir_lib.read_json_lines(
        steps_writer.path, "delete it to resume (the plots' per-step losses then start at the "
        "resumed epoch)", drop_torn_tail=True)
    steps_writer.rewrite([r for r in steps if r["epoch"] < start_epoch])
    tensorboard = metrics_lib.create_tensorboard_writer(workdir)
  if tensorboard is not None and start_epoch == 0:
    tensorboard.write_hparams({k: v for k, v in config.items()
                               if not isinstance(v, ml_collections.ConfigDict)})

  # The bar reads the partial epoch, which several processes hold in parts.
  progress = console.Progress(num_steps, enabled=config.progress_bar and jax.process_count() == 1)
  empty_output = lambda: epoch_lib.place(epoch_lib.empty_epoch_output(len(seeds), num_steps),
                                         by_replica)
  train_steps = jax.jit(epoch_lib.make_train_segment(config, num_train, mesh),
                        donate_argnums=(0, 1))
  # Tracing and lowering (Python) timed apart from compiling (XLA, or the persistent cache).
  trace_start = time.perf_counter()
  lowered = [train_steps.lower(states, empty_output(), train_images, train_labels, np.int32(0),
                               np.int32(0), np.int32(0))]
  lowered += [jax.jit(epoch_lib.make_evaluate(config, len(labels_), mesh))
              .lower(states, images, labels_) for images, labels_ in eval_sets.values()]
  compile_start = time.perf_counter()
  train_steps, *evaluators = (program.compile() for program in lowered)
  compile_seconds = time.perf_counter() - compile_start
  trace_seconds = compile_start - trace_start

  num_cells = len(sweep.cells(config))
  grid = f" x {num_cells} sweep cells = {len(seeds)} replicas" if config.get("sweep") else ""
  say = print if primary else lambda *args: None
  eval_sizes = " / ".join(f"{len(l)} {n}" for n, (_, l) in eval_sets.items())
  say(f"Model {config.model}: {num_params:,} parameters; {config.num_seeds} seed(s) "
      f"{seeds[:config.num_seeds]}{grid}; {num_train} train / {eval_sizes} images; "
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
      # On the test loss, as the references step it; on the validation loss where there is one.
      monitored = "validation_loss" if "validation" in evaluations else "test_loss"
      states, epoch_state = recipe.end_epoch(states, epoch_state, record[monitored])
      # The epoch's lines before its checkpoint: a run stopped between the two retrains the
      # epoch and rewrites them from the previous checkpoint's history.
      if primary:
        metrics_writer.write(record)
        steps_writer.write({"epoch": epoch, "step_loss": step_losses,
                            "learning_rate": learning_rates})
        metrics_lib.write_tensorboard_scalars(tensorboard, record, step_losses, epoch * num_steps)
      checkpoint.save_checkpoint(manager, epoch + 1, states, epoch_state, history, {
          f"{name}_accuracy": np.mean(record[f"{name}_accuracy"]) for name in evaluations})
  finally:
    stop_request.restore()  # also when training fails
  host_states = epoch_lib.to_host(states) if config.plots else None  # every process takes part
  manager.close()
  if not primary:
    return history
  run_summary = run_files.write_summary(workdir, config, history, num_params, compile_seconds)
  if config.plots:
    run_files.make_plots(workdir, host_states, history, test_images, test_labels,
                         config.name)
  if tensorboard is not None:
    tensorboard.close()
  print("\n".join(console.final_lines(history, labels, workdir, run_summary["train_seconds"],
                                       compile_seconds)))
  return history


def _check_finite(epoch: int, step_losses: np.ndarray, record: dict[str, Any], labels: list[str],
                  manager) -> None:
  """Raises TrainingError naming the replica for a non-finite training or evaluation loss."""
  last = manager.latest_step()
  last_good = ("not saved, no checkpoint yet" if last is None else
               f"not saved, last good checkpoint: epoch {last} in {manager.directory}")
  if not np.all(np.isfinite(step_losses)):
    replica, step = np.argwhere(~np.isfinite(step_losses))[0]
    raise TrainingError(f"non-finite training loss at epoch {epoch} step {step} "
                        f"({labels[replica]}); {last_good}")
  for name in ("validation", "test"):
    losses = np.asarray(record.get(f"{name}_loss", []), np.float64)
    if not np.all(np.isfinite(losses)):
      replica = np.flatnonzero(~np.isfinite(losses))[0]
      # BatchNorm can keep the training loss finite while its running statistics overflow.
      raise TrainingError(f"non-finite {name} loss at epoch {epoch} ({labels[replica]}); "
                          f"{last_good}")
