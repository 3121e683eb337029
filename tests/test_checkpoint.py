"""Workdir identity, unrestorable checkpoints and evaluation without a schedule (CPU, small)."""

import hashlib
import json
import pathlib
import shutil

import numpy as np
import pytest

from configs import base
from mnist_jax.training import checkpoint
from mnist_jax.training import evaluate
from mnist_jax.training import train
from tests.test_train import assert_trees_close, final_params, small_config


def snapshot(folder: pathlib.Path) -> dict[str, tuple[str, int]]:
  """Every file under `folder` with its md5 and modification time (ns); the workdir's lock
  file, which a refused run takes and releases empty, with its content only."""
  return {str(p.relative_to(folder)): (hashlib.md5(p.read_bytes()).hexdigest(),
                                        0 if p.name == ".lock" else p.stat().st_mtime_ns)
          for p in sorted(folder.rglob("*")) if p.is_file()}


def test_config_differences_name_each_computing_field():
  saved = json.loads(base.get_config(schedule=base.one_cycle(max_lr=0.1)).to_json_best_effort())
  same_computation = base.get_config(schedule=base.one_cycle(max_lr=0.1), name="other", plots=False,
                                     progress_bar=False, keep_checkpoints=9, eval_batch_size=10,
                                     data_dir="/elsewhere")
  assert checkpoint.config_differences(saved, same_computation) == []
  changed = base.get_config(schedule=base.one_cycle(max_lr=0.2), batch_size=64, num_epochs=16, seed=3)
  assert checkpoint.config_differences(saved, changed) == [
      "batch_size: 128 -> 64", "num_epochs: 15 -> 16", "schedule.max_lr: 0.1 -> 0.2", "seed: 0 -> 3"]
  # StepLR and constant schedules do not depend on the number of epochs: a run may be extended.
  for schedule in (base.step_lr(step_size=6), base.constant(), base.plateau()):
    saved = json.loads(base.get_config(schedule=schedule).to_json_best_effort())
    assert checkpoint.config_differences(saved, base.get_config(schedule=schedule, num_epochs=20)) == []
  # A field the saved config predates is not compared; one it had and the code dropped neither.
  del saved["rotation_fill"]
  saved["scan_unroll"] = 4
  assert checkpoint.config_differences(saved, base.get_config(schedule=base.plateau())) == []


@pytest.fixture(scope="module")
def two_epoch_run(mnist_dir, tmp_path_factory):
  """An uninterrupted 2-epoch run of the small config (one_cycle), seed 0."""
  workdir = tmp_path_factory.mktemp("two_epochs")
  config = small_config(mnist_dir, num_epochs=2, schedule=base.one_cycle(max_lr=0.1, pct_start=0.2))
  history = train.train_and_evaluate(config, str(workdir))
  return config, workdir, history


def test_resume_with_another_recipe_is_refused_and_touches_nothing(two_epoch_run, tmp_path):
  config, workdir, _ = two_epoch_run
  shutil.copytree(workdir, tmp_path / "run")
  before = snapshot(tmp_path / "run")
  other = small_config(config.data_dir, num_epochs=2, batch_size=32,
                       schedule=base.one_cycle(max_lr=0.2, pct_start=0.2))
  with pytest.raises(ValueError) as excinfo:
    train.train_and_evaluate(other, str(tmp_path / "run"))
  message = str(excinfo.value)
  assert "\n" not in message
  assert message == (f"workdir '{tmp_path / 'run'}' holds another run (batch_size: 64 -> 32; "
                     "schedule.max_lr: 0.1 -> 0.2); use a new --workdir, or the saved config to "
                     "resume it")
  assert snapshot(tmp_path / "run") == before


def corrupt(checkpoint_dir: pathlib.Path) -> None:
  """Truncates every data file of a checkpoint's state to half its size."""
  files = [p for p in (checkpoint_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]
  assert files, checkpoint_dir
  for path in files:
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def test_corrupt_latest_checkpoint_is_named_and_the_previous_one_resumes(two_epoch_run, tmp_path, capsys):
  config, workdir, history = two_epoch_run
  shutil.copytree(workdir, tmp_path / "run")
  corrupt(tmp_path / "run" / "checkpoints" / "2")
  capsys.readouterr()
  resumed = train.train_and_evaluate(config, str(tmp_path / "run"))
  lines = capsys.readouterr().out.splitlines()
  checkpoints = tmp_path / "run" / "checkpoints"
  moved = tmp_path / "run" / "unrestorable_checkpoints" / "2"
  assert lines[0].startswith(f"Checkpoint 2 in {checkpoints} cannot be restored (")
  assert lines[0].endswith(f"); moved to {moved}; resuming from checkpoint 1.")
  assert lines[1] == "Resuming from the checkpoint after epoch 1."
  assert moved.is_dir()
  assert [r["test_loss"] for r in resumed] == [r["test_loss"] for r in history]
  assert_trees_close(final_params(tmp_path / "run"), final_params(workdir), atol=0)


def test_no_restorable_checkpoint_is_one_line(two_epoch_run, mnist_dir, tmp_path):
  config, workdir, _ = two_epoch_run
  # Another model's checkpoints in a workdir whose config.json is gone.
  shutil.copytree(workdir, tmp_path / "run")
  (tmp_path / "run" / "config.json").unlink()
  other = small_config(mnist_dir, model="ref3_step1", num_epochs=3)
  with pytest.raises(checkpoint.CheckpointError) as excinfo:
    train.train_and_evaluate(other, str(tmp_path / "run"))
  message = str(excinfo.value)
  assert "\n" not in message
  assert message.startswith(f"no checkpoint in {tmp_path / 'run' / 'checkpoints'} can be restored "
                            "for this run (checkpoint 2: ")
  assert "; checkpoint 1: " in message and message.endswith("); use a new --workdir")


@pytest.mark.parametrize("schedule, num_seeds", [
    # 3 epochs: rebuilding it for 1 step failed
    pytest.param(base.one_cycle(max_lr=0.1, pct_start=0.2), 1, marks=pytest.mark.slow),
    (base.plateau(patience=0), 2),
    pytest.param(base.step_lr(step_size=1), 1, marks=pytest.mark.slow),
], ids=["one_cycle", "plateau_2_seeds", "step"])
def test_evaluate_needs_no_schedule(mnist_dir, tmp_path, schedule, num_seeds):
  config = small_config(mnist_dir, num_epochs=3, schedule=schedule, num_seeds=num_seeds)
  history = train.train_and_evaluate(config, str(tmp_path))
  best_accuracy = max(np.mean(r["test_accuracy"]) for r in history)
  for step in (3, None):  # the last, then the best (mean test accuracy over seeds)
    result = evaluate.evaluate_checkpoint(str(tmp_path), step)
    expected = history[result["epoch"] - 1]
    assert result["epoch"] == 3 if step else np.mean(expected["test_accuracy"]) == best_accuracy
    assert result["seeds"] == list(range(num_seeds))
    assert result["test_correct"] == expected["test_correct"]
    np.testing.assert_allclose(result["test_loss"], expected["test_loss"], rtol=1e-6)


def test_evaluate_unknown_step_is_one_line(two_epoch_run):
  _, workdir, _ = two_epoch_run
  with pytest.raises(ValueError, match=r"^no checkpoint 7 in .*checkpoints; saved: 1, 2$"):
    evaluate.evaluate_checkpoint(str(workdir), 7)


@pytest.mark.parametrize("schedule", [base.constant(), base.plateau(patience=0)],
                         ids=["constant", "plateau"])
@pytest.mark.slow
def test_checkpoint_of_the_earlier_layout_resumes(mnist_dir, tmp_path, monkeypatch, capsys,
                                                  schedule):
  # Earlier versions saved the per-epoch hook's state under the key "plateau" (None for other
  # schedules); a workdir they wrote resumes, with the same parameters as today's layout.
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  config = small_config(mnist_dir, num_epochs=1, schedule=schedule)

  def save_earlier_layout(manager, epoch, states, epoch_state, history, metrics):
    manager.save(epoch, metrics={name: float(value) for name, value in metrics.items()},
                 args=ocp.args.Composite(
                     state=ocp.args.StandardSave({"train": states, "plateau": epoch_state}),
                     history=ocp.args.JsonSave(history)))
    manager.wait_until_finished()

  with monkeypatch.context() as patch:
    patch.setattr(checkpoint, "save_checkpoint", save_earlier_layout)
    train.train_and_evaluate(config, str(tmp_path / "earlier"))
  train.train_and_evaluate(config, str(tmp_path / "today"))
  config.num_epochs = 2
  capsys.readouterr()
  resumed = train.train_and_evaluate(config, str(tmp_path / "earlier"))
  assert "Resuming from the checkpoint after epoch 1." in capsys.readouterr().out
  assert [r["epoch"] for r in resumed] == [0, 1]
  today = train.train_and_evaluate(config, str(tmp_path / "today"))
  assert [r["test_loss"] for r in resumed] == [r["test_loss"] for r in today]
  assert_trees_close(final_params(tmp_path / "earlier"), final_params(tmp_path / "today"), atol=0)


def test_a_checkpoint_of_the_earlier_layout_resumes_as_the_uninterrupted_run(two_epoch_run,
                                                                              tmp_path):
  # The layout of checkpoints written before the hyperparameters joined the TrainState: its
  # fields with "recipe" (the swept values, {} outside a sweep) and no "hparams". Made from
  # the straight run's checkpoint after epoch 1, then resumed for epoch 2.
  config, straight, straight_history = two_epoch_run
  manager = checkpoint.create_checkpoint_manager(str(straight), keep=3)
  arrays = checkpoint.restore_arrays(manager, 1)
  manager.close()
  earlier = {name: value for name, value in arrays.items() if name != "hparams"}
  earlier["recipe"] = {}
  old = tmp_path / "old"
  old.mkdir()
  shutil.copy(straight / "config.json", old / "config.json")
  for name in ("metrics.jsonl", "steps.jsonl"):
    (old / name).write_text((straight / name).read_text().splitlines(keepends=True)[0])
  manager = checkpoint.create_checkpoint_manager(str(old), keep=3, writer=True)
  checkpoint.save_checkpoint(manager, 1, earlier, None, straight_history[:1],
                             {"test_accuracy": straight_history[0]["test_accuracy"][0]})
  manager.close()
  metadata = json.loads((old / "checkpoints" / "1" / "state" / "_METADATA").read_text())
  assert any("'recipe'" in path for path in metadata["tree_metadata"])
  assert not any("'hparams'" in path for path in metadata["tree_metadata"])
  resumed = train.train_and_evaluate(config, str(old))
  assert [r["test_correct"] for r in resumed] == [r["test_correct"] for r in straight_history]
  assert_trees_close(final_params(old), final_params(straight), atol=0)
