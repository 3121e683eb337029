"""How closely each cell of a sweep reproduces a published run.

A write-up that leaves part of its recipe unstated (learning rate, schedule) is reproduced by
sweeping the unstated fields over its own network and keeping the cell whose runs look most
like the published one. This is reproduction, not model selection: the published run's
numbers, test accuracy included, are the target by definition, so the cells are compared with
them rather than ranked on a validation split (`sweeps` does that for recipes of our own).

Closeness of a cell, in percentage points (pp), is the mean of these absolute gaps between the
mean over its seeds and the published run:
  * best test accuracy (the published record's);
  * per epoch, where the write-up prints a training log (`published_logs`): the mean over the
    logged epochs of the test accuracy's gap, and likewise of the train accuracy's;
  * without a log, the best train accuracy (for ref5, whose records hold the train accuracy
    of the best-test epoch, that epoch's train accuracy).
Lower is closer; rank 1 is the closest cell.

The closest cell's seeds then become the step's row in docs/RESULTS.md (`cell_run`): each
replica of a sweep trains exactly as the single run of its cell and seed would (tests/
test_sweep.py), so no second training is needed.

Example::

  reproduction = reproduction.load("workdirs/ref5_step3_lr", "ref5_step3")
  print(reproduction.render())
  runs_lib.write_run(reproduction.cell_run(reproduction, reproduction.chosen), "runs/ref5_step3")
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
  """One cell of the sweep against the published run; accuracies in percent, gaps in pp.

  Attributes:
    values: the cell's swept values, in `Reproduction.fields` order.
    seeds: its replicas' seeds.
    replicas: their positions in metrics.jsonl's per-replica lists.
    best_test, best_train: mean ± std over seeds of each seed's best test accuracy and its
      train accuracy as the record defines it (see the module docstring).
    best_test_gap: mean best test minus the published best (signed).
    best_train_gap: likewise for train; None when the record has no train figure.
    test_epoch_gap, train_epoch_gap: mean over the logged epochs of |mean over seeds -
      published|; None without a log.
    closeness: the mean of the terms used (see the module docstring).
    rank: 1 for the closest cell.
  """
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

    header = [*(f"`{field}`" for field in self.fields), "seeds", "best test %",
              "best train %", "test gap per epoch (pp)", "train gap per epoch (pp)",
              "closeness (pp)", "rank"]
    rows = [[*(sweeps.format_value(v) for v in cell.values), str(len(cell.seeds)),
             stat(cell.best_test), stat(cell.best_train), gap(cell.test_epoch_gap),
             gap(cell.train_epoch_gap), f"{cell.closeness:.2f}", str(cell.rank)]
            for cell in self.cells]
    record = self.record
    train = ("—" if record.best_train_accuracy is None
             else f"{record.best_train_accuracy:.2f}")
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


def _train_at_record(record: published.Record, train: np.ndarray,
                     test: np.ndarray) -> np.ndarray:
  """Per replica, the train accuracy the record's figure stands for: the best over epochs,
  or for ref5 that of the best-test epoch (published.py's module docstring)."""
  if record.experiment == "ref5":
    return train[np.argmax(test, axis=0), np.arange(train.shape[1])]
  return train.max(axis=0)


def _epoch_gap(ours: np.ndarray, theirs: Sequence[float | None]) -> float | None:
  """Mean over the epochs both have of |ours - theirs|; `ours` float [epochs]."""
  pairs = [(ours[e], value) for e, value in enumerate(theirs)
           if value is not None and e < len(ours)]
  return float(np.mean([abs(a - b) for a, b in pairs])) if pairs else None


def load(workdir: str, record_name: str) -> Reproduction:
  """Reads the sweep run in `workdir` (validation split or not) and compares each cell with
  the published record `record_name`.

  Raises:
    ValueError: unknown record (the message lists the known ones), a workdir that is not a
      run or has no finished epoch, or per-replica lists of different lengths.
  """
  record = published.record(record_name)
  run = runs_lib.load_run(workdir)
  if not run.history:
    raise ValueError(f"{workdir!r} has no finished epoch yet (metrics.jsonl is empty or absent)")
  seeds = tuple(run.history[-1]["seeds"])
  values = dict(run.history[-1].get("sweep") or {})
  fields = tuple(values)
  test = sweeps.split_accuracy(run.history, "test", len(seeds))
  train = np.array([record["train_accuracy"] for record in run.history], np.float64)
  if train.shape != test.shape:
    raise ValueError(f"metrics.jsonl: train accuracy has shape {train.shape}, test {test.shape}")
  log = published_logs.LOGS.get(record_name, ())
  log_test = [entry.test_accuracy for entry in log]
  log_train = [entry.train_accuracy for entry in log]
  train_at_record = _train_at_record(record, train, test)
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
                      best_test=best_test,
                      best_train=best_train, best_test_gap=best_test_gap,
                      best_train_gap=best_train_gap, test_epoch_gap=test_epoch_gap,
                      train_epoch_gap=train_epoch_gap, closeness=float(np.mean(terms))))
  order = sorted(range(len(cells)), key=lambda i: (cells[i].closeness, i))
  ranks = {i: rank for rank, i in enumerate(order, start=1)}
  cells = tuple(dataclasses.replace(cell, rank=ranks[i]) for i, cell in enumerate(cells))
  return Reproduction(run=run, record=record, fields=fields,
                      logged_epochs=sum(v is not None for v in log_test), cells=cells)


def _select(value: Any, replicas: Sequence[int], num_replicas: int) -> Any:
  """`value` with every per-replica list (length `num_replicas`) cut to `replicas`."""
  if isinstance(value, list) and len(value) == num_replicas:
    return [value[r] for r in replicas]
  if isinstance(value, dict):
    return {key: _select(item, replicas, num_replicas) for key, item in value.items()}
  return value


def cell_run(found: Reproduction, cell: Cell) -> runs_lib.Run:
  """The replicas of `cell` as a plain run of the published step: the row of docs/RESULTS.md.

  config.json is the sweep's with the cell's values set, no sweep, the record's name (e.g.
  "ref5_step3") and the cell's seeds; metrics.jsonl keeps only the cell's replicas; summary.json
  is recomputed from them (`metrics.seed_statistics`) and says which sweep and cell it came
  from under "sweep_cell". The sweep's replicas train together, so its times (epoch_seconds,
  train_seconds, compile_seconds) are shared out equally: each is scaled by the cell's share
  of the replicas.

  Returns:
    A `runs_lib.Run` whose workdir is the sweep's (`runs_lib.write_run` writes it elsewhere).

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
      compile_seconds=run.summary["compile_seconds"] * share,
      train_seconds=run.summary["train_seconds"] * share,
      test_accuracy=metrics.seed_statistics([record["test_accuracy"] for record in history]),
      sweep_cell={"sweep": run.name, "values": dict(zip(found.fields, cell.values)),
                  "replicas": list(cell.replicas), "sweep_replicas": num_replicas})
  return runs_lib.Run(workdir=run.workdir, config=config, history=history, summary=summary)
