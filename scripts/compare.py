"""Compares training runs with the published numbers and writes docs/RESULTS.md.

  python scripts/compare.py                                   # the committed runs in runs/
  python scripts/compare.py --workdirs 'workdirs/*'           # workdirs directly
  python scripts/compare.py --collect --workdirs 'workdirs/*' # copy them into runs/, then report

--collect copies the small files of each run (config.json, metrics.jsonl, summary.json and the
plots, not the checkpoints) into runs/<recipe name>/, which is committed, so RESULTS.md can be
regenerated on any machine. The report is printed and written to --output. Bad input ends
with one line on stderr and exit status 1.
"""

import shlex
import sys

from absl import app
from absl import flags

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax.reporting import results
from mnist_jax.reporting import runs as runs_lib

_WORKDIRS = flags.DEFINE_list(
    "workdirs", [], "Run workdirs, as globs (comma-separated). Default: every run in --runs_dir.")
_RUNS_DIR = flags.DEFINE_string("runs_dir", "runs", "Folder of the committed run summaries.")
_COLLECT = flags.DEFINE_bool(
    "collect", False, "Copy the runs of --workdirs into --runs_dir, then report from --runs_dir.")
_OUTPUT = flags.DEFINE_string("output", "docs/RESULTS.md", "Markdown file to write.")
_README = flags.DEFINE_string(
    "readme", "README.md", "File whose generated results table (between its markers) is "
    "rewritten when reporting the committed runs; empty: none.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    if _COLLECT.value:
      if not _WORKDIRS.value:
        raise ValueError("--collect needs --workdirs (the runs to copy into --runs_dir)")
      for folder in runs_lib.collect_all(_WORKDIRS.value, _RUNS_DIR.value):
        print(f"collected {folder}", file=sys.stderr)
    from_workdirs = bool(_WORKDIRS.value) and not _COLLECT.value
    patterns = _WORKDIRS.value if from_workdirs else [f"{_RUNS_DIR.value}/*"]
    # The command that regenerates this very report (collecting is already done).
    command = "python scripts/compare.py"
    if from_workdirs:
      command += f" --workdirs {shlex.quote(','.join(patterns))}"
    elif _RUNS_DIR.value != _RUNS_DIR.default:
      command += f" --runs_dir {shlex.quote(_RUNS_DIR.value)}"
    if _OUTPUT.value != _OUTPUT.default:
      command += f" --output {shlex.quote(_OUTPUT.value)}"
    readme = None if from_workdirs else _README.value
    text = results.report(runs_lib.find_runs(patterns), _OUTPUT.value, command, readme)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(text)


if __name__ == "__main__":
  app.run(main)
