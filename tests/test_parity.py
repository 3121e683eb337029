"""Flax models against their torch mirrors on real MNIST test images.

A randomly initialised torch mirror (`torch_mirror.build`) is converted to Flax variables;
both must then compute the same log-probabilities, and one train-mode forward pass must
update the BatchNorm running statistics the same way (torch: unbiased running variance).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from mnist_jax import models
from mnist_jax.torch import mirror as torch_mirror
from mnist_jax.models import layers

TOLERANCE = 1e-5  # Max abs difference of float32 log-probs / running statistics.

# One name per distinct network (steps sharing layers run identical code, see
# test_models.test_steps_sharing_a_network); keeps the suite fast on a shared CPU.
DISTINCT_NETWORKS = list({models.spec(name).layers: name for name in models.names()}.values())


def randomised_torch_model(name: str, dropout_rate: float | None = None) -> torch.nn.Module:
  """Torch mirror with default init, BatchNorm affine/statistics randomised (else 1/0/0/1)."""
  torch.manual_seed(0)
  module = torch_mirror.build(name, dropout_rate=dropout_rate)
  with torch.no_grad():
    for layer in module.modules():
      if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):  # pylint: disable=protected-access
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_(0.0, 0.2)
        layer.running_mean.normal_(0.0, 0.2)
        layer.running_var.uniform_(0.5, 1.5)
  return module


def to_nchw(x: np.ndarray) -> torch.Tensor:
  return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


@pytest.mark.parametrize("name", DISTINCT_NETWORKS)
def test_eval_log_probs_match_torch(name, images):
  module = randomised_torch_model(name).eval()
  with torch.no_grad():
    expected = module(to_nchw(images)).numpy()
  variables = torch_mirror.to_flax_variables(module.state_dict(), name)
  model = models.create(name)
  reference_init = jax.eval_shape(
      lambda x: model.init({"params": jax.random.key(0)}, x, train=False), images[:1])
  assert jax.tree_util.tree_map(lambda a: a.shape, variables) == jax.tree_util.tree_map(
      lambda a: a.shape, reference_init)
  log_probs = model.apply(variables, jnp.asarray(images), train=False)
  assert log_probs.dtype == jnp.float32
  assert np.max(np.abs(np.asarray(log_probs) - expected)) < TOLERANCE


@pytest.mark.parametrize("name", DISTINCT_NETWORKS)
def test_train_forward_matches_torch_and_updates_running_statistics(name, images):
  # The torch side runs in float64 here. torch's float32 CPU BatchNorm in train mode
  # accumulates the batch statistics over N*H*W (173,056 values at 26x26) with an error of
  # ~1e-3 in the normalised output and ~1e-5 in the running variance (measured against
  # float64 on these images; XLA's tree reductions stay within ~1e-5). float64 torch is the
  # exact value of the same semantics, so our float32 model must match it within TOLERANCE.
  module = randomised_torch_model(name, dropout_rate=0.0)
  variables = torch_mirror.to_flax_variables(module.state_dict(), name)
  module = module.double().train()
  with torch.no_grad():
    expected = module(to_nchw(images).double()).numpy()
  expected_stats = _float64_batch_stats(module.state_dict(), name)
  log_probs, updates = models.create(name, dropout_rate=0.0).apply(
      variables, jnp.asarray(images), train=True, mutable=["batch_stats"])
  assert log_probs.dtype == jnp.float32
  assert np.max(np.abs(np.asarray(log_probs, np.float64) - expected)) < TOLERANCE
  actual_stats = updates.get("batch_stats", {})
  assert jax.tree_util.tree_structure(actual_stats) == jax.tree_util.tree_structure(expected_stats)
  differences = jax.tree_util.tree_map(lambda a, b: float(np.max(np.abs(np.asarray(a) - b))),
                                       actual_stats, expected_stats)
  assert all(d < TOLERANCE for d in jax.tree_util.tree_leaves(differences)), differences
  if expected_stats:  # The statistics did move: not a comparison of untouched values.
    moved = jax.tree_util.tree_map(lambda a, b: float(np.max(np.abs(np.asarray(a) - b))),
                                   variables["batch_stats"], expected_stats)
    assert min(jax.tree_util.tree_leaves(moved)) > 1e-3


def _float64_batch_stats(state_dict, name: str) -> dict:
  """Running statistics of a float64 torch mirror, as float64 numpy in Flax layout."""
  result = {}
  for index, layer in enumerate(models.spec(name).layers):
    if isinstance(layer, layers.BatchNorm):
      result[f"layers_{index}"] = {
          "mean": state_dict[f"{index}.running_mean"].numpy(),
          "var": state_dict[f"{index}.running_var"].numpy()}
  return result


def test_build_unknown_name():
  with pytest.raises(ValueError, match="unknown model 'nope'"):
    torch_mirror.build("nope")


def test_to_flax_variables_rejects_a_foreign_state_dict():
  state_dict = torch_mirror.build("ref3_step4").state_dict()
  with pytest.raises(ValueError, match="state_dict has no '0.bias'"):
    torch_mirror.to_flax_variables(state_dict, "ref2_model_init")
