"""PyTorch checkpoints of our networks (`mnist_jax.torch.mirror.build(name)`; torch imported
inside the functions): a trained replica out as a state_dict, a torch state_dict scored by our
evaluation. Example::

  state_dict, info = torch_checkpoint.export_replica("workdirs/final", seed=1)
  torch.save(state_dict, "model.pt")
  result = torch_checkpoint.evaluate("model.pt", base.get_config(model="ref3_step4"))
"""

from __future__ import annotations

import os
from typing import Any

import jax
import ml_collections
import numpy as np

from mnist_jax import models
from mnist_jax.optim import sweep
from mnist_jax.torch import mirror as torch_mirror
from mnist_jax.training import checkpoint
from mnist_jax.training import evaluate as evaluate_lib


def export_replica(workdir: str, step: int | None = None, seed: int | None = None,
                   replica: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
  """One replica of a training checkpoint as a state_dict of its torch mirror. `workdir`: a
  training workdir; `step`: the checkpoint (epochs finished), None = the best; `seed`: the
  replica trained from this seed (with a sweep, only if one cell has it), or `replica`: its
  index (`sweep.replicas` order); neither: replica 0. Returns (the state_dict: float32 tensors,
  the EMA weights and BatchNorm statistics where the run kept them, int64 ``num_batches_tracked``
  = optimizer steps; {"model", "step", "replica", "label" (e.g. "seed 1"), "num_batches_tracked"}).

  Raises:
    ValueError: no run in `workdir`, no checkpoint (at `step`), a seed or replica the run does
      not have, a seed several sweep cells share, or both `seed` and `replica`.
    checkpoint.CheckpointError: the checkpoint cannot be restored.
  """
  config = evaluate_lib.read_run_config(workdir)
  index = _replica_index(config, seed, replica)
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints)
  try:
    chosen = evaluate_lib.checkpoint_step(manager, step)
    arrays = jax.device_get(checkpoint.restore_arrays(manager, chosen))
  finally:
    manager.close()
  saved = evaluate_lib.saved_variables(arrays)  # the EMA weights of a run that kept them
  variables = {collection: jax.tree.map(lambda x: np.asarray(x[index]), saved[collection])
               for collection in ("params", "batch_stats") if saved.get(collection)}
  num_steps = int(np.asarray(arrays["step"])[index])
  state_dict = torch_mirror.to_state_dict(variables, config.model, num_batches_tracked=num_steps)
  return state_dict, {"model": config.model, "step": chosen, "replica": index,
                      "label": sweep.replica_label(config, index), "num_batches_tracked": num_steps}


def load_variables(path: str, name: str) -> dict[str, Any]:
  """Flax variables ``{'params': ..., 'batch_stats': ...}`` of float32 arrays of model `name`
  from `path`, a ``torch.save(module.state_dict(), path)`` of its mirror, read with
  ``torch.load(path, map_location="cpu", weights_only=True)``.

  Raises:
    ValueError: unknown model name, a missing file, a file torch cannot load safely, an
      object that is not a state_dict, or one whose keys or shapes do not fit `name`.
  """
  import torch  # pylint: disable=import-outside-toplevel

  models.spec(name)  # an unknown name in its own words, before the file
  if not os.path.isfile(path):
    raise ValueError(f"no file {path!r}")
  try:
    loaded = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as e:  # pylint: disable=broad-except  (pickle, zip and torch errors alike)
    reason = " ".join(str(e).split())[:200]
    raise ValueError(f"{path!r} is not a PyTorch file that torch.load can read with "
                     f"weights_only=True ({type(e).__name__}: {reason})") from None
  if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
    raise ValueError(f"{path!r} holds a {type(loaded).__name__} that is not a state_dict "
                     "(a dict of tensors, as module.state_dict() returns)")
  try:
    return torch_mirror.to_flax_variables(loaded, name)
  except ValueError as e:
    raise ValueError(f"{path!r} does not fit model {name!r}: {e}") from None


def evaluate(path: str, config: ml_collections.ConfigDict) -> dict[str, Any]:
  """Scores a torch state_dict file of `config.model`'s mirror on the configured test set as our
  checkpoints are (`evaluate.evaluate_variables`): {"loss": mean test NLL (float), "correct",
  "total" (ints)}.

  Raises:
    ValueError: what `load_variables` raises, or an unknown model.
    data.DataError: missing or corrupt MNIST files.
  """
  variables = load_variables(path, config.model)
  one_replica = lambda tree: jax.tree.map(lambda x: x[None], tree)
  result = evaluate_lib.evaluate_variables(config, one_replica(variables["params"]),
                                           one_replica(variables.get("batch_stats", {})))
  return {"loss": float(result["test_loss"][0]), "correct": int(result["test_correct"][0]),
          "total": result["test_total"]}


def _replica_index(config: ml_collections.ConfigDict, seed: int | None, replica: int | None) -> int:
  """The replica asked for by `seed` or `replica` (`sweep.replicas` order); 0 for neither.
  Raises ValueError for both, a replica out of range, or a seed none or several cells have."""
  layout = sweep.replicas(config)
  labels = [f"{r} ({sweep.replica_label(config, r)})" for r in range(len(layout))]
  if seed is not None and replica is not None:
    raise ValueError(
        f"choose a replica by seed or by index, not both (seed {seed}, replica {replica})")
  if replica is not None:
    if not 0 <= replica < len(layout):
      raise ValueError(f"no replica {replica} in this run; replicas: {', '.join(labels)}")
    return replica
  if seed is None:
    return 0
  matches = [r for r, (replica_seed, _) in enumerate(layout) if replica_seed == seed]
  if not matches:
    seeds = sorted({replica_seed for replica_seed, _ in layout})
    raise ValueError(
        f"no replica with seed {seed} in this run; seeds: {', '.join(map(str, seeds))}")
  if len(matches) > 1:
    raise ValueError(f"seed {seed} trained {len(matches)} sweep cells; choose one by replica: "
                     f"{', '.join(labels[r] for r in matches)}")
  return matches[0]
