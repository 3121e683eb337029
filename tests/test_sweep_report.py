"""reporting/sweeps.py and scripts/sweep_report.py on fake sweep workdirs with hand-computed
expectations."""

import json
import math
import pathlib
import subprocess
import sys

import pytest

from mnist_jax.training import plots
from mnist_jax.reporting import sweeps

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
VALIDATION_TOTAL = 5000
TEST_TOTAL = 10000
HALF_SQRT2 = 0.5 / math.sqrt(2)  # sample std (ddof=1) of two values 0.5 apart
TENTH_SQRT2 = 0.1 / math.sqrt(2)  # ... 0.1 apart


def write_sweep(workdir: pathlib.Path, sweep: dict, values: dict, seeds: list[int],
                test: list[list[int]], validation: list[list[int]] | None) -> pathlib.Path:
  """A fake workdir as a sweep run writes it.

  sweep: config.json's nested "sweep"; values: metrics.jsonl's flat {field: [per replica]};
  test / validation: per replica (cell-major), the images right after each epoch (out of
  TEST_TOTAL / VALIDATION_TOTAL); validation None: a run without a validation split.
  """
  workdir.mkdir(parents=True)
  replicas = len(test)
  config = dict(name="sweep_test", model="ref3_step4", seed=seeds[0], num_seeds=len(set(seeds)),
                validation_size=VALIDATION_TOTAL if validation else 0, sweep=sweep)
  (workdir / "config.json").write_text(json.dumps(config, indent=2))
  with open(workdir / "metrics.jsonl", "w") as f:
    for epoch in range(len(test[0])):
      record = {"epoch": epoch, "seeds": seeds, "sweep": values,
                "train_loss": [0.1] * replicas, "train_accuracy": [98.0] * replicas,
                "test_loss": [0.03] * replicas,
                "test_accuracy": [c[epoch] / 100 for c in test],
                "test_correct": [c[epoch] for c in test], "test_total": TEST_TOTAL,
                "learning_rate": [0.01] * replicas, "epoch_seconds": 1.0}
      if validation:
        record.update({"validation_loss": [0.04] * replicas,
                       "validation_accuracy": [c[epoch] / 50 for c in validation],
                       "validation_correct": [c[epoch] for c in validation],
                       "validation_total": VALIDATION_TOTAL})
      f.write(json.dumps(record) + "\n")
  return workdir


# 2x2 grid x 2 seeds, 3 epochs; replica r = cell * 2 + seed. Validation counts are multiples
# of 25 (percent in halves, exact in binary), so cells 1 and 3 tie exactly on the last-3 mean.
GRID = {"schedule": {"max_lr": [0.05, 0.1], "pct_start": [0.2, 0.3]}}
GRID_VALUES = {"schedule.max_lr": [0.05] * 4 + [0.1] * 4,
               "schedule.pct_start": [0.2, 0.2, 0.3, 0.3] * 2}
GRID_SEEDS = [0, 1] * 4
GRID_VALIDATION = [
    [4800, 4850, 4900], [4825, 4875, 4925],  # cell 0: 96 97 98 | 96.5 97.5 98.5
    [4900, 4950, 4975], [4925, 4950, 4950],  # cell 1: 98 99 99.5 | 98.5 99 99
    [4850, 4875, 4900], [4850, 4900, 4900],  # cell 2: 97 97.5 98 | 97 98 98
    [4950, 4925, 4950], [4950, 4925, 4950],  # cell 3: 99 98.5 99 | same
]
GRID_TEST = [
    [9800, 9810, 9820], [9800, 9810, 9820],  # cell 0
    [9850, 9860, 9870], [9840, 9860, 9880],  # cell 1
    [9900, 9920, 9940], [9910, 9930, 9950],  # cell 2: the best on test
    [9850, 9850, 9850], [9860, 9860, 9860],  # cell 3
]
# By hand, (mean, std) over the 2 seeds, percent:
#   cell  validation best   validation last-3          test best     test last-3
#   0     98.25 ± 0.354     97.25 ± 0.354               98.20 ± 0     98.10 ± 0
#   1     99.25 ± 0.354     98.8333 ± 0 (296.5 / 3)     98.75 ± 0.071 98.60 ± 0
#   2     98.00 ± 0         97.5833 ± 0.118             99.45 ± 0.071 99.25 ± 0.071
#   3     99.00 ± 0         98.8333 ± 0 (296.5 / 3)     98.55 ± 0.071 98.55 ± 0.071
# Rank on validation last-3, ties on validation best: 1 (99.25 > 99.00), 3, 2, 0. On test,
# cell 2 would win.
EXPECTED = {  # cell: (validation best, validation last-3, test best, test last-3, rank)
    0: ((98.25, HALF_SQRT2), (97.25, HALF_SQRT2), (98.20, 0.0), (98.10, 0.0), 4),
    1: ((99.25, HALF_SQRT2), (296.5 / 3, 0.0), (98.75, TENTH_SQRT2), (98.60, 0.0), 1),
    2: ((98.00, 0.0), ((97.5 + 293 / 3) / 2, (293 / 3 - 97.5) / math.sqrt(2)),
        (99.45, TENTH_SQRT2), (99.25, TENTH_SQRT2), 3),
    3: ((99.00, 0.0), (296.5 / 3, 0.0), (98.55, TENTH_SQRT2), (98.55, TENTH_SQRT2), 2),
}


@pytest.fixture
def grid_dir(tmp_path) -> pathlib.Path:
  return write_sweep(tmp_path / "grid", GRID, GRID_VALUES, GRID_SEEDS, GRID_TEST,
                     GRID_VALIDATION)


@pytest.fixture
def line_dir(tmp_path) -> pathlib.Path:
  """One field over 100x, one seed per value: 0.01 -> 98 %, 0.1 -> 99 %, 1.0 -> 97 %."""
  return write_sweep(tmp_path / "line", {"schedule": {"max_lr": [0.01, 0.1, 1.0]}},
                     {"schedule.max_lr": [0.01, 0.1, 1.0]}, [7, 7, 7],
                     test=[[9700] * 3, [9800] * 3, [9900] * 3],
                     validation=[[4900] * 3, [4950] * 3, [4850] * 3])


def run_script(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "scripts/sweep_report.py", *args], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=120, check=False)


def test_cells_grouped_in_grid_order(grid_dir):
  sweep = sweeps.load_sweep(str(grid_dir))
  assert sweep.fields == ("schedule.max_lr", "schedule.pct_start")
  assert [cell.values for cell in sweep.cells] == [(0.05, 0.2), (0.05, 0.3), (0.1, 0.2),
                                                   (0.1, 0.3)]
  assert [cell.replicas for cell in sweep.cells] == [(0, 1), (2, 3), (4, 5), (6, 7)]
  assert all(cell.seeds == (0, 1) for cell in sweep.cells)


def test_statistics_and_ranks_match_hand_computed(grid_dir):
  sweep = sweeps.load_sweep(str(grid_dir))
  for index, cell in enumerate(sweep.cells):
    *numbers, rank = EXPECTED[index]
    got = [cell.validation_best, cell.validation_last3, cell.test_best, cell.test_last3]
    for (mean, std), expected in zip(got, numbers):
      assert (mean, std) == pytest.approx(expected, abs=1e-9), (index, got)
    assert cell.rank == rank


def test_ranking_uses_validation_not_test(grid_dir):
  sweep = sweeps.load_sweep(str(grid_dir))
  best_on_test = max(sweep.cells, key=lambda cell: cell.test_last3[0])
  assert best_on_test.values == (0.1, 0.2)
  assert sweep.chosen.values == (0.05, 0.3)  # ties cell 3 on last-3, wins on best


def test_render_table_and_chosen_line(grid_dir):
  text = sweeps.render(sweeps.load_sweep(str(grid_dir)))
  assert ("| `schedule.max_lr` | `schedule.pct_start` | seeds | validation best % | "
          "validation last-3 % | test best % | test last-3 % | rank |") in text
  assert ("| 0.05 | 0.3 | 2 | 99.25 ± 0.35 | 98.83 ± 0.00 | 98.75 ± 0.07 | 98.60 ± 0.00 "
          "| 1 |") in text
  assert ("| 0.1 | 0.2 | 2 | 98.00 ± 0.00 | 97.58 ± 0.12 | 99.45 ± 0.07 | 99.25 ± 0.07 "
          "| 3 |") in text
  assert text.rstrip().splitlines()[-1] == (
      "Chosen: cell 2 of 4 (schedule.max_lr=0.05, schedule.pct_start=0.3), validation last-3 "
      "mean 98.83 ± 0.00 % over 2 seed(s); its test last-3 mean: 98.60 ± 0.00 %.")


def test_single_seed_shows_no_std(line_dir):
  sweep = sweeps.load_sweep(str(line_dir))
  assert [cell.values for cell in sweep.cells] == [(0.01,), (0.1,), (1.0,)]
  assert sweep.cells[1].validation_last3 == (99.0, None)
  assert "| 0.1 | 1 | 99.00 | 99.00 | 98.00 | 98.00 | 1 |" in sweeps.render(sweep)


def test_plot_written_for_one_and_two_fields(grid_dir, line_dir, tmp_path):
  for workdir in (grid_dir, line_dir):
    path = sweeps.plot(sweeps.load_sweep(str(workdir)), tmp_path / workdir.name / "sweep.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_field_axis_is_log_over_100x(line_dir):
  sweep = sweeps.load_sweep(str(line_dir))
  axes = plots.new_figure(4, 3).subplots()  # pylint: disable=protected-access
  sweeps._plot_one(axes, sweep.fields[0], sweep.cells)  # pylint: disable=protected-access
  assert axes.get_xscale() == "log"


def test_plot_fields_average_over_the_others(grid_dir):
  sweep = sweeps.load_sweep(str(grid_dir))
  by_lr = sweep.group(["schedule.max_lr"])
  assert [cell.values for cell in by_lr] == [(0.05,), (0.1,)]
  # Replicas 0-3: last-3 validation 97.0, 97.5, 296.5 / 3, 296.5 / 3.
  assert by_lr[0].validation_last3[0] == pytest.approx((97.0 + 97.5 + 2 * 296.5 / 3) / 4)
  with pytest.raises(ValueError, match="'momentum' is not a swept field; swept fields: "
                                       "schedule.max_lr, schedule.pct_start"):
    sweeps.plot_fields(sweep, ["momentum"])


def test_no_plot_for_a_plain_run(tmp_path):
  workdir = write_sweep(tmp_path / "plain", {}, {}, [0, 1], test=[[9900] * 3, [9910] * 3],
                        validation=[[4950] * 3, [4900] * 3])
  sweep = sweeps.load_sweep(str(workdir))
  assert sweeps.plot(sweep, tmp_path / "plain.png") is None
  assert not (tmp_path / "plain.png").exists()
  assert sweeps.no_plot_line(sweep).startswith("no plot for 0 swept fields: pick one or two")
  assert "the only cell (no swept fields)" in sweeps.chosen_line(sweep)


def test_no_validation_split_raises_one_line(tmp_path):
  workdir = write_sweep(tmp_path / "noval", GRID, GRID_VALUES, GRID_SEEDS, GRID_TEST, None)
  with pytest.raises(ValueError, match=r"train with --config\.validation_size=N \(e\.g\. 5000\)"):
    sweeps.load_sweep(str(workdir))


def test_script_prints_table_and_writes_files(grid_dir, tmp_path):
  output = tmp_path / "report" / "SWEEP.md"
  process = run_script("--workdir", str(grid_dir), "--output", str(output))
  assert process.returncode == 0, process.stderr
  assert "Chosen: cell 2 of 4 (schedule.max_lr=0.05, schedule.pct_start=0.3)" in process.stdout
  assert process.stdout.rstrip().splitlines()[-1] == f"plot: {grid_dir / 'sweep.png'}"
  assert (grid_dir / "sweep.png").exists()
  assert output.read_text() in process.stdout


@pytest.mark.parametrize("case", ["no_validation", "missing_workdir"])
def test_script_bad_input_is_one_line_and_exit_1(case, tmp_path):
  if case == "no_validation":
    workdir = write_sweep(tmp_path / "noval", GRID, GRID_VALUES, GRID_SEEDS, GRID_TEST, None)
    expected = "--config.validation_size=N (e.g. 5000)"
  else:
    workdir = tmp_path / "does_not_exist"
    expected = "the folder does not exist"
  process = run_script("--workdir", str(workdir))
  assert process.returncode == 1
  lines = process.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
  assert process.stdout == ""
