"""scripts/train.py's command line: a config file's steps are required, checked and listed.

Three real subprocesses (a few seconds each) cover what only the script shows (stderr, the exit
status, absl's --help); the rest calls `mnist_jax.cli` directly.
"""

import pathlib
import subprocess
import sys

import pytest

from configs import base
from configs import frontier
from configs import ref3
from configs import sweeps
from mnist_jax import cli

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

# Each file of configs/ with steps, and the step the "needs a step" message suggests.
WITH_STEPS = {"ref1": "code5", "ref2": "final", "ref3": "step4", "ref4": "step5", "ref5": "step7",
              "frontier": "frontier_4k", "sweeps": "final_one_cycle"}


def run_train(*args):
  return subprocess.run([sys.executable, "scripts/train.py", *args], capture_output=True,
                        text=True, cwd=REPO_ROOT, timeout=120)


def check(capsys, *args) -> tuple[int | None, str]:
  """(exit status or None if it passed, stderr) of cli.check_config_step on `args`."""
  try:
    cli.check_config_step(["train.py", *args])
  except SystemExit as e:
    return e.code, capsys.readouterr().err
  return None, capsys.readouterr().err


def test_experiment_file_without_a_step_exits_with_one_line_listing_its_steps():
  result = run_train("--config", "configs/ref3.py")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      "error: configs/ref3.py needs a step after a colon, e.g. configs/ref3.py:step4; "
      "steps: step1, step2, step3, step4"], result.stderr[-2000:]


def test_unknown_step_exits_with_one_line_without_a_traceback():
  result = run_train("--config", "configs/ref3.py:step9")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      "error: unknown step 'step9' for ref3; valid steps: step1, step2, step3, step4"], result.stderr[-2000:]


def test_help_lists_every_config_file_and_its_steps():
  result = run_train("--help")
  assert "Config files" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
  listing = result.stdout[result.stdout.index("Config files"):result.stdout.index("\nflags:")]
  assert "configs/final.py     (no step)" in listing
  assert "configs/ref3.py:     step1, step2, step3, step4" in listing
  words = listing.replace(",", " ").split()
  for stem, steps in base.experiments().items():
    assert f"configs/{stem}.py" + (":" if steps else "") in words
    assert all(step in words for step in steps or ())


def test_experiments_lists_each_config_file_with_its_steps():
  listing = base.experiments()
  assert sorted(listing) == sorted(["final", *WITH_STEPS])
  assert listing["final"] is None
  assert listing["ref3"] == ("step1", "step2", "step3", "step4")
  assert "frontier_4k" in listing["frontier"] and "final_one_cycle" in listing["sweeps"]


@pytest.mark.parametrize("stem, example", WITH_STEPS.items())
def test_every_file_with_steps_needs_one_and_names_an_example(capsys, stem, example):
  steps = base.experiments()[stem]
  for value in (f"configs/{stem}.py", f"configs/{stem}.py:"):
    code, err = check(capsys, "--config", value)
    assert code == 1
    assert err == (f"error: configs/{stem}.py needs a step after a colon, e.g. "
                   f"configs/{stem}.py:{example}; steps: {', '.join(steps)}\n")
  for step in steps:  # every listed step is one get_config accepts
    assert check(capsys, f"--config=configs/{stem}.py:{step}") == (None, "")


@pytest.mark.parametrize("args, message", [
    (["--config", "configs/frontier.py:9k"],
     "error: unknown step '9k' for frontier; valid steps: frontier_5k, frontier_4k, frontier_3k7, "
     "frontier_2k, frontier_2k_separable, frontier_1k_separable"),
    (["--config=configs/sweeps.py:nope"], "error: unknown sweep 'nope'; valid sweeps: final_one_cycle, "),
    (["--config", "configs/final.py:step4"],
     "error: configs/final.py takes no step; give it without a colon: --config configs/final.py"),
    (["--config", "configs/nope.py:step1"], "error: --config: no config file configs/nope.py"),
    # The last --config wins, as in absl.
    (["--config", "configs/ref3.py:step4", "--config", "configs/ref1.py"],
     "error: configs/ref1.py needs a step after a colon"),
])
def test_bad_config_values_are_one_line(capsys, monkeypatch, args, message):
  monkeypatch.chdir(REPO_ROOT)
  code, err = check(capsys, *args)
  assert code == 1 and err.count("\n") == 1 and err.startswith(message), err


@pytest.mark.parametrize("args", [
    ["--config", "configs/final.py", "--config.num_epochs=2"],
    ["--config", "configs/frontier.py:4k"],
    ["--workdir", "w"],                       # no --config: absl reports it as required
    ["--config", "configs/ref3.py", "--help"],  # help is printed whatever the config
    ["--", "--config", "configs/ref3.py"],      # not a flag after "--"
])
def test_good_or_other_values_pass(capsys, monkeypatch, args):
  monkeypatch.chdir(REPO_ROOT)
  assert check(capsys, *args) == (None, "")


def test_a_config_file_without_steps_is_left_to_its_get_config(tmp_path, capsys):
  # A user's parameterised file without STEPS: whatever follows the colon is its business.
  path = tmp_path / "mine.py"
  path.write_text("def get_config(arg=None):\n  return {'arg': arg}\n")
  assert check(capsys, "--config", f"{path}:anything") == (None, "")
  assert check(capsys, "--config", str(path)) == (None, "")


def test_get_config_without_a_step_raises_with_the_valid_steps():
  with pytest.raises(ValueError, match="ref3 needs a step; valid steps: step1, step2, step3, step4"):
    ref3.get_config()
  with pytest.raises(ValueError, match="frontier needs a step; valid steps: frontier_5k"):
    frontier.get_config()
  with pytest.raises(ValueError, match="sweeps needs a sweep name; valid sweeps: final_one_cycle"):
    sweeps.get_config()


def test_without_pytorch_the_torch_commands_name_the_extra(capsys, monkeypatch):
  monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
  with pytest.raises(SystemExit) as stopped:
    cli.require_torch("scripts/export.py")
  assert stopped.value.code == 1
  assert capsys.readouterr().err == (
      'error: scripts/export.py needs PyTorch, which is not installed: pip install "mnist_jax[torch]" '
      '(from a checkout: pip install -e ".[torch]")\n')
