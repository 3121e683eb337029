"""The epoch program: an epoch's optimizer steps for every replica (seeds, sweep cells; a
leading axis of the state, `over_replicas`) in one compiled call, on the uint8 dataset kept on
the device; and the evaluation of a whole set in one call (`make_evaluate`)."""

import functools
import math
from typing import Callable, NamedTuple

import jax
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec
import jax.numpy as jnp
import ml_collections
import numpy as np

from mnist_jax.data import augment
from mnist_jax.data import colour
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import step as step_lib
from mnist_jax.optim import sweep


class EpochOutput(NamedTuple):
  """What one training epoch returns, per replica: `metrics` over its training examples
  (train mode), float32 [steps] `step_losses` (mean loss) and `learning_rates` of each step."""

  metrics: metrics_lib.Metrics
  step_losses: jax.Array
  learning_rates: jax.Array


def over_replicas(fn: Callable, num_replicas: int, in_axes: int | tuple = 0,
                  backend: str | None = None) -> Callable:
  """`fn` mapped over the leading replica axis (`in_axes` as in `jax.vmap`; results axis 0).

  Accelerators: `jax.vmap`. CPU (`backend`, default `jax.default_backend()`): `jax.lax.map`,
  one replica after another, since vmap's grouped convolutions run far slower on XLA:CPU
  (4 seeds of ref2 Final: 497 vs 289 ms/step, docs/PERFORMANCE.md study 4). One replica is
  squeezed, so a single-seed run compiles to the plain network.
  """
  backend = backend or jax.default_backend()

  def axes_of(args):
    return in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)

  if num_replicas == 1:

    def single(*args):
      squeezed = [a if axis is None else jax.tree.map(lambda x: x[0], a)
                  for a, axis in zip(args, axes_of(args))]
      return jax.tree.map(lambda x: x[None], fn(*squeezed))

    return single
  if backend != "cpu":
    return jax.vmap(fn, in_axes=in_axes)

  def mapped(*args):
    axes = axes_of(args)
    if any(axis not in (0, None) for axis in axes):
      raise ValueError(f"over_replicas on CPU maps axis 0 or None only, got in_axes={in_axes}")

    def one(replica_args):
      replica_args = iter(replica_args)
      return fn(*[a if axis is None else next(replica_args) for a, axis in zip(args, axes)])

    return jax.lax.map(one, [a for a, axis in zip(args, axes) if axis is not None])

  return mapped


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  """Optimizer steps in an epoch: torch's DataLoader(drop_last=False), ceil(N / batch_size)."""
  return math.ceil(num_examples / batch_size)


def empty_epoch_output(num_replicas: int, num_steps: int) -> EpochOutput:
  """The start of an epoch's `EpochOutput`: empty metrics [R], zero per-step buffers [R, steps]."""
  metrics = jax.vmap(lambda _: metrics_lib.Metrics.empty())(jnp.arange(num_replicas))
  # Two arrays, not one: the training program donates (reuses) each buffer it is given.
  return EpochOutput(metrics, jnp.zeros((num_replicas, num_steps), jnp.float32),
                     jnp.zeros((num_replicas, num_steps), jnp.float32))


def create_mesh(num_replicas: int) -> Mesh:
  """The ("replica", "batch") mesh over every device (of every process): the replicas split
  across the devices when they divide evenly, else each batch split across them."""
  devices = jax.device_count()
  shape = (devices, 1) if num_replicas % devices == 0 else (1, devices)
  return jax.make_mesh(shape, ("replica", "batch"), axis_types=(AxisType.Auto, AxisType.Auto))


def place(tree, sharding: NamedSharding):
  """Host values (numpy or local JAX arrays, the same in every process) as global arrays;
  each process supplies the shards its own devices hold (`jax.make_array_from_callback`)."""
  def one(value):
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

  return jax.tree.map(one, jax.device_get(tree))


def to_host(tree):
  """Global arrays as numpy arrays, in every process (a collective when several processes
  hold parts of them: every process must call it)."""
  def one(value):
    if getattr(value, "is_fully_addressable", True):
      return np.asarray(value)
    return multihost_utils.process_allgather(value, tiled=True)

  return jax.tree.map(one, tree)


def split_replicas(fn: Callable, mesh: Mesh | None, replica_args: tuple[bool, ...]) -> Callable:
  """`fn` run on each device with its share of the replicas (`jax.shard_map` over "replica").

  `replica_args[i]`: whether argument i has the leading replica axis; every output has it.
  Without a mesh or with one replica device, `fn`.
  """
  if mesh is None or mesh.shape["replica"] == 1:
    return fn
  in_specs = tuple(PartitionSpec("replica") if split else PartitionSpec()
                   for split in replica_args)
  return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=PartitionSpec("replica"),
                       axis_names={"replica"}, check_vma=False)


def make_train_segment(config: ml_collections.ConfigDict, num_examples: int,
                       mesh: Mesh | None = None) -> Callable:
  """Builds `train_steps(states, partial, images, labels, epoch, start, stop)` (jit it).

  Runs the optimizer steps `start <= step < stop` (int32 [], 0-based within the epoch) of
  epoch `epoch` (int32 [], 0-based) and returns `(states, partial)` with the steps' losses and
  learning rates written into `partial` (`EpochOutput`, from `empty_epoch_output`) and their
  metrics merged into it. One call over `[0, steps_per_epoch)` is the whole epoch; the progress
  bar calls it in segments (traced bounds: one program, with no host callback, so cacheable).

  states: TrainState with a leading replica axis [R, ...]; images uint8 [N, 28, 28, 1] and
  labels int32 [N] on the device (shared by all replicas). Batches follow torch's
  DataLoader(shuffle=True, drop_last=False): N // batch_size full batches, then the smaller
  remainder batch, if any. Each augmentation is in the program only when a replica uses it.
  """
  batch_size = config.batch_size
  num_full, remainder = divmod(num_examples, batch_size)
  values = functools.partial(sweep.replica_range, config)
  rotates = max(values("rotation_degrees")) > 0
  transforms = (max(values("translate") + values("scale")) > 0
                or min(values("affine_probability", 1.0)) < 1)
  jitters = max(values("brightness") + values("contrast")) > 0
  splits_batches = mesh is not None and mesh.shape["batch"] > 1
  batch_sharding = NamedSharding(mesh, PartitionSpec("batch")) if splits_batches else None

  def replica_step(state, images, labels, step_key):
    augment_key, dropout_key = jax.random.split(step_key)
    recipe = state.recipe
    x = augment.to_float(images)
    if batch_sharding is not None:
      x = jax.lax.with_sharding_constraint(x, batch_sharding)
    value = lambda field, off=0.0: recipe.get(field, float(config.get(field, off)))
    if transforms:  # RandomAffine: rotation_degrees' angles drawn as below, the rest apart
      x = augment.random_affine(augment_key, x, value("rotation_degrees"), value("translate"),
                                value("scale"), config.rotation_fill,
                                value("affine_probability", 1.0))
    elif rotates:
      x = augment.random_rotation(augment_key, x, value("rotation_degrees"),
                                  fill=config.rotation_fill)
    if jitters:
      x = colour.random_brightness_contrast(jax.random.fold_in(augment_key, augment.COLOUR_STREAM),
                                            x, value("brightness"), value("contrast"))
    x = augment.normalize(x)
    learning_rate = state.opt_state.hyperparams["learning_rate"]
    state, loss, batch_metrics = step_lib.train_step(
        state, x, labels, dropout_key, keep_prob=recipe.get(sweep.KEEP_PROB),
        **step_lib.recipe_pieces(config, recipe))
    return state, (loss, learning_rate, batch_metrics)

  def train_steps(states, partial, images, labels, epoch, start, stop):
    # The one non-default JAX mode: the classic (non-partitionable) threefry stream. JAX's
    # default compiled and trained slower on XLA:CPU, and it would change every random draw of
    # the committed runs. tests/test_fast_cpu.py and test_epoch.py fail if JAX changes this
    # stream (they compare it with jax.random under this mode).
    with jax.threefry_partitionable(False):
      return split_replicas(_train_steps, mesh, (True, True) + (False,) * 5)(
          states, partial, images, labels, epoch, start, stop)

  def _train_steps(states, partial, images, labels, epoch, start, stop):
    num_replicas = jax.tree.leaves(states)[0].shape[0]
    step_fn = over_replicas(replica_step, num_replicas)
    epoch_keys = jax.vmap(lambda k: jax.random.fold_in(k, epoch))(states.key)
    permutation_keys, step_keys = jnp.moveaxis(jax.vmap(jax.random.split)(epoch_keys), 1, 0)
    permutations = jax.vmap(lambda k: jax.random.permutation(k, num_examples))(permutation_keys)

    def run_step(step, indices, carry):
      states, partial = carry
      keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(step_keys)
      states, (losses, learning_rates, batch_metrics) = step_fn(
          states, images[indices], labels[indices], keys)
      partial = EpochOutput(
          partial.metrics.merge(batch_metrics),
          partial.step_losses.at[:, step].set(losses.astype(jnp.float32)),
          partial.learning_rates.at[:, step].set(learning_rates.astype(jnp.float32)))
      return states, partial

    def full_step(step, carry):
      indices = jax.lax.dynamic_slice_in_dim(permutations, step * batch_size, batch_size, axis=1)
      return run_step(step, indices, carry)

    carry = (states, partial)
    if num_full:  # fewer examples than one batch: the remainder step alone
      carry = jax.lax.fori_loop(start, jnp.minimum(stop, num_full), full_step, carry)
    if remainder:
      last_step = functools.partial(run_step, num_full, permutations[:, num_full * batch_size:])
      carry = jax.lax.cond(stop > num_full, last_step, lambda c: c, carry)
    return carry

  return train_steps


def make_train_epoch(config: ml_collections.ConfigDict, num_examples: int,
                     mesh: Mesh | None = None) -> Callable:
  """Builds `train_epoch(states, images, labels, epoch) -> (states, EpochOutput)` (jit it):
  the whole epoch as one call of `make_train_segment`'s program (see there for the arguments)."""
  train_steps = make_train_segment(config, num_examples, mesh)
  num_steps = steps_per_epoch(num_examples, config.batch_size)

  def train_epoch(states, images, labels, epoch):
    num_replicas = jax.tree.leaves(states)[0].shape[0]
    return train_steps(states, empty_epoch_output(num_replicas, num_steps), images, labels, epoch,
                       jnp.int32(0), jnp.int32(num_steps))

  return train_epoch


def make_evaluate(config: ml_collections.ConfigDict, num_examples: int,
                  mesh: Mesh | None = None) -> Callable:
  """Builds `evaluate(states, images, labels) -> Metrics [R]` over the whole set in one call.

  The set is cut into chunks of `config.eval_batch_size` under `lax.scan` (bounded memory);
  the last chunk is padded and its padding masked out of the metrics.
  """
  chunk = min(config.eval_batch_size, num_examples)
  num_chunks = math.ceil(num_examples / chunk)
  padded = num_chunks * chunk

  def evaluate(states, images, labels):
    return split_replicas(_evaluate, mesh, (True, False, False))(states, images, labels)

  def _evaluate(states, images, labels):
    pad = padded - num_examples
    images = jnp.pad(images, ((0, pad), (0, 0), (0, 0), (0, 0)))
    labels = jnp.pad(labels, (0, pad))
    mask = jnp.arange(padded) < num_examples
    batches = jax.tree.map(lambda x: x.reshape((num_chunks, chunk) + x.shape[1:]),
                           (images, labels, mask))
    num_replicas = jax.tree.leaves(states)[0].shape[0]
    step_fn = over_replicas(lambda s, b: step_lib.eval_step(s, *b), num_replicas,
                            in_axes=(0, None))

    def body(total, batch):
      return total.merge(step_fn(states, batch)), None

    empty = jax.vmap(lambda _: metrics_lib.Metrics.empty())(jnp.arange(num_replicas))
    total, _ = jax.lax.scan(body, empty, batches)
    return total

  return evaluate


def compute_per_replica(collection: metrics_lib.Metrics) -> dict[str, jax.Array]:
  """`collection.compute()` for metrics with a leading replica axis: {name: float32 [R]}."""
  return jax.vmap(lambda m: m.compute())(collection)
