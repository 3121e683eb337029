"""reporting/reproduction.py and `scripts/sweep_report.py --reproduce`: a sweep's cells ranked by
how closely they reproduce a published run, on fake workdirs with hand-computed expectations."""

import json
import subprocess
import sys

import pytest

from configs import sweeps as sweeps_config
from mnist_jax import published
from mnist_jax.published import logs as published_logs
from mnist_jax.optim import sweep
from mnist_jax.reporting import reproduction
from tests.test_results import REPO_ROOT

# Two cells (learning_rate 0.01 / 0.05) x 2 seeds, 3 epochs; per epoch [replicas] in percent.
TEST = [[98.0, 98.2, 98.6, 98.8], [98.8, 99.0, 99.2, 99.4], [99.0, 99.2, 99.1, 99.3]]
TRAIN = [[95.0, 95.2, 96.0, 96.2], [97.0, 97.2, 98.0, 98.2], [97.5, 97.7, 98.5, 98.7]]
LOG = (published_logs.EpochLog(0, 95.1, 98.1, None), published_logs.EpochLog(1, 97.1, 98.9, None),
       published_logs.EpochLog(2, 97.6, 99.1, None))


def write_sweep(workdir, epochs=3):
  workdir.mkdir()
  (workdir / "config.json").write_text(json.dumps({"name": "sweep_x", "model": "ref5_step3"}))
  with open(workdir / "metrics.jsonl", "w") as f:
    for epoch in range(epochs):
      f.write(json.dumps({
          "epoch": epoch, "seeds": [0, 1, 0, 1], "train_accuracy": TRAIN[epoch],
          "test_accuracy": TEST[epoch], "test_correct": [round(a * 100) for a in TEST[epoch]],
          "test_total": 10000, "train_loss": [0.1] * 4, "test_loss": [0.05] * 4,
          "sweep": {"learning_rate": [0.01, 0.01, 0.05, 0.05]}}) + "\n")
  return workdir


def test_cells_ranked_by_closeness_to_the_published_log(tmp_path, monkeypatch):
  monkeypatch.setitem(published_logs.LOGS, "ref5_step3", LOG)
  record = published.record("ref5_step3")  # best test 99.38; ref5: train of the best-test epoch
  found = reproduction.load(str(write_sweep(tmp_path / "w")), "ref5_step3")
  low, high = found.cells
  assert low.values == (0.01,) and high.values == (0.05,) and low.seeds == (0, 1)
  # lr 0.01: best test per seed 99.0, 99.2 -> 99.1; epoch means 98.1, 98.9, 99.1 = the log:
  # test gap 0; train means 95.1, 97.1, 97.6 = the log: train gap 0.
  assert low.best_test[0] == pytest.approx(99.1)
  assert low.best_test_gap == pytest.approx(99.1 - record.best_test_accuracy)
  assert low.test_epoch_gap == pytest.approx(0.0) and low.train_epoch_gap == pytest.approx(0.0)
  assert low.closeness == pytest.approx(abs(99.1 - record.best_test_accuracy) / 3)
  # lr 0.05: best test 99.2 and 99.4, both in epoch 1 -> 99.3; train in that epoch 98.0,
  # 98.2 -> 98.1. Test epoch means 98.7, 99.3, 99.2: gaps 0.6, 0.4, 0.1 -> 0.3667; train means
  # 96.1, 98.1, 98.6: gaps 1.0 each -> 1.0.
  assert high.best_test[0] == pytest.approx(99.3) and high.best_train[0] == pytest.approx(98.1)
  assert high.test_epoch_gap == pytest.approx(1.1 / 3)
  assert high.train_epoch_gap == pytest.approx(1.0)
  assert high.closeness == pytest.approx((abs(99.3 - record.best_test_accuracy) + 1.1 / 3 + 1.0) / 3)
  assert (low.rank, high.rank) == (1, 2) and found.chosen is low
  assert "Closest: learning_rate=0.01" in found.render()


def test_without_a_log_the_best_train_accuracy_counts(tmp_path, monkeypatch):
  monkeypatch.delitem(published_logs.LOGS, "ref5_step3", raising=False)
  record = published.record("ref5_step3")
  found = reproduction.load(str(write_sweep(tmp_path / "w")), "ref5_step3")
  low = found.cells[0]
  assert low.test_epoch_gap is None and low.train_epoch_gap is None
  # ref5: the train accuracy of each seed's best-test epoch (epoch 2: 97.5, 97.7 -> 97.6).
  assert low.best_train[0] == pytest.approx(97.6)
  assert low.closeness == pytest.approx(
      (abs(99.1 - record.best_test_accuracy) + abs(97.6 - record.best_train_accuracy)) / 2)
  assert "no per-epoch log in the write-up" in found.render()


def test_script_reports_and_refuses_bad_input_in_one_line(tmp_path):
  workdir = write_sweep(tmp_path / "w")
  command = [sys.executable, "scripts/sweep_report.py", "--workdir", str(workdir)]
  ok = subprocess.run(command + ["--reproduce", "ref5_step3", "--output", str(tmp_path / "r.md")],
                      cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
  assert ok.returncode == 0, ok.stderr[-2000:]
  assert "Closest: learning_rate=" in ok.stdout and (tmp_path / "r.md").read_text() == ok.stdout
  bad = subprocess.run(command + ["--reproduce", "ref9_step1"], cwd=REPO_ROOT,
                       capture_output=True, text=True, timeout=120, check=False)
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1].startswith(
      "error: unknown reference record 'ref9_step1'; known: ref1_code1")


@pytest.mark.slow  # fast tier: the in-process tests
def test_script_collects_the_closest_cell_as_the_steps_run(tmp_path):
  workdir = write_sweep(tmp_path / "w")
  (workdir / "config.json").write_text(json.dumps(
      {"name": "sweep_x", "model": "ref5_step3", "learning_rate": 0.02, "seed": 0, "num_seeds": 2,
       "sweep": {"learning_rate": [0.01, 0.05]}}))
  command = [sys.executable, "scripts/sweep_report.py", "--workdir", str(workdir),
             "--reproduce", "ref5_step3", "--collect", str(tmp_path / "runs")]
  unfinished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=120, check=False)
  assert unfinished.returncode == 1 and not (tmp_path / "runs").exists()
  assert "has not finished (no summary.json)" in unfinished.stderr.strip().splitlines()[-1]
  (workdir / "summary.json").write_text(json.dumps(
      {"model": "ref5_step3", "num_params": 9792, "seeds": [0, 1, 0, 1], "num_epochs": 3,
       "device": "cpu:cpu x1", "compile_seconds": 4.0, "train_seconds": 40.0}))
  ok = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                      check=False)
  assert ok.returncode == 0, ok.stderr[-2000:]
  chosen = reproduction.load(str(workdir), "ref5_step3").chosen
  run = json.loads((tmp_path / "runs" / "ref5_step3" / "config.json").read_text())
  assert run["name"] == "ref5_step3" and run["learning_rate"] == chosen.values[0]
  summary = json.loads((tmp_path / "runs" / "ref5_step3" / "summary.json").read_text())
  assert summary["seeds"] == [0, 1] and summary["train_seconds"] == pytest.approx(20.0)
  # The summary's per-seed figures are those of the chosen cell's replicas.
  assert max(summary["test_accuracy"]["best"]) == pytest.approx(
      max(TEST[e][r] for e in range(3) for r in chosen.replicas))


def test_collect_without_reproduce_is_one_line(tmp_path):
  result = subprocess.run(
      [sys.executable, "scripts/sweep_report.py", "--workdir", str(write_sweep(tmp_path / "w")),
       "--collect", str(tmp_path / "runs")],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      "error: --collect needs --reproduce RECORD (the published step whose row the closest cell "
      "becomes)"]


# Reproduction sweeps that configs/sweeps.py defines but that have not been run, each with
# why: these alone may lack runs/sweeps/<name>/ (and must lack it: once run, remove the entry).
NOT_RUN = {
    "reproduce_ref4_step3_lr": "not run: 12 replicas of ref4 Step 3's network, whose 3-seed "
                               "epoch took 640 s on the 2-core CPU (docs/EXPERIMENTS.md)",
}
# What `sweep_report.py` and `reproduction.load` read of a committed sweep.
SWEEP_FILES = ("config.json", "metrics.jsonl", "summary.json")


def test_not_run_sweeps_are_defined_and_absent():
  assert set(NOT_RUN) <= set(sweeps_config.REPRODUCTIONS)
  for name in NOT_RUN:
    committed = REPO_ROOT / "runs" / "sweeps" / name
    assert not committed.exists(), (
        f"{committed} is committed: {name} has run, so remove it from NOT_RUN")


@pytest.mark.parametrize("name", list(sweeps_config.REPRODUCTIONS))
def test_committed_sweep_files(name):
  """Every reproduction sweep configs/sweeps.py defines has its files in runs/sweeps/<name>/,
  except those NOT_RUN names."""
  if name in NOT_RUN:
    pytest.skip(f"{name}: {NOT_RUN[name]}")
  committed = REPO_ROOT / "runs" / "sweeps" / name
  missing = [file for file in SWEEP_FILES if not (committed / file).is_file()]
  assert not missing, (f"{committed} lacks {', '.join(missing)}: commit the sweep's files "
                       "(scripts/sweep_report.py), or list it in NOT_RUN with why")


def _record_of(name: str) -> str:
  """The published step a reproduction sweep reproduces: its recipe's name (e.g. "ref5_step6")."""
  return sweeps_config.REPRODUCTIONS[name][0]().name


@pytest.mark.parametrize("name", list(sweeps_config.REPRODUCTIONS))
def test_step_config_and_row_follow_the_committed_sweep(name):
  """Each reproduced step keeps its sweep's closest cell in its config, and its row in runs/ is
  that cell's seeds (`sweep_report.py --collect`), or those of a later committed sweep of the
  same step (a second sweep starts from the first one's choice: REPRODUCTIONS is in order)."""
  if name in NOT_RUN:
    pytest.skip(f"{name}: {NOT_RUN[name]}")
  record = _record_of(name)
  committed = REPO_ROOT / "runs" / "sweeps" / name  # its files: test_committed_sweep_files
  found = reproduction.load(str(committed), record)
  chosen = found.chosen
  config = sweeps_config.REPRODUCTIONS[name][0]()
  for field, value in zip(found.fields, chosen.values):
    assert sweep.cell_value(config, field) == value, field
  names = list(sweeps_config.REPRODUCTIONS)
  later = [other for other in names[names.index(name) + 1:]
           if _record_of(other) == record and other not in NOT_RUN]
  row = json.loads((REPO_ROOT / "runs" / record / "summary.json").read_text())
  if later:
    assert row["sweep_cell"]["sweep"] == f"sweep_{later[-1]}"
    return
  assert row["sweep_cell"] == {
      "sweep": f"sweep_{name}", "values": dict(zip(found.fields, chosen.values)),
      "replicas": list(chosen.replicas), "sweep_replicas": len(found.run.history[-1]["seeds"])}
