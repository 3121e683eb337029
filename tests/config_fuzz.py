"""Config fuzzing for tests/test_config_fuzz.py: scripts/train.py's command line, in one process.

  python tests/config_fuzz.py EXAMPLES SEED WORKDIR

Hypothesis draws command lines (a config file, then overrides of its fields: wrong types, values
out of range, combinations, sweeps, unknown fields) on a tiny subset of MNIST, one epoch. Each is
parsed by the script's own flag parser and run by its `main`, as `python scripts/train.py` would,
and must either train or stop with exit status 1 and exactly one `error:` line on stderr.
Prints one JSON line: {"examples", "trained", "refused", "failures": [{"argv", "why"}, ...]}.
Its own process, because absl's flags are global to one.
"""

import contextlib
import io
import json
import os
import sys
import traceback

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO_ROOT, os.path.join(REPO_ROOT, "scripts")]

from absl import flags  # noqa: E402
import hypothesis  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import train as train_script  # noqa: E402  (scripts/train.py: defines the flags)
from mnist_jax import cli  # noqa: E402

CONFIGS = ["configs/final.py", "configs/ref3.py:step2", "configs/ref5.py:step6",
           "configs/frontier.py:frontier_2k", "configs/ref3.py", "configs/ref3.py:step9"]
# Per field: values of the right type and range, and wrong ones (types, ranges, NaN, huge).
NUMBER = ["0", "-1", "nan", "inf", "1e9", "abc", "[1]", "True"]
FIELDS = {
    "model": ["ref3_step4", "frontier_2k", "resnet50", "''", "3"],
    "batch_size": ["16", "32", "0", "-8", "2.5", "x", "100000"],
    "eval_batch_size": ["32", "7", "0", "-1", "big"],
    "num_epochs": ["1", "0", "-2", "1.5", "one"],
    "learning_rate": ["0.01", "0.1", *NUMBER],
    "momentum": ["0.9", "0.0", "1.5", *NUMBER],
    "weight_decay": ["0.0", "0.0005", *NUMBER],
    "nesterov": ["True", "False", "maybe", "2"],
    "dropout_rate": ["0.0", "0.1", "1.0", "2.0", *NUMBER],
    "rotation_degrees": ["0.0", "7.0", "400.0", *NUMBER],
    "translate": ["0.0", "0.1", "0.9", "1.5", *NUMBER],
    "scale": ["0.0", "0.1", "1.0", *NUMBER],
    "affine_probability": ["0.5", "1.0", "1.1", *NUMBER],
    "brightness": ["0.0", "0.2", "5.0", *NUMBER],
    "contrast": ["0.0", "0.2", *NUMBER],
    "label_smoothing": ["0.0", "0.1", "1.0", *NUMBER],
    "ema_decay": ["0.0", "0.99", "1.0", *NUMBER],
    "seed": ["0", "3", "-1", "2.5", "s"],
    "num_seeds": ["1", "2", "0", "-3", "many"],
    "train_subset": ["128", "200", "-5", "70000", "x"],
    "test_subset": ["32", "50", "-1", "20000", "y"],
    "validation_size": ["0", "16", "-1", "60000", "100000", "v"],
    "fast_path": ["auto", "on", "off", "fast"],
    "data_source": ["auto", "idx", "nowhere"],
    "keep_checkpoints": ["1", "3", "0", "-1"],
    "schedule.max_lr": ["0.1", "0", "-1", "nan", "x"],
    "schedule.pct_start": ["0.3", "0.0", "1.0", "2", "x"],
    "schedule.name": ["constant", "step", "cosine", "5"],
    "sweep": ["{'learning_rate': [0.01, 0.02]}", "{'dropout_rate': [0.0, 0.1]}",
              "{'ema_decay': [0.0, 0.9], 'translate': [0.0, 0.1]}", "{'model': ['ref3_step4']}",
              "{'learning_rate': []}", "{'nosuch': [1]}", "{'schedule': {'max_lr': [0.1, 0.2]}}",
              "{'learning_rate': ['a', 'b']}", "[1, 2]", "nonsense"],
    "nosuchfield": ["1"],
}
# Every run is tiny unless an override says otherwise: one epoch of 256 images (8 steps:
# OneCycleLR needs a few).
TINY = ["--config.train_subset=256", "--config.test_subset=32", "--config.num_epochs=1",
        "--config.batch_size=32", "--config.eval_batch_size=32", "--config.progress_bar=False",
        "--config.plots=False"]


def run(argv: list[str]) -> tuple[str, str]:
  """("trained" | "refused" | "failed", why) for one command line."""
  flags.FLAGS.unparse_flags()
  for name in [name for name in flags.FLAGS if name.startswith("config.")]:
    delattr(flags.FLAGS, name)  # the overrides ml_collections defined for the last one
  sys.argv = argv  # ml_collections reads the overrides from there while loading
  err = io.StringIO()
  outcome, why = "trained", ""
  with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    try:
      cli.parse_flags(argv)
      train_script.main([argv[0]])
    except SystemExit as e:
      outcome = "refused" if e.code == 1 else "failed"
      why = f"exit status {e.code}"
    except BaseException:  # pylint: disable=broad-except  (any other ending is a failure)
      outcome, why = "failed", traceback.format_exc()[-3000:]
  lines = [line for line in err.getvalue().splitlines() if line.strip()]
  if outcome == "refused" and not (len(lines) == 1 and lines[0].startswith("error: ")):
    outcome, why = "failed", "stderr: " + err.getvalue()[-3000:]
  return outcome, why


def main() -> None:
  examples, seed, workdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
  counts = {"examples": 0, "trained": 0, "refused": 0, "failures": []}

  @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                       suppress_health_check=list(hypothesis.HealthCheck))
  @hypothesis.seed(seed)
  @hypothesis.given(st.data())
  def example(data):
    config = data.draw(st.sampled_from(CONFIGS), label="config")
    fields = data.draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=4, unique=True))
    overrides = [f"--config.{field}={data.draw(st.sampled_from(FIELDS[field]), label=field)}"
                 for field in fields]
    number = counts["examples"]
    argv = ["train.py", "--config", config, *TINY, *overrides,
            "--workdir", os.path.join(workdir, str(number))]
    outcome, why = run(argv)
    counts["examples"] += 1
    if outcome == "failed":
      counts["failures"].append({"argv": argv, "why": why})
    else:
      counts[outcome] += 1

  example()  # pylint: disable=no-value-for-parameter
  print(json.dumps(counts))


if __name__ == "__main__":
  main()
