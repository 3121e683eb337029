"""Label smoothing and the weights' EMA: torch parity, evaluation, resume and sweeps (CPU)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from mnist_jax.data import augment
from mnist_jax.data import splits
from mnist_jax.optim import hyperparameters
from mnist_jax.optim import optimizer as optimizer_lib
from mnist_jax.optim import sweep
from mnist_jax.training import checkpoint
from mnist_jax.training import epoch
from mnist_jax.training import evaluate
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import step as step_lib
from mnist_jax.training import train
from mnist_jax.training import workdir as workdir_lib
from tests.test_train import (assert_trees_close, small_config, train_interrupted_and_straight,
                              without_times)


def saved_state(workdir) -> dict:
  """The latest checkpoint's training state as numpy arrays."""
  manager = checkpoint.create_checkpoint_manager(str(workdir), keep=3)
  arrays = jax.device_get(checkpoint.restore_arrays(manager, manager.latest_step()))
  manager.close()
  return arrays


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.1, 0.3, 0.9])
def test_label_smoothing_equals_torch_cross_entropy(eps):
  rng = np.random.default_rng(0)
  logits = rng.normal(scale=4.0, size=(64, 10)).astype(np.float32)
  labels = rng.integers(0, 10, size=64).astype(np.int32)
  log_probs = np.asarray(jax.nn.log_softmax(logits))
  ours = np.asarray(step_lib.smoothed_nll_loss(jnp.asarray(log_probs), jnp.asarray(labels),
                                               jnp.float32(eps)))
  theirs = torch.nn.functional.cross_entropy(
      torch.tensor(log_probs), torch.tensor(labels, dtype=torch.int64), label_smoothing=eps,
      reduction="none").numpy()
  np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
  mean = torch.nn.CrossEntropyLoss(label_smoothing=eps)(
      torch.tensor(log_probs), torch.tensor(labels, dtype=torch.int64)).item()
  np.testing.assert_allclose(ours.mean(), mean, rtol=0, atol=1e-6)
  # The gradient with respect to the network's logits, through its LogSoftmax.
  grad = jax.grad(lambda z: step_lib.smoothed_nll_loss(
      jax.nn.log_softmax(z), jnp.asarray(labels), jnp.float32(eps)).mean())(jnp.asarray(logits))
  z = torch.tensor(logits, requires_grad=True)
  torch.nn.functional.cross_entropy(torch.log_softmax(z, -1), torch.tensor(labels, dtype=torch.int64),
                                    label_smoothing=eps).backward()
  np.testing.assert_allclose(np.asarray(grad), z.grad.numpy(), rtol=0, atol=1e-7)
  if eps == 0.0:
    nll = step_lib.nll_loss(jnp.asarray(log_probs), jnp.asarray(labels))
    np.testing.assert_array_equal(ours, np.asarray(nll))


def ema_steps(mnist_dir, decay, num_steps=4):
  """`num_steps` jitted train steps of an EmaTrainState; (states after each step, host)."""
  config = small_config(mnist_dir, ema_decay=decay)
  (images, labels) = splits.load_splits(config)["train"]
  hparams = hyperparameters.create(config)
  state = step_lib.create_train_state(
      jax.random.PRNGKey(0), step_lib.create_model(config),
      optimizer_lib.Optimizer(config, steps_per_epoch=4), hyperparameters.replica(hparams, 0),
      ema=True)
  # Decay 0 keeps the average too (as in a grid where another cell keeps one).
  features = dataclasses.replace(hyperparameters.features(hparams), ema=True)
  train_step = jax.jit(step_lib.train_step, static_argnames="features")
  states = [jax.device_get(state)]
  for i in range(num_steps):
    batch = slice(32 * i, 32 * (i + 1))
    x = augment.normalize(augment.to_float(jnp.asarray(images[batch])))
    state, _, _ = train_step(state, x, jnp.asarray(labels[batch]), jax.random.PRNGKey(i),
                             features=features)
    states.append(jax.device_get(state))
  return states


def test_ema_follows_torch_averaged_model(mnist_dir):
  decay = 0.8
  states = ema_steps(mnist_dir, decay)
  variables = [{"params": s.params, "batch_stats": s.batch_stats} for s in states]
  flat = lambda v: jax.tree.leaves(v["params"]) + jax.tree.leaves(v["batch_stats"])
  leaves = [flat(v) for v in variables]
  num_params = len(jax.tree.leaves(states[0].params))
  assert num_params and len(leaves[0]) > num_params  # BatchNorm statistics are averaged too
  assert_trees_close(states[0].ema, variables[0], atol=0)  # starts at the initial variables

  # torch: AveragedModel(use_buffers=True) of a module holding the same tensors, its
  # update_parameters after each step; it copies the model at its first update.
  module = torch.nn.Module()
  for i, leaf in enumerate(leaves[0]):
    tensor = torch.tensor(np.array(leaf))
    if i < num_params:
      module.register_parameter(f"v{i}", torch.nn.Parameter(tensor))
    else:
      module.register_buffer(f"v{i}", tensor)
  averaged = torch.optim.swa_utils.AveragedModel(
      module, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay), use_buffers=True)
  expected = None
  for state, step_leaves in zip(states[1:], leaves[1:]):
    with torch.no_grad():
      for i, leaf in enumerate(step_leaves):
        getattr(module, f"v{i}").copy_(torch.tensor(np.array(leaf)))
    averaged.update_parameters(module)
    # The numpy recurrence, started at the first step's variables as torch starts it.
    expected = (step_leaves if expected is None else
                [decay * e + (1 - decay) * v for e, v in zip(expected, step_leaves)])
    ours = flat(state.ema)
    torch_leaves = [getattr(averaged.module, f"v{i}").detach().numpy() for i in range(len(ours))]
    for a, b, c in zip(ours, expected, torch_leaves):
      np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
      np.testing.assert_allclose(a, c, rtol=0, atol=1e-6)
  assert not np.allclose(flat(states[-1].ema)[0], leaves[-1][0])  # the EMA lags the weights


def test_ema_decay_zero_is_the_weights_exactly(mnist_dir):
  for state in ema_steps(mnist_dir, 0.0, num_steps=2):
    assert_trees_close(state.ema, {"params": state.params, "batch_stats": state.batch_stats}, atol=0)


def test_evaluation_scores_the_ema_weights(mnist_dir):
  config = small_config(mnist_dir, ema_decay=0.5)
  images, labels = splits.load_splits(config)["test"]
  model = step_lib.create_model(config)
  optimizer = optimizer_lib.Optimizer(config, steps_per_epoch=4)
  hparams = hyperparameters.replica(hyperparameters.create(config), 0)
  raw = step_lib.create_train_state(jax.random.PRNGKey(0), model, optimizer, hparams, ema=True)
  other = step_lib.create_train_state(jax.random.PRNGKey(1), model, optimizer, hparams)
  state = raw.replace(ema={"params": other.params, "batch_stats": other.batch_stats})
  run = jax.jit(evaluate.make_evaluate(config, len(labels)))
  score = lambda s: jax.device_get(metrics_lib.compute_per_replica(
      run(jax.tree.map(lambda x: jnp.asarray(x)[None], s), images, labels)))
  with_ema, of_other, of_raw = score(state), score(other), score(raw.replace(ema={}))
  np.testing.assert_array_equal(with_ema["loss"], of_other["loss"])
  assert with_ema["loss"] != of_raw["loss"]
  # A saved state is scored and exported with its EMA too.
  saved = {"params": raw.params, "batch_stats": raw.batch_stats,
           "ema": {"params": other.params, "batch_stats": other.batch_stats}}
  assert_trees_close(evaluate.saved_variables(saved), saved["ema"], atol=0)
  plain = evaluate.saved_variables({"params": raw.params, "batch_stats": raw.batch_stats})
  assert_trees_close(plain, {"params": raw.params, "batch_stats": raw.batch_stats}, atol=0)


def test_off_keeps_the_state_and_the_program_of_a_run_without_the_fields(mnist_dir):
  config = small_config(mnist_dir, num_epochs=1)
  old = small_config(mnist_dir, num_epochs=1)
  del old["label_smoothing"], old["ema_decay"]  # a config.json from before the fields
  states = step_lib.create_replica_states(config, optimizer_lib.Optimizer(config, 4))
  assert type(states) is step_lib.TrainState  # pylint: disable=unidiomatic-typecheck
  features = hyperparameters.features(hyperparameters.create(old))
  assert features == hyperparameters.Features(rotation=True, dropout=True)

  def program(c):
    (images, labels) = splits.load_splits(c)["train"]
    partial = epoch.empty_epoch_output(1, 4)
    return jax.jit(epoch.make_train_segment(c, len(labels))).lower(
        states, partial, images, labels, epoch.Segment(np.int32(0), np.int32(0), np.int32(4))
    ).as_text()

  assert program(config) == program(old)


@pytest.mark.slow
def test_resume_with_ema_and_label_smoothing_equals_uninterrupted(mnist_dir, tmp_path, monkeypatch):
  config = small_config(mnist_dir, num_epochs=2, train_subset=128, ema_decay=0.9,
                        label_smoothing=0.1)
  straight, resumed = train_interrupted_and_straight(config, tmp_path, monkeypatch)
  assert without_times(resumed) == without_times(straight)
  saved = saved_state(tmp_path / "resumed")
  assert_trees_close(saved, saved_state(tmp_path / "straight"), atol=0)
  assert set(saved) >= {"ema", "params"}
  # The reported metrics, the best checkpoint and evaluate_checkpoint are the EMA's.
  result = evaluate.evaluate_checkpoint(str(tmp_path / "resumed"))
  best = max(range(2), key=lambda e: straight[e]["test_accuracy"][0])
  assert result["epoch"] == best + 1
  assert result["test_correct"] == straight[best]["test_correct"]
  raw = evaluate.evaluate_variables(config, saved["params"], saved["batch_stats"])
  assert raw["test_loss"] != straight[-1]["test_loss"]


@pytest.mark.slow
def test_sweeping_ema_decay_and_label_smoothing_equals_each_single_run(mnist_dir, tmp_path):
  config = small_config(mnist_dir, num_epochs=1, rotation_degrees=0.0, train_subset=128)
  config.sweep = {"ema_decay": [0.0, 0.9], "label_smoothing": [0.0, 0.1]}
  grid = train.train_and_evaluate(config, str(tmp_path / "grid"))
  grid_state = saved_state(tmp_path / "grid")
  layout = sweep.replicas(config)
  assert layout[0][1] == {"ema_decay": 0.0, "label_smoothing": 0.0}
  # Decay 0 in a grid that keeps an EMA: the EMA is the weights.
  zero = jax.tree.map(lambda x: x[0], grid_state)
  assert_trees_close(zero["ema"], {"params": zero["params"], "batch_stats": zero["batch_stats"]},
                     atol=0)
  for replica in (0, 3):  # both off (the plain program), both on
    seed, cell = layout[replica]
    single = sweep.cell_config(config, cell)
    single.seed, single.num_seeds = seed, 1
    history = train.train_and_evaluate(single, str(tmp_path / f"single_{replica}"))
    ours = jax.tree.map(lambda x: x[0], saved_state(tmp_path / f"single_{replica}"))
    theirs = jax.tree.map(lambda x: x[replica], grid_state)
    assert ("ema" in ours) == bool(cell["ema_decay"])
    variables = [key for key in ("params", "batch_stats", "ema") if key in ours]
    assert_trees_close({k: theirs[k] for k in variables}, {k: ours[k] for k in variables},
                       atol=1e-5)
    assert [r["test_correct"][replica] for r in grid] == [r["test_correct"][0] for r in history]
    np.testing.assert_allclose([r["test_loss"][replica] for r in grid],
                               [r["test_loss"][0] for r in history], rtol=1e-5)
  assert workdir_lib.read_json_lines(tmp_path / "grid" / "metrics.jsonl")[0]["sweep"] == {
      "ema_decay": [0.0, 0.0, 0.9, 0.9], "label_smoothing": [0.0, 0.1, 0.0, 0.1]}
