"""reporting/frontier.py: the frontier section and plot of RESULTS.md, on fake runs with
hand-computed expectations."""

import pytest

from mnist_jax import published
from mnist_jax.reporting import analysis
from mnist_jax.reporting import frontier
from mnist_jax.reporting import results
from mnist_jax.reporting import runs as runs_lib
from tests.test_results import write_run

# frontier_4k (3,964 parameters), 5 seeds x 15 epochs; only the last 4 epochs matter.
_RAMP = [9800 + 10 * epoch for epoch in range(11)]
HOLDS = [_RAMP + [9945, 9942, 9944, 9946],   # best 99.46, last 3 all >= 99.40
         _RAMP + [9941, 9940, 9950, 9941],   # best 99.50, holds
         _RAMP + [9950, 9941, 9942, 9943],   # best 99.50, holds
         _RAMP + [9940, 9941, 9940, 9940],   # best 99.41, holds (99.40 counts)
         _RAMP + [9960, 9939, 9945, 9945]]   # best 99.60, 99.39 in epoch 13 -> does not hold
# By hand: best (99.46 + 99.50 + 99.50 + 99.41 + 99.60) / 5 = 99.494, sample std 0.0699;
# last-3 means 99.44, 99.4367, 99.42, 99.4033, 99.43 -> 99.426 ± 0.0148; 4 of 5 hold 99.40.


def analyze(tmp_path, folder, correct, **config):
  run = runs_lib.load_run(str(write_run(tmp_path / folder, "frontier_4k", "frontier_4k", correct,
                                        num_params=3964, **config)))
  return analysis.analyze(run)


def test_budgets_name_registered_models_within_their_budget():
  from mnist_jax.models import table as model_table  # pylint: disable=import-outside-toplevel
  assert [b.max_params for b in frontier.BUDGETS] == [4000, 2000, 1000]
  assert [b.target for b in frontier.BUDGETS] == [99.40, 99.20, 99.00]
  for budget in (*frontier.BUDGETS, frontier.FALLBACK):
    assert model_table.count_params(budget.model) <= budget.max_params
  # The fallback stays below the smallest public single run at 99.40 % (the frontier protocol: 5,854).
  assert frontier.FALLBACK.max_params < 5854 and frontier.FALLBACK.target == 99.40


def test_a_run_meeting_the_4k_target_is_met(tmp_path):
  result = analyze(tmp_path, "frontier_4k", HOLDS)
  assert frontier.holding(result, 99.40) == 4
  assert result.best[0] == pytest.approx(99.494, abs=1e-4)
  assert frontier.verdict(frontier.BUDGETS[0], result) == "met"


def test_each_shortfall_is_named(tmp_path):
  budget = frontier.BUDGETS[0]
  three_hold = [HOLDS[0], HOLDS[1], HOLDS[2], HOLDS[4], HOLDS[4]]
  assert frontier.verdict(budget, analyze(tmp_path, "frontier_4k", three_hold)) == (
      "not met: 3 of 5 seeds hold 99.40 % in each of the last 3 epochs (≥ 4 asked)")
  low = [[c - 20 for c in seed] for seed in HOLDS]   # every accuracy 0.2 pp lower
  assert frontier.verdict(budget, analyze(tmp_path, "low", low)).startswith(
      "not met: mean best 99.29 % < 99.40 %; 0 of 5 seeds hold")
  search = analyze(tmp_path, "search", HOLDS[:2], validation_size=5000)
  assert frontier.verdict(budget, search) == (
      "not met: 2 seeds, not 5; a validation split was held out of its training (a search run, "
      "not a test run); 2 of 2 seeds hold 99.40 % in each of the last 3 epochs (≥ 4 asked)")
  assert frontier.verdict(budget, None) == "not run yet"


def test_section_rows_and_public_results(tmp_path):
  result = analyze(tmp_path, "frontier_4k", HOLDS)
  text = "\n".join(frontier.section([result], "frontier.png"))
  assert ("| ≤ 4,000 | 99.40 | `frontier_4k` | 3,964 | 99.49 ± 0.07 | 99.43 ± 0.01 | 4 of 5 | met |"
          in text)
  assert "| ≤ 2,000 | 99.20 | `frontier_2k_separable` | — | — | — | — | not run yet |" in text
  for public in frontier.PUBLIC:
    assert f"| public: {public.label} | {public.params:,} | {public.best:.2f} |" in text
    assert public.how.startswith("single run")
  record = published.record("ref5_step7")
  assert f"| write-up: `ref5_step7` (published) | 6,376 | {record.best_test_accuracy:.2f} |" in text
  assert text.endswith("![test accuracy against parameters](frontier.png)")


def test_results_md_gets_the_section_and_plot_only_with_a_frontier_run(tmp_path):
  write_run(tmp_path / "runs" / "frontier_4k", "frontier_4k", "frontier_4k", HOLDS, num_params=3964)
  output = tmp_path / "docs" / "RESULTS.md"
  text = results.report(runs_lib.find_runs([str(tmp_path / "runs" / "*")]), str(output), "cmd")
  assert "## Frontier" in text and (tmp_path / "docs" / results.FRONTIER_PLOT).stat().st_size > 0
  write_run(tmp_path / "other" / "ref3_step4", "ref3_step4", "ref3_step4", [HOLDS[0]],
            num_params=9436)
  text = results.report(runs_lib.find_runs([str(tmp_path / "other" / "*")]), str(output), "cmd")
  assert "## Frontier" not in text and not (tmp_path / "docs" / results.FRONTIER_PLOT).exists()


def test_the_fallback_row_appears_only_where_the_4k_target_is_not_met(tmp_path):
  met = analyze(tmp_path, "met", HOLDS)
  assert "frontier_5k" not in "\n".join(frontier.section([met], None))
  short = analyze(tmp_path, "short", [[c - 20 for c in seed] for seed in HOLDS])
  text = "\n".join(frontier.section([short], None))
  assert ("| < 5,854 (where 4,000 falls short) | 99.40 | `frontier_5k` | — | — | — | — | "
          "not run yet |") in text
  assert text.index("`frontier_4k`") < text.index("`frontier_5k`") < text.index("`frontier_2k")
