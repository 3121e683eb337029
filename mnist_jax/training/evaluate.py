"""Evaluation: the program that scores every replica on a whole set in one call
(`make_evaluate`), which training runs after each epoch, and the evaluation of saved networks (a
workdir's checkpoint, or variables from elsewhere) by that same program on the test set."""

import functools
import math
import os
from typing import Any, Callable

import jax
from jax.sharding import Mesh
import jax.numpy as jnp
import ml_collections
import numpy as np

from mnist_jax.data import splits
from mnist_jax.optim import sweep
from mnist_jax.training import checkpoint
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import replicas as replicas_lib
from mnist_jax.training import step as step_lib
from mnist_jax.training import workdir as workdir_lib


def _evaluate(chunk: int, num_chunks: int, num_examples: int, states: step_lib.TrainState,
              images: jax.Array, labels: jax.Array) -> metrics_lib.Metrics:
  """`evaluate` on one device's share of the replicas."""
  pad = num_chunks * chunk - num_examples
  images = jnp.pad(images, ((0, pad), (0, 0), (0, 0), (0, 0)))
  labels = jnp.pad(labels, (0, pad))
  mask = jnp.arange(num_chunks * chunk) < num_examples
  batches = jax.tree.map(lambda x: x.reshape((num_chunks, chunk) + x.shape[1:]),
                         (images, labels, mask))
  num_replicas = jax.tree.leaves(states)[0].shape[0]
  step_fn = replicas_lib.over_replicas(eval_batch, num_replicas, in_axes=(0, None))

  def add_batch(total, batch):
    return total.merge(step_fn(states, batch)), None

  total, _ = jax.lax.scan(add_batch, metrics_lib.empty_metrics(num_replicas), batches)
  return total


def eval_batch(state: step_lib.TrainState, batch: tuple) -> metrics_lib.Metrics:
  """`step.eval_step` of one replica on a batch (images, labels, mask)."""
  return step_lib.eval_step(state, *batch)


def make_evaluate(config: ml_collections.ConfigDict, num_examples: int,
                  mesh: Mesh | None = None) -> Callable:
  """Builds `evaluate(states, images, labels) -> Metrics [R]` over a whole set of
  `num_examples` uint8 images [N, 28, 28, 1] and int32 labels [N] in one call (jit it).

  The set is cut into chunks of `config.eval_batch_size` under `lax.scan` (bounded memory);
  the last chunk is padded and its padding masked out of the metrics.
  """
  chunk = min(config.eval_batch_size, num_examples)
  evaluate = functools.partial(_evaluate, chunk, math.ceil(num_examples / chunk), num_examples)
  return replicas_lib.split_replicas(evaluate, mesh, split=1, shared=2)


def read_run_config(workdir: str) -> ml_collections.ConfigDict:
  """The config.json of the run in `workdir`; a one-line ValueError when it is missing or
  cannot be read (`workdir.read_json`)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise ValueError(f"no run in workdir {workdir!r}: config.json is missing")
  return ml_collections.ConfigDict(workdir_lib.read_json(
      path, "it describes the run's network: restore it from a copy, or evaluate another "
            "--workdir"))


def checkpoint_step(manager, step: int | None) -> int:
  """`step`, or the best step when None; ValueError naming the saved steps if there is none."""
  saved = sorted(manager.all_steps())
  chosen = manager.best_step() if step is None else step
  if chosen in saved:
    return chosen
  what = "no checkpoint" if chosen is None else f"no checkpoint {chosen}"
  listed = f"; saved: {', '.join(map(str, saved))}" if saved else ""
  raise ValueError(f"{what} in {manager.directory}{listed}")


def saved_variables(arrays: dict[str, Any]) -> dict[str, Any]:
  """The variables a saved training state is scored and exported with: its EMA (params and
  BatchNorm statistics, `step.EmaTrainState`) where it has one, else its params and
  batch_stats. `arrays`: `checkpoint.restore_arrays`' dict; returns {"params", "batch_stats"}."""
  variables = arrays.get("ema") or arrays
  return {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}


def evaluate_variables(config: ml_collections.ConfigDict, params: Any,
                       batch_stats: Any) -> dict[str, Any]:
  """Scores replicas of `config.model` on the configured test set (`splits.load_splits`).

  params, batch_stats: float32 pytrees with a leading replica axis [R, ...]. Returns
  {"test_loss": [R] mean NLL, "test_correct": [R] ints, "test_total": int}; raises
  data.DataError for missing or corrupt MNIST files.
  """
  test_images, test_labels = splits.load_splits(config)["test"]
  state = step_lib.InferenceState(step_lib.create_model(config).apply, params, batch_stats)
  evaluate = jax.jit(make_evaluate(config, len(test_labels)))
  totals = evaluate(state, test_images, test_labels)
  result = jax.device_get(metrics_lib.compute_per_replica(totals))
  return {"test_loss": result["loss"].tolist(),
          "test_correct": np.rint(np.asarray(totals.accuracy.total)).astype(int).tolist(),
          "test_total": len(test_labels)}


def evaluate_checkpoint(workdir: str, step: int | None = None) -> dict[str, Any]:
  """Evaluates a saved checkpoint of `workdir` (default: the best) on the configured test set:
  its EMA weights where the run kept them (`saved_variables`), else its raw weights.

  Returns:
    {"epoch": checkpoint step (epochs finished), "seeds": [...], "test_loss": [per seed],
     "test_correct": [per seed], "test_total": int}.

  Raises:
    ValueError: `workdir` has no (readable) config.json, no checkpoint, or none at `step`.
  """
  config = read_run_config(workdir)
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints)
  try:
    step = checkpoint_step(manager, step)
    arrays = checkpoint.restore_arrays(manager, step)
  finally:
    manager.close()
  variables = saved_variables(arrays)
  return {"epoch": step, "seeds": sweep.replica_seeds(config),
          **evaluate_variables(config, variables["params"], variables["batch_stats"])}
