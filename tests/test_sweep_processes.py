"""Sweeps across devices: two `scripts/train.py` processes (jax.distributed, one CPU device
each) train a grid like one process. The grid's replicas are split over a 2-device mesh as on
one host with two devices; tests/test_train.py checks that case for seed replicas. Its own file
so the suite's workers (one file each) share the sweep tests."""

import json
import socket
import subprocess
import sys

import pytest

from tests.test_sweep import grid_config
from tests.test_train import REPO_ROOT, assert_trees_close, final_params


def _free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_the_grid_like_one(mnist_dir, tmp_path):
  # jax.distributed on 127.0.0.1 with JAX's CPU collectives: one device per process, the 8
  # replicas split 4 and 4, process 0 writing metrics. The real script for both runs (it also
  # sets the XLA:CPU flags, which round differently from this test process's defaults).
  (tmp_path / "grid.json").write_text(grid_config(mnist_dir).to_json())
  (tmp_path / "grid_config.py").write_text(
      "import json\nimport ml_collections\n\n\ndef get_config():\n"
      f"  return ml_collections.ConfigDict(json.load(open({str(tmp_path / 'grid.json')!r})))\n")
  command = [sys.executable, "scripts/train.py", "--config", str(tmp_path / "grid_config.py")]
  one = subprocess.run(command + ["--workdir", str(tmp_path / "one_process")], cwd=REPO_ROOT,
                       capture_output=True, text=True, timeout=600, check=False)
  assert one.returncode == 0, one.stderr[-3000:]
  address = f"127.0.0.1:{_free_port()}"
  processes = [subprocess.Popen(
      command + ["--workdir", str(tmp_path / "two_processes"), "--num_processes", "2",
                 "--process_id", str(index), "--coordinator_address", address],
      cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for index in range(2)]
  outputs = [process.communicate(timeout=600) for process in processes]
  for process, (stdout, stderr) in zip(processes, outputs):
    assert process.returncode == 0, stderr[-3000:]
  # Process 0 reports; process 1 prints none of the references' lines (only JAX's own).
  assert "device cpu x2" in outputs[0][0] and "EPOCH" not in outputs[1][0]
  assert "Model" not in outputs[1][0] and "set:" not in outputs[1][0]
  single = [json.loads(line) for line in open(tmp_path / "one_process" / "metrics.jsonl")]
  double = [json.loads(line) for line in open(tmp_path / "two_processes" / "metrics.jsonl")]
  for key in ("validation_correct", "test_correct", "sweep", "seeds"):
    assert [r[key] for r in double] == [r[key] for r in single]
  assert_trees_close(final_params(tmp_path / "two_processes"), final_params(tmp_path / "one_process"),
                     atol=1e-5)
