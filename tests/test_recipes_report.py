"""reporting/recipes.py: RESULTS.md's table of which recipe fields the write-ups state."""

from mnist_jax.reporting import analysis
from mnist_jax.reporting import recipes
from mnist_jax.reporting import results
from mnist_jax.reporting import runs as runs_lib
from tests.test_results import write_run

SEED = [9900 + epoch for epoch in range(15)]


def result_of(tmp_path, name, model, **config):
  return analysis.analyze(runs_lib.load_run(str(write_run(
      tmp_path / name, name, model, [SEED], num_params=1, **config))))


def test_each_field_is_marked_stated_in_part_or_ours(tmp_path):
  one_cycle = {"name": "one_cycle", "max_lr": 0.1, "pct_start": 0.3}
  step7 = recipes.row(result_of(tmp_path, "ref5_step7", "ref5_step7", batch_size=64,
                                learning_rate=0.01, momentum=0.9, weight_decay=0.0,
                                schedule=one_cycle, dropout_rate=None))
  # ref5 Step 7: batch size from its log, OneCycleLR read off its printed rate (so its peak is
  # the learning rate); the rest is ours; the model's own dropout rate where the config has None.
  assert step7 == ["`ref5_step7`", "64 (W)", "15 (ours)", "max_lr 0.1 (W)", "0.9 (ours)",
                   "0 (ours)", "one_cycle(max_lr=0.1, pct_start=0.3) (W)", "0.1 (ours)",
                   "7 (ours)", "3 + 0 in part"]
  step4 = recipes.row(result_of(tmp_path, "ref3_step4", "ref3_step4", batch_size=256,
                                schedule=one_cycle))
  # "4. LR Scheduler" names a scheduler, not its kind: stated in part.
  assert step4[6] == "one_cycle(max_lr=0.1, pct_start=0.3) (W, part)"
  code1 = recipes.row(result_of(tmp_path, "ref1_code1", "ref1_code1"))
  assert code1[7] == "no dropout layer (ours)" and code1[-1] == "0 + 0 in part"


def test_only_published_steps_get_a_row(tmp_path):
  assert recipes.row(result_of(tmp_path, "final", "ref2_final")) is None
  assert recipes.row(result_of(tmp_path, "frontier_4k", "frontier_4k")) is None
  lines = recipes.table([result_of(tmp_path, "ref2_net1", "ref2_net1")])
  assert len(lines) == recipes.HEADER_LINES + 1 and lines[-1].startswith("| `ref2_net1` | 128 (W) |")


def test_results_md_has_the_recipe_section_with_a_published_step(tmp_path):
  write_run(tmp_path / "runs" / "ref2_net1", "ref2_net1", "ref2_net1", [SEED], num_params=1)
  text = results.report(runs_lib.find_runs([str(tmp_path / "runs" / "*")]),
                        str(tmp_path / "RESULTS.md"), "cmd")
  assert "## Recipes: what the write-ups state and what is ours" in text
