"""One writer per workdir, and a workdir's files that cannot be read named in one line."""

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from mnist_jax.reporting import runs as runs_lib
from mnist_jax.training import evaluate
from mnist_jax.training import train
from mnist_jax.training import workdir as workdir_lib
from tests.test_train import REPO_ROOT, error_lines, small_config

HOLDER = re.compile(r"process (\d+) on host (\S+), since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


@pytest.fixture(scope="module")
def finished_run(mnist_dir, tmp_path_factory):
  """A finished one-epoch run (ref3 Step 4 on 200 images) shared by the tests below."""
  workdir = tmp_path_factory.mktemp("finished")
  train.train_and_evaluate(small_config(mnist_dir, num_epochs=1), str(workdir))
  return workdir


def test_a_second_writer_stops_in_one_line_naming_the_holder(mnist_dir, tmp_path):
  # flock locks belong to open files, so a lock held here blocks this process's run too.
  with workdir_lib.WorkdirLock(str(tmp_path)) as held:
    holder = (tmp_path / ".lock").read_text().strip()
    assert HOLDER.fullmatch(holder).groups() == (str(os.getpid()), socket.gethostname())
    with pytest.raises(workdir_lib.WorkdirError) as caught:
      train.train_and_evaluate(small_config(mnist_dir, num_epochs=1), str(tmp_path))
    assert str(caught.value) == (f"workdir '{tmp_path}' is in use by another run ({holder}); "
                                 "wait for it to end, or use another --workdir")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]  # nothing written
    assert held.fd is not None
  assert (tmp_path / ".lock").read_text() == ""  # released: empty, not left behind


def test_a_lock_left_by_a_dead_writer_is_taken_over_with_one_line(tmp_path):
  left = "process 4194304 on host elsewhere, since 2026-01-01 00:00:00 UTC"
  (tmp_path / ".lock").write_text(left + "\n")  # the file a killed run leaves; no flock on it
  said = []
  with workdir_lib.WorkdirLock(str(tmp_path), report=said.append):
    assert HOLDER.fullmatch((tmp_path / ".lock").read_text().strip())
  assert said == [f"Workdir '{tmp_path}' was locked by a run that ended without releasing it "
                  f"({left}); taking the lock over."]
  said.clear()
  with workdir_lib.WorkdirLock(str(tmp_path), report=said.append):  # released cleanly: silent
    pass
  assert said == []


def test_readers_do_not_take_the_lock(mnist_dir, finished_run):
  with workdir_lib.WorkdirLock(str(finished_run)):
    assert len(runs_lib.load_run(str(finished_run)).history) == 1
    result = evaluate.evaluate_checkpoint(str(finished_run))
    assert result["epoch"] == 1 and (finished_run / ".lock").read_text()


@pytest.mark.parametrize("content", ['{"model": "ref3_step4",\n', "", "\x00\xff binary"])
def test_an_unreadable_config_json_is_named_with_what_to_do(mnist_dir, finished_run, tmp_path,
                                                            content):
  workdir = tmp_path / "run"
  subprocess.run(["cp", "-r", str(finished_run), str(workdir)], check=True)
  (workdir / "config.json").write_bytes(content.encode("latin-1"))
  path = workdir / "config.json"
  with pytest.raises(workdir_lib.WorkdirError, match=re.escape(str(path))) as caught:
    train.train_and_evaluate(small_config(mnist_dir, num_epochs=2), str(workdir))
  message = str(caught.value)
  assert "\n" not in message and message.startswith(f"{path} cannot be read (")
  assert message.endswith("it names the run these checkpoints belong to: restore it, or use a "
                          "new --workdir")
  with pytest.raises(ValueError) as caught:
    evaluate.read_run_config(str(workdir))
  assert str(caught.value).startswith(f"{path} cannot be read (") and str(caught.value).endswith(
      "restore it from a copy, or evaluate another --workdir")
  with pytest.raises(ValueError, match=rf"^{re.escape(str(path))} cannot be read \(.*the run$"):
    runs_lib.load_run(str(workdir))


def test_a_corrupt_metrics_line_is_named_by_file_and_line(finished_run, tmp_path):
  workdir = tmp_path / "run"
  subprocess.run(["cp", "-r", str(finished_run), str(workdir)], check=True)
  with open(workdir / "metrics.jsonl", "a") as f:
    f.write("{not json}\n")
  result = subprocess.run([sys.executable, "scripts/compare.py", "--workdirs", str(workdir),
                           "--output", str(tmp_path / "RESULTS.md")],
                          capture_output=True, text=True, cwd=REPO_ROOT)
  assert result.returncode == 1
  assert error_lines(result.stderr) == [
      f"error: {workdir / 'metrics.jsonl'}, line 2, cannot be read (Expecting property name "
      "enclosed in double quotes: line 1 column 2 (char 1)); " + workdir_lib.RERUN]


def test_a_torn_last_line_is_dropped_only_where_asked(tmp_path):
  path = tmp_path / "steps.jsonl"
  path.write_text(json.dumps({"epoch": 0}) + "\n" + '{"epoch": 1, "step_lo')  # killed mid-line
  assert workdir_lib.read_json_lines(str(path), drop_torn_tail=True) == [{"epoch": 0}]
  with pytest.raises(workdir_lib.WorkdirError, match=r"steps.jsonl, line 2, cannot be read"):
    workdir_lib.read_json_lines(str(path))
  path.write_text('{"epoch": 0\n' + json.dumps({"epoch": 1}) + "\n")  # not the tail: an error
  with pytest.raises(workdir_lib.WorkdirError, match=r"steps.jsonl, line 1, cannot be read"):
    workdir_lib.read_json_lines(str(path), drop_torn_tail=True)


@pytest.mark.slow
def test_two_processes_on_one_workdir_the_second_stops_naming_the_first(tmp_path):
  args = ["scripts/train.py", "--config", "configs/final.py", "--config.train_subset=2048",
          "--config.test_subset=100", "--config.batch_size=32", "--config.num_epochs=10",
          "--config.plots=False", "--config.progress_bar=False", "--workdir", str(tmp_path)]
  first = subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  lock = tmp_path / ".lock"
  while first.poll() is None and not (lock.exists() and lock.read_text().strip()):
    time.sleep(0.05)
  holder = lock.read_text().strip()
  second = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True)
  out, err = first.communicate(timeout=600)
  assert first.returncode == 0, err[-2000:]
  assert HOLDER.fullmatch(holder).group(1) == str(first.pid)
  assert second.returncode == 1 and error_lines(second.stderr) == [
      f"error: workdir '{tmp_path}' is in use by another run ({holder}); wait for it to end, "
      "or use another --workdir"], second.stderr[-2000:]
  assert "Finished 10 epochs" in out  # the first ran to its end, alone
  assert [r["epoch"] for r in workdir_lib.read_json_lines(str(tmp_path / "metrics.jsonl"))] == (
      list(range(10)))


def test_a_checkpoint_that_cannot_be_read_is_named_with_what_to_do(finished_run, tmp_path):
  workdir = tmp_path / "run"
  subprocess.run(["cp", "-r", str(finished_run), str(workdir)], check=True)
  for data_file in (workdir / "checkpoints" / "1" / "state").rglob("d/*"):
    data_file.write_bytes(b"")  # truncated to nothing
  with pytest.raises(ValueError) as caught:
    evaluate.evaluate_checkpoint(str(workdir))
  message = str(caught.value)
  assert "\n" not in message
  assert message.startswith(f"checkpoint 1 in {workdir / 'checkpoints'} cannot be restored (")
  assert message.endswith("; evaluate another --step, or rerun the training command, which sets "
                          "it aside")
