"""What a finished run prints last: each seed's accuracy in words, the workdir, TensorBoard."""

import re

from configs import base
from mnist_jax.training import console
from mnist_jax.training import train


def test_final_lines_round_to_two_decimals_and_name_the_best_epoch(tmp_path):
  (tmp_path / "checkpoints").mkdir()
  (tmp_path / "summary.json").write_text("{}")
  (tmp_path / ".lock").write_text("")
  history = [{"test_accuracy": [98.1234, 99.0]}, {"test_accuracy": [99.456, 98.9]},
             {"test_accuracy": [99.4, 98.95]}]
  lines = console.final_lines(history, ["seed 0", "seed 1"], str(tmp_path), 12.34, 5.0)
  assert lines == [
      "Finished 3 epochs in 12.3 s (compiling apart: 5.0 s). Test accuracy:",
      "  seed 0  best 99.46 % (epoch 2 of 3), last 3 epochs 98.99 %",
      "  seed 1  best 99.00 % (epoch 1 of 3), last 3 epochs 98.95 %",
      "  mean    best 99.23 ± 0.32 %, last 3 epochs 98.97 ± 0.03 %",
      f"Workdir {tmp_path}: checkpoints/, summary.json",
      f"TensorBoard: tensorboard --logdir {tmp_path}",
  ]


def test_a_finished_run_ends_with_each_seeds_best_accuracy_and_the_workdir(mnist_dir, tmp_path,
                                                                            capsys):
  config = base.get_config(
      name="test", model="ref3_step4", batch_size=64, eval_batch_size=64, num_epochs=2,
      num_seeds=2, learning_rate=0.05, train_subset=128, test_subset=64, data_dir=str(mnist_dir),
      data_source="idx", progress_bar=False, plots=False)
  history = train.train_and_evaluate(config, str(tmp_path))
  last = capsys.readouterr().out.strip().splitlines()[-5:]
  for seed, line in enumerate(last[:2]):
    best = max(record["test_accuracy"][seed] for record in history)
    match = re.fullmatch(rf"  seed {seed}  best (\d+\.\d\d) % \(epoch [12] of 2\), "
                         r"last 3 epochs \d+\.\d\d %", line)
    assert match and float(match.group(1)) == round(best, 2), line
  assert last[2].startswith("  mean    best ")
  assert last[3].startswith(f"Workdir {tmp_path}: ") and "metrics.jsonl" in last[3]
  assert "summary.json" in last[3] and "checkpoints/" in last[3]
  assert last[4] == f"TensorBoard: tensorboard --logdir {tmp_path}"
