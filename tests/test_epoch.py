"""The epoch program on small real-data subsets (CPU, few steps): equal to a plain step loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist_jax.data import augment
from mnist_jax.data import splits
from mnist_jax.optim import hyperparameters
from mnist_jax.optim import optimizer as optimizer_lib
from mnist_jax.training import epoch
from mnist_jax.training import replicas
from mnist_jax.training import step as step_lib
from mnist_jax.models import fast_cpu
from mnist_jax.models import network
from tests.test_train import assert_trees_close, small_config


@pytest.mark.slow  # fast tier: test_accelerator_program's vmapped replicas
def test_replicas_by_lax_map_equal_replicas_by_vmap(mnist_dir, monkeypatch):
  # CPU maps the replicas one after another; accelerators vmap them. Same numbers either way,
  # without rotation. With rotation on, 2 of 15 small epochs tried differed (1.7e-5, 1.5e-3) in one
  # replica, with the unfused layers too; suspected (not proven) cause: nearest-neighbour
  # sampling rounding a coordinate within an ulp of .5 differently in the other program.
  config = small_config(mnist_dir, num_epochs=1, rotation_degrees=0.0)
  (images, labels) = splits.load_splits(config)["train"]
  config.num_seeds = 3
  states = step_lib.create_replica_states(config, optimizer_lib.Optimizer(config, 4))

  def run_epoch():
    train_epoch = jax.jit(epoch.make_train_epoch(config, len(labels)))
    return jax.device_get(train_epoch(states, images, labels, jnp.int32(0)))

  mapped_states, mapped = run_epoch()
  assert "scan" in str(jax.make_jaxpr(replicas.over_replicas(lambda x: x * 2, 3))(jnp.ones((3, 2))))
  original = replicas.over_replicas
  monkeypatch.setattr(replicas, "over_replicas", lambda *a, **k: original(*a, **k, backend="gpu"))
  assert "scan" not in str(jax.make_jaxpr(replicas.over_replicas(lambda x: x * 2, 3))(jnp.ones((3, 2))))
  vmapped_states, vmapped = run_epoch()
  assert mapped.step_losses.shape == (3, 4)
  np.testing.assert_allclose(mapped.step_losses, vmapped.step_losses, rtol=1e-5)
  assert_trees_close(mapped_states.params, vmapped_states.params, atol=1e-5)
  assert_trees_close(mapped_states.batch_stats, vmapped_states.batch_stats, atol=1e-5)


def test_epoch_program_equals_step_by_step_loop(mnist_dir):
  config = small_config(mnist_dir, num_epochs=1)
  (images, labels) = splits.load_splits(config)["train"]
  states = step_lib.create_replica_states(config, optimizer_lib.Optimizer(config, 4))
  state = jax.tree.map(lambda x: x[0], states)
  features = hyperparameters.features(hyperparameters.create(config))

  scanned, out = jax.jit(epoch.make_train_epoch(config, len(labels)))(states, images, labels, jnp.int32(0))

  # The documented key derivation, step by step, with the plain jitted train_step.
  with jax.threefry_partitionable(False):
    permutation_key, steps_key = jax.random.split(jax.random.fold_in(state.key, 0))
    permutation = np.asarray(jax.random.permutation(permutation_key, len(labels)))
    step = jax.jit(step_lib.train_step, static_argnames="features")
    losses = []
    for i, start in enumerate(range(0, len(labels), config.batch_size)):
      indices = permutation[start:start + config.batch_size]
      augment_key, dropout_key = jax.random.split(jax.random.fold_in(steps_key, i))
      x = augment.to_float(jnp.asarray(images[indices]))
      x = augment.random_rotation(augment_key, x, (-7.0, 7.0), fill=0.0)
      state, loss, _ = step(state, augment.normalize(x), jnp.asarray(labels[indices]), dropout_key,
                            features=features)
      losses.append(float(loss))
  assert len(losses) == 4  # 3 full batches of 64 and the remainder of 8
  np.testing.assert_allclose(np.asarray(out.step_losses[0]), losses, rtol=1e-5)
  assert_trees_close(jax.tree.map(lambda x: x[0], scanned.params), state.params, atol=1e-5)
  assert_trees_close(jax.tree.map(lambda x: x[0], scanned.batch_stats), state.batch_stats, atol=1e-5)


def test_epoch_in_segments_equals_one_call(mnist_dir):
  # The progress bar runs an epoch's steps in segments; the remainder step ends the last one.
  config = small_config(mnist_dir, num_epochs=1, num_seeds=2)
  (images, labels) = splits.load_splits(config)["train"]
  states = step_lib.create_replica_states(config, optimizer_lib.Optimizer(config, 4))
  train_steps = jax.jit(epoch.make_train_segment(config, len(labels)))
  whole = train_steps(states, epoch.empty_epoch_output(2, 4), images, labels,
                      epoch.Segment(jnp.int32(0), jnp.int32(0), jnp.int32(4)))
  segmented = (states, epoch.empty_epoch_output(2, 4))
  for start, stop in [(0, 1), (1, 3), (3, 4)]:
    segmented = train_steps(*segmented, images, labels,
                            epoch.Segment(jnp.int32(0), jnp.int32(start), jnp.int32(stop)))
  assert whole[1].step_losses.shape == (2, 4) and np.all(np.asarray(whole[1].step_losses) > 0)
  assert_trees_close(jax.device_get(segmented), jax.device_get(whole), atol=0)


def test_epoch_smaller_than_one_batch_is_one_step(mnist_dir):
  config = small_config(mnist_dir, num_epochs=1, train_subset=8)
  (images, labels) = splits.load_splits(config)["train"]
  states = step_lib.create_replica_states(config, optimizer_lib.Optimizer(config, 1))
  new_states, out = jax.jit(epoch.make_train_epoch(config, 8))(states, images, labels, jnp.int32(0))
  assert out.step_losses.shape == (1, 1) and np.isfinite(out.step_losses).all()
  assert int(out.metrics.accuracy.count[0]) == 8
  assert not np.allclose(jax.tree.leaves(new_states.params)[0], jax.tree.leaves(states.params)[0])


def test_fast_path_on_and_off_end_an_epoch_with_equal_parameters(mnist_dir):
  # ref3_step4 has each fast-path piece but the depthwise one (tests/test_fast_cpu.py): fused
  # ReLU -> BatchNorm -> Dropout, max-pools, im2col layers and one conv_nhwc layer (Conv2d-5,
  # 12 -> 14 channels on the 26x26 map). Rotation off: it runs before the network, the same
  # code either way.
  config = small_config(mnist_dir, num_epochs=1, num_seeds=2, dropout_rate=0.1, rotation_degrees=0.0)
  (images, labels) = splits.load_splits(config)["train"]
  results = {}
  for fast_path, network_type in (("on", fast_cpu.FastCpuNetwork), ("off", network.Network)):
    config.fast_path = fast_path
    assert type(step_lib.create_model(config)) is network_type
    states = step_lib.create_replica_states(config, optimizer_lib.Optimizer(config, 4))
    train_epoch = jax.jit(epoch.make_train_epoch(config, len(labels)))
    results[fast_path] = jax.device_get(train_epoch(states, images, labels, jnp.int32(0)))
  (fast_states, fast_out), (plain_states, plain_out) = results["on"], results["off"]
  initial = jax.device_get(states.params)
  assert not np.allclose(jax.tree.leaves(plain_states.params)[0], jax.tree.leaves(initial)[0])
  np.testing.assert_allclose(fast_out.step_losses, plain_out.step_losses, rtol=1e-5)
  assert_trees_close(fast_states.params, plain_states.params, atol=1e-5)
  assert_trees_close(fast_states.batch_stats, plain_states.batch_stats, atol=1e-5)
