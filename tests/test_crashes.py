"""The crash test: a short run killed with SIGKILL at random moments, then the same command.

Kill points in four phases (tests/crash_run.py): inside an epoch's steps and evaluation, during
an Orbax save, halfway through a line of metrics.jsonl or steps.jsonl, and during a plot's
write. After each kill the same command runs again; the runs of a trajectory end with the
parameters of an uninterrupted run, bit for bit, and a metrics.jsonl of one line per epoch equal
to its. Seeded: MNIST_JAX_CRASH_SEED=<seed> replays a failure (the seed is in every message).
"""

import collections
import json
import os
import random
import subprocess
import sys

import pytest

from tests.test_train import REPO_ROOT, assert_trees_close, final_params

SEED = int(os.environ.get("MNIST_JAX_CRASH_SEED", "20261204"))
NUM_EPOCHS = 3
ARGS = ["--config", "configs/final.py", "--config.train_subset=256", "--config.test_subset=100",
        "--config.batch_size=32", f"--config.num_epochs={NUM_EPOCHS}"]
# Every kill point of a run (tests/crash_run.py) in the order the run meets them, with the
# longest delay (s) after entering its phase: below the phase's duration, so the kill lands in it.
TIMELINE = [point for epoch in range(NUM_EPOCHS) for point in (
    ("steps", epoch, 0.05), ("metrics", 2 * epoch, 0.0), ("metrics", 2 * epoch + 1, 0.0),
    ("checkpoint", epoch, 0.03))] + [("plots", figure, 0.03) for figure in range(3)]
TRAJECTORIES = 5  # of 4 kills each: 20 kill points


def trajectories(seed: int) -> list[list[tuple[str, int, float]]]:
  """Kill points (phase, index, delay) per trajectory, one in each phase, in timeline order: a
  kill leaves the run before its point, so the same command, resuming, meets the next."""
  rng = random.Random(seed)
  phases = sorted({phase for phase, _, _ in TIMELINE})
  chosen = [[rng.choice([p for p in TIMELINE if p[0] == phase]) for phase in phases]
            for _ in range(TRAJECTORIES)]
  return [[(phase, index, round(rng.uniform(0.0, longest), 4))
           for phase, index, longest in sorted(points, key=TIMELINE.index)] for points in chosen]


def run(workdir, *harness):
  script = [*harness, "--"] if harness else ["scripts/train.py"]
  return subprocess.run([sys.executable, *script, *ARGS, "--workdir", str(workdir)],
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def metrics_without_times(workdir):
  with open(workdir / "metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  return [{k: v for k, v in record.items() if k != "epoch_seconds"} for record in records]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_the_same_command_ends_as_an_uninterrupted_run(tmp_path):
  reference = tmp_path / "reference"
  done = run(reference)
  assert done.returncode == 0, done.stderr[-2000:]
  landed = collections.Counter()
  for number, trajectory in enumerate(trajectories(SEED)):
    workdir, log = tmp_path / f"run{number}", tmp_path / f"run{number}.log"
    where = f"seed {SEED}, trajectory {number}: {trajectory}"
    for phase, index, delay in trajectory:
      killed = run(workdir, "tests/crash_run.py", phase, str(index), str(delay), str(log))
      entries = log.read_text().splitlines()
      assert killed.returncode == -9 and "Traceback" not in killed.stderr, (
          f"{where}: {phase} {index} not killed:\n{killed.stderr[-2000:]}")
      landed[phase] += entries[-1] == f"enter {phase} {index}"  # else just after the phase
      log.unlink()
    finished = run(workdir)
    assert finished.returncode == 0, f"{where}: {finished.stderr[-2000:]}"
    assert "was locked by a run that ended without releasing it" in finished.stdout, where
    assert_trees_close(final_params(workdir), final_params(reference), atol=0)
    assert metrics_without_times(workdir) == metrics_without_times(reference), where
    assert (workdir / "summary.json").is_file() and (workdir / "curves.png").is_file(), where
    assert not list((workdir / "checkpoints").glob("*tmp*")), where
  print(f"kills inside each phase (seed {SEED}): {dict(landed)}")
  assert sum(landed.values()) >= 20 and min(landed.values()) >= 4, (SEED, landed)
