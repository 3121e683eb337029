"""PyTorch round trip: scripts/export.py writes a trained replica as a state_dict of its torch
mirror, and scripts/evaluate.py --torch_checkpoint scores a torch-trained one with our pipeline.
"""

import re
import subprocess
import sys

import jax
import numpy as np
import pytest
import torch

from mnist_jax.data import augment
from mnist_jax.training import checkpoint
from mnist_jax import data
from mnist_jax.training import epoch as epoch_lib
from mnist_jax import models
from mnist_jax.training import step as step_lib
from mnist_jax.torch import checkpoint as torch_checkpoint
from mnist_jax.training import train
from mnist_jax.torch import mirror as torch_mirror
from tests.test_train import REPO_ROOT, small_config

TOLERANCE = 1e-5  # max abs difference of float32 log-probabilities
# One name per distinct network, as tests/test_parity.py.
DISTINCT_NETWORKS = list({models.spec(name).layers: name for name in models.names()}.values())
TORCH_MODEL = "ref2_model_init"  # its Linear reads a flattened 4x4x256 map: rows reordered


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, f"scripts/{script}", *map(str, args)], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=600)


def assert_one_error_line(result: subprocess.CompletedProcess, pattern: str) -> None:
  assert result.returncode == 1, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
  assert re.search(pattern, lines[0]), lines[0]


def to_nchw(x) -> torch.Tensor:
  return torch.from_numpy(np.array(np.asarray(x).transpose(0, 3, 1, 2), order="C"))


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
  """(config, workdir) of one epoch of ref3_step4 on 200 training images."""
  config = small_config(mnist_dir, num_epochs=1)
  workdir = tmp_path_factory.mktemp("export") / "run"
  train.train_and_evaluate(config, str(workdir))
  return config, workdir


@pytest.mark.parametrize("name", DISTINCT_NETWORKS)
def test_to_state_dict_inverts_to_flax_variables(name):
  torch.manual_seed(0)
  original = torch_mirror.build(name).state_dict()
  back = torch_mirror.to_state_dict(torch_mirror.to_flax_variables(original, name), name, 12)
  assert list(back) == list(original)
  for key, value in original.items():
    if key.endswith("num_batches_tracked"):
      assert back[key].dtype == torch.int64 and int(back[key]) == 12
    else:
      assert back[key].dtype == torch.float32 and torch.equal(back[key], value), key


def test_to_state_dict_rejects_variables_of_another_model():
  variables = torch_mirror.to_flax_variables(torch_mirror.build("ref3_step3").state_dict(), "ref3_step3")
  with pytest.raises(ValueError, match=r"variables have no 'params/layers_0/bias'"):
    torch_mirror.to_state_dict(variables, "ref4_step3")
  with pytest.raises(ValueError, match="num_batches_tracked must be an integer >= 0"):
    torch_mirror.to_state_dict(variables, "ref3_step3", -1)


def test_export_round_trip(trained, mnist_dir, tmp_path):
  config, workdir = trained
  output = tmp_path / "model.pt"
  result = run_script("export.py", "--workdir", workdir, "--output", output)
  assert result.returncode == 0, result.stderr
  module = torch_mirror.build(config.model)
  state_dict = torch.load(output, map_location="cpu", weights_only=True)
  module.load_state_dict(state_dict, strict=True)
  module.eval()

  images = data.load("test", mnist_dir, source="idx")[0][:256]
  with torch.no_grad():
    theirs = module(to_nchw(augment.normalize(augment.to_float(images)))).numpy()
  manager = checkpoint.create_checkpoint_manager(str(workdir), config.keep_checkpoints)
  arrays = jax.device_get(checkpoint.restore_arrays(manager, manager.best_step()))
  manager.close()
  state = step_lib.InferenceState(step_lib.create_model(config).apply,
                               jax.tree.map(lambda x: x[0], arrays["params"]),
                               jax.tree.map(lambda x: x[0], arrays["batch_stats"]))
  ours = np.asarray(step_lib.predict_log_probs(state, images))
  assert np.max(np.abs(theirs - ours)) < TOLERANCE

  steps_trained = epoch_lib.steps_per_epoch(config.train_subset, config.batch_size)
  tracked = [value for key, value in state_dict.items() if key.endswith("num_batches_tracked")]
  assert tracked and all(value.dtype == torch.int64 and int(value) == steps_trained
                         for value in tracked)
  assert int(arrays["step"][0]) == steps_trained


@pytest.mark.slow
def test_export_errors(trained, tmp_path):
  _, workdir = trained
  output = tmp_path / "model.pt"
  assert_one_error_line(run_script("export.py", "--workdir", workdir, "--output", output,
                                   "--seed", 5), r"no replica with seed 5 .*seeds: 0")
  assert_one_error_line(run_script("export.py", "--workdir", workdir, "--output", output,
                                   "--step", 9), r"no checkpoint 9 .*saved: 1")
  assert not output.exists()


def test_export_needs_a_replica_where_sweep_cells_share_the_seed(mnist_dir, tmp_path):
  config = small_config(mnist_dir, sweep={"learning_rate": [0.05, 0.1]})
  (tmp_path / "config.json").write_text(config.to_json_best_effort())
  with pytest.raises(ValueError, match=r"seed 0 trained 2 sweep cells; choose one by replica: "
                                       r"0 \(learning_rate=0.05 seed 0\), 1 \(learning_rate=0.1"):
    torch_checkpoint.export_replica(str(tmp_path), seed=0)


@pytest.fixture(scope="module")
def torch_trained(mnist_dir, tmp_path_factory):
  """(path of a torch-trained state_dict of TORCH_MODEL, torch's correct count on the first
  1000 test images)."""
  torch.manual_seed(0)
  module = torch_mirror.build(TORCH_MODEL)
  images, labels = data.load("train", mnist_dir, source="idx")
  x = to_nchw(augment.normalize(augment.to_float(images[:512])))
  y = torch.from_numpy(labels[:512].astype(np.int64))
  optimizer = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
  module.train()
  for step in range(16):  # two passes over the 512 images in batches of 64
    batch = slice(step % 8 * 64, step % 8 * 64 + 64)
    optimizer.zero_grad()
    torch.nn.functional.nll_loss(module(x[batch]), y[batch]).backward()
    optimizer.step()
  module.eval()
  test_images, test_labels = data.load("test", mnist_dir, source="idx")
  with torch.no_grad():
    predicted = module(to_nchw(augment.normalize(augment.to_float(test_images[:1000])))).argmax(1)
  correct = int((predicted.numpy() == test_labels[:1000]).sum())
  path = tmp_path_factory.mktemp("torch") / "trained.pt"
  torch.save(module.state_dict(), path)
  return path, correct


@pytest.mark.slow  # fast tier: test_export_round_trip
def test_evaluate_torch_checkpoint(torch_trained):
  path, torch_correct = torch_trained
  result = run_script("evaluate.py", "--torch_checkpoint", path, "--model", TORCH_MODEL,
                      "--test_subset", 1000)
  assert result.returncode == 0, result.stderr
  match = re.search(r"Test set: Average loss: [0-9.]+, Accuracy: (\d+)/1000 ", result.stdout)
  assert match, result.stdout
  assert abs(int(match.group(1)) - torch_correct) <= 1
  assert torch_correct > 300  # trained well above chance, so the counts say something


@pytest.mark.slow
def test_evaluate_torch_checkpoint_errors(torch_trained, tmp_path):
  path, _ = torch_trained
  assert_one_error_line(run_script("evaluate.py", "--torch_checkpoint", path, "--model", "ref3_step4"),
                        r"does not fit model 'ref3_step4': state_dict has ")
  assert_one_error_line(run_script("evaluate.py", "--torch_checkpoint", tmp_path / "none.pt",
                                   "--model", TORCH_MODEL), r"no file .*none\.pt")
  not_a_state_dict = tmp_path / "list.pt"
  torch.save([torch.zeros(3)], not_a_state_dict)
  assert_one_error_line(run_script("evaluate.py", "--torch_checkpoint", not_a_state_dict,
                                   "--model", TORCH_MODEL), r"holds a list that is not a state_dict")
