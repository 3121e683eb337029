"""How closely each cell of a sweep reproduces a published run.

A write-up that leaves part of its recipe unstated is reproduced by sweeping the unstated fields
over its network and keeping the cell most like the published run (the published numbers, test
accuracy included, are the target by definition: no validation split). Closeness (pp; lower is
closer, rank 1 the closest) is the mean of the absolute gaps between a cell's mean over seeds and
the published run in: the best test accuracy; where the write-up prints a log (`published_logs`),
the test and the train accuracy, each averaged over the logged epochs; without one, the best
train accuracy (for ref5, as its records hold it, that of the best-test epoch). The closest
cell's seeds become the step's row in docs/RESULTS.md (`cell_run`): a sweep's replica trains
exactly as the single run of its cell and seed would (tests/test_sweep.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import ml_collections
import numpy as np

from mnist_jax.training import metrics
from mnist_jax import published
from mnist_jax.published import logs as published_logs
from mnist_jax.optim import sweep
from mnist_jax.reporting import analysis
from mnist_jax.reporting import markdown
from mnist_jax.reporting import runs as runs_lib
from mnist_jax.reporting import sweeps

MeanStd = sweeps.MeanStd


@dataclasses.dataclass(frozen=True)
class Cell:
  """One cell against the published run (percent; gaps in pp): mean ± std over seeds of the best
  test and train accuracy (as the record defines it), their means' signed gaps (train: None
  without a train figure), the per-epoch gaps (None without a log), closeness, rank (1: closest)."""
  values: tuple[Any, ...]
  seeds: tuple[int, ...]
  replicas: tuple[int, ...]
  best_test: MeanStd
  best_train: MeanStd
  best_test_gap: float
  best_train_gap: float | None
  test_epoch_gap: float | None
  train_epoch_gap: float | None
  closeness: float
  rank: int = 0


@dataclasses.dataclass(frozen=True)
class Reproduction:
  """A sweep's cells against one published record."""
  run: runs_lib.Run
  record: published.Record
  fields: tuple[str, ...]
  logged_epochs: int
  cells: tuple[Cell, ...]

  @property
  def chosen(self) -> Cell:
    return next(cell for cell in self.cells if cell.rank == 1)

  def render(self) -> str:
    """Markdown: a line on the comparison, one row per cell (grid order), the chosen cell."""
    stat = markdown.format_mean_std

    def gap(value: float | None) -> str:
      return "—" if value is None else f"{value:.2f}"
    header = [*(f"`{field}`" for field in self.fields), "seeds", "best test %", "best train %",
              "test gap per epoch (pp)", "train gap per epoch (pp)", "closeness (pp)", "rank"]
    rows = [[*(sweeps.format_value(v) for v in cell.values), str(len(cell.seeds)),
             stat(cell.best_test), stat(cell.best_train), gap(cell.test_epoch_gap),
             gap(cell.train_epoch_gap), f"{cell.closeness:.2f}", str(cell.rank)]
            for cell in self.cells]
    record = self.record
    train = gap(record.best_train_accuracy)
    log = (f"its log's {self.logged_epochs} epochs" if self.logged_epochs
           else "no per-epoch log in the write-up")
    intro = (f"Sweep `{self.run.name}` ({self.run.workdir}) against `{record.name}` "
             f"(published best test {record.best_test_accuracy:.2f} %, train {train} %; {log}): "
             f"{len(self.cells)} cell(s), {len(self.run.history)} epoch(s); mean ± std over "
             "seeds; ranked by closeness (mean absolute gap to the published run, pp).")
    chosen = self.chosen
    where = ", ".join(f"{field}={sweeps.format_value(value)}"
                      for field, value in zip(self.fields, chosen.values))
    line = (f"Closest: {where or 'the only cell'}, closeness {chosen.closeness:.2f} pp, best "
            f"test {stat(chosen.best_test)} % (published {record.best_test_accuracy:.2f} %).")
    return "\n".join([intro, "", *markdown.markdown_table(header, rows), "", line]) + "\n"


def _epoch_gap(ours: np.ndarray, theirs: Sequence[float | None]) -> float | None:
  """Mean over the epochs both have of |ours - theirs|; `ours` float [epochs]."""
  pairs = [(ours[e], value) for e, value in enumerate(theirs)
           if value is not None and e < len(ours)]
  return float(np.mean([abs(a - b) for a, b in pairs])) if pairs else None


def load(workdir: str, record_name: str) -> Reproduction:
  """Compares each cell of the sweep run in `workdir` with the published record `record_name`.

  Raises:
    ValueError: unknown record (the message lists the known ones), or as `sweeps.read_replicas`.
  """
  record = published.record(record_name)
  run, seeds, values = sweeps.read_replicas(workdir)
  fields = tuple(values)
  test = sweeps.split_accuracy(run.history, "test", len(seeds))
  train = np.array([record["train_accuracy"] for record in run.history], np.float64)
  if train.shape != test.shape:
    raise ValueError(f"metrics.jsonl: train accuracy has shape {train.shape}, test {test.shape}")
  log = published_logs.LOGS.get(record_name, ())
  log_test = [entry.test_accuracy for entry in log]
  log_train = [entry.train_accuracy for entry in log]
  # Per replica, the train accuracy the record stands for: the best, for ref5 the best-test epoch's.
  train_at_record = (train[np.argmax(test, axis=0), np.arange(train.shape[1])]
                     if record.experiment == "ref5" else train.max(axis=0))
  cells = []
  for replicas in sweeps.cell_replicas(values, fields, len(seeds)):
    best_test = analysis.mean_std(test[:, replicas].max(axis=0))
    best_train = analysis.mean_std(train_at_record[replicas])
    best_test_gap = best_test[0] - record.best_test_accuracy
    best_train_gap = (None if record.best_train_accuracy is None
                      else best_train[0] - record.best_train_accuracy)
    test_epoch_gap = _epoch_gap(test[:, replicas].mean(axis=1), log_test)
    train_epoch_gap = _epoch_gap(train[:, replicas].mean(axis=1), log_train)
    terms = [abs(best_test_gap)]
    terms += [gap for gap in (test_epoch_gap, train_epoch_gap) if gap is not None]
    if train_epoch_gap is None and best_train_gap is not None:
      terms.append(abs(best_train_gap))
    cells.append(Cell(values=tuple(values[field][replicas[0]] for field in fields),
                      seeds=tuple(seeds[r] for r in replicas), replicas=tuple(replicas),
                      best_test=best_test, best_train=best_train, best_test_gap=best_test_gap,
                      best_train_gap=best_train_gap, test_epoch_gap=test_epoch_gap,
                      train_epoch_gap=train_epoch_gap, closeness=float(np.mean(terms))))
  return Reproduction(run=run, record=record, fields=fields,
                      logged_epochs=sum(v is not None for v in log_test),
                      cells=sweeps.ranked(cells, lambda cell: cell.closeness))


def _select(value: Any, replicas: Sequence[int], num_replicas: int) -> Any:
  """`value` with every per-replica list (length `num_replicas`) cut to `replicas`."""
  if isinstance(value, list) and len(value) == num_replicas:
    return [value[r] for r in replicas]
  if isinstance(value, dict):
    return {key: _select(item, replicas, num_replicas) for key, item in value.items()}
  return value


def cell_run(found: Reproduction, cell: Cell) -> runs_lib.Run:
  """The replicas of `cell` as a plain run named for the published step (its RESULTS.md row):
  the sweep's config with the cell's values and seeds, without the sweep; the cell's replicas'
  metrics; a recomputed summary naming the sweep and cell under "sweep_cell", its times scaled
  by the cell's share of the replicas (they trained together). The workdir stays the sweep's
  (`runs_lib.write_run` writes it elsewhere).

  Raises:
    ValueError: the sweep run has no summary.json yet (it has not finished).
  """
  run = found.run
  if run.summary is None:
    raise ValueError(f"{run.workdir!r} has not finished (no summary.json): collect its cells "
                     "once every epoch has run")
  num_replicas = len(run.history[-1]["seeds"])
  share = len(cell.replicas) / num_replicas
  history = []
  for record in run.history:
    kept = {key: _select(value, cell.replicas, num_replicas)
            for key, value in record.items() if key != "sweep"}
    if "epoch_seconds" in kept:
      kept["epoch_seconds"] = record["epoch_seconds"] * share
    history.append(kept)
  config = sweep.cell_config(ml_collections.ConfigDict(run.config),
                            dict(zip(found.fields, cell.values))).to_dict()
  config.update(name=found.record.name, seed=cell.seeds[0], num_seeds=len(cell.seeds))
  summary = dict(
      run.summary, seeds=list(cell.seeds),
      **{key: run.summary[key] * share for key in ("compile_seconds", "train_seconds")},
      test_accuracy=metrics.seed_statistics([record["test_accuracy"] for record in history]),
      sweep_cell={"sweep": run.name, "values": dict(zip(found.fields, cell.values)),
                  "replicas": list(cell.replicas), "sweep_replicas": num_replicas})
  return runs_lib.Run(workdir=run.workdir, config=config, history=history, summary=summary)
