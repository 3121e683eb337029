"""Reproduces the results table in one command: every published step, then RESULTS.md.

  python scripts/reproduce.py                        # all 27 steps x 3 seeds + final x 5 seeds
  python scripts/reproduce.py --jobs 8 --time_budget 480      # on a GPU: 8 runs at a time
  python scripts/reproduce.py --steps ref3_step4,final        # some rows only

Each run is `scripts/train.py` with the step's recipe (configs/ref1.py ... ref5.py,
configs/final.py), 15 epochs, in its own process and workdir, <--workdir>/<step>. --jobs runs
that many at a time, so their programs are traced and compiled concurrently, each before its
first epoch (and kept in JAX's persistent compilation cache); on a GPU they share the device.
A run whose workdir holds summary.json is finished and skipped; an unfinished one resumes
from its last checkpoint, so rerunning the same command carries on where the last one
stopped. At --time_budget seconds the runs still training are stopped cleanly (SIGTERM:
each stops between two segments of an epoch, its checkpoints intact) and none is started;
Ctrl-C does the same.
The finished runs are then copied into --runs_dir (`scripts/compare.py --collect`: the small
files, not the checkpoints) and docs/RESULTS.md and the README's table are regenerated from
it; each row names the device it ran on. Each run's console output is in <--workdir>/<step>.log.
Bad input ends with one line on stderr and exit status 1.
"""

import os
import signal
import subprocess
import sys
import time

from absl import app
from absl import flags

import _paths

from configs import base
from mnist_jax import cli
from mnist_jax import published
from mnist_jax.reporting import results
from mnist_jax.reporting import runs as runs_lib

# The flagship's seeds; every published step gets 3 (as the committed rows in runs/).
SEEDS = {"final": 5}
DEFAULT_SEEDS = 3

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags, defined only when run as a script: the tests import this
  module beside other scripts whose flags share these names."""
  flags.DEFINE_list("steps", [], "Rows to train, e.g. ref3_step4,final (default: all).")
  flags.DEFINE_string("workdir", "workdirs/reproduce",
                      "Folder of the runs' workdirs, one per step, and their logs.")
  flags.DEFINE_integer("jobs", 1, "Runs training at a time (a few per GPU; 1 on a CPU).")
  flags.DEFINE_float(
      "time_budget", 0.0, "Seconds after which running runs stop cleanly (0: no limit); rerun the "
      "same command to resume them.")
  flags.DEFINE_multi_string(
      "override", [], "A config override passed to every run, e.g. --override=num_epochs=2.")
  flags.DEFINE_string("runs_dir", "runs", "Folder the finished runs are copied into.")
  flags.DEFINE_string("output", "docs/RESULTS.md", "Results file regenerated at the end.")
  flags.DEFINE_string("readme", "README.md",
                      "File whose results table is rewritten too; empty: none.")


def all_steps() -> dict[str, str]:
  """Row name -> its --config argument: the published steps in write-up order, then final."""
  experiments = base.experiments()
  steps = {f"{ref}_{step}": f"configs/{ref}.py:{step}"
           for ref in published.EXPERIMENTS for step in experiments[ref]}
  steps["final"] = "configs/final.py"
  return steps


def command(step: str, config: str, workdir: str, overrides: list[str]) -> list[str]:
  """The `scripts/train.py` command line of row `step`."""
  return [sys.executable, str(_paths.ROOT / "scripts" / "train.py"), f"--config={config}",
          f"--workdir={workdir}", f"--config.num_seeds={SEEDS.get(step, DEFAULT_SEEDS)}",
          "--config.progress_bar=False", *(f"--config.{o}" for o in overrides)]


def run_all(steps: dict[str, str], root: str, jobs: int, time_budget: float,
            overrides: list[str]) -> tuple[list[str], list[str]]:
  """Trains `steps` (row -> --config), `jobs` at a time; returns (finished, unfinished) rows.

  Raises:
    RuntimeError: a run failed other than by the time budget's stop (its log's last line).
  """
  start = time.monotonic()
  root = os.path.abspath(root)  # the runs start in the repository root, for configs/
  done = lambda step: os.path.exists(os.path.join(root, step, "summary.json"))  # finished
  pending = [s for s in steps if not done(s)]
  for step in steps:
    if step not in pending:
      print(f"{step}: finished earlier, skipped")
  running: dict[str, subprocess.Popen] = {}
  stopped = failed = False
  # Runs share a GPU's memory; their logs are written as they go.
  env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONUNBUFFERED": "1"}
  try:
    while pending or running:
      if time_budget and time.monotonic() - start > time_budget and not stopped:
        stopped = True
        for process in running.values():
          process.send_signal(signal.SIGTERM)
      while pending and len(running) < jobs and not stopped and not failed:
        step = pending.pop(0)
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, f"{step}.log"), "w") as log:
          running[step] = subprocess.Popen(
              command(step, steps[step], os.path.join(root, step), overrides),
              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=_paths.ROOT)
        print(f"{step}: started ({time.monotonic() - start:.0f} s)", flush=True)
      if (stopped or failed) and not running:
        break
      time.sleep(0.2)
      for step, process in list(running.items()):
        if process.poll() is None:
          continue
        del running[step]
        if process.returncode == 0:
          print(f"{step}: finished ({time.monotonic() - start:.0f} s)", flush=True)
        elif not stopped:
          failed = True  # the others finish; none starts
          print(f"{step}: failed: {last_line(os.path.join(root, f'{step}.log'))}",
                file=sys.stderr)
  except KeyboardInterrupt:
    # Ctrl-C reached the runs too (one process group); they stop between two segments.
    for process in running.values():
      process.wait()
  finished = [s for s in steps if done(s)]
  if failed:
    raise RuntimeError(f"a run failed (its log is in {root}); fix it and rerun the same command")
  return finished, [s for s in steps if s not in finished]


def last_line(path: str) -> str:
  """The last non-empty line of a log."""
  with open(path, errors="replace") as f:
    lines = [line.strip() for line in f if line.strip()]
  return lines[-1] if lines else "(no output)"


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  steps = all_steps()
  unknown = [s for s in FLAGS.steps if s not in steps]
  if unknown:
    cli.fail(f"unknown step(s) {', '.join(unknown)}; valid steps: {', '.join(steps)}")
  if FLAGS.jobs < 1 or FLAGS.time_budget < 0:
    cli.fail(f"--jobs must be >= 1 and --time_budget >= 0, got {FLAGS.jobs} and "
             f"{FLAGS.time_budget}")
  chosen = {s: steps[s] for s in FLAGS.steps} if FLAGS.steps else steps
  start = time.monotonic()
  try:
    finished, unfinished = run_all(chosen, FLAGS.workdir, FLAGS.jobs, FLAGS.time_budget,
                                   FLAGS.override)
    if finished:
      runs_lib.collect_all([os.path.join(FLAGS.workdir, s) for s in finished], FLAGS.runs_dir)
      command_line = "python scripts/compare.py"
      if FLAGS.runs_dir != FLAGS["runs_dir"].default:
        command_line += f" --runs_dir {FLAGS.runs_dir}"
      results.report(runs_lib.find_runs([f"{FLAGS.runs_dir}/*"]), FLAGS.output, command_line,
                     FLAGS.readme or None)
  except (ValueError, RuntimeError) as e:
    cli.fail(str(e))
  print(f"{len(finished)} of {len(chosen)} runs finished in {time.monotonic() - start:.0f} s; "
        f"{FLAGS.output} regenerated from {FLAGS.runs_dir}/" if finished else
        f"none of {len(chosen)} runs finished")
  if unfinished:
    print(f"unfinished: {', '.join(unfinished)}; rerun the same command to resume them")
    sys.exit(1)


if __name__ == "__main__":
  define_flags()
  app.run(main)
