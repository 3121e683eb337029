"""Sweeps: a grid of recipes x seeds as one program equals the single runs it stands for."""

import json
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import base
from configs import final
from mnist_jax.training import metrics
from mnist_jax.optim import hyperparameters
from mnist_jax.optim import optimizer as optimizer_lib
from mnist_jax.optim import schedules
from mnist_jax.optim import sweep
from mnist_jax.data import splits as splits_lib
from mnist_jax.training import config_checks
from mnist_jax.training import train
from mnist_jax.reporting import analysis
from mnist_jax.reporting import reproduction
from mnist_jax.reporting import runs as runs_lib
from tests.test_train import REPO_ROOT, assert_trees_close, final_params, small_config

GRID = {"schedule": {"max_lr": [0.05, 0.1]}, "dropout_rate": [0.0, 0.1]}


def grid_config(mnist_dir, **overrides):
  # Rotation off: lax.map over 8 replicas and the squeezed single run may round a sampling
  # coordinate differently (tests/test_epoch.py); it is not what is swept here.
  config = small_config(mnist_dir, num_epochs=2, num_seeds=2, rotation_degrees=0.0,
                        validation_size=100, schedule=base.one_cycle(max_lr=0.1, pct_start=0.3),
                        **overrides)
  config.sweep = GRID
  return config


@pytest.fixture(scope="module")
def grid_run(mnist_dir, tmp_path_factory):
  """The 2 x 2 grid x 2 seeds trained once in this process: (config, workdir, compile count)."""
  config = grid_config(mnist_dir)
  workdir = tmp_path_factory.mktemp("grid")
  compiled = []
  original = jax.stages.Lowered.compile

  def counting_compile(self, *args, **kwargs):
    compiled.append(self)
    return original(self, *args, **kwargs)

  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(jax.stages.Lowered, "compile", counting_compile)
    train.train_and_evaluate(config, str(workdir))
  return config, workdir, len(compiled)


def test_grid_layout_is_cell_major_with_each_cells_seeds(mnist_dir):
  config = grid_config(mnist_dir)
  assert [path for path, _ in sweep.fields(config)] == ["dropout_rate", "schedule.max_lr"]
  assert sweep.replicas(config) == [
      (0, {"dropout_rate": 0.0, "schedule.max_lr": 0.05}), (1, {"dropout_rate": 0.0, "schedule.max_lr": 0.05}),
      (0, {"dropout_rate": 0.0, "schedule.max_lr": 0.1}), (1, {"dropout_rate": 0.0, "schedule.max_lr": 0.1}),
      (0, {"dropout_rate": 0.1, "schedule.max_lr": 0.05}), (1, {"dropout_rate": 0.1, "schedule.max_lr": 0.05}),
      (0, {"dropout_rate": 0.1, "schedule.max_lr": 0.1}), (1, {"dropout_rate": 0.1, "schedule.max_lr": 0.1})]
  hparams = hyperparameters.create(config)
  np.testing.assert_array_equal(hparams.schedule["max_lr"], np.float32([0.05, 0.05, 0.1, 0.1] * 2))
  # Flax's keep probability: float32 of 1 - rate computed in float64.
  np.testing.assert_array_equal(hparams.dropout_keep_prob, np.float32([1.0] * 4 + [1.0 - 0.1] * 4))
  # Unswept fields are leaves [R] too, every replica the config's value.
  np.testing.assert_array_equal(hparams.schedule["pct_start"], np.float32([0.3] * 8))
  assert hyperparameters.features(hparams).dropout


def test_each_replica_of_the_grid_equals_its_single_run(grid_run, mnist_dir, tmp_path):
  config, workdir, num_compiled = grid_run
  # One compiled training program for the whole grid, plus the validation and test evaluations:
  # what a single run compiles.
  assert num_compiled == 3
  grid = final_params(workdir)
  grid_history = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  assert grid_history[0]["sweep"] == {"dropout_rate": [0.0] * 4 + [0.1] * 4,
                                      "schedule.max_lr": [0.05, 0.05, 0.1, 0.1] * 2}
  layout = sweep.replicas(config)
  # Two of the 8 replicas (each single run compiles its own programs, the suite's time): seed 1
  # of the first cell and seed 0 of the cell that changes both fields, so each swept field and
  # the seed axis is checked against a single run.
  for replica in (1, 6):
    seed, cell = layout[replica]
    single = sweep.cell_config(config, cell)
    single.seed, single.num_seeds = seed, 1
    history = train.train_and_evaluate(single, str(tmp_path / f"single_{replica}"))
    ours = final_params(tmp_path / f"single_{replica}")
    assert_trees_close(jax.tree.map(lambda x: x[replica], grid), jax.tree.map(lambda x: x[0], ours),
                       atol=1e-5)
    for key in ("validation_correct", "test_correct"):
      assert [r[key][replica] for r in grid_history] == [r[key][0] for r in history]
  # The cells differ from each other: equal parameters above are not equal by construction.
  assert not np.allclose(jax.tree.leaves(grid)[0][0], jax.tree.leaves(grid)[0][2])


def test_validation_images_are_held_out_of_training(mnist_dir):
  config = small_config(mnist_dir, train_subset=0, validation_size=5000)
  splits = splits_lib.load_splits(config)
  full = splits_lib.load_splits(small_config(mnist_dir, train_subset=0))["train"]
  assert len(splits["train"][1]) == 55000 and len(splits["validation"][1]) == 5000
  # The validation images are the last 5,000 training images, the training ones the first 55,000.
  np.testing.assert_array_equal(splits["validation"][0], full[0][55000:])
  np.testing.assert_array_equal(splits["train"][0], full[0][:55000])
  # A train subset cuts what is left, never reaching into the validation images.
  config.train_subset = 59000
  assert len(splits_lib.load_splits(config)["train"][1]) == 55000


def test_report_ranks_the_grid_on_validation(grid_run, tmp_path):
  _, workdir, _ = grid_run
  result = subprocess.run([sys.executable, "scripts/sweep_report.py", "--workdir", str(workdir),
                           "--plot", str(tmp_path / "sweep.png")], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr
  history = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  validation = np.asarray([r["validation_correct"] for r in history], np.float64)[-3:].mean(0)
  cell_means = validation.reshape(4, 2).mean(1)  # cells x seeds
  best = int(np.argmax(cell_means))
  dropout, max_lr = [(d, m) for d in (0.0, 0.1) for m in (0.05, 0.1)][best]
  # "Chosen: cell 2 of 4 (dropout_rate=0, schedule.max_lr=0.1), validation ...": the cell
  # and its values parsed and compared as numbers (0 is "0", 0.05 is "0.05").
  chosen = [line for line in result.stdout.splitlines() if line.startswith("Chosen:")]
  assert len(chosen) == 1, result.stdout
  match = re.match(r"Chosen: cell (\d+) of (\d+) \(([^)]*)\),", chosen[0])
  assert match, chosen[0]
  assert (int(match[1]), int(match[2])) == (best + 1, 4), chosen[0]
  values = dict(assignment.split("=") for assignment in match[3].split(", "))
  assert {field: float(value) for field, value in values.items()} == {
      "dropout_rate": dropout, "schedule.max_lr": max_lr}, chosen[0]
  assert (tmp_path / "sweep.png").exists()


@pytest.mark.parametrize("field, why", [
    ("batch_size", "changes the shapes of the compiled program"),
    ("nesterov", "changes the compiled program, not only the values"),
    ("schedule.anneal_strategy", "changes the compiled program, not only the values"),
    ("no_such_field", "no such config field")])
def test_a_field_that_cannot_be_swept_is_one_line(mnist_dir, field, why):
  config = small_config(mnist_dir, schedule=base.one_cycle(max_lr=0.1))
  *parents, name = field.split(".")
  config.sweep = {parents[0]: {name: [1, 2]}} if parents else {name: [1, 2]}
  with pytest.raises(ValueError, match=f"config.sweep.{field}.*{why}.*sweepable: learning_rate"):
    config_checks.validate_config(config)


def test_a_bad_value_in_one_cell_names_the_cell(mnist_dir, tmp_path):
  config = small_config(mnist_dir, schedule=base.one_cycle(max_lr=0.1))
  config.sweep = {"schedule": {"max_lr": [0.1, -1.0]}}
  with pytest.raises(ValueError, match=r"^sweep cell schedule.max_lr=-1.0: config.schedule.max_lr must be > 0"):
    train.train_and_evaluate(config, str(tmp_path / "bad"))


def test_sweep_configs_are_valid(mnist_dir):
  from configs import sweeps  # pylint: disable=import-outside-toplevel
  for name in sweeps.SWEEPS:
    config = sweeps.get_config(name)
    # Recipes of ours are ranked on validation; reproductions train like the write-up.
    assert (config.validation_size == 0) == (name in sweeps.REPRODUCTIONS)
    assert config.num_seeds >= 2
    assert len(sweep.cells(config)) >= 2
    config_checks.validate_config(config)
    hyperparameters.create(config, 860)  # every cell's schedule
  with pytest.raises(ValueError, match="unknown sweep 'nope'; valid sweeps: final_one_cycle"):
    sweeps.get_config("nope")


def test_a_collected_cell_is_the_run_of_its_cell(grid_run, tmp_path):
  """reproduction.cell_run: the row a reproduction sweep's closest cell becomes."""
  config, workdir, _ = grid_run
  found = reproduction.load(str(workdir), "ref5_step3")
  cell = found.cells[3]
  assert cell.values == (0.1, 0.1) and cell.replicas == (6, 7)
  run = reproduction.cell_run(found, cell)
  single = sweep.cell_config(config, {"dropout_rate": 0.1, "schedule.max_lr": 0.1}).to_dict()
  for key in ("dropout_rate", "schedule", "learning_rate", "model", "batch_size"):
    assert run.config[key] == single[key], key
  assert (run.config["name"], run.config["sweep"], run.config["num_seeds"]) == ("ref5_step3", {}, 2)
  grid_history = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  for ours, theirs in zip(run.history, grid_history, strict=True):
    assert "sweep" not in ours and ours["seeds"] == [0, 1]
    for key in ("test_correct", "validation_correct", "train_accuracy"):
      assert ours[key] == [theirs[key][6], theirs[key][7]], key
    assert ours["epoch_seconds"] == pytest.approx(theirs["epoch_seconds"] / 4)
  assert run.summary["test_accuracy"] == metrics.seed_statistics(
      [[r["test_accuracy"][6], r["test_accuracy"][7]] for r in grid_history])
  assert run.summary["sweep_cell"]["values"] == {"dropout_rate": 0.1, "schedule.max_lr": 0.1}
  folder = runs_lib.write_run(run, str(tmp_path / "runs" / "ref5_step3"))
  (tmp_path / "runs" / "ref5_step3" / "misclassified.png").write_bytes(b"stale")
  runs_lib.write_run(run, folder)
  assert sorted(p.name for p in (tmp_path / "runs" / "ref5_step3").iterdir()) == [
      "config.json", "curves.png", "metrics.jsonl", "summary.json"]
  result = analysis.analyze(runs_lib.load_run(folder))
  assert result.run.history == run.history and result.name == "ref5_step3"
  assert any("closest cell (dropout_rate=0.1, schedule.max_lr=0.1)" in note for note in result.notes)


def test_a_schedule_renamed_without_its_fields_is_one_line_not_a_key_error():
  # Found by the config fuzzing: --config.schedule.name=step on a OneCycle config.
  config = final.get_config()
  config.schedule.name = "step"
  assert "schedule.step_size" not in sweep.sweepable_fields(config)
  with pytest.raises(ValueError, match=r"^config\.schedule\.step_size is missing \(needed by the "
                                       r"'step' schedule: step_size, gamma\)$"):
    schedules.create(config, steps_per_epoch=10, num_epochs=2)
