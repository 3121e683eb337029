"""The hyperparameters as one typed tree: a leaf [R] per field, checked once, the features
computed from it; the learning rates a run records equal torch's, step by step."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from configs import base
from mnist_jax.models import network
from mnist_jax.optim import hyperparameters
from mnist_jax.optim import one_cycle
from mnist_jax.optim import schedules
from mnist_jax.training import train
from tests.test_train import small_config


def test_a_single_run_is_one_replica_of_every_field(mnist_dir):
  config = small_config(mnist_dir, schedule=base.one_cycle(max_lr=0.1, pct_start=0.2))
  hparams = hyperparameters.create(config)
  leaves = {"learning_rate": 0.05, "momentum": 0.9, "rotation_degrees": 7.0,
            "affine_probability": 1.0, "label_smoothing": 0.0}
  for field, value in leaves.items():
    np.testing.assert_array_equal(getattr(hparams, field), np.float32([value]))
  # ref3 Step 4's published dropout rate, as Flax's keep probability.
  np.testing.assert_array_equal(hparams.dropout_keep_prob, np.float32([1.0 - 0.1]))
  assert set(hparams.schedule) == {"max_lr", "pct_start", "div_factor", "final_div_factor",
                                   "base_momentum", "max_momentum"}
  assert hyperparameters.features(hparams) == hyperparameters.Features(rotation=True,
                                                                        dropout=True)


def test_integer_schedule_fields_stay_integers(mnist_dir):
  config = small_config(mnist_dir, schedule=base.step_lr(step_size=2, gamma=0.5))
  config.sweep = {"schedule": {"step_size": [1, 2]}}
  hparams = hyperparameters.create(config)
  assert hparams.schedule["step_size"].dtype == np.int32
  np.testing.assert_array_equal(hparams.schedule["step_size"], [1, 2])


@pytest.mark.parametrize("field, value, message", [
    ("momentum", 1.0, r"^config.momentum must be in \[0, 1\), got 1.0$"),
    ("translate", -0.1, r"^config.translate must be in \[0, 1\), got -0.1$"),
    ("affine_probability", 1.5, r"^config.affine_probability must be in \[0, 1\], got 1.5$"),
    ("ema_decay", 1.0, r"^config.ema_decay must be in \[0, 1\) \(0 = off\), got 1.0$"),
])
def test_a_value_out_of_range_is_one_line(mnist_dir, field, value, message):
  config = small_config(mnist_dir)
  config[field] = value
  with pytest.raises(ValueError, match=message):
    hyperparameters.create(config)


def test_a_swept_value_out_of_range_names_its_cell(mnist_dir):
  config = small_config(mnist_dir)
  config.sweep = {"label_smoothing": [0.0, 1.5]}
  with pytest.raises(ValueError, match=r"^sweep cell label_smoothing=1.5: config.label_smoothing "
                                       r"must be in \[0, 1\) \(0 = off\), got 1.5$"):
    hyperparameters.create(config)


def test_a_config_json_without_the_later_fields_reads_them_as_off(mnist_dir):
  config = small_config(mnist_dir)
  for field in ("translate", "scale", "affine_probability", "brightness", "contrast",
                "label_smoothing", "ema_decay"):
    del config[field]
  hparams = hyperparameters.create(config)
  np.testing.assert_array_equal(hparams.affine_probability, [1.0])
  assert hyperparameters.features(hparams) == hyperparameters.Features(rotation=True,
                                                                        dropout=True)


def torch_learning_rates(config, steps_per_epoch: int) -> list[float]:
  """The lr of each `optimizer.step()` under torch's scheduler for `config.schedule`, stepped
  as the references step it (OneCycleLR per batch, StepLR per epoch)."""
  parameter = torch.nn.Parameter(torch.zeros(1))
  optimizer = torch.optim.SGD([parameter], lr=config.learning_rate, momentum=config.momentum)
  schedule = config.schedule
  if schedule.name == "one_cycle":
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=schedule.max_lr, epochs=config.num_epochs,
        steps_per_epoch=steps_per_epoch, pct_start=schedule.pct_start)
  else:
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=schedule.step_size,
                                                gamma=schedule.gamma)
  rates = []
  for _ in range(config.num_epochs):
    for _ in range(steps_per_epoch):
      rates.append(optimizer.param_groups[0]["lr"])
      optimizer.step()
      if schedule.name == "one_cycle":
        scheduler.step()
    if schedule.name == "step":
      scheduler.step()
  return rates


@pytest.mark.parametrize("schedule", [base.one_cycle(max_lr=0.1, pct_start=0.3),
                                      base.step_lr(step_size=1, gamma=0.5)],
                         ids=["one_cycle", "step"])
def test_recorded_learning_rates_equal_torchs_per_step(mnist_dir, tmp_path, schedule):
  # 4 steps an epoch (3 batches of 64 and the remainder of 8), 3 epochs.
  config = small_config(mnist_dir, schedule=schedule, rotation_degrees=0.0)
  history = train.train_and_evaluate(config, str(tmp_path))
  records = [json.loads(line) for line in open(tmp_path / "steps.jsonl")]
  ours = np.concatenate([record["learning_rate"][0] for record in records])
  expected = np.asarray(torch_learning_rates(config, 4))
  assert len(ours) == 12 and len(set(expected.round(9))) >= 3
  np.testing.assert_allclose(ours, expected, rtol=1e-6)
  # metrics.jsonl's learning_rate: the rate of each epoch's first step.
  np.testing.assert_allclose([r["learning_rate"][0] for r in history], expected[::4], rtol=1e-6)


# Every hyperparameter enters the program as an array, where it once was a Python number that
# XLA folded into the program (a division by a constant became a multiplication by its
# reciprocal, constant factors were multiplied first). The pieces below are written so that
# arrays give the bits numbers give: the committed runs stay reproducible bit for bit.
@pytest.mark.parametrize("max_lr, pct_start, total_steps", [(0.1, 0.2, 14070), (0.2, 0.25, 7035),
                                                            (0.05, 0.3, 1000)])
def test_a_one_cycle_schedule_of_arrays_is_the_schedule_of_numbers_bit_for_bit(
    max_lr, pct_start, total_steps):
  steps = jnp.arange(total_steps)
  numbers = jax.jit(jax.vmap(one_cycle.one_cycle(max_lr, total_steps, pct_start=pct_start)))

  def of_arrays(count, peak, pct, div, final_div):
    return one_cycle.one_cycle(peak, total_steps, pct_start=pct, div_factor=div,
                               final_div_factor=final_div, check=False)(count)

  arrays = jax.jit(jax.vmap(of_arrays, in_axes=(0, None, None, None, None)))(
      steps, *map(jnp.float32, (max_lr, pct_start, 25.0, 1e4)))
  np.testing.assert_array_equal(np.asarray(arrays), np.asarray(numbers(steps)))
  momentum = jax.jit(jax.vmap(one_cycle.one_cycle_momentum(total_steps, pct_start=pct_start)))

  def momentum_of_arrays(count, pct, base, peak):
    return one_cycle.one_cycle_momentum(total_steps, pct_start=pct, base_momentum=base,
                                        max_momentum=peak, check=False)(count)

  np.testing.assert_array_equal(
      np.asarray(jax.jit(jax.vmap(momentum_of_arrays, in_axes=(0, None, None, None)))(
          steps, *map(jnp.float32, (pct_start, 0.85, 0.95)))),
      np.asarray(momentum(steps)))


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.3])
def test_dropout_with_an_array_keep_probability_is_flax_dropout_bit_for_bit(rate):
  x = jax.random.normal(jax.random.PRNGKey(0), (64, 12, 12, 8))
  rngs = {"dropout": jax.random.PRNGKey(1)}
  flax_dropout = jax.jit(lambda x: nn.Dropout(rate, deterministic=False).apply({}, x, rngs=rngs))
  swept = jax.jit(lambda x, keep: network.SweptDropout().apply({}, x, keep, rngs=rngs))
  keep = hyperparameters.create(base.get_config(dropout_rate=rate)).dropout_keep_prob[0]
  np.testing.assert_array_equal(np.asarray(swept(x, jnp.asarray(keep))),
                                np.asarray(flax_dropout(x)))


def test_a_step_lr_schedule_of_arrays_is_the_schedule_of_numbers_bit_for_bit():
  steps = jnp.arange(15 * 469)
  numbers = jax.jit(jax.vmap(schedules.step_lr(0.05, 2, 0.3, 469, 15)))(steps)

  def of_arrays(count, learning_rate, step_size, gamma):
    return schedules.step_lr(learning_rate, step_size, gamma, 469, 15, check=False)(count)

  arrays = jax.jit(jax.vmap(of_arrays, in_axes=(0, None, None, None)))(
      steps, jnp.float32(0.05), jnp.int32(2), jnp.float32(0.3))
  np.testing.assert_array_equal(np.asarray(arrays), np.asarray(numbers))
