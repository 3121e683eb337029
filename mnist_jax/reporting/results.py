"""Training runs against the published numbers: reading runs, collecting them, RESULTS.md.

A run is a workdir written by `train.train_and_evaluate`: ``config.json``, ``metrics.jsonl``
(one line per finished epoch, every value a list over seeds) and, once the run has finished,
``summary.json``. Checkpoints make workdirs large, so `collect` copies the small files of a run
(and its plots) into ``runs/<recipe name>/``, which is committed; `report` regenerates
``docs/RESULTS.md`` from there on any machine.

Every number comes from ``metrics.jsonl``, except the parameter count, device and times
(``summary.json``; without it the parameter count is computed from the model registry).
Definitions (repeated in RESULTS.md):
  * accuracy: test accuracy of an epoch in percent, ``100 * test_correct / test_total``;
  * best: a seed's highest accuracy over its epochs; last-3 mean: the mean of its last 3;
  * epochs are counted from 1 (the references' logs print ``EPOCH: 0`` for the first);
  * mean ± std over seeds uses the sample standard deviation (ddof=1);
  * gap: mean over seeds of the best minus the published best test accuracy, in percentage
    points (pp); the published figure is one run's best epoch.

Example::

  runs = results.find_runs(["runs/*"])
  text = results.report(runs, "docs/RESULTS.md", command="python scripts/compare.py")
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import shutil
from typing import Any, Sequence

import numpy as np

from mnist_jax import published

TARGET = 99.40  # percent: the references' goal
TOLERANCE = 0.15  # pp below the published best still counted as reproduced
LAST_EPOCHS = 3
RUN_FILES = ("config.json", "metrics.jsonl", "summary.json")
PLOT_FILES = ("curves.png", "misclassified.png")

# Issue 5's acceptance of the flagship: < 8,000 parameters, and in at least 4 of 5 seeds
# test accuracy >= 99.40 % in each of the last 3 of 15 epochs.
FLAGSHIP = "final"
FLAGSHIP_MAX_PARAMS = 8000  # exclusive
FLAGSHIP_SEEDS = 5
FLAGSHIP_MIN_SEEDS = 4
FLAGSHIP_EPOCHS = 15


# ---------------------------------------------------------------------------------------------
# Reading runs
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
  """The files of one run.

  Attributes:
    workdir: the folder the files were read from.
    config: config.json (the ml_collections config as a dict).
    history: the records of metrics.jsonl, one per finished epoch, in order.
    summary: summary.json, or None while the run is in progress.
  """
  workdir: str
  config: dict[str, Any]
  history: list[dict[str, Any]]
  summary: dict[str, Any] | None

  @property
  def name(self) -> str:
    """The recipe name (config ``name``, e.g. "ref3_step4" or "final")."""
    return self.config.get("name") or os.path.basename(os.path.normpath(self.workdir))

  @property
  def files(self) -> list[str]:
    """Paths of the run files that exist, in `RUN_FILES` order."""
    return [os.path.join(self.workdir, f) for f in RUN_FILES
            if os.path.exists(os.path.join(self.workdir, f))]


def _read_json(path: str) -> Any:
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise ValueError(f"{path} is not valid JSON: {e}") from None


def load_run(workdir: str) -> Run:
  """Reads the run in `workdir`.

  Raises:
    ValueError: `workdir` has no config.json, a file is not valid JSON, the epochs of
      metrics.jsonl are not 0, 1, 2, ... or summary.json counts other epochs than it.
  """
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise ValueError(f"{workdir!r} is not a run workdir: it has no config.json")
  config = _read_json(config_path)
  history = []
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  if os.path.exists(metrics_path):
    with open(metrics_path) as f:
      for number, line in enumerate(f, 1):
        if line.strip():
          try:
            history.append(json.loads(line))
          except json.JSONDecodeError as e:
            raise ValueError(f"{metrics_path}, line {number}, is not valid JSON: {e}") from None
  epochs = [record["epoch"] for record in history]
  if epochs != list(range(len(history))):
    raise ValueError(f"{metrics_path}: epochs must be 0, 1, 2, ... in order, got {epochs}")
  summary_path = os.path.join(workdir, "summary.json")
  summary = _read_json(summary_path) if os.path.exists(summary_path) else None
  if summary is not None and summary.get("num_epochs") != len(history):
    raise ValueError(f"{summary_path} counts {summary.get('num_epochs')} epochs but "
                     f"{metrics_path} has {len(history)}")
  return Run(workdir=workdir, config=config, history=history, summary=summary)


def find_runs(patterns: Sequence[str]) -> list[Run]:
  """The runs in the folders matched by the glob `patterns`, one per recipe name.

  Folders without config.json are ignored.

  Raises:
    ValueError: a pattern matches no run, or two runs share a recipe name (the message
      names their workdirs).
  """
  runs: dict[str, Run] = {}
  for pattern in patterns:
    folders = sorted(path for path in glob.glob(pattern)
                     if os.path.exists(os.path.join(path, "config.json")))
    if not folders:
      raise ValueError(f"no run workdir (a folder with config.json) matches {pattern!r}")
    for folder in folders:
      run = load_run(folder)
      if run.name in runs:
        if os.path.samefile(runs[run.name].workdir, folder):
          continue
        raise ValueError(f"two runs of recipe {run.name!r}: {runs[run.name].workdir} and "
                         f"{folder}; pass only one of them")
      runs[run.name] = run
  return sorted(runs.values(), key=lambda run: recipe_order(run.name))


def recipe_order(name: str) -> tuple[int, int, str]:
  """Sort key: ref1 .. ref5 (in write-up order), then "final", then other names."""
  positions = {record.name: i for i, record in enumerate(published.all())}
  experiment = name.split("_")[0]
  if experiment in published.EXPERIMENTS:
    return (published.EXPERIMENTS.index(experiment), positions.get(name, len(positions)), name)
  if name == FLAGSHIP:
    return (len(published.EXPERIMENTS), 0, name)
  return (len(published.EXPERIMENTS) + 1, 0, name)


# ---------------------------------------------------------------------------------------------
# Collecting runs into the committed folder
# ---------------------------------------------------------------------------------------------


def collect(workdir: str, runs_dir: str = "runs") -> str:
  """Copies the small files of the run in `workdir` into ``runs_dir/<recipe name>/``.

  Copies `RUN_FILES` and `PLOT_FILES` (not checkpoints, TensorBoard events or steps.jsonl);
  a file the run lacks (summary.json while in progress) is removed from the copy, so the copy
  always matches the run.

  Returns:
    The folder written.

  Raises:
    ValueError: as `load_run`.
  """
  run = load_run(workdir)
  target = os.path.join(runs_dir, run.name)
  os.makedirs(target, exist_ok=True)
  if os.path.samefile(workdir, target):
    return target
  for file_name in RUN_FILES + PLOT_FILES:
    source, destination = os.path.join(workdir, file_name), os.path.join(target, file_name)
    if os.path.exists(source):
      shutil.copyfile(source, destination)
    elif os.path.exists(destination):
      os.remove(destination)
  return target


def collect_all(patterns: Sequence[str], runs_dir: str = "runs") -> list[str]:
  """`collect` for every run matched by `patterns`; checks them all before copying any.

  Raises:
    ValueError: as `find_runs`.
  """
  return [collect(run.workdir, runs_dir) for run in find_runs(patterns)]


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SeedResult:
  """One seed of a run; accuracies in percent, epochs counted from 1.

  Attributes:
    seed: the replica's seed.
    best: highest test accuracy over the epochs.
    best_epoch: first epoch with `best`.
    last: accuracies of the last `LAST_EPOCHS` epochs (fewer if fewer are done).
    last_mean: their mean.
    first_epoch_at_target: first epoch with accuracy >= `TARGET`, or None.
    holds_target: accuracy >= `TARGET` in each of the last `LAST_EPOCHS` epochs.
  """
  seed: int
  best: float
  best_epoch: int
  last: tuple[float, ...]
  last_mean: float
  first_epoch_at_target: int | None
  holds_target: bool


def seed_results(run: Run) -> list[SeedResult]:
  """Per-seed results of `run` from metrics.jsonl; [] before the first epoch has finished."""
  if not run.history:
    return []
  accuracy, at_target = _accuracy(run.history)
  results = []
  for r, seed in enumerate(run.history[-1]["seeds"]):
    column = accuracy[:, r]
    reached = np.flatnonzero(at_target[:, r])
    last = column[-LAST_EPOCHS:]
    results.append(SeedResult(
        seed=seed,
        best=float(column.max()),
        best_epoch=int(column.argmax()) + 1,
        last=tuple(float(a) for a in last),
        last_mean=float(last.mean()),
        first_epoch_at_target=int(reached[0]) + 1 if reached.size else None,
        holds_target=len(run.history) >= LAST_EPOCHS and bool(at_target[-LAST_EPOCHS:, r].all())))
  return results


def _accuracy(history: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
  """(accuracy float64 [epochs, seeds] in percent, accuracy >= TARGET bool [epochs, seeds]).

  From the integer counts where present, so that 9940/10000 is exactly at the target (the
  logged percentages went through float32).
  """
  if all("test_correct" in record for record in history):
    correct = np.array([record["test_correct"] for record in history], np.int64)
    total = np.array([record["test_total"] for record in history], np.int64)[:, None]
    # Percent with two decimals as an integer ratio: correct / total >= TARGET / 100.
    at_target = correct * 10000 >= round(TARGET * 100) * total
    return 100.0 * correct / total, at_target
  accuracy = np.array([record["test_accuracy"] for record in history], np.float64)
  return accuracy, accuracy >= TARGET - 1e-4


def count_params(model: str) -> int | None:
  """Trainable parameters of registry model `model`, or None if it is not registered."""
  import jax  # pylint: disable=g-import-not-at-top  (only for runs without summary.json)
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from mnist_jax import models  # pylint: disable=g-import-not-at-top
  from mnist_jax import summary  # pylint: disable=g-import-not-at-top

  if model not in models.names():
    return None
  network = models.create(model)
  variables = jax.eval_shape(lambda: network.init(
      {"params": jax.random.key(0)}, jnp.zeros((1, 28, 28, 1), jnp.float32), train=False))
  return summary.count_params(variables)


def _mean_std(values: Sequence[float]) -> tuple[float, float | None]:
  """Mean and sample std (ddof=1); std is None for a single value."""
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else None


@dataclasses.dataclass(frozen=True)
class RunResult:
  """A run's numbers next to the published ones.

  Attributes:
    run: the run.
    record: the published record compared with: the recipe's own, else that of the network
      it trains (``final`` -> ``ref2_final``), else None.
    params: our trainable parameter count, or None if unknown.
    seeds: per-seed results.
  """
  run: Run
  record: published.Record | None
  params: int | None
  seeds: list[SeedResult]

  @property
  def name(self) -> str:
    return self.run.name

  @property
  def own_record(self) -> bool:
    """The record is the recipe's own (not only that of its network)."""
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
    if self.in_progress:
      return f"in progress, {self.epochs_done}/{self.planned_epochs} epochs"
    return f"finished, {self.epochs_done} epochs"

  @property
  def best(self) -> tuple[float, float | None]:
    """Mean and std over seeds of the best accuracy."""
    return _mean_std([s.best for s in self.seeds])

  @property
  def last_mean(self) -> tuple[float, float | None]:
    """Mean and std over seeds of the last-3 mean."""
    return _mean_std([s.last_mean for s in self.seeds])

  @property
  def seeds_holding_target(self) -> int:
    return sum(s.holds_target for s in self.seeds)

  @property
  def first_epoch_at_target(self) -> float | None:
    """Median over seeds of the first epoch at `TARGET` (a seed that never gets there counts
    as later than any); None when that median is "never"."""
    epochs = [math.inf if s.first_epoch_at_target is None else s.first_epoch_at_target
              for s in self.seeds]
    median = float(np.median(epochs))
    return None if math.isinf(median) else median

  @property
  def gap(self) -> float | None:
    """Mean best minus the published best test accuracy, in pp (None without a record)."""
    if self.record is None or not self.seeds:
      return None
    return self.best[0] - self.record.best_test_accuracy

  @property
  def verdict(self) -> str:
    if self.record is None:
      return "no published numbers"
    if not self.seeds:
      return self.status
    gap = round(self.gap, 6)  # 99.38 - 99.53 is -0.15000000000000568
    verdict = (f"within {TOLERANCE:.2f} pp or above" if gap >= -TOLERANCE
               else f"short by {-gap:.2f} pp")
    return f"{self.status} (so far: {verdict})" if self.in_progress else verdict

  @property
  def train_seconds(self) -> float:
    """Training and evaluation wall time of all seeds together (they train as one program)."""
    if self.run.summary is not None:
      return float(self.run.summary["train_seconds"])
    return float(sum(record["epoch_seconds"] for record in self.run.history))

  @property
  def device(self) -> str | None:
    return None if self.run.summary is None else self.run.summary.get("device")

  @property
  def notes(self) -> list[str]:
    """What makes the comparison less than like for like."""
    notes = []
    if self.record is not None and self.record.architecture == published.RECONSTRUCTION:
      notes.append("reconstruction")
    if self.record is not None and not self.own_record:
      notes.append(f"compared with {self.record.name} (same network)")
    if self.in_progress:
      notes.append(self.status)
    config = self.run.config
    if config.get("train_subset") or config.get("test_subset"):
      notes.append(f"subset: train {config.get('train_subset') or 'all'}, "
                   f"test {config.get('test_subset') or 'all'}")
    if self.record is not None:
      if self.planned_epochs != self.record.epochs:
        notes.append(f"{self.planned_epochs} epochs (published {self.record.epochs})")
      batch_size = config.get("batch_size")
      if self.record.batch_size is not None and batch_size != self.record.batch_size:
        notes.append(f"batch {batch_size} (published {self.record.batch_size})")
      if self.params is not None and self.params != self.record.params:
        notes.append(f"params differ from published by {self.params - self.record.params:+,}")
    return notes


def published_record(run: Run) -> published.Record | None:
  """The record of the recipe, else of the network it trains, else None."""
  known = {record.name: record for record in published.all()}
  return known.get(run.name) or known.get(run.config.get("model"))


def analyze(run: Run) -> RunResult:
  """`RunResult` of `run`; the parameter count from summary.json, else the registry."""
  if run.summary is not None and "num_params" in run.summary:
    params = int(run.summary["num_params"])
  else:
    params = count_params(run.config.get("model", ""))
  return RunResult(run=run, record=published_record(run), params=params,
                   seeds=seed_results(run))


@dataclasses.dataclass(frozen=True)
class Acceptance:
  """Issue 5's acceptance of the flagship run.

  Attributes:
    small: fewer than `FLAGSHIP_MAX_PARAMS` parameters.
    seeds_holding: seeds at >= `TARGET` in each of the last 3 epochs.
    num_seeds: seeds in the run.
    accepted: both criteria met by a finished run of `FLAGSHIP_SEEDS` seeds and
      `FLAGSHIP_EPOCHS` epochs on the full data.
    line: the acceptance line for RESULTS.md.
  """
  small: bool
  seeds_holding: int
  num_seeds: int
  accepted: bool
  line: str


def acceptance(result: RunResult) -> Acceptance:
  """Issue 5's acceptance line for `result` (meant for the `FLAGSHIP` run)."""
  small = result.params is not None and result.params < FLAGSHIP_MAX_PARAMS
  k, n = result.seeds_holding_target, len(result.seeds)
  problems = []
  if result.in_progress:
    problems.append(result.status)
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


# ---------------------------------------------------------------------------------------------
# RESULTS.md
# ---------------------------------------------------------------------------------------------


def _percent(value: float) -> str:
  return f"{value:.2f}"


def _stat(mean_std: tuple[float, float | None]) -> str:
  mean, std = mean_std
  return _percent(mean) if std is None else f"{mean:.2f} ± {std:.2f}"


def _seconds(value: float) -> str:
  return f"{value:.1f} s" if value < 100 else f"{value / 60:.1f} min"


def _epoch(value: float | None) -> str:
  if value is None:
    return "never"
  return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


TABLE_HEADER = [
    "recipe", "params: published / ours", "best test %: published",
    "best test %: ours, mean ± std (min–max)", "last-3 mean %: mean ± std",
    f"seeds ≥ {TARGET:.2f} % in each of the last 3 epochs", f"first epoch ≥ {TARGET:.2f} % "
    "(median)", "gap (pp)", "verdict", "train time: per seed / total", "device", "notes"]


def table_row(result: RunResult) -> list[str]:
  """The main-table cells of `result` (see `TABLE_HEADER`)."""
  record = result.record
  recipe = f"`{result.name}`"
  if record is not None and record.architecture == published.RECONSTRUCTION:
    recipe += " (reconstruction)"
  ours_params = "unknown" if result.params is None else f"{result.params:,}"
  if record is None:
    params = f"no published numbers / {ours_params}"
    published = "no published numbers"
  else:
    params = f"{record.params:,} / {ours_params}"
    published = _percent(record.best_test_accuracy)
    if not result.own_record:
      published += f" ({record.name})"
  if result.seeds:
    n = len(result.seeds)
    best = (f"{_stat(result.best)} ({_percent(min(s.best for s in result.seeds))}–"
            f"{_percent(max(s.best for s in result.seeds))})")
    last = _stat(result.last_mean)
    holding = f"{result.seeds_holding_target}/{n}"
    reaching = sum(s.first_epoch_at_target is not None for s in result.seeds)
    first = f"{_epoch(result.first_epoch_at_target)} ({reaching}/{n} seeds reach it)"
    # + 0.0 turns the -0.0 of a gap that rounds to zero (-0.0033) into 0.0: "+0.00", not "-0.00".
    gap = "—" if result.gap is None else f"{round(result.gap, 2) + 0.0:+.2f}"
  else:
    best = last = holding = first = gap = "—"
  n = max(len(result.seeds), 1)
  time = f"{_seconds(result.train_seconds / n)} / {_seconds(result.train_seconds)}"
  return [recipe, params, published, best, last, holding, first, gap, result.verdict, time,
          result.device or "—", "; ".join(result.notes) or "—"]


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  return lines + ["| " + " | ".join(row) + " |" for row in rows]


def seed_table(result: RunResult) -> list[str]:
  """The per-seed Markdown table of `result`."""
  rows = []
  for s in result.seeds:
    rows.append([
        str(s.seed), f"{_percent(s.best)} (epoch {s.best_epoch})", _percent(s.last_mean),
        ", ".join(_percent(a) for a in s.last), "yes" if s.holds_target else "no",
        _epoch(s.first_epoch_at_target)])
  return _markdown_table(
      ["seed", "best % (epoch)", "last-3 mean %", "last 3 epochs %",
       f"≥ {TARGET:.2f} % in each", f"first epoch ≥ {TARGET:.2f} %"], rows)


def render(results: Sequence[RunResult], command: str,
           plots: dict[str, str] | None = None) -> str:
  """RESULTS.md for `results` (in the given order).

  Args:
    results: from `analyze`, e.g. ``[analyze(run) for run in find_runs(["runs/*"])]``.
    command: the command line that regenerates the file, written in its header.
    plots: title -> path relative to RESULTS.md of the flagship's plots to link.
  """
  lines = [
      "# Results",
      "",
      f"Generated by `{command}` from the files below; nothing here is typed by hand, so "
      "rerun the command instead of editing.",
      "",
  ]
  lines += [f"- {', '.join(f'`{path}`' for path in r.run.files)}" for r in results]
  lines += [
      "",
      "Definitions: accuracy is the test accuracy of an epoch in percent "
      "(100 × correct / test images); *best* is a seed's highest accuracy over its epochs and "
      f"*last-3 mean* the mean of its last {LAST_EPOCHS} epochs; epochs are counted from 1 "
      "(the references' logs print `EPOCH: 0` for the first). Mean ± std is over seeds with "
      "the sample standard deviation (ddof = 1); a single seed shows no std. The first epoch "
      f"≥ {TARGET:.2f} % is the median over seeds, a seed that never gets there counting as "
      "later than any. *Gap* is our mean best minus the published best test accuracy, in "
      "percentage points (pp); the published figure is the best epoch of one run. Verdict: "
      f"\"within {TOLERANCE:.2f} pp or above\" when the gap is ≥ −{TOLERANCE:.2f} pp. Train "
      "time is the wall time of all epochs including evaluation; the seeds of a run train "
      "together as one program, so the per-seed figure is the total divided by the number of "
      "seeds. *reconstruction*: the write-up publishes only a parameter count and a "
      "description, so the network is ours (reference/README.md).",
      "",
      "## All runs",
      "",
  ]
  lines += _markdown_table(TABLE_HEADER, [table_row(r) for r in results])
  flagship = [r for r in results if r.name == FLAGSHIP]
  if flagship:
    result = flagship[0]
    lines += ["", f"## Flagship (`{FLAGSHIP}`)", "",
              f"Acceptance (issue 5): {acceptance(result).line}.", ""]
    if plots:
      lines += [f"![{title}]({path})" for title, path in plots.items()]
    else:
      lines.append(f"No plots in `{result.run.workdir}`.")
  lines += ["", "## Per seed", ""]
  for result in results:
    lines += [f"### `{result.name}`", "",
              f"`{result.run.workdir}`: {result.status}; seeds "
              f"{[s.seed for s in result.seeds]}; model `{result.run.config.get('model')}`; "
              f"batch {result.run.config.get('batch_size')}; device {result.device or '—'}; "
              f"train time {_seconds(result.train_seconds)}"
              + (f", compile {_seconds(result.run.summary['compile_seconds'])}"
                 if result.run.summary and "compile_seconds" in result.run.summary else "")
              + ".", ""]
    lines += seed_table(result) if result.seeds else ["No epoch finished yet."]
    lines.append("")
  return "\n".join(lines)


def report(runs: Sequence[Run], output: str, command: str) -> str:
  """Writes RESULTS.md to `output` and returns its text.

  The flagship's plots (`PLOT_FILES`) are copied beside it as ``final_curves.png`` and
  ``final_misclassified.png`` and linked; stale copies of plots the run lacks are removed.
  """
  results = [analyze(run) for run in runs]
  folder = os.path.dirname(output) or "."
  os.makedirs(folder, exist_ok=True)
  plots = {}
  for result in results:
    if result.name != FLAGSHIP:
      continue
    for file_name in PLOT_FILES:
      source = os.path.join(result.run.workdir, file_name)
      copy_name = f"{FLAGSHIP}_{file_name}"
      destination = os.path.join(folder, copy_name)
      if os.path.exists(source):
        shutil.copyfile(source, destination)
        plots[f"{FLAGSHIP} {os.path.splitext(file_name)[0]}"] = copy_name
      elif os.path.exists(destination):
        os.remove(destination)
  text = render(results, command, plots)
  with open(output, "w") as f:
    f.write(text)
  return text
