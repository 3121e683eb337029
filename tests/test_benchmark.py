"""Smoke tests of the benchmark: it runs end to end on a tiny synthetic set and reports every
field. No timing assertions: timings depend on the machine and its load."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from configs import base
from configs import final
from mnist_jax import data
from mnist_jax.data import augment
from mnist_jax.benchmarks import timing as timing_lib
from mnist_jax.benchmarks import report as benchmark_report
from mnist_jax.benchmarks import measurements
from mnist_jax.benchmarks import torch_epoch
from tests.test_augment import distance_to_half_pixel_tie


def _tiny_config():
  config = final.get_config()
  # Fixed here, not taken from the flagship: 256 images at batch 128 are 2 steps per epoch.
  config.batch_size = 128
  config.num_epochs = 4  # the OneCycle span: 4 x 2 steps leaves both phases non-empty
  return config


@pytest.mark.slow
def test_run_times_every_contender_and_formats_them():
  report = timing_lib.run(_tiny_config(), num_examples=256, num_epochs=1, seeds=(1,),
                          torch_threads=[1], synthetic=True, log=lambda line: None)

  names = [t.name for t in report.timings]
  assert names == ["ours (rotation ±7°)", "ours (no rotation)", "torch eager (1 thread)"]
  for timing in report.timings + report.seed_timings:
    assert timing.error is None
    assert timing.num_examples == 256 and timing.batch_size == 128
    assert timing.steps_per_epoch == 2
    assert len(timing.epoch_seconds) == 1 and timing.epoch_seconds[0] > 0
    assert math.isfinite(timing.ms_per_step) and timing.images_per_second > 0
  for timing in report.timings[:2] + report.seed_timings:
    assert timing.compile_seconds > 0
  assert report.timings[2].compile_seconds is None
  assert [t.num_replicas for t in report.seed_timings] == [1]
  assert {"date", "commit", "jax device", "cpu", "cores", "jax", "torch", "XLA_FLAGS"} <= set(report.machine)

  text = benchmark_report.format_report(report,
                                        command="python scripts/benchmark.py --synthetic")
  for name in names:
    assert f"| {name} |" in text
  assert "ours (no rotation) / torch eager (1 thread)" in text
  assert "Multi-seed program" in text
  assert "random uint8 images" in text
  assert f"| cpu | {report.machine['cpu']} |" in text
  assert report.machine["torch device"] == "cpu"
  # 4 epochs in the tiny config: the full-run line is 4 x the median epoch.
  assert report.num_epochs == 4
  full_run = f"- ours (no rotation): {4 * report.timings[1].median_epoch_seconds:.1f} s"
  assert full_run in text


@pytest.mark.slow
def test_run_sweep_times_a_real_sweep_per_replica_count():
  report = timing_lib.run_sweep(_tiny_config(), replicas=(2,), num_examples=256, num_epochs=1,
                                synthetic=True, log=lambda line: None)

  assert report.timings == [] and report.seed_timings == []
  plain, swept = report.sweep_timings
  assert [plain.num_replicas, swept.num_replicas] == [1, 2]  # the plain run always, first
  assert plain.swept == {}  # no sweep: the single run as training runs it
  # Read back from the timed states: the 2 replicas carried 2 distinct max_lr values.
  assert swept.swept == {"schedule.max_lr": pytest.approx(list(timing_lib.SWEEP_MAX_LR))}
  for timing in (plain, swept):
    assert timing.error is None and timing.num_examples == 256 and timing.compile_seconds > 0
    assert len(timing.epoch_seconds) == 1 and timing.epoch_seconds[0] > 0
    assert timing.seconds_per_replica == timing.median_epoch_seconds / timing.num_replicas
    assert timing.images_per_second == pytest.approx(timing.num_replicas * 256 / timing.epoch_seconds[0])
  ratio = measurements.per_replica_ratio(swept, plain)
  assert ratio == pytest.approx(swept.epoch_seconds[0] / 2 / plain.epoch_seconds[0])

  text = benchmark_report.format_report(report, command="python scripts/benchmark.py --sweep")
  assert "Sweep program" in text and "| replicas | max_lr | ms/epoch (all replicas) |" in text
  assert (f"| 2 | 0.02–0.2 (2 values) | {1000 * swept.median_epoch_seconds:,.0f} | "
          f"{1000 * swept.seconds_per_replica:,.1f} | {swept.images_per_second:,.0f} | "
          f"{ratio:.2f} | {1 / ratio:.2f}x |") in text
  assert "| 1 | as configured |" in text and "| 1.00 | 1.00x |" in text
  assert f"| cpu | {report.machine['cpu']} |" in text
  assert "| contender |" not in text and "Multi-seed" not in text


def test_sweep_config_spans_distinct_max_lr_values():
  config = _tiny_config()
  assert timing_lib.sweep_config(config, 1).sweep.to_dict() == {}
  values = timing_lib.sweep_config(config, 64).sweep.schedule.max_lr
  assert len(set(values)) == 64 and min(values) == 0.02 and max(values) == 0.2
  with pytest.raises(ValueError, match="replica counts must be >= 1"):
    timing_lib.run_sweep(config, replicas=(0, 2), num_examples=128, synthetic=True)
  config.schedule = base.constant()
  with pytest.raises(ValueError, match="config.sweep.schedule.max_lr"):
    timing_lib.sweep_config(config, 2)


def test_torch_compile_failure_is_reported_not_raised(monkeypatch):
  import torch  # pylint: disable=import-outside-toplevel  (a test dependency)

  def broken_compile(model):
    raise RuntimeError("no C++ compiler found\nsecond line")

  monkeypatch.setattr(torch, "compile", broken_compile)
  images, labels = timing_lib.load_images(256, synthetic=True)
  timing = torch_epoch.time_torch_epoch(_tiny_config(), images, labels, num_epochs=1, threads=1,
                                        compile_model=True)
  assert timing.error == "RuntimeError: no C++ compiler found"
  assert timing.epoch_seconds == []
  text = benchmark_report.format_report(
      measurements.Report("final", "ref2_final", {}, [timing], [], True, "", ""))
  assert "failed: RuntimeError: no C++ compiler found" in text


def test_bad_input_raises_one_line_errors():
  with pytest.raises(ValueError, match="num_epochs must be >= 1"):
    timing_lib.run(_tiny_config(), num_examples=128, num_epochs=0, synthetic=True)
  with pytest.raises(ValueError, match="num_examples must be in 1..60000"):
    timing_lib.load_images(0, synthetic=True)
  with pytest.raises(ValueError, match="seed counts must be >= 1"):
    timing_lib.run(_tiny_config(), num_examples=128, seeds=(0,), synthetic=True)
  with pytest.raises(ValueError, match="torch device must be one of cpu, cuda, got 'gpu'"):
    timing_lib.run(_tiny_config(), num_examples=128, torch_device="gpu", synthetic=True)
  with pytest.raises(ValueError, match="section name must be letters"):
    benchmark_report.section_markers("gpu run")


def test_cuda_without_a_cuda_device_is_a_one_line_error(monkeypatch):
  import torch  # pylint: disable=import-outside-toplevel  (a test dependency)

  monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
  images, labels = timing_lib.load_images(128, synthetic=True)
  with pytest.raises(ValueError, match="torch device 'cuda' asked for, but torch .* sees no CUDA device"):
    torch_epoch.time_torch_epoch(_tiny_config(), images, labels, num_epochs=1, device="cuda")


def test_update_performance_doc_replaces_only_its_section(tmp_path):
  path = tmp_path / "docs" / "PERFORMANCE.md"
  benchmark_report.update_performance_doc(str(path), "first run\n")
  created = path.read_text()
  assert created.startswith("# Performance")
  assert f"{benchmark_report.BEGIN_MARKER}\nfirst run\n{benchmark_report.END_MARKER}\n" in created

  path.write_text(created.replace("# Performance\n", "# Performance\n\nHand-written intro.\n")
                  + "\n## Study\n\nHand-written table.\n")
  benchmark_report.update_performance_doc(str(path), "second run\n")
  updated = path.read_text()
  assert "first run" not in updated
  assert "second run" in updated
  assert "Hand-written intro." in updated and "## Study\n\nHand-written table." in updated
  assert updated.count(benchmark_report.BEGIN_MARKER) == 1
  assert updated.count(benchmark_report.END_MARKER) == 1

  benchmark_report.update_performance_doc(str(path), "gpu run\n", section="gpu")
  with_gpu = path.read_text()
  gpu_begin, gpu_end = benchmark_report.section_markers("gpu")
  assert f"{gpu_begin}\ngpu run\n{gpu_end}\n" in with_gpu
  assert "second run" in with_gpu and "## Study\n\nHand-written table." in with_gpu
  benchmark_report.update_performance_doc(str(path), "third run\n")
  assert "gpu run" in path.read_text() and "second run" not in path.read_text()
  benchmark_report.update_performance_doc(str(path), "gpu run 2\n", section="gpu")
  final = path.read_text()
  assert "third run" in final and "gpu run 2" in final and "gpu run\n" not in final
  assert final.count(gpu_begin) == 1 and final.count(benchmark_report.BEGIN_MARKER) == 1

  path.write_text(f"# Notes\n\n{benchmark_report.BEGIN_MARKER}\nno end marker\n")
  with pytest.raises(ValueError, match="only one of"):
    benchmark_report.update_performance_doc(str(path), "third run\n")


def test_the_torch_contenders_rotation_is_ours(mnist_dir):
  # The benchmark's torch side rotates each batch as our program does: same angles, same
  # pixels, but where the exact source coordinate sits on a half-pixel tie (float32 may round
  # it either way; tests/test_augment.py).
  import torch  # pylint: disable=import-outside-toplevel  (a test dependency)

  images, _ = data.load("train", data_dir=str(mnist_dir), source="idx")
  x = np.asarray(augment.to_float(images[:64]))
  rotated, angles = torch_epoch.rotate_batch(
      torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), 7.0, torch.Generator().manual_seed(0))
  angles = angles.numpy()
  assert angles.min() >= -7.0 and angles.max() < 7.0 and np.abs(angles).max() > 5.0
  ours = np.asarray(augment.rotate(jnp.asarray(x), jnp.asarray(angles)))
  mismatches = np.argwhere(rotated.numpy().transpose(0, 2, 3, 1) != ours)
  assert len(mismatches) <= 5, f"{len(mismatches)} of {ours.size} pixels differ"
  for b, row, col, _ in mismatches:
    assert distance_to_half_pixel_tie(28, row, col, angles[b]) < 1e-5, (b, row, col, angles[b])
  assert not np.array_equal(ours, x)
