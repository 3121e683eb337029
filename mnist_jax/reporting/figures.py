"""The pictures beside RESULTS.md's tables: each published step's best test accuracy, ours
against the write-up's, and the flagship's curve beside the write-ups' printed logs."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mnist_jax import published
from mnist_jax.published import logs as published_logs
from mnist_jax.reporting import analysis
from mnist_jax.training import plots

STEPS_PLOT = "published_steps.png"  # written beside RESULTS.md, as the two below
FLAGSHIP_PLOT = "flagship_vs_published.png"
LOGGED_FINALS = ("ref3_step4", "ref4_step5")  # the final models whose write-ups print a log


def steps_plot(results: Sequence[analysis.RunResult], path: str) -> bool:
  """Writes a PNG of each published step with a results row (`analysis.coverage`): the write-up's
  best test accuracy (%) and our mean ± std over seeds; False (nothing written) without a row."""
  rows = {r.name: r for r in results if r.name in analysis.coverage(results).rows}
  if not rows:
    return False
  names = list(rows)[::-1]  # the first step at the top
  y = np.arange(len(names))
  figure = plots.new_figure(8, 1.5 + 0.25 * len(names))
  axes = figure.add_subplot()
  axes.plot([rows[n].record.best_test_accuracy for n in names], y, "s", color="tab:blue",
            markerfacecolor="none", label="published (the write-up's one run)")
  axes.errorbar([rows[n].best[0] for n in names], y, xerr=[rows[n].best[1] or 0.0 for n in names],
                fmt="o", color="tab:red", capsize=2, ms=4, label="ours, mean ± std over seeds")
  axes.axvline(analysis.TARGET, color="grey", linestyle=":", linewidth=1)
  axes.set_yticks(y, names, fontsize=7)
  axes.set_xlabel("best test accuracy (%) in the write-up's number of epochs")
  axes.set_title(f"{len(names)} published steps: ours against the write-ups")
  axes.grid(True, axis="x", alpha=0.3)
  axes.legend(fontsize=8, loc="lower left")
  plots.save_figure(figure, path)
  return True


def beside_logs(result: analysis.RunResult, path: str, flagship: bool = False) -> bool:
  """Writes a PNG of `result`'s test accuracy (%) and loss per epoch (mean over seeds, the band
  their range), epochs from 1, beside the per-epoch logs the write-ups print: those of
  `LOGGED_FINALS` for the `flagship`, else its own published step's; False (nothing written)
  where the write-up prints none or before `result`'s first epoch."""
  names = LOGGED_FINALS if flagship else (result.name,)
  history = result.run.history
  if not history or any(name not in published_logs.LOGS for name in names):
    return False
  epochs = np.arange(1, len(history) + 1)
  figure = plots.new_figure(9, 3.2)
  for axes, key, unit in zip(figure.subplots(1, 2), ("test_accuracy", "test_loss"),
                             ("test accuracy (%)", "test loss")):
    values = np.asarray([record[key] for record in history], np.float64)  # [epochs, seeds]
    axes.fill_between(epochs, values.min(axis=1), values.max(axis=1), color="black", alpha=0.15)
    axes.plot(epochs, values.mean(axis=1), color="black", linewidth=2,
              label=f"ours: {result.name} ({result.params:,} params), mean of "
                    f"{values.shape[1]} seeds")
    for name in names:
      log = published_logs.log(name)
      axes.plot([e.epoch + 1 for e in log], [getattr(e, key) for e in log], "--o", markersize=3,
                label=f"{name} as published ({published.record(name).params:,} params, one run)")
    axes.set(xlabel="epoch", ylabel=unit)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7)
    if key == "test_accuracy":
      axes.set_ylim(max(97.0, float(values.mean(axis=1).min()) - 0.2), 99.8)
  figure.suptitle("The flagship beside the write-ups' final models with a printed log"
                  if flagship else f"{result.name}: ours and published")
  plots.save_figure(figure, path)
  return True
