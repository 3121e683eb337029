"""The configs train what the write-ups published: model, batch size, epochs; the flagship's limits."""

import importlib

import jax
import jax.numpy as jnp
import pytest

from configs import final
from mnist_jax import models
from mnist_jax import reference
from mnist_jax import summary


def _config(record: reference.Record):
  module = importlib.import_module(f"configs.{record.experiment}")
  return module.get_config(record.name.removeprefix(f"{record.experiment}_"))


def _num_params(model: str) -> int:
  variables = jax.eval_shape(lambda: models.create(model).init(
      {"params": jax.random.key(0)}, jnp.zeros((1, 28, 28, 1), jnp.float32), train=False))
  return summary.count_params(variables)


@pytest.mark.parametrize("record", reference.all(), ids=lambda record: record.name)
def test_each_published_step_has_a_config_with_its_model_batch_size_and_epochs(record):
  config = _config(record)
  assert config.model == record.model
  assert config.num_epochs == record.epochs
  if record.batch_size is not None:
    assert config.batch_size == record.batch_size


def test_flagship_is_under_8000_parameters_and_trains_15_epochs():
  config = final.get_config()
  assert _num_params(config.model) < 8000
  assert config.num_epochs == 15
  assert config.name == "final"
