"""Sweeps: the cells of a grid of recipe values x seeds, ranked on validation.

A sweep workdir's metrics.jsonl records carry ``"sweep"``: {field path: [value per replica]}
(``{}`` for a plain run). Accuracies are percent, mean ± std over a cell's seeds (ddof=1); cells
rank by mean last-3 validation accuracy (ties: mean best validation), never by test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any, Mapping, Sequence

import numpy as np

from mnist_jax.training import metrics
from mnist_jax.training import plots
from mnist_jax.reporting import analysis
from mnist_jax.reporting import markdown
from mnist_jax.reporting import runs as runs_lib

LAST_EPOCHS = analysis.LAST_EPOCHS
SPLITS = ("validation", "test")

MeanStd = tuple[float, float | None]  # percent; std None for a single seed


@dataclasses.dataclass(frozen=True)
class Cell:
  """One point of the grid: its values (one per grouping field), its replicas (positions in
  metrics.jsonl's lists) and their seeds, (mean, std) over them of each replica's best /
  last-3 accuracy per split, its rank (1: best on validation) and `diverged_epoch`, the first
  epoch in which one of its replicas diverged (None: none did). A diverged cell ranks after
  every other and is never chosen."""
  values: tuple[Any, ...]
  replicas: tuple[int, ...]
  seeds: tuple[int, ...]
  validation_best: MeanStd
  validation_last3: MeanStd
  test_best: MeanStd
  test_last3: MeanStd
  rank: int = 0
  diverged_epoch: int | None = None


@dataclasses.dataclass(frozen=True)
class Sweep:
  """A sweep run: its swept field paths (() for a plain run), {field: [value per replica]},
  a seed per replica, {"validation_best" | ... | "test_last3": float [replicas]} in percent,
  and its cells grouped by all fields, in grid order."""
  run: runs_lib.Run
  fields: tuple[str, ...]
  values: Mapping[str, Sequence[Any]]
  seeds: tuple[int, ...]
  statistics: Mapping[str, np.ndarray]
  cells: tuple[Cell, ...] = ()
  diverged: tuple[Any, ...] = ()

  @property
  def chosen(self) -> Cell:
    """The rank-1 cell."""
    return next(cell for cell in self.cells if cell.rank == 1)

  def group(self, fields: Sequence[str]) -> tuple[Cell, ...]:
    """Cells grouped by `fields` only (a subset of `self.fields`), ranked among themselves;
    each cell's mean ± std pools its seeds and the values of the other fields."""
    cells = [Cell(values=tuple(self.values[field][replicas[0]] for field in fields),
                  replicas=tuple(replicas), seeds=tuple(self.seeds[r] for r in replicas),
                  diverged_epoch=self.diverged_epoch(replicas),
                  **{name: analysis.mean_std(values[replicas])
                     for name, values in self.statistics.items()})
             for replicas in cell_replicas(self.values, fields, len(self.seeds))]
    return ranked(cells, lambda c: (c.diverged_epoch is not None, -c.validation_last3[0],
                                    -c.validation_best[0]))

  def diverged_epoch(self, replicas: Sequence[int]) -> int | None:
    """The first epoch in which one of `replicas` diverged (metrics.jsonl's "diverged"), or
    None."""
    epochs = [self.diverged[r]["epoch"] for r in replicas
              if r < len(self.diverged) and self.diverged[r]]
    return min(epochs) if epochs else None


def ranked(cells: Sequence[Any], key) -> tuple[Any, ...]:
  """`cells` (dataclasses with a `rank`) with rank 1, 2, ... by `key`, ties in grid order."""
  order = sorted(range(len(cells)), key=lambda i: (key(cells[i]), i))
  ranks = {i: rank for rank, i in enumerate(order, start=1)}
  return tuple(dataclasses.replace(cell, rank=ranks[i]) for i, cell in enumerate(cells))


def cell_replicas(values: Mapping[str, Sequence[Any]], fields: Sequence[str],
                  num_replicas: int) -> list[list[int]]:
  """The replicas of each cell grouped by `fields` (others pooled), in order of first
  appearance; `values` is metrics.jsonl's ``"sweep"``."""
  members: dict[str, list[int]] = {}
  for replica in range(num_replicas):
    # JSON text as the key: a swept value may be a list (unhashable).
    key = json.dumps([values[field][replica] for field in fields])
    members.setdefault(key, []).append(replica)
  return list(members.values())


def split_accuracy(history: Sequence[Mapping[str, Any]], split: str, replicas: int) -> np.ndarray:
  """float64 [epochs, replicas] percent; from the counts where logged (the percentages went
  through float32)."""
  column = lambda key: np.array([record[f"{split}_{key}"] for record in history], np.float64)
  try:
    if all(f"{split}_correct" in record and f"{split}_total" in record for record in history):
      total = column("total")
      accuracy = 100.0 * column("correct") / (total[:, None] if total.ndim == 1 else total)
    else:
      accuracy = column("accuracy")
  except ValueError:
    accuracy = np.zeros(0)
  if accuracy.shape != (len(history), replicas):
    raise ValueError(f"metrics.jsonl: every epoch's {split} accuracy must hold one value per "
                     f"replica ({replicas}), got shape {accuracy.shape}")
  return accuracy


def read_replicas(workdir: str) -> tuple[runs_lib.Run, tuple[int, ...], dict[str, list]]:
  """(the run, a seed per replica, {swept field: [value per replica]}) of a sweep workdir.
  Raises ValueError as `runs_lib.load_run`, for no finished epoch, or lists of unequal lengths."""
  run = runs_lib.load_run(workdir)
  if not run.history:
    raise ValueError(f"{workdir!r} has no finished epoch yet (metrics.jsonl is empty or absent)")
  seeds = tuple(run.history[-1]["seeds"])
  values = dict(run.history[-1].get("sweep") or {})
  for field, per_replica in values.items():
    if len(per_replica) != len(seeds):
      raise ValueError(f"metrics.jsonl: sweep field {field!r} has {len(per_replica)} values "
                       f"but there are {len(seeds)} replicas (seeds)")
  return run, seeds, values


def load_sweep(workdir: str) -> Sweep:
  """Reads the sweep run in `workdir` and groups its replicas into ranked cells. Raises
  ValueError as `read_replicas`, for a missing folder, or no validation split."""
  if not os.path.isdir(workdir):
    raise ValueError(f"no workdir {workdir!r}: the folder does not exist")
  run, seeds, values = read_replicas(workdir)
  if (not run.config.get("validation_size", 0)
      or any("validation_accuracy" not in record for record in run.history)):
    raise ValueError(f"{workdir!r} has no validation split, but the sweep's cells are ranked on "
                     "a validation split; train with --config.validation_size=N (e.g. 5000)")
  statistics = {}
  for split in SPLITS:
    numbers = metrics.seed_statistics(split_accuracy(run.history, split, len(seeds)), LAST_EPOCHS)
    statistics[f"{split}_best"] = np.asarray(numbers["best"])
    statistics[f"{split}_last3"] = np.asarray(numbers[f"last{LAST_EPOCHS}_mean"])
  diverged = tuple(run.history[-1].get("diverged") or ())
  sweep = Sweep(run=run, fields=tuple(values), values=values, seeds=seeds, statistics=statistics,
                diverged=diverged)
  return dataclasses.replace(sweep, cells=sweep.group(sweep.fields))


def format_value(value: Any) -> str:
  """A swept value as shown: numbers with `:g` (0.05, 1e-05), others as JSON or text."""
  if isinstance(value, float):
    return f"{value:g}"
  return value if isinstance(value, str) else json.dumps(value)


def chosen_line(sweep: Sweep) -> str:
  """One line naming the rank-1 cell, its values and its validation and test numbers."""
  cell = sweep.chosen
  assignments = ", ".join(f"{f}={format_value(v)}" for f, v in zip(sweep.fields, cell.values))
  where = (f"cell {sweep.cells.index(cell) + 1} of {len(sweep.cells)} ({assignments})"
           if sweep.fields else "the only cell (no swept fields)")
  stat = markdown.format_mean_std
  return (f"Chosen: {where}, validation last-3 mean {stat(cell.validation_last3)} % over "
          f"{len(cell.seeds)} seed(s); its test last-3 mean: {stat(cell.test_last3)} %.")


def rank_text(cell: Cell) -> str:
  """The rank column: the rank, or "diverged at epoch e" for a cell that cannot be chosen."""
  if cell.diverged_epoch is not None:
    return f"diverged at epoch {cell.diverged_epoch}"
  return str(cell.rank)


def render(sweep: Sweep) -> str:
  """The Markdown report: a line on the ranking, a row per cell in grid order, `chosen_line`."""
  stat = markdown.format_mean_std
  header = [*(f"`{field}`" for field in sweep.fields), "seeds", "validation best %",
            "validation last-3 %", "test best %", "test last-3 %", "rank"]
  rows = [[*(format_value(value) for value in cell.values), str(len(cell.seeds)),
           stat(cell.validation_best), stat(cell.validation_last3), stat(cell.test_best),
           stat(cell.test_last3), rank_text(cell)] for cell in sweep.cells]
  intro = (f"Sweep `{sweep.run.name}` ({sweep.run.workdir}): {len(sweep.cells)} cell(s), "
           f"{len(sweep.seeds)} replica(s), {len(sweep.run.history)} epoch(s). Percent, mean ± "
           "std over seeds (ddof = 1); ranked by the validation last-3 mean (ties: validation "
           "best), never by test.")
  table = markdown.markdown_table(header, rows)
  return "\n".join([intro, "", *table, "", chosen_line(sweep)]) + "\n"


def plot_fields(sweep: Sweep, requested: Sequence[str] | None = None) -> tuple[str, ...] | None:
  """The one or two fields to plot: `requested`, else the swept ones if one or two, else None.
  Raises ValueError when `requested` names an unswept field, repeats one, or names over two."""
  if not requested:
    return sweep.fields if 1 <= len(sweep.fields) <= 2 else None
  choices = ", ".join(sweep.fields) or "none (a plain run)"
  for field in requested:
    if field not in sweep.fields:
      raise ValueError(f"--plot_fields: {field!r} is not a swept field; swept fields: {choices}")
  if len(set(requested)) != len(requested) or len(requested) > 2:
    raise ValueError(f"--plot_fields picks one or two different swept fields ({choices}), "
                     f"got {','.join(requested)}")
  return tuple(requested)


def no_plot_line(sweep: Sweep) -> str:
  """The line said instead of a plot for zero or more than two swept fields."""
  fields = f" ({', '.join(sweep.fields)})" if sweep.fields else ""
  return (f"no plot for {len(sweep.fields)} swept fields{fields}: pick one or two with "
          "--plot_fields a,b (the others are averaged over)")


def _plot_one(axes, field: str, cells: Sequence[Cell]) -> None:
  """Mean ± std of the last-3 validation and test accuracy against the field's value."""
  values = [cell.values[0] for cell in cells]
  if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
    order = np.argsort(values, kind="stable")
    x = np.asarray(values, np.float64)[order]
    if x.min() > 0 and x.max() > 10 * x.min():
      axes.set_xscale("log")
  else:  # e.g. schedule names: one position each
    order = np.arange(len(cells))
    x = order.astype(np.float64)
    axes.set_xticks(x, [format_value(v) for v in values])
  for split, marker in zip(SPLITS, ("o", "s")):
    mean_std = [getattr(cells[i], f"{split}_last3") for i in order]
    axes.errorbar(x, [m for m, _ in mean_std], yerr=[s or 0.0 for _, s in mean_std],
                  fmt=f"{marker}-", capsize=4, label=f"{split} (last-3 mean)")
  axes.set(xlabel=field, ylabel="accuracy (%)")
  axes.grid(True, alpha=0.3)
  axes.legend(fontsize=8)


def _plot_two(figure, axes, fields: Sequence[str], cells: Sequence[Cell]) -> None:
  """Heatmap of the mean last-3 validation accuracy: rows field 0, columns field 1."""
  keys = [[json.dumps(cell.values[i]) for cell in cells] for i in range(2)]
  rows, columns = (list(dict.fromkeys(k)) for k in keys)
  grid = np.full((len(rows), len(columns)), np.nan)
  for cell, row, column in zip(cells, *keys):
    grid[rows.index(row), columns.index(column)] = cell.validation_last3[0]
  image = axes.imshow(grid, cmap="viridis", aspect="auto")
  figure.colorbar(image, ax=axes, label="validation last-3 mean accuracy (%)")
  middle = np.nanmin(grid) + 0.5 * (np.nanmax(grid) - np.nanmin(grid))
  for (i, j), value in np.ndenumerate(grid):
    if not np.isnan(value):  # a combination the grid lacks stays blank
      axes.text(j, i, f"{value:.2f}", ha="center", va="center",
                color="black" if value > middle else "white")
  axes.set_yticks(range(len(rows)), [format_value(json.loads(k)) for k in rows])
  axes.set_xticks(range(len(columns)), [format_value(json.loads(k)) for k in columns])
  axes.set(ylabel=fields[0], xlabel=fields[1])


def plot(sweep: Sweep, path: str | os.PathLike[str],
         fields: Sequence[str] | None = None) -> pathlib.Path | None:
  """Writes the PNG for `plot_fields` (others averaged over): one field, mean ± std of the
  last-3 accuracies against it; two, a heatmap of the last-3 validation mean. Returns the path,
  or None (`no_plot_line` says why). Raises ValueError as `plot_fields`."""
  chosen = plot_fields(sweep, fields)
  if chosen is None:
    return None
  cells = sweep.group(chosen)
  over = "seeds" if chosen == sweep.fields else "seeds and the other swept fields"
  figure = plots.new_figure(7, 4.5)
  axes = figure.subplots()
  if len(chosen) == 1:
    _plot_one(axes, chosen[0], cells)
  else:
    _plot_two(figure, axes, chosen, cells)
  axes.set_title(f"{sweep.run.name}: mean over {over}")
  return plots.save_figure(figure, path)
