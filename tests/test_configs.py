"""The configs train what the write-ups published: model, batch size, epochs; the flagship's limits."""

import importlib

import pytest

from configs import final
from mnist_jax import published
from mnist_jax.models import table as model_table


def _config(record: published.Record):
  module = importlib.import_module(f"configs.{record.experiment}")
  return module.get_config(record.name.removeprefix(f"{record.experiment}_"))


@pytest.mark.parametrize("record", published.all(), ids=lambda record: record.name)
def test_each_published_step_has_a_config_with_its_model_batch_size_and_epochs(record):
  config = _config(record)
  assert config.model == record.model
  assert config.num_epochs == record.epochs
  if record.batch_size is not None:
    assert config.batch_size == record.batch_size


def test_flagship_is_under_8000_parameters_and_trains_15_epochs():
  config = final.get_config()
  assert model_table.count_params(config.model) < 8000
  assert config.num_epochs == 15
  assert config.name == "final"
