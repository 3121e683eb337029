"""The files a run leaves in its workdir besides metrics and checkpoints: summary.json and the
plots (matplotlib is imported only when plotting)."""

import json
import os
from typing import Any

import jax
import ml_collections
import numpy as np

from mnist_jax.published import logs as published_logs
from mnist_jax.training import epoch as epoch_lib
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import replicas as replicas_lib
from mnist_jax.training import step as step_lib
from mnist_jax.training import workdir as workdir_lib
from mnist_jax.optim import sweep


def write_summary(workdir: str, config: ml_collections.ConfigDict, history: list[dict[str, Any]],
                  num_params: int, compile_seconds: float) -> dict[str, Any]:
  """Writes workdir/summary.json: per-seed best and last-3 test accuracy, times, device."""
  summary = {
      "model": config.model,
      "num_params": num_params,
      "seeds": (history[-1]["seeds"] if history
                else [config.seed + r for r in range(config.num_seeds)]),
      "num_epochs": len(history),
      "device": f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind} x{jax.device_count()}",
      "compile_seconds": compile_seconds,
      "train_seconds": float(sum(r["epoch_seconds"] for r in history)),
      "test_accuracy": metrics_lib.seed_statistics([r["test_accuracy"] for r in history]),
  }
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  return summary


def published_curves(name: str) -> dict[str, list[float]] | None:
  """The per-epoch log the write-up prints for published step `name` (e.g. "ref4_step3"), as
  `plots.plot_curves`' `published` (accuracies in percent, epochs from 0), or None where it
  prints none (`mnist_jax.published.logs`)."""
  log = published_logs.LOGS.get(name)
  if not log:
    return None
  curves = {key: [getattr(epoch, key) for epoch in log]
            for key in ("train_accuracy", "test_loss", "test_accuracy")}
  return {key: values for key, values in curves.items() if None not in values}


def make_plots(workdir: str, states: step_lib.TrainState, history: list[dict[str, Any]],
               test_images: jax.Array, test_labels: jax.Array, name: str = "") -> None:
  """Writes curves.png (every replica, beside the write-up's log where recipe `name` is a
  published step that prints one), learning_rate.png (per step) and misclassified.png
  (the first replica's wrong test predictions) to `workdir`, from `states` (trained, [R, ...]),
  `history` (metrics.jsonl's records), steps.jsonl, uint8 test_images [N, 28, 28, 1] and
  int32 test_labels [N].
  """
  from mnist_jax.training import plots  # pylint: disable=g-import-not-at-top  (matplotlib)

  step_records = workdir_lib.read_json_lines(os.path.join(workdir, "steps.jsonl"))
  step_losses = np.concatenate([np.asarray(r["step_loss"]) for r in step_records], axis=1)
  learning_rates = np.concatenate([np.asarray(r["learning_rate"]) for r in step_records], axis=1)
  plots.plot_curves(history, os.path.join(workdir, "curves.png"), step_losses=step_losses,
                    published=published_curves(name),
                    published_label=f"published ({name.split('_')[0]}.md)")
  plots.plot_learning_rate(learning_rates[0], os.path.join(workdir, "learning_rate.png"))
  first = jax.tree.map(lambda x: x[0], states)
  predictions = np.asarray(jax.jit(step_lib.predict_log_probs)(first, test_images).argmax(-1))
  labels = np.asarray(test_labels)
  wrong = np.flatnonzero(predictions != labels)
  plots.plot_misclassified(np.asarray(test_images)[wrong], labels[wrong], predictions[wrong],
                           os.path.join(workdir, "misclassified.png"))


def epoch_record(config: ml_collections.ConfigDict, epoch: int, out: epoch_lib.EpochOutput,
                 evaluations: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
  """One line of metrics.jsonl, every per-replica value a list over replicas.

  Args:
    config: the run's config (its seeds and sweep grid name the replicas).
    epoch: 0-based.
    out: the epoch's `EpochOutput` [R].
    evaluations: {"validation"?, "test"} -> Metrics [R].

  Returns:
    (the record, without "epoch_seconds"; the host step losses and learning rates, float32
    [R, steps]). Every process must call it (`replicas.to_host`).
  """
  step_losses, learning_rates = replicas_lib.to_host((out.step_losses, out.learning_rates))
  train_result = replicas_lib.to_host(metrics_lib.compute_per_replica(out.metrics))
  record = {"epoch": epoch, "seeds": sweep.replica_seeds(config),
            "sweep": {path: [cell[path] for _, cell in sweep.replicas(config)]
                      for path, _ in sweep.fields(config)},
            "train_loss": train_result["loss"], "train_accuracy": 100.0 * train_result["accuracy"]}
  for name, metrics in evaluations.items():
    result = replicas_lib.to_host(metrics_lib.compute_per_replica(metrics))
    record[f"{name}_loss"] = result["loss"]
    record[f"{name}_accuracy"] = 100.0 * result["accuracy"]
    total, count = replicas_lib.to_host((metrics.accuracy.total, metrics.accuracy.count))
    record[f"{name}_correct"] = np.rint(total).astype(int)
    record[f"{name}_total"] = int(count[0])
  # The rate of the epoch's first update: torch's lr during the epoch's first step.
  record["learning_rate"] = learning_rates[:, 0]
  return metrics_lib.to_builtin(record), step_losses, learning_rates
