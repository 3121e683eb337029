"""Reports a sweep run: its cells ranked on the validation split, a table and a plot.

  python scripts/sweep_report.py --workdir workdirs/sweep [--output docs/SWEEP.md]
  python scripts/sweep_report.py --workdir workdirs/sweep --plot_fields schedule.max_lr
  python scripts/sweep_report.py --workdir workdirs/ref5_step3_lr --reproduce ref5_step3

Prints the Markdown table (one row per cell) and the line naming the chosen cell, and writes
the plot (--plot, default WORKDIR/sweep.png) for one or two swept fields, or for the one or two
picked by --plot_fields (the others averaged over). Bad input ends with one line on stderr and
exit status 1.

--reproduce RECORD ranks the cells instead by how closely they reproduce the published run
RECORD (`mnist_jax.reporting.reproduction`): its best test and train accuracy and,
where the write-up prints one, its per-epoch log. No plot is drawn then. With --collect
RUNS_DIR it also writes the closest cell's seeds as the step's run, RUNS_DIR/RECORD/
(`reproduction.cell_run`), the row `scripts/compare.py` reports:

  python scripts/sweep_report.py --workdir workdirs/reproduce_ref5_step3_lr \
      --reproduce ref5_step3 --collect runs
"""

import os
import sys

from absl import app
from absl import flags

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax import cli
from mnist_jax.reporting import reproduction
from mnist_jax.reporting import runs as runs_lib
from mnist_jax.reporting import sweeps

_WORKDIR = flags.DEFINE_string("workdir", None, "Sweep workdir (config.json, metrics.jsonl).")
_OUTPUT = flags.DEFINE_string("output", None, "Markdown file to write the report to as well.")
_PLOT = flags.DEFINE_string("plot", None, "PNG file of the plot. Default: WORKDIR/sweep.png.")
_PLOT_FIELDS = flags.DEFINE_list(
    "plot_fields", [], "One or two swept fields to plot (comma-separated); others averaged over.")
_REPRODUCE = flags.DEFINE_string(
    "reproduce", None, "A published record (e.g. ref5_step3): rank the cells by closeness to it.")
_COLLECT = flags.DEFINE_string(
    "collect", None, "With --reproduce: runs folder to write the closest cell into as RECORD/.")
flags.mark_flags_as_required(["workdir"])


def _write(text: str) -> None:
  """Writes `text` to --output, when given."""
  if _OUTPUT.value:
    os.makedirs(os.path.dirname(_OUTPUT.value) or ".", exist_ok=True)
    with open(_OUTPUT.value, "w") as f:
      f.write(text)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if _COLLECT.value and not _REPRODUCE.value:
    cli.fail("--collect needs --reproduce RECORD (the published step whose row the closest "
             "cell becomes)")
  if _REPRODUCE.value:
    try:
      found = reproduction.load(_WORKDIR.value, _REPRODUCE.value)
      text = found.render()
      _write(text)
      if _COLLECT.value:
        folder = runs_lib.write_run(reproduction.cell_run(found, found.chosen),
                                    os.path.join(_COLLECT.value, found.record.name))
        print(f"collected {folder} (the closest cell's seeds {list(found.chosen.seeds)})",
              file=sys.stderr)
    except (ValueError, OSError) as e:
      cli.fail(str(e))
    print(text, end="")
    return
  try:
    sweep = sweeps.load_sweep(_WORKDIR.value)
    text = sweeps.render(sweep)
    plot_path = _PLOT.value or os.path.join(_WORKDIR.value, "sweep.png")
    written = sweeps.plot(sweep, plot_path, _PLOT_FIELDS.value)
    _write(text)
  except (ValueError, OSError) as e:
    cli.fail(str(e))
  print(text, end="")
  print(f"plot: {written}" if written else sweeps.no_plot_line(sweep))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
