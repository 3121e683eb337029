"""docs/RESULTS.md: every run's numbers next to the published ones, rendered as Markdown.

`report` writes the file from runs read by `runs_lib.find_runs` (usually the committed copies
in ``runs/``, see `runs_lib.collect`); the numbers and their definitions are those of
`analysis`.

Example::

  runs = runs_lib.find_runs(["runs/*"])
  text = results.report(runs, "docs/RESULTS.md", command="python scripts/compare.py")
"""

from __future__ import annotations

import os
import shutil
from typing import Sequence

from mnist_jax import published
from mnist_jax.reporting import analysis
from mnist_jax.reporting import frontier
from mnist_jax.reporting import recipes
from mnist_jax.reporting import runs as runs_lib

FRONTIER_PLOT = "frontier.png"  # written beside RESULTS.md


def _percent(value: float) -> str:
  return f"{value:.2f}"


def format_mean_std(mean_std: tuple[float, float | None]) -> str:
  """"99.45 ± 0.05" (percent, 2 decimals), or the mean alone when there is no std."""
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
    f"seeds ≥ {analysis.TARGET:.2f} % in each of the last 3 epochs",
    f"first epoch ≥ {analysis.TARGET:.2f} % (median)", "gap (pp)", "verdict",
    "train time: per seed / total", "device", "notes"]


def table_row(result: analysis.RunResult) -> list[str]:
  """The main-table cells of `result` (see `TABLE_HEADER`)."""
  record = result.record
  recipe = f"`{result.name}`"
  if record is not None and record.architecture == published.RECONSTRUCTION:
    recipe += " (reconstruction)"
  ours_params = "unknown" if result.params is None else f"{result.params:,}"
  if record is None:
    params = f"no published numbers / {ours_params}"
    published_best = "no published numbers"
  else:
    params = f"{record.params:,} / {ours_params}"
    published_best = _percent(record.best_test_accuracy)
    if not result.own_record:
      published_best += f" ({record.name})"
  if result.seeds:
    n = len(result.seeds)
    best = (f"{format_mean_std(result.best)} ({_percent(min(s.best for s in result.seeds))}–"
            f"{_percent(max(s.best for s in result.seeds))})")
    last = format_mean_std(result.last_mean)
    holding = f"{result.seeds_holding_target}/{n}"
    reaching = sum(s.first_epoch_at_target is not None for s in result.seeds)
    first = f"{_epoch(result.first_epoch_at_target)} ({reaching}/{n} seeds reach it)"
    # + 0.0 turns the -0.0 of a gap that rounds to zero (-0.0033) into 0.0: "+0.00", not "-0.00".
    gap = "—" if result.gap is None else f"{round(result.gap, 2) + 0.0:+.2f}"
  else:
    best = last = holding = first = gap = "—"
  n = max(len(result.seeds), 1)
  time = f"{_seconds(result.train_seconds / n)} / {_seconds(result.train_seconds)}"
  return [recipe, params, published_best, best, last, holding, first, gap, result.verdict, time,
          result.device or "—", "; ".join(result.notes) or "—"]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
  """The lines of a Markdown table with `header` and `rows` (cells as strings)."""
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  return lines + ["| " + " | ".join(row) + " |" for row in rows]


def seed_table(result: analysis.RunResult) -> list[str]:
  """The per-seed Markdown table of `result`."""
  rows = []
  for s in result.seeds:
    rows.append([
        str(s.seed), f"{_percent(s.best)} (epoch {s.best_epoch})", _percent(s.last_mean),
        ", ".join(_percent(a) for a in s.last), "yes" if s.holds_target else "no",
        _epoch(s.first_epoch_at_target)])
  return markdown_table(
      ["seed", "best % (epoch)", "last-3 mean %", "last 3 epochs %",
       f"≥ {analysis.TARGET:.2f} % in each", f"first epoch ≥ {analysis.TARGET:.2f} %"], rows)


def render(results: Sequence[analysis.RunResult], command: str,
           plots: dict[str, str] | None = None, frontier_plot: str | None = None) -> str:
  """RESULTS.md for `results` (in the given order).

  Args:
    results: from `analysis.analyze`, e.g.
      ``[analysis.analyze(run) for run in runs_lib.find_runs(["runs/*"])]``.
    command: the command line that regenerates the file, written in its header.
    plots: title -> path relative to RESULTS.md of the flagship's plots to link.
    frontier_plot: path relative to RESULTS.md of the frontier plot, or None. The frontier
      section (`frontier.section`) is written when a run of a `frontier.BUDGETS` model is in
      `results`.

  Returns:
    The Markdown text.
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
      f"*last-3 mean* the mean of its last {analysis.LAST_EPOCHS} epochs; epochs are counted "
      "from 1 (the references' logs print `EPOCH: 0` for the first). Mean ± std is over seeds "
      "with the sample standard deviation (ddof = 1); a single seed shows no std. The first "
      f"epoch ≥ {analysis.TARGET:.2f} % is the median over seeds, a seed that never gets there "
      "counting as later than any. *Gap* is our mean best minus the published best test "
      "accuracy, in percentage points (pp); the published figure is the best epoch of one run. "
      f"Verdict: \"within {analysis.TOLERANCE:.2f} pp or above\" when the gap is "
      f"≥ −{analysis.TOLERANCE:.2f} pp. Train time is the wall time of all epochs including "
      "evaluation; the seeds of a run train together as one program, so the per-seed figure "
      "is the total divided by the number of seeds. *reconstruction*: the write-up publishes "
      "only a parameter count and a description, so the network is ours (the write-ups' index).",
      "",
      "## All runs",
      "",
  ]
  lines += markdown_table(TABLE_HEADER, [table_row(r) for r in results])
  flagship = [r for r in results if r.name == runs_lib.FLAGSHIP]
  if flagship:
    result = flagship[0]
    lines += ["", f"## Flagship (`{runs_lib.FLAGSHIP}`)", "",
              f"Acceptance (issue 5): {analysis.acceptance(result).line}.", ""]
    if plots:
      lines += [f"![{title}]({path})" for title, path in plots.items()]
    else:
      lines.append(f"No plots in `{result.run.workdir}`.")
  recipe_lines = recipes.table(results)
  if len(recipe_lines) > recipes.HEADER_LINES:
    lines += [""] + recipe_lines
  budget_models = {budget.model for budget in (*frontier.BUDGETS, frontier.FALLBACK)}
  if any(r.name in budget_models for r in results):
    lines += [""] + frontier.section(results, frontier_plot)
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


def report(runs: Sequence[runs_lib.Run], output: str, command: str) -> str:
  """Writes RESULTS.md to `output` and returns its text.

  The flagship's plots (`runs_lib.PLOT_FILES`) are copied beside it as ``final_curves.png``
  and ``final_misclassified.png`` and linked; stale copies of plots the run lacks are removed.
  The frontier plot (`FRONTIER_PLOT`) is drawn beside it when a frontier model has run.

  Raises:
    OSError: `output` or its folder cannot be written.
  """
  results = [analysis.analyze(run) for run in runs]
  folder = os.path.dirname(output) or "."
  os.makedirs(folder, exist_ok=True)
  plots = {}
  for result in results:
    if result.name != runs_lib.FLAGSHIP:
      continue
    for file_name in runs_lib.PLOT_FILES:
      source = os.path.join(result.run.workdir, file_name)
      copy_name = f"{runs_lib.FLAGSHIP}_{file_name}"
      destination = os.path.join(folder, copy_name)
      if os.path.exists(source):
        shutil.copyfile(source, destination)
        plots[f"{runs_lib.FLAGSHIP} {os.path.splitext(file_name)[0]}"] = copy_name
      elif os.path.exists(destination):
        os.remove(destination)
  frontier_path = os.path.join(folder, FRONTIER_PLOT)
  if frontier.plot(results, frontier_path):
    frontier_plot = FRONTIER_PLOT
  else:
    frontier_plot = None
    if os.path.exists(frontier_path):
      os.remove(frontier_path)
  text = render(results, command, plots, frontier_plot)
  with open(output, "w") as f:
    f.write(text)
  return text
