"""A sweep survives a diverging cell: its replica is frozen in the program, reported once and
recorded, the others finish as their single runs do, and the sweep report never chooses it.
max_lr 1e5 on ref3 Step 4: the loss is non-finite within the first epoch's 4 steps."""

import contextlib
import io
import json
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import base
from mnist_jax.optim import sweep
from mnist_jax.training import train
from tests.test_train import (REPO_ROOT, assert_trees_close, final_params, small_config,
                              train_interrupted_and_straight, without_times)

DIVERGING_GRID = {"schedule": {"max_lr": [0.1, 1e5]}}


def diverging_config(mnist_dir):
  config = small_config(mnist_dir, num_epochs=2, rotation_degrees=0.0, validation_size=100,
                        schedule=base.one_cycle(max_lr=0.1, pct_start=0.3))
  config.sweep = DIVERGING_GRID
  return config


@pytest.fixture(scope="module")
def diverged_run(mnist_dir, tmp_path_factory):
  """The 2-cell grid trained once in this process: (workdir, its console output)."""
  workdir = tmp_path_factory.mktemp("diverging")
  console = io.StringIO()
  with contextlib.redirect_stdout(console):
    train.train_and_evaluate(diverging_config(mnist_dir), str(workdir))
  return workdir, console.getvalue()


def test_the_diverged_cell_is_named_once_and_the_run_ends_normally(diverged_run):
  workdir, console = diverged_run
  lines = [line for line in console.splitlines() if line.startswith("diverged")]
  assert len(lines) == 1, console
  match = re.fullmatch(r"diverged at epoch (\d) step (\d): schedule.max_lr=100000.0 seed 0",
                       lines[0])
  assert match, lines[0]
  epoch, step = int(match[1]), int(match[2])
  history = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  assert len(history) == 2
  assert all("diverged" not in record for record in history[:epoch])
  for record in history[epoch:]:
    assert record["diverged"] == [None, {"epoch": epoch, "step": step}]


def test_a_frozen_replica_stops_changing(diverged_run):
  workdir, _ = diverged_run
  steps = [json.loads(line) for line in open(workdir / "steps.jsonl")]
  losses = np.concatenate([np.asarray(r["step_loss"], np.float64) for r in steps], axis=1)
  first = int(np.flatnonzero(~np.isfinite(losses[1]))[0])
  diverged = json.loads(open(workdir / "metrics.jsonl").readlines()[-1])["diverged"][1]
  assert first == diverged["epoch"] * 4 + diverged["step"]  # 4 steps an epoch
  assert not np.isfinite(losses[1, first:]).any()  # NaN from its divergence on
  assert np.isfinite(losses[0]).all()
  saved = final_params(workdir)
  assert all(np.isfinite(leaf[1]).all() for leaf in jax.tree.leaves(saved))  # the last finite state


def test_the_other_cell_equals_its_single_run(diverged_run, mnist_dir, tmp_path):
  workdir, _ = diverged_run
  config = diverging_config(mnist_dir)
  (seed, cell), = [layout for layout in sweep.replicas(config)
                   if layout[1]["schedule.max_lr"] == 0.1]
  single = sweep.cell_config(config, cell)
  single.seed = seed
  history = train.train_and_evaluate(single, str(tmp_path / "single"))
  grid = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  assert [r["test_correct"][0] for r in grid] == [r["test_correct"][0] for r in history]
  ours = jax.tree.map(lambda x: x[0], final_params(tmp_path / "single"))
  assert_trees_close(jax.tree.map(lambda x: x[0], final_params(workdir)), ours, atol=1e-5)


def test_the_sweep_report_marks_the_cell_and_never_chooses_it(diverged_run):
  workdir, _ = diverged_run
  result = subprocess.run([sys.executable, "scripts/sweep_report.py", "--workdir", str(workdir)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  rows = [line for line in result.stdout.splitlines() if line.startswith("| 100000 ")]
  assert len(rows) == 1 and re.search(r"\| diverged at epoch \d \|$", rows[0]), result.stdout
  chosen = [line for line in result.stdout.splitlines() if line.startswith("Chosen:")]
  assert chosen and "schedule.max_lr=0.1" in chosen[0], result.stdout


def test_a_single_diverging_run_still_stops_with_one_line(mnist_dir, tmp_path):
  config = small_config(mnist_dir, num_epochs=2, rotation_degrees=0.0,
                        schedule=base.one_cycle(max_lr=1e5, pct_start=0.3))
  with pytest.raises(train.TrainingError, match=r"^non-finite training loss at epoch \d step \d "
                                                r"\(seed 0\); not saved"):
    train.train_and_evaluate(config, str(tmp_path))


@pytest.mark.slow  # 3 trainings of the 2-replica grid, ~20 s
def test_a_resumed_sweep_keeps_its_diverged_replica_frozen(mnist_dir, tmp_path, monkeypatch):
  # lr 1e6 diverges in the first epoch, before the interruption after epoch 1's checkpoint:
  # the resumed run learns from metrics.jsonl's history which replica to keep frozen.
  config = small_config(mnist_dir, rotation_degrees=0.0)
  config.sweep = {"learning_rate": [0.05, 1e6]}
  straight, resumed = train_interrupted_and_straight(config, tmp_path, monkeypatch)
  assert straight[0]["diverged"][0] is None and straight[0]["diverged"][1]["epoch"] == 0
  # NaN losses of the frozen replica: compared as JSON text (NaN != NaN).
  assert json.dumps(without_times(resumed)) == json.dumps(without_times(straight))
  assert_trees_close(final_params(tmp_path / "resumed"), final_params(tmp_path / "straight"),
                     atol=0)
