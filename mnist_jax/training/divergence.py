"""Non-finite losses, found on the host after each epoch (`check_epoch`): a single run stops
with one line and keeps its last good checkpoint; in a sweep the diverged replicas are frozen
by the program (`epoch.freeze_diverged`), reported once, recorded in metrics.jsonl
(``"diverged"``) and never chosen, while the other replicas finish."""

from typing import Any

import numpy as np

from mnist_jax.training.errors import TrainingError


def last_good_words(manager) -> str:
  """Where a stopped run's last good state is: its newest checkpoint, or none yet."""
  last = manager.latest_step()
  return ("not saved, no checkpoint yet" if last is None else
          f"not saved, last good checkpoint: epoch {last} in {manager.directory}")


def restored_divergence(history: list[dict[str, Any]], num_replicas: int) -> list[Any]:
  """Per replica, where a restored `history` (metrics.jsonl's records) records it diverged
  ({"epoch": e, "step": s}), else None: those replicas stay frozen after a resume."""
  diverged = history[-1].get("diverged") if history else None
  return list(diverged) if diverged else [None] * num_replicas


def _first_non_finite(record: dict[str, Any], step_losses: np.ndarray, replica: int
                      ) -> tuple[int | None, str] | None:
  """(step or None, what) of the replica's first non-finite loss this epoch, else None."""
  bad_steps = np.flatnonzero(~np.isfinite(step_losses[replica]))
  if bad_steps.size:
    return int(bad_steps[0]), "training"
  for name in ("validation", "test"):
    losses = np.asarray(record.get(f"{name}_loss", []), np.float64)
    if losses.size and not np.isfinite(losses[replica]):
      # BatchNorm can keep the training loss finite while its running statistics overflow.
      return None, name
  return None


def check_epoch(epoch: int, step_losses: np.ndarray, record: dict[str, Any], labels: list[str],
                diverged: list[Any], freeze: bool, manager) -> tuple[list[Any], list[str]]:
  """Finds the replicas whose training loss (float32 [R, steps] `step_losses`) or evaluation
  loss (in `record`) turned non-finite in `epoch`, beyond those `diverged` before (per replica:
  None, or {"epoch": e, "step": s}, s None when only an evaluation loss was non-finite).

  With `freeze` (a sweep), returns (`diverged` with this epoch's, one console line per newly
  diverged replica, e.g. "diverged at epoch 0 step 3: schedule.max_lr=50.0 seed 0") and, once
  some replica has diverged, records the list in ``record["diverged"]``.

  Raises:
    TrainingError: a single run (not `freeze`) with a non-finite loss, or a sweep whose every
      replica has diverged; the message names the first and the last good checkpoint.
  """
  found = {r: _first_non_finite(record, step_losses, r) for r in range(len(labels))
           if diverged[r] is None}
  found = {r: where for r, where in found.items() if where is not None}
  diverged = [{"epoch": epoch, "step": found[r][0]} if r in found else diverged[r]
              for r in range(len(labels))]
  if found and (not freeze or all(d is not None for d in diverged)):
    replica, (step, what) = min(found.items())
    at = f"at epoch {epoch}" + ("" if step is None else f" step {step}")
    why = "every replica diverged; " if freeze else ""
    raise TrainingError(f"{why}non-finite {what} loss {at} ({labels[replica]}); "
                        f"{last_good_words(manager)}")
  if any(d is not None for d in diverged):
    record["diverged"] = diverged
  lines = [f"diverged at epoch {epoch}" + ("" if step is None else f" step {step}")
           + f": {labels[r]}" for r, (step, _) in sorted(found.items())]
  return diverged, lines
