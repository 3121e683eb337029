"""scripts/train.py with a SIGKILL armed at one kill point (the crash test, tests/test_crashes.py).

  python tests/crash_run.py PHASE INDEX DELAY LOG -- <scripts/train.py's arguments>

Kill points are counted over the run, not the process, so that a resumed run meets the next:
  steps       DELAY seconds into epoch INDEX (from 0: its segments, then its evaluation)
  metrics     halfway through line INDEX of the run's lines (2 e: metrics.jsonl's line of epoch
              e, 2 e + 1: steps.jsonl's), leaving a torn line
  checkpoint  DELAY seconds into the Orbax save after epoch INDEX (from 0)
  plots       DELAY seconds into writing the INDEX-th PNG of the process (from 0)
LOG gets "enter PHASE INDEX" and "exit PHASE INDEX" around each entry into the phase, written
before the kill can happen, so the test sees where each kill landed.
"""

import json
import os
import runpy
import signal
import sys
import threading

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
  phase, index, delay, log = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
  train_args = sys.argv[sys.argv.index("--") + 1:]
  workdir = train_args[train_args.index("--workdir") + 1]
  log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
  note = lambda text: os.write(log_fd, f"{text}\n".encode())
  kill = lambda: os.kill(os.getpid(), signal.SIGKILL)
  figures = [0]

  def enter(at: int) -> None:
    note(f"enter {phase} {at}")
    if at == index and phase != "metrics":
      threading.Timer(delay, kill).start()

  sys.path[:0] = [REPO_ROOT, os.path.join(REPO_ROOT, "scripts")]
  # pylint: disable-next=import-outside-toplevel  (after the path is set)
  from mnist_jax.training import checkpoint, console, metrics, plots

  if phase == "steps":  # an epoch's segments and evaluation lie between start and close
    start, close = console.Progress.start, console.Progress.close

    def start_armed(self):
      with open(os.path.join(workdir, "metrics.jsonl")) as f:  # rewritten on resume: 1 line/epoch
        self.epoch = sum(1 for _ in f)
      enter(self.epoch)
      start(self)

    def close_armed(self):
      close(self)
      note(f"exit steps {self.epoch}")
    console.Progress.start, console.Progress.close = start_armed, close_armed
  elif phase == "metrics":
    write = metrics.JsonLinesWriter.write

    def write_armed(self, record):
      at = 2 * record["epoch"] + self.path.endswith("steps.jsonl")
      enter(at)
      if at == index:
        line = json.dumps(metrics.to_builtin(record)) + "\n"
        with open(self.path, "a") as f:
          f.write(line[:len(line) // 2])
        kill()
      write(self, record)
      note(f"exit metrics {at}")
    metrics.JsonLinesWriter.write = write_armed
  else:
    module, name = ((checkpoint, "save_checkpoint") if phase == "checkpoint"
                    else (plots, "save_figure"))
    function = getattr(module, name)

    def armed(*args, **kwargs):
      at = args[1] - 1 if phase == "checkpoint" else figures[0]
      figures[0] += 1
      enter(at)
      result = function(*args, **kwargs)
      note(f"exit {phase} {at}")
      return result
    setattr(module, name, armed)
  sys.argv = [os.path.join(REPO_ROOT, "scripts", "train.py"), *train_args]
  runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
  main()
