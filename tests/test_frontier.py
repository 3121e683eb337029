"""The frontier models and the grouped convolution they use.

Parameter counts are worked by hand (the sums in mnist_jax/models/frontier.py) and must equal
both the Flax count and torch's ``sum(p.numel())``; eval-mode outputs must equal the torch
mirror's on real test images (helpers of tests/test_parity.py), and the fast path must
compute what the plain network computes with depthwise layers in it.
"""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from configs import frontier as frontier_configs
from mnist_jax import models
from mnist_jax.models import table as model_table
from mnist_jax.models import layers
from mnist_jax.torch import mirror as torch_mirror
from mnist_jax.reporting import sweeps
import test_parity

SEARCHES = pathlib.Path(__file__).resolve().parents[1] / "runs" / "sweeps"

# (name, parameters worked by hand, budget the name promises).
FRONTIER = [
    ("frontier_5k", 5_680, 5_853),
    ("frontier_4k", 3_964, 4_000),
    ("frontier_3k7", 3_666, 3_700),
    ("frontier_2k", 1_984, 2_000),
    ("frontier_2k_separable", 1_948, 2_000),
    ("frontier_1k_separable", 998, 1_000),
]
NAMES = [name for name, _, _ in FRONTIER]


def test_every_frontier_model_is_registered_and_listed_here():
  assert sorted(name for name in models.names() if name.startswith("frontier_")) == sorted(NAMES)


@pytest.mark.parametrize("name,params,budget", FRONTIER)
def test_parameter_counts_equal_hand_count_and_torch(name, params, budget):
  torch_count = sum(p.numel() for p in torch_mirror.build(name).parameters())
  assert model_table.count_params(name) == torch_count == params <= budget
  assert models.spec(name).source == (
      f"ours (the parameter frontier), designed for <= {budget:,} parameters")


@pytest.mark.parametrize("name", NAMES)
def test_eval_log_probs_match_torch(name, images):
  x = images[:16]
  module = test_parity.randomised_torch_model(name).eval()
  with torch.no_grad():
    expected = module(test_parity.to_nchw(x)).numpy()
  variables = torch_mirror.to_flax_variables(module.state_dict(), name)
  log_probs = models.create(name).apply(variables, jnp.asarray(x), train=False)
  assert np.max(np.abs(np.asarray(log_probs) - expected)) < test_parity.TOLERANCE


def test_depthwise_kernel_layout_is_flax_grouped_hwio():
  # frontier_1k_separable layer 4 is the depthwise 3x3 on 8 channels: torch (8, 1, 3, 3).
  module = torch_mirror.build("frontier_1k_separable")
  assert tuple(module[4].weight.shape) == (8, 1, 3, 3)
  variables = torch_mirror.to_flax_variables(module.state_dict(), "frontier_1k_separable")
  kernel = variables["params"]["layers_4"]["kernel"]
  assert kernel.shape == (3, 3, 1, 8)
  np.testing.assert_array_equal(kernel[:, :, 0, 5], module[4].weight[5, 0].detach().numpy())


@pytest.mark.parametrize("layer,shape", [
    (layers.Conv(12, 3, groups=8), (10, 10, 6)),    # input channels not divisible
    (layers.Conv(12, 3, groups=8), (10, 10, 8)),    # features not divisible
    (layers.Conv(8, 3, groups=0), (10, 10, 8)),
])
def test_output_shape_rejects_groups_that_do_not_divide(layer, shape):
  with pytest.raises(ValueError, match="needs groups >= 1 dividing its"):
    layers.output_shape(layer, shape)


def test_output_shape_of_grouped_convs():
  assert layers.output_shape(layers.Conv(8, 3, groups=8), (10, 10, 8)) == (8, 8, 8)
  assert layers.output_shape(layers.Conv(12, 3, padding=1, groups=4), (10, 10, 8)) == (10, 10, 12)


@pytest.mark.parametrize("name", NAMES)
def test_receptive_field_reaches_the_whole_image(name):
  assert model_table.receptive_field(name) >= 28


@pytest.mark.parametrize("name", ["frontier_1k_separable"])
def test_fast_path_on_and_off_compute_the_same(name, images):
  x = jnp.asarray(images[:32])
  fast, plain = models.create(name, fast_path="on"), models.create(name, fast_path="off")
  variables = plain.init({"params": jax.random.key(0)}, x[:1], train=False)
  np.testing.assert_allclose(fast.apply(variables, x, train=False),
                             plain.apply(variables, x, train=False), rtol=1e-5, atol=1e-5)
  # Train mode takes the fused ReLU -> BatchNorm op on the fast path.
  outputs = [model.apply(variables, x, train=True, mutable=["batch_stats"])
             for model in (fast, plain)]
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5),
                         outputs[0], outputs[1])


# A model's searches in the order they ran. Each starts from what the ones before chose; the
# batch-32 search, whose grid holds no batch-64 cell, replaces that choice only where its chosen
# cell's validation last-3 mean is higher than the choice's (same seeds, same split).
SEARCH_ORDER = ("max_lr", "augmentation", "batch32")


def searched_recipe(name: str) -> tuple[dict, int]:
  """({field path: value}, batch size) that the committed searches of model `name` chose."""
  values, batch_size, best = {}, 64, None
  for kind in SEARCH_ORDER:
    folder = SEARCHES / f"{name}_{kind}"
    if not folder.is_dir():
      continue
    search = sweeps.load_sweep(str(folder))
    last3 = search.chosen.validation_last3[0]
    if kind == "batch32":
      if best is not None and last3 <= best:
        continue
      batch_size = 32
    values.update(zip(search.fields, search.chosen.values))
    best = last3
  return values, batch_size


@pytest.mark.parametrize("name", NAMES)
def test_config_follows_the_search_protocol(name):
  config = frontier_configs.get_config(name)
  assert (config.name, config.model) == (name, name)
  assert (config.num_epochs, config.validation_size) == (15, 5000)
  assert config.dropout_rate == 0.0 and config.schedule.name == "one_cycle"
  values, batch_size = searched_recipe(name)
  assert config.batch_size == batch_size
  # Unsearched: the starting recipe (max_lr 0.1-0.2, rotation 7 degrees).
  values = {"rotation_degrees": 7.0, **values}
  if "schedule.max_lr" not in values:
    assert 0.1 <= config.schedule.max_lr <= 0.2
  flat = {**config, **{f"schedule.{k}": v for k, v in config.schedule.items()}}
  assert {path: flat[path] for path in values} == values
  chosen = config.schedule.max_lr
  config.schedule.max_lr = 1.0  # An override of one config leaves the next one alone.
  assert frontier_configs.get_config(name).schedule.max_lr == chosen
  with pytest.raises(ValueError, match="unknown step 'ref2_final' for frontier"):
    frontier_configs.get_config("ref2_final")
