"""A run's numbers next to the published ones, and the flagship's acceptance.

Numbers come from ``metrics.jsonl``; the parameter count, device and times from
``summary.json`` (without it the count comes from the model registry). The definitions (best,
last-3 mean, epochs from 1, mean ± std with ddof=1, gap in pp) are those RESULTS.md states.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from mnist_jax.training import metrics
from mnist_jax import models
from mnist_jax import published
from mnist_jax.published import logs as published_logs
from mnist_jax.models import table as model_table
from mnist_jax.reporting import runs as runs_lib

TARGET = 99.40  # percent: the references' goal
TOLERANCE = 0.15  # pp below the published best still counted as reproduced
LAST_EPOCHS = 3
ROW_SEEDS = 3  # a published step is reproduced by a finished run of >= 3 seeds

FLAGSHIP_MAX_PARAMS = 8000  # exclusive; the flagship's acceptance, see `acceptance`
FLAGSHIP_SEEDS = 5
FLAGSHIP_MIN_SEEDS = 4
FLAGSHIP_EPOCHS = 15


@dataclasses.dataclass(frozen=True)
class SeedResult:
  """One seed of a run: accuracies in percent, epochs from 1; `last` holds the last
  `LAST_EPOCHS` epochs' accuracies, `holds_target` is >= `TARGET` in each of them."""
  seed: int
  best: float
  best_epoch: int  # the first epoch with `best`
  last: tuple[float, ...]
  last_mean: float
  first_epoch_at_target: int | None
  holds_target: bool


def seed_results(run: runs_lib.Run) -> list[SeedResult]:
  """Per-seed results of `run` from metrics.jsonl; [] before the first epoch has finished."""
  if not run.history:
    return []
  # From the integer counts where logged, so that 9940/10000 is exactly at the target.
  if all("test_correct" in record for record in run.history):
    correct = np.array([record["test_correct"] for record in run.history], np.int64)
    total = np.array([record["test_total"] for record in run.history], np.int64)[:, None]
    accuracy = 100.0 * correct / total  # float64 [epochs, seeds], percent
    at_target = correct * 10000 >= round(TARGET * 100) * total
  else:
    accuracy = np.array([record["test_accuracy"] for record in run.history], np.float64)
    at_target = accuracy >= TARGET - 1e-4
  statistics = metrics.seed_statistics(accuracy, LAST_EPOCHS)
  results = []
  for r, seed in enumerate(run.history[-1]["seeds"]):
    reached = np.flatnonzero(at_target[:, r])
    results.append(SeedResult(
        seed=seed, best=statistics["best"][r], best_epoch=int(accuracy[:, r].argmax()) + 1,
        last=tuple(float(a) for a in accuracy[-LAST_EPOCHS:, r]),
        last_mean=statistics[f"last{LAST_EPOCHS}_mean"][r],
        first_epoch_at_target=int(reached[0]) + 1 if reached.size else None,
        holds_target=len(run.history) >= LAST_EPOCHS and bool(at_target[-LAST_EPOCHS:, r].all())))
  return results


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
  """Mean and sample std (ddof=1); std is None for a single value."""
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else None


@dataclasses.dataclass(frozen=True)
class RunResult:
  """A run's numbers next to the published `record`: the recipe's own, else that of the
  network it trains (``final`` -> ``ref2_final``), else None. `params` is None if unknown."""
  run: runs_lib.Run
  record: published.Record | None
  params: int | None
  seeds: list[SeedResult]

  @property
  def name(self) -> str:
    return self.run.name

  @property
  def own_record(self) -> bool:
    return self.record is not None and self.record.name == self.name

  @property
  def epochs_done(self) -> int:
    return len(self.run.history)

  @property
  def planned_epochs(self) -> int:
    return int(self.run.config.get("num_epochs", self.epochs_done))

  @property
  def in_progress(self) -> bool:
    return self.run.summary is None

  @property
  def status(self) -> str:
    return (f"in progress, {self.epochs_done}/{self.planned_epochs} epochs" if self.in_progress
            else f"finished, {self.epochs_done} epochs")

  @property
  def best(self) -> tuple[float, float | None]:
    return mean_std([s.best for s in self.seeds])

  @property
  def last_mean(self) -> tuple[float, float | None]:
    return mean_std([s.last_mean for s in self.seeds])

  @property
  def seeds_holding_target(self) -> int:
    return sum(s.holds_target for s in self.seeds)

  @property
  def first_epoch_at_target(self) -> float | None:
    """Median over seeds, a seed never there counting as later than any; None if that is never."""
    median = float(np.median([s.first_epoch_at_target or math.inf for s in self.seeds]))
    return None if math.isinf(median) else median

  @property
  def gap(self) -> float | None:
    """Mean best minus the published best test accuracy, in pp (None without a record)."""
    has_both = self.record is not None and self.seeds
    return self.best[0] - self.record.best_test_accuracy if has_both else None

  @property
  def within(self) -> bool | None:  # round: 99.38 - 99.53 is -0.15000000000000568
    return None if self.gap is None else round(self.gap, 6) >= -TOLERANCE

  @property
  def verdict(self) -> str:
    if self.record is None:
      return "no published numbers"
    if not self.seeds:
      return self.status
    verdict = (f"within {TOLERANCE:.2f} pp or above" if self.within
               else f"short by {-self.gap:.2f} pp")
    return f"{self.status} (so far: {verdict})" if self.in_progress else verdict

  @property
  def train_seconds(self) -> float:
    """Wall time of all seeds together (they train as one program)."""
    if self.run.summary is not None:
      return float(self.run.summary["train_seconds"])
    return float(sum(record["epoch_seconds"] for record in self.run.history))

  @property
  def device(self) -> str | None:
    return (self.run.summary or {}).get("device")

  @property
  def notes(self) -> list[str]:
    """What makes the comparison less than like for like."""
    record, config, notes = self.record, self.run.config, []
    if record is not None and record.architecture == published.RECONSTRUCTION:
      notes.append("reconstruction")
    if record is not None and not self.own_record:
      notes.append(f"compared with {record.name} (same network)")
    if self.in_progress:
      notes.append(self.status)
    cell = (self.run.summary or {}).get("sweep_cell")
    if cell:
      where = ", ".join(f"{field}={value:g}" for field, value in cell["values"].items())
      notes.append(f"closest cell ({where}) of {cell['sweep']}")
    if config.get("train_subset") or config.get("test_subset"):
      notes.append(f"subset: train {config.get('train_subset') or 'all'}, "
                   f"test {config.get('test_subset') or 'all'}")
    if record is None:
      return notes
    if self.planned_epochs != record.epochs:
      notes.append(f"{self.planned_epochs} epochs (published {record.epochs})")
    batch_size = config.get("batch_size")
    if record.batch_size is not None and batch_size != record.batch_size:
      notes.append(f"batch {batch_size} (published {record.batch_size})")
    if self.params is not None and self.params != record.params:
      notes.append(f"params differ from published by {self.params - record.params:+,}")
    log_best = published_log_best(record.name)
    if self.seeds and log_best is not None and log_best[1] > record.best_test_accuracy:
      epoch, accuracy = log_best
      notes.append(f"published log's highest test {accuracy:.2f} % (`EPOCH: {epoch}`), "
                   f"gap to it {self.best[0] - accuracy:+.2f} pp")
    return notes


def published_log_best(name: str) -> tuple[int, float] | None:
  """(epoch as printed, test accuracy %) of the first highest test epoch of step `name`'s
  published per-epoch log; None without one. ref4 states its last epoch's accuracy as the
  best ("99.37 (99.45 in 12th epoch)"), so its log can hold a higher one."""
  epochs = [(e.epoch, e.test_accuracy) for e in published_logs.LOGS.get(name, ())
            if e.test_accuracy is not None]
  return max(epochs, key=lambda e: e[1]) if epochs else None


def analyze(run: runs_lib.Run) -> RunResult:
  """`RunResult` of `run`; the parameter count from summary.json, else the registry (None for
  an unregistered model)."""
  model = run.config.get("model", "")
  if run.summary is not None and "num_params" in run.summary:
    params = int(run.summary["num_params"])
  else:
    params = model_table.count_params(model) if model in models.names() else None
  known = {record.name: record for record in published.all()}
  record = known.get(run.name) or known.get(run.config.get("model"))
  return RunResult(run=run, record=record, params=params, seeds=seed_results(run))


@dataclasses.dataclass(frozen=True)
class Coverage:
  """The published steps (`published.all()`, in write-up order) reproduced by a row: a
  finished result of the step's own record with >= `ROW_SEEDS` seeds, all the data and the
  published epochs. `within`: rows whose gap is >= -`TOLERANCE`; `short`: the others' gaps."""
  steps: list[str]
  rows: list[str]
  within: list[str]
  missing: list[str]
  short: dict[str, float]

  @property
  def line(self) -> str:
    """One Markdown paragraph: the counts, then the steps without a row and the short ones."""
    text = (f"Published steps: {len(self.rows)} of {len(self.steps)} have a row (a finished "
            f"run of ≥ {ROW_SEEDS} seeds on all the data); {len(self.within)} of those "
            f"{len(self.rows)} are within {TOLERANCE:.2f} pp of the published best or above.")
    if self.missing:
      text += f" No row yet: {', '.join(f'`{name}`' for name in self.missing)}."
    if self.short:
      text += " Short: " + ", ".join(f"`{name}` ({gap:+.2f} pp)"
                                     for name, gap in self.short.items()) + "."
    return text


def coverage(results: Sequence[RunResult]) -> Coverage:
  """`Coverage` of the published steps by `results` (any order; of two for one step, the
  later counts)."""
  steps = [record.name for record in published.all()]
  rows: dict[str, RunResult] = {}
  for result in results:
    config = result.run.config
    if (result.own_record and not result.in_progress and len(result.seeds) >= ROW_SEEDS
        and not config.get("train_subset") and not config.get("test_subset")
        and result.planned_epochs == result.record.epochs):
      rows[result.name] = result
  with_row = [name for name in steps if name in rows]
  return Coverage(
      steps=steps, rows=with_row, within=[name for name in with_row if rows[name].within],
      missing=[name for name in steps if name not in rows],
      short={name: rows[name].gap for name in with_row if not rows[name].within})


@dataclasses.dataclass(frozen=True)
class Acceptance:
  """The flagship's acceptance: `small` (< `FLAGSHIP_MAX_PARAMS`), `seeds_holding` (seeds at
  >= `TARGET` in each of the last 3 epochs), `accepted` (both, by a finished run of
  `FLAGSHIP_SEEDS` seeds and `FLAGSHIP_EPOCHS` epochs on all the data), RESULTS.md's `line`."""
  small: bool
  seeds_holding: int
  num_seeds: int
  accepted: bool
  line: str


def acceptance(result: RunResult) -> Acceptance:
  """The flagship's acceptance of `result` (meant for the `runs_lib.FLAGSHIP` run)."""
  small = result.params is not None and result.params < FLAGSHIP_MAX_PARAMS
  k, n = result.seeds_holding_target, len(result.seeds)
  problems = [result.status] if result.in_progress else []
  if n != FLAGSHIP_SEEDS:
    problems.append(f"the run has {n} seeds, the criterion needs {FLAGSHIP_SEEDS}")
  if result.planned_epochs != FLAGSHIP_EPOCHS:
    problems.append(f"the run has {result.planned_epochs} epochs, the criterion needs "
                    f"{FLAGSHIP_EPOCHS}")
  if result.run.config.get("train_subset") or result.run.config.get("test_subset"):
    problems.append("the run used a data subset")
  accepted = not problems and small and k >= FLAGSHIP_MIN_SEEDS
  params = "unknown" if result.params is None else f"{result.params:,}"
  line = (f"< {FLAGSHIP_MAX_PARAMS:,} parameters: {'yes' if small else 'no'} ({params}); "
          f"in at least {FLAGSHIP_MIN_SEEDS} of {FLAGSHIP_SEEDS} seeds test accuracy "
          f"≥ {TARGET:.2f} % in each of the last {LAST_EPOCHS} of {FLAGSHIP_EPOCHS} epochs: "
          f"{k}/{n} → {'accepted' if accepted else 'not accepted'}")
  if problems:
    line += f" ({'; '.join(problems)})"
  return Acceptance(small=small, seeds_holding=k, num_seeds=n, accepted=accepted, line=line)
