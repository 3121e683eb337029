"""scripts/profile_step.py: kernels per step and their time, read from a Perfetto trace."""

import pathlib
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
import profile_step  # noqa: E402  pylint: disable=wrong-import-position


def metadata(kind, pid, name, tid=None):
  event = {"ph": "M", "name": kind, "pid": pid, "args": {"name": name}}
  return event if tid is None else {**event, "tid": tid}


def complete(pid, tid, name, duration):
  return {"ph": "X", "pid": pid, "tid": tid, "name": name, "ts": 0, "dur": duration}


def test_a_gpu_trace_counts_the_stream_kernels_once():
  trace = {"traceEvents": [
      metadata("process_name", 1, "/host:CPU"), metadata("process_name", 2, "/device:GPU:0"),
      metadata("thread_name", 2, "Stream #13(Compute)", tid=7),
      metadata("thread_name", 2, "XLA Ops", tid=8),
      complete(1, 1, "PjitFunction(train_epoch)", 900.0),
      complete(2, 7, "loop_add_fusion", 3.0), complete(2, 7, "cudnn_conv", 5.0),
      complete(2, 8, "add.1", 3.0),  # the same kernel as an HLO op
  ]}
  assert profile_step.kernel_events(trace) == [("loop_add_fusion", 3.0), ("cudnn_conv", 5.0)]


def test_a_cpu_trace_counts_the_host_instructions():
  trace = {"traceEvents": [
      metadata("process_name", 1, "/host:CPU"),
      complete(1, 1, "conv_general_dilated.2", 10.0), complete(1, 1, "end: dot.1", 1.0),
      complete(1, 1, "$profiler.py:307 trace", 50.0),
      complete(1, 1, "ThunkExecutor::Execute (wait for completion)", 40.0),
      complete(1, 1, "dot.1", 4.0), {"ph": "i", "pid": 1, "name": "instant"},
  ]}
  assert profile_step.kernel_events(trace) == [("conv_general_dilated.2", 10.0), ("dot.1", 4.0)]


def test_summary_per_step():
  kernels = [("dot.1", 6.0), ("b", 2.0), ("dot.1", 6.0), ("b", 2.0)]
  lines = profile_step.summarize(kernels, steps=2, wall_seconds=40e-6, top=1)
  assert lines[2:5] == ["| kernels launched | 2.0 (2 distinct) |", "| kernel time | 8.0 µs |",
                        "| wall time | 20.0 µs |"]
  assert lines[8:10] == ["| matmul (im2col convolutions) | 1.0 | 6.0 | 75% |",
                        "| elementwise, other | 1.0 | 2.0 | 25% |"]
  assert lines[-1] == "| `dot.1` | 1.0 | 6.0 | 75% |"
  assert len(lines) == 14  # 2 kinds, the top 1 kernel only


@pytest.mark.parametrize("name, kind", [
    ("bitcast_concatenate_fusion", "layout copies"), ("transpose_copy_fusion.2", "layout copies"),
    ("reduce-window.3", "pooling"), ("select-and-scatter", "pooling"),
    ("input_reduce_fusion.1", "reductions"), ("gather.4", "gather"),
    ("bitcast_gather_fusion.1", "gather"), ("bitcast_multiply_fusion", "elementwise"),
    ("convolution.2", "convolution"), ("loop_multiply_fusion", "elementwise")])
def test_kernels_are_grouped_by_xlas_instruction_names(name, kind):
  assert profile_step.kernel_kind(name).startswith(kind)


def test_too_few_examples_is_one_line():
  result = subprocess.run([sys.executable, "scripts/profile_step.py", "--config",
                           "configs/final.py", "--num_examples", "10"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
  assert result.returncode == 1
  assert result.stderr == "error: --num_examples must be at least the batch size (64), got 10\n"


@pytest.mark.slow
def test_profiles_the_flagship_into_its_section(tmp_path):
  doc = tmp_path / "PERFORMANCE.md"
  doc.write_text("# Performance\n")
  result = subprocess.run(
      [sys.executable, "scripts/profile_step.py", "--config", "configs/final.py",
       "--num_examples", "256", "--trace_dir", str(tmp_path / "trace"), "--output", str(doc),
       "--section", "profile_cpu"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
  assert result.returncode == 0, result.stderr
  text = doc.read_text()
  assert "<!-- benchmark:profile_cpu:begin -->" in text and "(4 steps of batch 64)" in text
  launched = next(line for line in text.splitlines() if line.startswith("| kernels launched"))
  assert float(launched.split("|")[2].split()[0]) > 10  # a step is many kernels
  assert list((tmp_path / "trace").rglob("perfetto_trace.json.gz"))
