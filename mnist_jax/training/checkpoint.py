"""Orbax checkpoints of a training workdir, which holds one run: the manager, save, restore
(`restore_latest`), and the resume check against the run's config.json (`check_same_run`)."""

import glob
import json
import os
import shutil
from typing import Any, Callable

import jax
import ml_collections
import orbax.checkpoint as ocp

from mnist_jax.optim import schedules
from mnist_jax.training import storage_errors
from mnist_jax.training import workdir as workdir_lib

# Fields that change nothing computed: how a run reports, where it reads the same bytes, how
# many checkpoints it keeps, the chunking of evaluation (sums of the same per-example values).
REPORTING_FIELDS = ("name", "progress_bar", "plots", "keep_checkpoints", "eval_batch_size",
                    "data_dir", "fast_path")


class CheckpointError(ValueError):
  """No checkpoint of the workdir can be restored; the message names the folder and why."""


def create_checkpoint_manager(workdir: str, keep: int,
                              writer: bool = False) -> ocp.CheckpointManager:
  """Orbax manager in `workdir/checkpoints`: one step per epoch, the last `keep` and the best
  (mean validation accuracy over replicas where there is a validation split, else test).
  `writer`: the run that holds the workdir's lock, which alone removes the temporary folders
  of saves that were killed midway (a reader would remove a live writer's save)."""
  best = lambda metrics: metrics.get("validation_accuracy", metrics["test_accuracy"])
  policy = ocp.checkpoint_managers.AnyPreservationPolicy([
      ocp.checkpoint_managers.LatestN(n=keep),
      ocp.checkpoint_managers.BestN(get_metric_fn=best, n=1),
  ])
  options = ocp.CheckpointManagerOptions(best_fn=best, best_mode="max", preservation_policy=policy,
                                         create=True, enable_async_checkpointing=False,
                                         cleanup_tmp_directories=writer)
  # Handlers named, so that `restore_arrays` can read the saved shapes (`item_metadata`).
  return ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, "checkpoints")), options=options,
      item_handlers={"state": ocp.StandardCheckpointHandler(),
                     "history": ocp.JsonCheckpointHandler()})


def save_checkpoint(manager: ocp.CheckpointManager, epoch: int, states: Any, epoch_state: Any,
                    history: list[dict[str, Any]], metrics: dict[str, float]) -> None:
  """Saves the state of all replicas after `epoch` (1-based count of finished epochs).

  `metrics`: "test_accuracy" and, with a validation split, "validation_accuracy" (percent,
  means over replicas), which choose the best checkpoint.

  Raises:
    workdir.WorkdirError: the file system refused the write (one line with the space needed;
      the partial checkpoint is removed, the previous one kept).
  """
  storage_errors.silence_unretrieved_refusals()
  try:
    # A failed save's traceback (Orbax's log) and its threads' noise.
    with storage_errors.quiet_failures():
      manager.save(epoch, metrics={name: float(value) for name, value in metrics.items()},
                   args=ocp.args.Composite(
                       state=ocp.args.StandardSave({"train": states, "epoch_state": epoch_state}),
                       history=ocp.args.JsonSave(history)))
      manager.wait_until_finished()
  except Exception as e:  # pylint: disable=broad-except  (TensorStore raises ValueError)
    code = storage_errors.refusal_errno(e)
    if code is None:
      raise
    # What the last checkpoint takes on this file system, else the arrays' own size.
    last = manager.latest_step()
    needed = (_disk_bytes(os.path.join(str(manager.directory), str(last))) if last is not None
              else sum(leaf.nbytes for leaf in jax.tree.leaves((states, epoch_state))))
    line = workdir_lib.io_error_line(OSError(code, os.strerror(code)),
                                     os.path.dirname(str(manager.directory)), needed)
    for partial in glob.glob(f"{manager.directory}/{epoch}.orbax-checkpoint-tmp*"):
      shutil.rmtree(partial, ignore_errors=True)
    raise workdir_lib.WorkdirError(f"checkpoint {epoch}: {line}") from None


def _disk_bytes(folder: str) -> int:
  """Bytes the files under `folder` occupy (allocated blocks, as `du` counts them)."""
  return sum(os.stat(os.path.join(root, name)).st_blocks * 512
             for root, _, names in os.walk(folder) for name in names)


def restore_checkpoint(manager: ocp.CheckpointManager, step: int, states: Any,
                       epoch_state: Any) -> tuple[Any, Any, list[dict[str, Any]]]:
  """Restores (states, epoch_state, history) saved at `step`, shaped like the arguments; the
  hyperparameters are those of `states` (the run's config gives them, `check_same_run`).

  A checkpoint written before the hyperparameters joined the TrainState holds the swept values
  under "recipe" instead (empty outside a sweep): `restore_earlier_layout` reads it.
  """
  saved = manager.item_metadata(step)["state"]
  saved = getattr(saved, "tree", saved)
  # Checkpoints of earlier versions hold the per-epoch hook's state under another key.
  key = next((k for k in saved if k != "train"), "epoch_state")
  if "recipe" in saved["train"]:
    return restore_earlier_layout(manager, step, states, epoch_state, key)
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore({"train": states, key: epoch_state}),
      history=ocp.args.JsonRestore()))
  train = restored.state["train"].replace(hparams=states.hparams)
  return train, restored.state[key], list(restored.history)


def restore_earlier_layout(manager: ocp.CheckpointManager, step: int, states: Any,
                           epoch_state: Any, key: str) -> tuple[Any, Any, list[dict[str, Any]]]:
  """`restore_checkpoint` of a checkpoint whose TrainState held "recipe" (the swept values)
  where it now holds "hparams": every array read by its saved path (`restore_arrays`), placed
  as the matching leaf of `states` / `epoch_state`; "recipe" is dropped."""
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  saved = manager.item_metadata(step)["state"]
  target = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=device),
                        getattr(saved, "tree", saved))
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(target), history=ocp.args.JsonRestore()))
  train = _rebuilt(states.replace(hparams=None), restored.state["train"])
  return (train.replace(hparams=states.hparams), _rebuilt(epoch_state, restored.state[key]),
          list(restored.history))


def _rebuilt(like: Any, saved: Any) -> Any:
  """A pytree shaped and sharded like `like`, each leaf read from the nested dicts and lists
  `saved` (Orbax's layout of that pytree) at the leaf's path."""

  def read(path, leaf):
    node = saved
    for entry in path:  # attribute, dict key or sequence index, as Orbax names them
      node = node[next(getattr(entry, name) for name in ("name", "key", "idx")
                       if hasattr(entry, name))]
    return jax.device_put(node, leaf.sharding)

  return jax.tree_util.tree_map_with_path(read, like)


def restore_arrays(manager: ocp.CheckpointManager, step: int) -> dict[str, Any]:
  """The saved training state at `step` as nested dicts of numpy arrays, with no target.

  Needs no model or optimizer to describe its structure: what evaluation restores. The arrays
  come to the first local device, whatever devices the run was saved from.
  """
  try:
    with storage_errors.quiet_failures():
      saved = manager.item_metadata(step)["state"]
      device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
      target = jax.tree.map(
          lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=device),
          getattr(saved, "tree", saved))
      restored = manager.restore(
          step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))
  except Exception as e:  # pylint: disable=broad-except  (Orbax and TensorStore raise many types)
    raise CheckpointError(
        f"checkpoint {step} in {manager.directory} cannot be restored "
        f"({storage_errors.one_line(e)}); "
        "evaluate another --step, or rerun the training command, which sets it aside") from e
  return restored.state["train"]


def restore_latest(manager: ocp.CheckpointManager, states: Any, epoch_state: Any,
                   report: Callable[[str], None] = print):
  """Restores the newest checkpoint that restores; None when the workdir has none.

  A checkpoint that fails (another model's, truncated or corrupt files) is reported in one
  line through `report` and moved to `workdir/unrestorable_checkpoints/`, so that training
  can save that epoch again; the newest older one that restores is used.

  Returns (step, states, epoch_state, history) of the restored checkpoint; raises
  CheckpointError when checkpoints exist but none restores.
  """
  failures = []
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      with storage_errors.quiet_failures():
        restored = restore_checkpoint(manager, step, states, epoch_state)
    except Exception as e:  # pylint: disable=broad-except  (Orbax and TensorStore raise many types)
      failures.append((step, storage_errors.one_line(e)))
      continue
    for failed, why in failures:
      moved = _move_aside(manager, failed)
      report(f"Checkpoint {failed} in {manager.directory} cannot be restored ({why}); moved to "
             f"{moved}; resuming from checkpoint {step}.")
    if failures:
      manager.reload()
    return (step, *restored)
  if failures:
    listed = "; ".join(f"checkpoint {step}: {why}" for step, why in failures)
    raise CheckpointError(f"no checkpoint in {manager.directory} can be restored for this run "
                          f"({listed}); use a new --workdir")
  return None


def _move_aside(manager: ocp.CheckpointManager, step: int) -> str:
  folder = os.path.join(os.path.dirname(str(manager.directory)), "unrestorable_checkpoints")
  os.makedirs(folder, exist_ok=True)
  target = os.path.join(folder, str(step))
  suffix = 1
  while os.path.exists(target):
    target = os.path.join(folder, f"{step}.{suffix}")
    suffix += 1
  shutil.move(os.path.join(str(manager.directory), str(step)), target)
  return target


def config_differences(saved: dict[str, Any], config: ml_collections.ConfigDict) -> list[str]:
  """Fields whose values in `config` would change the computation of the run `saved` (the
  workdir's config.json as `json.load` gives it) describes.

  Returns one "field: saved -> new" entry per differing field (dotted paths, e.g.
  "schedule.max_lr: 0.1 -> 0.2"). Fields in `REPORTING_FIELDS`, `num_epochs` under a schedule
  in `schedules.EPOCH_FREE`, and fields the saved config does not have are not compared.
  """
  new = dict(_flatten(json.loads(config.to_json_best_effort())))
  old = dict(_flatten(saved))
  ignored = set(REPORTING_FIELDS)
  name = new.get("schedule.name")
  if old.get("schedule.name") == name and name in schedules.EPOCH_FREE:
    ignored.add("num_epochs")
  return [f"{key}: {old[key]!r} -> {new[key]!r}" for key in sorted(new)
          if key in old and key not in ignored and old[key] != new[key]]


def _flatten(tree: dict[str, Any], prefix: str = ""):
  for key, value in tree.items():
    if isinstance(value, dict):
      yield from _flatten(value, f"{prefix}{key}.")
    else:
      yield f"{prefix}{key}", value


def check_same_run(workdir: str, config: ml_collections.ConfigDict, has_checkpoints: bool) -> None:
  """Raises ValueError (one line) when `workdir` holds checkpoints of another computation.

  The workdir's config.json is the run's identity; fields that change nothing computed may
  differ (`config_differences`). Nothing in the workdir is touched.
  """
  path = os.path.join(workdir, "config.json")
  if not has_checkpoints or not os.path.exists(path):
    return
  saved = workdir_lib.read_json(path, "it names the run these checkpoints belong to: restore it, "
                                      "or use a new --workdir")
  differences = config_differences(saved, config)
  if differences:
    raise ValueError(f"workdir {workdir!r} holds another run ({'; '.join(differences)}); "
                     "use a new --workdir, or the saved config to resume it")


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
