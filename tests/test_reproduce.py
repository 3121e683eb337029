"""scripts/reproduce.py: one command trains every row of the results table, resumably."""

import importlib
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from mnist_jax import published

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
import reproduce  # noqa: E402  pylint: disable=wrong-import-position


# A tiny run of each row: 1,024 images, 2 epochs, no plots.
TINY = ["--override=train_subset=1024", "--override=test_subset=500",
        "--override=plots=False"]


def run(tmp_path, *args, timeout=300):
  return subprocess.run(
      [sys.executable, "scripts/reproduce.py", f"--workdir={tmp_path / 'work'}",
       f"--runs_dir={tmp_path / 'runs'}", f"--output={tmp_path / 'RESULTS.md'}", "--readme=",
       *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=timeout)


def test_the_rows_are_every_published_step_then_the_flagship():
  steps = reproduce.all_steps()
  assert list(steps)[-1] == "final" and steps["final"] == "configs/final.py"
  assert set(steps) - {"final"} == {record.name for record in published.all()}
  assert len(steps) == 28
  assert steps["ref3_step4"] == "configs/ref3.py:step4"
  for step, config in steps.items():
    file, _, name = config.partition(":")
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    assert (module.get_config(name) if name else module.get_config()).name == step


def test_each_row_trains_with_its_seeds(tmp_path):
  command = reproduce.command("final", "configs/final.py", str(tmp_path), ["num_epochs=2"])
  assert command[2:] == ["--config=configs/final.py", f"--workdir={tmp_path}",
                         "--config.num_seeds=5", "--config.progress_bar=False",
                         "--config.num_epochs=2"]
  assert "--config.num_seeds=3" in reproduce.command("ref1_code1", "x", "w", [])


@pytest.mark.parametrize("args, message", [
    (["--steps=ref9_step1"], "error: unknown step(s) ref9_step1; valid steps: ref1_code1, "),
    (["--jobs=0"], "error: --jobs must be >= 1 and --time_budget >= 0, got 0 and 0.0"),
])
def test_bad_flags_are_one_line(tmp_path, args, message):
  result = run(tmp_path, *args, timeout=60)
  assert result.returncode == 1
  assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
  assert not (tmp_path / "work").exists()


@pytest.mark.slow
def test_a_failed_run_stops_the_rest_and_names_its_log(tmp_path):
  # 4 steps an epoch are too few for the flagship's OneCycle (pct_start 0.2).
  result = run(tmp_path, "--steps=final,ref1_code1", "--override=train_subset=256",
               "--override=num_epochs=1", *TINY[1:])
  assert result.returncode == 1
  assert "final: failed: error: config.schedule.pct_start=0.2" in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      f"error: a run failed (its log is in {tmp_path / 'work'}); fix it and rerun the same command")
  assert not (tmp_path / "runs").exists()


def test_a_time_budget_stops_the_running_runs_and_starts_none(tmp_path, monkeypatch, capsys):
  # Stand-ins for train.py that stop on SIGTERM as it does (the real one: the slow test below).
  child = ("import signal, sys, time\n"
           "signal.signal(signal.SIGTERM, lambda *_: (print('interrupted: stop'), sys.exit(1)))\n"
           "print('training', flush=True); time.sleep(60)")
  monkeypatch.setattr(reproduce, "command", lambda *_: [sys.executable, "-c", child])
  finished, unfinished = reproduce.run_all({"a": "x", "b": "y", "c": "z"}, str(tmp_path), 2,
                                           2.0, [])
  assert (finished, unfinished) == ([], ["a", "b", "c"])
  for step in "ab":
    assert (tmp_path / f"{step}.log").read_text() == "training\ninterrupted: stop\n"
  assert not (tmp_path / "c.log").exists()
  assert capsys.readouterr().out.splitlines() == ["a: started (0 s)", "b: started (0 s)"]


@pytest.mark.slow
def test_a_stopped_reproduction_resumes_then_skips_what_finished(tmp_path):
  args = ["--steps=ref1_code1,final", "--override=num_epochs=4", *TINY]
  # Ctrl-C (SIGINT to the process group) once the first run is in its third epoch.
  process = subprocess.Popen(
      [sys.executable, "scripts/reproduce.py", f"--workdir={tmp_path / 'work'}",
       f"--runs_dir={tmp_path / 'runs'}", f"--output={tmp_path / 'RESULTS.md'}", "--readme=",
       *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
      start_new_session=True)
  log = tmp_path / "work" / "ref1_code1.log"
  deadline = time.monotonic() + 240
  while not (log.exists() and "EPOCH: 2" in log.read_text()) and time.monotonic() < deadline:
    time.sleep(0.1)
  os.killpg(process.pid, signal.SIGINT)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 1, stderr
  assert stdout.strip().splitlines()[-2:] == [
      "none of 2 runs finished",
      "unfinished: ref1_code1, final; rerun the same command to resume them"]
  assert "interrupted: " in log.read_text() and "Traceback" not in log.read_text()
  assert not (tmp_path / "runs").exists() and not (tmp_path / "work" / "final.log").exists()

  resumed = run(tmp_path, "--jobs=2", *args)
  assert resumed.returncode == 0, resumed.stderr
  # After epoch 2, or 3 where the signal came after epoch 2's last segment.
  assert re.search(r"Resuming from the checkpoint after epoch [23]\.", log.read_text())
  assert "2 of 2 runs finished" in resumed.stdout
  for step, seeds in (("ref1_code1", 3), ("final", 5)):
    summary = json.loads((tmp_path / "runs" / step / "summary.json").read_text())
    assert summary["num_epochs"] == 4 and len(summary["seeds"]) == seeds
    metrics = (tmp_path / "runs" / step / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in metrics] == list(range(4))
    assert f"`{step}`" in (tmp_path / "RESULTS.md").read_text()

  again = run(tmp_path, *args)
  assert again.returncode == 0
  assert again.stdout.startswith("ref1_code1: finished earlier, skipped\n"
                                 "final: finished earlier, skipped\n")


def test_the_gpu_checks_name_their_stages(tmp_path):
  """.ci/gpu, the GPU machine's one command: a bad stage stops it before anything runs."""
  result = subprocess.run(["bash", ".ci/gpu", "benchmark", "nope"], capture_output=True,
                          text=True, cwd=REPO_ROOT, env={**os.environ, "OUT": str(tmp_path / "o")},
                          timeout=60)
  assert result.returncode == 1 and result.stdout == ""
  assert result.stderr == "error: unknown stage 'nope'; valid stages: benchmark, reproduce, tests\n"
  assert not (tmp_path / "o").exists()
  # Each stage the script names is a function of the script.
  script = (REPO_ROOT / ".ci" / "gpu").read_text()
  for stage in ("benchmark", "reproduce", "tests"):
    assert f"\n{stage}() {{\n" in script
