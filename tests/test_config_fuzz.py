"""Config fuzzing: drawn command lines of scripts/train.py either train or stop in one line.

tests/config_fuzz.py draws them with hypothesis (types, ranges and combinations of the fields,
sweeps and unknown fields included) and runs each through the script's own parser and `main`
in one process. Seeded: MNIST_JAX_FUZZ_SEED=<seed> draws another set (the seed is in every
message); the same seed draws the same command lines.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.test_train import REPO_ROOT

SEED = int(os.environ.get("MNIST_JAX_FUZZ_SEED", "0"))
EXAMPLES = 300


@pytest.mark.slow
def test_every_drawn_config_trains_or_stops_in_one_line(tmp_path):
  result = subprocess.run([sys.executable, "tests/config_fuzz.py", str(EXAMPLES), str(SEED),
                           str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=1500)
  assert result.returncode == 0, f"seed {SEED}: {result.stderr[-3000:]}"
  counts = json.loads(result.stdout.strip().splitlines()[-1])
  failures = "\n".join(f"{' '.join(f['argv'][3:])}\n{f['why']}" for f in counts["failures"][:5])
  assert not counts["failures"], f"seed {SEED}: {len(counts['failures'])} failed:\n{failures}"
  assert counts["examples"] == EXAMPLES
  print(f"seed {SEED}: {counts['trained']} trained, {counts['refused']} stopped in one line")
  # Both endings are exercised, not only the parser's refusals.
  assert counts["trained"] >= EXAMPLES // 10 and counts["refused"] >= EXAMPLES // 10, counts
