"""Training loop behaviour on small real-data subsets (CPU, few steps)."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import base
from mnist_jax.training import checkpoint
from mnist_jax.training import console
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import step as step_lib
from mnist_jax.training import train
from mnist_jax.training import workdir as workdir_lib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def small_config(mnist_dir, **overrides):
  """ref3 Step 4 on 200 train / 100 test images: 3 batches of 64 plus a remainder of 8."""
  config = base.get_config(
      name="test", model="ref3_step4", batch_size=64, eval_batch_size=64, num_epochs=3,
      learning_rate=0.05, rotation_degrees=7.0, train_subset=200, test_subset=100,
      data_dir=str(mnist_dir), data_source="idx", progress_bar=False, plots=False)
  for key, value in overrides.items():
    config[key] = value
  return config


def final_params(workdir) -> dict:
  """Params and batch_stats of the latest checkpoint, as numpy arrays (from any devices)."""
  manager = checkpoint.create_checkpoint_manager(str(workdir), keep=3)
  train_state = jax.device_get(checkpoint.restore_arrays(manager, manager.latest_step()))
  manager.close()
  return {"params": train_state["params"], "batch_stats": train_state["batch_stats"]}


def assert_trees_close(a, b, atol):
  leaves_a, tree_a = jax.tree.flatten(a)
  leaves_b, tree_b = jax.tree.flatten(b)
  assert tree_a == tree_b
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=atol)


def without_times(history):
  return [{k: v for k, v in record.items() if k != "epoch_seconds"} for record in history]


@pytest.fixture(scope="module")
def reference_run(mnist_dir, tmp_path_factory):
  """An uninterrupted 3-epoch run, seed 0 (shared by the tests below)."""
  workdir = tmp_path_factory.mktemp("reference")
  history = train.train_and_evaluate(small_config(mnist_dir), str(workdir))
  return workdir, history


def test_short_run_reduces_loss_and_writes_outputs(mnist_dir, tmp_path):
  config = small_config(mnist_dir, plots=True, train_subset=512, batch_size=32, num_epochs=3)
  history = train.train_and_evaluate(config, str(tmp_path))
  losses = [record["train_loss"][0] for record in history]
  assert losses[-1] < losses[0] - 0.1, losses
  assert history[-1]["test_loss"][0] < history[0]["test_loss"][0]
  assert len(workdir_lib.read_json_lines(tmp_path / "metrics.jsonl")) == 3
  steps = workdir_lib.read_json_lines(tmp_path / "steps.jsonl")
  assert [len(r["step_loss"][0]) for r in steps] == [16, 16, 16]
  assert list(tmp_path.glob("events.out.tfevents.*"))
  assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == ["1", "2", "3"]
  for name in ("curves.png", "learning_rate.png", "misclassified.png"):
    assert (tmp_path / name).stat().st_size > 1000, name
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["num_params"] == 9436
  assert summary["test_accuracy"]["best"] == [max(r["test_accuracy"][0] for r in history)]


def test_console_prints_reference_lines(mnist_dir, reference_run, capsys):
  workdir, _ = reference_run
  # Re-running a finished workdir resumes after the last epoch: prints nothing per epoch.
  train.train_and_evaluate(small_config(mnist_dir), str(workdir))
  assert "Resuming from the checkpoint after epoch 3" in capsys.readouterr().out
  assert console.test_line(0.01968, 9940, 10000) == (
      "Test set: Average loss: 0.0197, Accuracy: 9940/10000 (99.40%)")


def train_interrupted_and_straight(config, tmp_path, monkeypatch):
  """Trains `config` straight into tmp_path/straight, and into tmp_path/resumed interrupted
  after epoch 1's checkpoint and resumed; returns (straight history, resumed history)."""
  straight = train.train_and_evaluate(config, str(tmp_path / "straight"))
  original_save = checkpoint.save_checkpoint

  def save_then_die(manager, epoch, *args, **kwargs):
    original_save(manager, epoch, *args, **kwargs)
    if epoch == 1:
      raise KeyboardInterrupt("simulated interruption after epoch 1")

  monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_die)
  with pytest.raises(KeyboardInterrupt):
    train.train_and_evaluate(config, str(tmp_path / "resumed"))
  monkeypatch.setattr(checkpoint, "save_checkpoint", original_save)
  return straight, train.train_and_evaluate(config, str(tmp_path / "resumed"))


@pytest.mark.parametrize("schedule", [
    base.one_cycle(max_lr=0.1),
    pytest.param(base.plateau(patience=0, threshold=0.5), marks=pytest.mark.slow),  # 12 s
], ids=["one_cycle", "plateau"])
def test_resume_equals_uninterrupted(mnist_dir, tmp_path, monkeypatch, schedule):
  config = small_config(mnist_dir, schedule=schedule)
  _, history = train_interrupted_and_straight(config, tmp_path, monkeypatch)
  assert len(history) == 3
  straight = workdir_lib.read_json_lines(tmp_path / "straight" / "metrics.jsonl")
  assert without_times(history) == without_times(straight)
  if schedule.name == "plateau":
    assert len({r["learning_rate"][0] for r in history}) > 1, "plateau never reduced: test is vacuous"
  assert_trees_close(final_params(tmp_path / "resumed"), final_params(tmp_path / "straight"), atol=0)


@pytest.mark.slow
def test_same_seed_identical_other_seed_differs(mnist_dir, tmp_path, reference_run):
  workdir, history = reference_run
  again = train.train_and_evaluate(small_config(mnist_dir), str(tmp_path / "again"))
  assert without_times(again) == without_times(history)
  other = train.train_and_evaluate(small_config(mnist_dir, seed=1), str(tmp_path / "other"))
  assert other[-1]["train_loss"] != history[-1]["train_loss"]
  params_0 = jax.tree.leaves(final_params(workdir)["params"])
  params_1 = jax.tree.leaves(final_params(tmp_path / "other")["params"])
  assert any(not np.allclose(a, b) for a, b in zip(params_0, params_1))


@pytest.mark.slow  # fast tier: test_sweep's grid test
def test_multi_seed_replicas_differ_and_replica_0_matches_single_run(mnist_dir, tmp_path, reference_run):
  workdir, history = reference_run
  multi = train.train_and_evaluate(small_config(mnist_dir, num_seeds=3), str(tmp_path))
  assert multi[-1]["seeds"] == [0, 1, 2]
  assert len(set(multi[-1]["train_loss"])) == 3, "replicas should differ"
  params = final_params(tmp_path)
  replica_0 = jax.tree.map(lambda x: x[0], params)
  replica_1 = jax.tree.map(lambda x: x[1], params)
  single = jax.tree.map(lambda x: x[0], final_params(workdir))
  assert_trees_close(replica_0, single, atol=1e-5)
  assert not np.allclose(jax.tree.leaves(replica_1["params"])[0], jax.tree.leaves(single["params"])[0])
  np.testing.assert_allclose([r["train_loss"][0] for r in multi], [r["train_loss"][0] for r in history],
                             rtol=1e-5)


@pytest.mark.slow
def test_two_devices_give_the_same_parameters_as_one(mnist_dir, tmp_path, reference_run):
  workdir, _ = reference_run
  # The device count is fixed when JAX starts, hence a subprocess; it saves its final
  # parameters as .npy leaves because a checkpoint restores only on its own topology.
  code = (
      "import sys, jax, numpy as np; sys.path.insert(0, sys.argv[1]);"
      "assert jax.device_count() == 2, jax.devices();"
      "from tests.test_train import small_config, final_params; from mnist_jax.training import train;"
      "train.train_and_evaluate(small_config(sys.argv[2]), sys.argv[3]);"
      "np.savez(sys.argv[3] + '/leaves.npz', *jax.tree.leaves(final_params(sys.argv[3])))")
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  result = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT), str(mnist_dir), str(tmp_path)],
                          env=env, capture_output=True, text=True, cwd=REPO_ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "device cpu x2" in result.stdout
  two_devices = np.load(tmp_path / "leaves.npz")
  one_device = jax.tree.leaves(final_params(workdir))
  assert len(two_devices.files) == len(one_device)
  for i, leaf in enumerate(one_device):
    np.testing.assert_allclose(two_devices[f"arr_{i}"], leaf, rtol=0, atol=1e-5)


def test_nan_loss_stops_with_error_and_keeps_last_good_checkpoint(mnist_dir, tmp_path, monkeypatch):
  config = small_config(mnist_dir, num_epochs=1)
  train.train_and_evaluate(config, str(tmp_path))
  original_step = step_lib.train_step

  def poisoned_step(state, images, labels, dropout_key, features):
    state, loss, batch_metrics = original_step(state, images, labels, dropout_key, features)
    return state, loss * jnp.nan, batch_metrics

  monkeypatch.setattr(step_lib, "train_step", poisoned_step)
  config.num_epochs = 2
  with pytest.raises(train.TrainingError, match=r"non-finite training loss at epoch 1 step 0 .*last good checkpoint: epoch 1"):
    train.train_and_evaluate(config, str(tmp_path))
  assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == ["1"]
  assert len(workdir_lib.read_json_lines(tmp_path / "metrics.jsonl")) == 1


def error_lines(stderr: str) -> list[str]:
  """Our lines of stderr (TensorFlow's C++ start-up chatter, if any, is not ours)."""
  return [line for line in stderr.strip().splitlines() if line.startswith("error:")]


def run_script(*args, env=None):
  return subprocess.run([sys.executable, "scripts/train.py", *args], capture_output=True, text=True,
                        cwd=REPO_ROOT, env=env)


@pytest.mark.parametrize("override, message", [
    ("--config.model=resnet50", "error: unknown model 'resnet50'; valid models: "),
    ("--config.learning_rate=0", "error: config.learning_rate must be > 0, got 0"),
    ("--config.learning_rate=-0.1", "error: config.learning_rate must be > 0, got -0.1"),
    ("--config.batch_size=0", "error: config.batch_size must be a positive integer, got 0"),
    ("--config.batch_size=-8", "error: config.batch_size must be a positive integer, got -8"),
    ("--config.num_epochs=0", "error: config.num_epochs must be a positive integer, got 0"),
])
def test_bad_config_exits_with_one_line(tmp_path, override, message):
  result = run_script("--config", "configs/final.py", "--workdir", str(tmp_path), override)
  assert result.returncode == 1
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(message), result.stderr[-2000:]


@pytest.mark.parametrize("override, message", [
    ("--config.nosuchfield=1", "error: unknown config field 'config.nosuchfield'; closest valid names: "
                               "config.schedule, config.seed, config.num_seeds"),
    ("--config.lerning_rate=0.1", "error: unknown config field 'config.lerning_rate'; closest valid "
                                  "names: config.learning_rate, config.dropout_rate, config.translate"),
    ("--config.schedule.max_l=1", "error: unknown config field 'config.schedule.max_l'; closest valid "
                                  "names: config.schedule.max_lr, config.schedule.max_momentum, "
                                  "config.schedule.name"),
])
def test_unknown_config_field_exits_with_one_line(tmp_path, override, message):
  result = run_script("--config", "configs/final.py", "--workdir", str(tmp_path), override)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [message], result.stderr[-2000:]
  assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_sigterm_mid_epoch_stops_with_one_line_and_resume_equals_uninterrupted(tmp_path):
  # The real script; the progress bar runs each epoch in segments, between which it stops.
  args = ["--config", "configs/ref3.py:step4", "--config.train_subset=2000", "--config.test_subset=100",
          "--config.num_epochs=3", "--config.plots=False", "--config.batch_size=64"]
  env = dict(os.environ, PYTHONUNBUFFERED="1")
  straight = run_script(*args, "--workdir", str(tmp_path / "straight"), env=env)
  assert straight.returncode == 0, straight.stderr[-2000:]

  workdir = tmp_path / "interrupted"
  process = subprocess.Popen([sys.executable, "scripts/train.py", *args, "--workdir", str(workdir)],
                             cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
  for line in process.stdout:
    if line.startswith("EPOCH: 1"):
      process.send_signal(signal.SIGTERM)
      break
  _, stderr = process.communicate(timeout=300)
  assert process.returncode == 1
  assert "Traceback" not in stderr
  ours = [line for line in stderr.splitlines() if line.startswith(("interrupted:", "error:"))]
  assert ours == [f"interrupted: SIGTERM during epoch 1; stopped, last checkpoint: epoch 1 in "
                  f"{workdir / 'checkpoints'}; the same command resumes from it"], stderr[-2000:]
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == ["1"]

  resumed = run_script(*args, "--workdir", str(workdir), env=env)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "Resuming from the checkpoint after epoch 1." in resumed.stdout
  assert_trees_close(final_params(workdir), final_params(tmp_path / "straight"), atol=0)


def test_unwritable_workdir_exits_with_one_line(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  if os.geteuid() != 0:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_script("--config", "configs/final.py", "--workdir", str(locked / "run"))
    assert result.returncode == 1 and "is not writable" in result.stderr
  # Root ignores permission bits, so the portable case is a path under a regular file.
  result = run_script("--config", "configs/final.py", "--workdir", str(blocker / "run"))
  assert result.returncode == 1
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"error: workdir '{blocker / 'run'}' is not writable"), result.stderr


@pytest.mark.slow
def test_diverging_run_exits_non_zero_with_one_line(mnist_dir, tmp_path):
  env = dict(os.environ, MNIST_DIR=str(mnist_dir))
  # Step 3 keeps a constant learning rate, so config.learning_rate is the rate of every step.
  result = run_script("--config", "configs/ref3.py:step3", "--workdir", str(tmp_path),
                      "--config.learning_rate=1e38", "--config.train_subset=256", "--config.test_subset=100",
                      "--config.num_epochs=1", "--config.progress_bar=False", "--config.plots=False", env=env)
  assert result.returncode == 1
  lines = error_lines(result.stderr)
  assert result.stderr.strip().splitlines()[-1] == lines[0]
  assert len(lines) == 1 and lines[0].startswith("error: non-finite test loss at epoch 0 (seed 0); not saved, no checkpoint yet"), result.stderr[-2000:]


def test_evaluate_script_reports_the_best_checkpoint(mnist_dir, reference_run):
  workdir, history = reference_run
  best = max(history, key=lambda r: r["test_accuracy"][0])
  env = dict(os.environ, MNIST_DIR=str(mnist_dir))
  result = subprocess.run([sys.executable, "scripts/evaluate.py", "--workdir", str(workdir)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=env)
  assert result.returncode == 0, result.stderr[-2000:]
  expected = console.test_line(best["test_loss"][0], best["test_correct"][0], best["test_total"])
  assert f"Checkpoint after epoch {best['epoch'] + 1} of {workdir}" in result.stdout
  assert expected in result.stdout


def test_evaluate_without_a_run_exits_with_one_line(tmp_path):
  result = subprocess.run([sys.executable, "scripts/evaluate.py", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
  assert result.returncode == 1
  assert error_lines(result.stderr) == [f"error: no run in workdir '{tmp_path}': config.json is missing"]
