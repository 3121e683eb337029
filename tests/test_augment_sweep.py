"""The affine and colour-jitter fields: their checks, and a sweep over them equals its single runs."""

import json

import jax
import numpy as np
import pytest

from mnist_jax.optim import sweep
from mnist_jax.training import config_checks
from mnist_jax.training import train
from tests.test_train import assert_trees_close, final_params, small_config


@pytest.mark.parametrize("field, value", [("translate", 1.0), ("translate", -0.1), ("scale", 1.0),
                                          ("affine_probability", 1.5), ("brightness", -0.2),
                                          ("contrast", -1.0)])
def test_out_of_range_values_are_one_line_errors(mnist_dir, field, value):
  config = small_config(mnist_dir)
  config[field] = value
  with pytest.raises(ValueError, match=f"config.{field} must be"):
    config_checks.validate_config(config)
  config[field] = 0.0 if field != "affine_probability" else 1.0
  config.sweep = {field: [config[field], value]}
  with pytest.raises(ValueError, match=f"sweep cell {field}={value}: config.{field}"):
    config_checks.validate_config(config)


def test_the_fields_are_sweepable_and_valid_at_their_ends(mnist_dir):
  config = small_config(mnist_dir, translate=0.09, scale=0.09, affine_probability=0.5,
                        brightness=2.0, contrast=0.0)
  config.sweep = {"translate": [0.0, 0.99], "scale": [0.5], "affine_probability": [0.0, 1.0],
                  "brightness": [0.0, 0.2], "contrast": [0.0, 3.0]}
  config_checks.validate_config(config)
  assert len(sweep.cells(config)) == 16


@pytest.mark.slow  # three programs to compile; ~15 s even with the persistent cache
def test_each_replica_of_an_augmentation_sweep_equals_its_single_run(mnist_dir, tmp_path):
  # Rotation off (as tests/test_sweep.py): with it, the replicas mapped by lax.map and the
  # squeezed single run may round a sampling coordinate differently. Whole-pixel shifts and the
  # jitter's elementwise arithmetic round alike in both programs.
  config = small_config(mnist_dir, num_epochs=1, rotation_degrees=0.0)
  config.sweep = {"translate": [0.0, 0.1], "brightness": [0.0, 0.3]}
  train.train_and_evaluate(config, str(tmp_path / "grid"))
  grid = final_params(tmp_path / "grid")
  grid_history = [json.loads(line) for line in open(tmp_path / "grid" / "metrics.jsonl")]
  # Replica 0 has neither (its single run compiles neither) and replica 3 both.
  for replica in (0, 3):
    seed, cell = sweep.replicas(config)[replica]
    single = sweep.cell_config(config, cell)
    single.seed = seed
    history = train.train_and_evaluate(single, str(tmp_path / f"single_{replica}"))
    ours = final_params(tmp_path / f"single_{replica}")
    assert_trees_close(jax.tree.map(lambda x: x[replica], grid), jax.tree.map(lambda x: x[0], ours),
                       atol=1e-5)
    assert [r["test_correct"][replica] for r in grid_history] == [r["test_correct"][0]
                                                                   for r in history]
  # The augmentation changed what replica 3 trained on: the equality above is not vacuous.
  assert not np.allclose(jax.tree.leaves(grid)[0][0], jax.tree.leaves(grid)[0][3])
