"""Metric collections (clu.metrics) and their writers: JSON lines in the workdir and
TensorBoard events (`clu.metric_writers`, imported lazily: it needs TensorFlow)."""

import json
import os
from typing import Any, Mapping, Sequence

from absl import logging
from clu import metrics as clu_metrics
import flax
import jax
import jax.numpy as jnp
import numpy as np


@flax.struct.dataclass
class Metrics(clu_metrics.Collection):
  """Loss and accuracy over a set of examples (a training epoch or the test set).

  Built with `Metrics.single_from_model_output(loss=..., logits=..., labels=...)` where
  `loss` is the per-example negative log-likelihood float32 [B] (torch's `F.nll_loss`
  before reduction), `logits` the log-probabilities float32 [B, 10] and `labels` int32 [B].
  `compute()` gives the example-weighted mean loss and the accuracy as a fraction.
  """

  loss: clu_metrics.Average.from_output("loss")
  accuracy: clu_metrics.Accuracy


class JsonLinesWriter:
  """Appends one JSON object per call to `path` (metrics.jsonl, steps.jsonl)."""

  def __init__(self, path: str):
    self.path = path

  def write(self, record: Mapping[str, Any]) -> None:
    with open(self.path, "a") as f:
      f.write(json.dumps(to_builtin(record)) + "\n")

  def rewrite(self, records: Sequence[Mapping[str, Any]]) -> None:
    """Replaces the file with `records` (used on resume, so it matches the checkpoint)."""
    tmp = self.path + ".tmp"
    with open(tmp, "w") as f:
      for record in records:
        f.write(json.dumps(to_builtin(record)) + "\n")
    os.replace(tmp, self.path)


def seed_statistics(test_accuracy: Any, last_epochs: int = 3) -> dict[str, list[float]]:
  """Each seed's best test accuracy and its mean over the last `last_epochs` epochs.

  test_accuracy: percent, [epochs, seeds] as nested lists or an array, oldest epoch first
    (``[record["test_accuracy"] for record in history]``); ``[]`` (no epoch) is allowed.
  last_epochs: final epochs to average; all of them when fewer have finished.

  Returns ``{"best": [...], "last<last_epochs>_mean": [...]}`` (the ``test_accuracy`` of
  summary.json), one float per seed, empty lists without epochs. Raises ValueError for
  `last_epochs` < 1 or `test_accuracy` not [epochs, seeds].
  """
  if last_epochs < 1:
    raise ValueError(f"last_epochs must be >= 1, got {last_epochs}")
  last_key = f"last{last_epochs}_mean"
  # No dtype forced: summary.json has always held numpy's reductions of the values as logged.
  accuracy = np.asarray(test_accuracy)
  if accuracy.size == 0:
    return {"best": [], last_key: []}
  if accuracy.ndim != 2:
    raise ValueError(f"test_accuracy must be [epochs, seeds], got shape {accuracy.shape}")
  return {"best": accuracy.max(axis=0).tolist(),
          last_key: accuracy[-last_epochs:].mean(axis=0).tolist()}


def create_tensorboard_writer(workdir: str):
  """`clu.metric_writers` default writer (TensorBoard events + logging) for `workdir`; None
  where TensorFlow is not installed."""
  # TensorFlow's C++ start-up messages would bury the references' console lines.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  try:
    from clu import metric_writers  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    logging.warning("clu.metric_writers unavailable (%s): no TensorBoard events, JSON lines only.",
                    e)
    return None
  return metric_writers.create_default_writer(workdir, just_logging=False, asynchronous=False)


def to_builtin(value: Any) -> Any:
  """Turns numpy/jax scalars and arrays into JSON-serialisable Python values."""
  if isinstance(value, Mapping):
    return {k: to_builtin(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [to_builtin(v) for v in value]
  if hasattr(value, "tolist"):
    return np.asarray(value).tolist()
  return value


def write_tensorboard_scalars(tensorboard, record: dict[str, Any], step_losses: np.ndarray,
                              first_step: int) -> None:
  """TensorBoard scalars of one epoch (means over replicas) unless `tensorboard` is None:
  `record` (metrics.jsonl's) and `step_losses` float32 [R, steps] from global step `first_step`."""
  if tensorboard is None:
    return
  for i in range(step_losses.shape[1]):
    tensorboard.write_scalars(first_step + i, {"train_step_loss": float(step_losses[:, i].mean())})
  keys = [key for key in ("train_loss", "train_accuracy", "validation_loss", "validation_accuracy",
                          "test_loss", "test_accuracy", "learning_rate") if key in record]
  tensorboard.write_scalars(first_step + step_losses.shape[1],
                            {key: float(np.mean(record[key])) for key in keys})
  tensorboard.flush()


def empty_metrics(num_replicas: int) -> Metrics:
  """Empty metrics with a leading replica axis [R]."""
  return jax.vmap(lambda _: Metrics.empty())(jnp.arange(num_replicas))


def compute_per_replica(collection: Metrics) -> dict[str, jax.Array]:
  """`collection.compute()` for metrics with a leading replica axis: {name: float32 [R]}."""
  return jax.vmap(lambda m: m.compute())(collection)
