"""What a run tells and leaves behind besides checkpoints (`RunLog`): the references' console
lines, metrics.jsonl, steps.jsonl and TensorBoard per epoch, and at the end summary.json, the
plots and the final lines. Process 0 writes and prints; the others only take part in the
collectives (`replicas.to_host`)."""

import os
from typing import Any

import ml_collections
import numpy as np

from mnist_jax.training import console
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import run_files
from mnist_jax.training import workdir as workdir_lib


class RunLog:
  """The run's console lines and files in `workdir`.

  Attributes:
    workdir: the run's folder.
    config: the run's config.
    labels: one per replica, e.g. "schedule.max_lr=0.05 seed 1" (`sweep.replica_label`).
    primary: whether this process writes (process 0 of a run across processes).
  """

  def __init__(self, workdir: str, config: ml_collections.ConfigDict, labels: list[str],
               primary: bool):
    """Writes config.json (the run's identity, `checkpoint.check_same_run`) on process 0."""
    self.workdir = workdir
    self.config = config
    self.labels = labels
    self.primary = primary
    self.metrics_file = metrics_lib.JsonLinesWriter(os.path.join(workdir, "metrics.jsonl"))
    self.steps_file = metrics_lib.JsonLinesWriter(os.path.join(workdir, "steps.jsonl"))
    self.tensorboard = None
    if primary:
      with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json_best_effort(indent=2))

  def say(self, line: str) -> None:
    """Prints `line` on process 0."""
    if self.primary:
      print(line)

  def start(self, history: list[dict[str, Any]], start_epoch: int) -> None:
    """Opens the files for epochs from `start_epoch` on: metrics.jsonl and steps.jsonl
    rewritten to hold the restored `history` and its epochs' steps (a run stopped after
    writing an epoch's lines but before its checkpoint retrains that epoch), TensorBoard
    opened (its hyperparameters written at a fresh start).

    Raises:
      workdir.WorkdirError: steps.jsonl cannot be read (a torn last line is dropped).
    """
    if not self.primary:
      return
    self.metrics_file.rewrite(history)
    steps = workdir_lib.read_json_lines(
        self.steps_file.path, "delete it to resume (the plots' per-step losses then start at "
        "the resumed epoch)", drop_torn_tail=True)
    self.steps_file.rewrite([record for record in steps if record["epoch"] < start_epoch])
    self.tensorboard = metrics_lib.create_tensorboard_writer(self.workdir)
    if self.tensorboard is not None and start_epoch == 0:
      self.tensorboard.write_hparams({key: value for key, value in self.config.items()
                                      if not isinstance(value, ml_collections.ConfigDict)})

  def evaluation_lines(self, record: dict[str, Any], splits: list[str]) -> None:
    """The references' lines of the epoch's evaluations, per replica ("[label] " prefixed
    where there are several), in the order of `splits`."""
    for name in splits:
      for r, label in enumerate(self.labels):
        prefix = "" if len(self.labels) == 1 else f"[{label}] "
        self.say(prefix + console.eval_line(name, record[f"{name}_loss"][r],
                                            record[f"{name}_correct"][r],
                                            record[f"{name}_total"]))

  def write_epoch(self, record: dict[str, Any], step_losses: np.ndarray,
                  learning_rates: np.ndarray, first_step: int) -> None:
    """Appends the epoch: `record` to metrics.jsonl, its per-step losses and learning rates
    (float32 [R, steps]) to steps.jsonl, both to TensorBoard from global step `first_step`."""
    if not self.primary:
      return
    self.metrics_file.write(record)
    self.steps_file.write({"epoch": record["epoch"], "step_loss": step_losses,
                           "learning_rate": learning_rates})
    metrics_lib.write_tensorboard_scalars(self.tensorboard, record, step_losses, first_step)

  def finish(self, history: list[dict[str, Any]], host_states: Any, test_set: tuple,
             num_params: int, compile_seconds: float) -> None:
    """Writes summary.json and, when `config.plots`, the plots from `host_states` (numpy,
    [R, ...]) and the uint8 test images and int32 labels `test_set`; closes TensorBoard and
    prints the final lines (best test accuracy per replica, the workdir's files)."""
    if not self.primary:
      return
    summary = run_files.write_summary(self.workdir, self.config, history, num_params,
                                      compile_seconds)
    if self.config.plots:
      run_files.make_plots(self.workdir, host_states, history, *test_set, self.config.name)
    if self.tensorboard is not None:
      self.tensorboard.close()
    print("\n".join(console.final_lines(history, self.labels, self.workdir,
                                         summary["train_seconds"], compile_seconds)))
