"""The main loop, `train_and_evaluate(config, workdir)`: per epoch the compiled epoch program,
evaluation, the references' console lines, metrics and an Orbax checkpoint."""

import contextlib
from typing import Any

from absl import logging
import jax
import ml_collections

from mnist_jax.data import splits as splits_lib
from mnist_jax.training import checkpoint
from mnist_jax.training import config_checks
from mnist_jax.training import console
from mnist_jax.training import run_log as run_log_lib
from mnist_jax.training import trainer as trainer_lib
from mnist_jax.training import workdir as workdir_lib
from mnist_jax.training.errors import Interrupted, TrainingError

__all__ = ["Interrupted", "TrainingError", "train_and_evaluate"]


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
    TrainingError: a non-finite loss in a single run, or in every replica of a sweep (the
      last good checkpoint is kept); a sweep's diverged replicas are frozen and reported.
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
  """`train_and_evaluate` in a prepared, locked workdir: set-up, the loop over epochs, the end."""
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints, writer=True)
  checkpoint.check_same_run(workdir, config, has_checkpoints=bool(manager.all_steps()))
  splits = splits_lib.load_splits(config)
  trainer = trainer_lib.Trainer(config, splits)
  log = run_log_lib.RunLog(workdir, config, trainer.labels, primary)
  history: list[dict[str, Any]] = []
  start_epoch = trainer.restore(manager, history)
  if start_epoch:
    logging.info("Resumed from %s at epoch %d.", manager.directory, start_epoch)
    print(f"Resuming from the checkpoint after epoch {start_epoch}.")
  log.start(history, start_epoch)
  trace_seconds, compile_seconds = trainer.compile()
  log.say(console.banner_line(config, trainer, splits, trace_seconds, compile_seconds))
  # The bar reads the partial epoch, which several processes hold in parts.
  progress = console.Progress(trainer.program.num_steps,
                              enabled=config.progress_bar and jax.process_count() == 1)
  with console.StopRequest() as stop_request:
    for epoch in range(start_epoch, config.num_epochs):
      log.say(f"EPOCH: {epoch}")
      out = trainer.train_epoch(epoch, progress, stop_request, manager)
      record, step_losses, learning_rates = trainer.evaluate(epoch, out)
      lines = trainer.check_divergence(epoch, step_losses, record, manager)
      history.append(record)
      log.evaluation_lines(record, list(trainer.eval_sets))
      for line in lines:
        log.say(line)
      trainer.end_epoch(record)
      # The epoch's lines before its checkpoint: a run stopped between the two retrains the
      # epoch and rewrites them from the previous checkpoint's history.
      log.write_epoch(record, step_losses, learning_rates, epoch * trainer.program.num_steps)
      trainer.save(manager, epoch, history, record)
  host_states = trainer.host_states() if config.plots else None  # every process takes part
  manager.close()
  log.finish(history, host_states, splits["test"], trainer.num_params, compile_seconds)
  return history
