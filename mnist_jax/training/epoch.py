"""The epoch program: an epoch's optimizer steps for every replica (seeds, sweep cells; a
leading axis of the state, `replicas.over_replicas`) in one compiled call, on the uint8 dataset
kept on the device. Top-level functions from the outside in: `train_steps` (a segment of an
epoch, jitted with its static `EpochProgram`) -> `run_step` (one step of every replica) ->
`replica_step` (one replica: `augment_batch`, then `step.train_step`)."""

import dataclasses
import functools
import math
from typing import Callable, NamedTuple

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import jax.numpy as jnp
import ml_collections
import numpy as np

from mnist_jax.data import augment
from mnist_jax.data import colour
from mnist_jax.optim import hyperparameters as hyperparameters_lib
from mnist_jax.optim import sweep
from mnist_jax.training import metrics as metrics_lib
from mnist_jax.training import replicas as replicas_lib
from mnist_jax.training import step as step_lib


class EpochOutput(NamedTuple):
  """What one training epoch returns, per replica [R]: `metrics` over its training examples
  (train mode), float32 [R, steps] `step_losses` (mean NLL) and `learning_rates` (the rate of
  each step's update), and bool [R] `frozen`: the replicas that diverged (`freeze_diverged`),
  this epoch or earlier."""

  metrics: metrics_lib.Metrics
  step_losses: jax.Array
  learning_rates: jax.Array
  frozen: jax.Array


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  """Optimizer steps in an epoch: torch's DataLoader(drop_last=False), ceil(N / batch_size)."""
  return math.ceil(num_examples / batch_size)


def empty_epoch_output(num_replicas: int, num_steps: int,
                       frozen: np.ndarray | None = None) -> EpochOutput:
  """The start of an epoch's `EpochOutput`: empty metrics [R], zero per-step buffers
  [R, steps], and `frozen` (bool [R], the replicas that diverged in earlier epochs; none by
  default)."""
  # Two arrays, not one: the training program donates (reuses) each buffer it is given.
  frozen = np.zeros(num_replicas, bool) if frozen is None else frozen
  return EpochOutput(metrics_lib.empty_metrics(num_replicas),
                     jnp.zeros((num_replicas, num_steps), jnp.float32),
                     jnp.zeros((num_replicas, num_steps), jnp.float32), jnp.asarray(frozen, bool))


@dataclasses.dataclass(frozen=True)
class EpochProgram:
  """What shapes one run's epoch program (static, hashable: a jit static argument).

  Attributes:
    num_examples: training images N.
    batch_size: images per optimizer step; torch's DataLoader(shuffle=True, drop_last=False)
      order: N // batch_size full batches, then the smaller remainder batch, if any.
    features: which optional pieces the program contains (`hyperparameters.Features`).
    rotation_fill: the pixel value (in [0, 1], before normalisation) where a rotation or an
      affine transform uncovers the image.
    mesh: the ("replica", "batch") device mesh (`create_mesh`), or None for the default device.
    freeze_diverged: a replica whose training loss turns non-finite keeps its last finite state
      for the rest of the run (a sweep; `run_step`); a single run stops on the host instead.
  """

  num_examples: int
  batch_size: int
  features: hyperparameters_lib.Features
  rotation_fill: float = 0.0
  mesh: Mesh | None = None
  freeze_diverged: bool = False

  @classmethod
  def create(cls, config: ml_collections.ConfigDict, num_examples: int, mesh: Mesh | None = None,
             features: hyperparameters_lib.Features | None = None) -> "EpochProgram":
    """The program of `config` on `num_examples` images; `features` as computed by the caller
    from the run's hyperparameters (`hyperparameters.features`), else computed here."""
    if features is None:
      features = hyperparameters_lib.features(hyperparameters_lib.create(config))
    return cls(num_examples, config.batch_size, features, float(config.rotation_fill), mesh,
               freeze_diverged=len(sweep.replicas(config)) > 1)

  @property
  def num_steps(self) -> int:
    """Optimizer steps per epoch (`steps_per_epoch`)."""
    return steps_per_epoch(self.num_examples, self.batch_size)

  @property
  def batch_sharding(self) -> NamedSharding | None:
    """Each batch cut along the "batch" mesh axis, where the mesh has one; else None."""
    if self.mesh is None or self.mesh.shape["batch"] == 1:
      return None
    return NamedSharding(self.mesh, PartitionSpec("batch"))


class Segment(NamedTuple):
  """Which steps one call of `train_steps` runs: `start <= step < stop` (int32 [], 0-based within
  the epoch) of epoch `epoch` (int32 [], 0-based). Traced, so one program serves every
  segment (no host callback: the program is cacheable)."""

  epoch: jax.Array
  start: jax.Array
  stop: jax.Array


def whole_epoch(program: EpochProgram, epoch: int) -> Segment:
  """The segment of every step of `epoch`."""
  return Segment(np.int32(epoch), np.int32(0), np.int32(program.num_steps))


def augment_batch(key: jax.Array, images: jax.Array, hparams: hyperparameters_lib.Hyperparameters,
                  program: EpochProgram) -> jax.Array:
  """One replica's batch as the network reads it: uint8 images [B, 28, 28, 1] -> ToTensor, the
  augmentations `program.features` includes with the replica's `hparams` (scalar leaves), then
  Normalize: float32 [B, 28, 28, 1]. No value is checked here (``check=False``): every
  hyperparameter was checked once, as a Python number, by `hyperparameters.create`."""
  features = program.features
  x = augment.to_float(images)
  if program.batch_sharding is not None:
    x = jax.lax.with_sharding_constraint(x, program.batch_sharding)
  if features.affine:  # RandomAffine: the angles drawn as RandomRotation's, the rest apart
    x = augment.random_affine(key, x, hparams.rotation_degrees, hparams.translate, hparams.scale,
                              program.rotation_fill, hparams.affine_probability, check=False)
  elif features.rotation:
    x = augment.random_rotation(key, x, hparams.rotation_degrees, fill=program.rotation_fill,
                                check=False)
  if features.colour:
    x = colour.random_brightness_contrast(jax.random.fold_in(key, augment.COLOUR_STREAM), x,
                                          hparams.brightness, hparams.contrast, check=False)
  return augment.normalize(x)


class StepOutput(NamedTuple):
  """What one replica's step reports: its mean training NLL (float32 []), the learning rate
  of its update (float32 []) and the batch's metrics."""

  loss: jax.Array
  learning_rate: jax.Array
  metrics: metrics_lib.Metrics


def replica_step(state: step_lib.TrainState, images: jax.Array, labels: jax.Array,
                 step_key: jax.Array, program: EpochProgram
                 ) -> tuple[step_lib.TrainState, StepOutput]:
  """One replica's optimizer step on uint8 `images` [B, 28, 28, 1] and int32 `labels` [B]:
  `augment_batch`, then `step.train_step`. `step_key`: the step's raw PRNG key, split into
  the augmentation's and the dropout's."""
  augment_key, dropout_key = jax.random.split(step_key)
  x = augment_batch(augment_key, images, state.hparams, program)
  state, loss, batch_metrics = step_lib.train_step(state, x, labels, dropout_key,
                                                   program.features)
  # Read after the step: inject_hyperparams holds the rate of the update just made.
  return state, StepOutput(loss, step_lib.learning_rate(state), batch_metrics)


def freeze_diverged(before: step_lib.TrainState, after: step_lib.TrainState,
                    output: StepOutput, frozen: jax.Array
                    ) -> tuple[step_lib.TrainState, StepOutput, jax.Array]:
  """A sweep survives a diverging cell: replicas [R] whose step loss or updated variables
  (params, batch_stats) are non-finite, and those `frozen` (bool [R]) earlier, keep their
  state from `before` the step (the last finite one), and their recorded loss is NaN.
  Returns (states, output, frozen after the step)."""
  finite = jnp.isfinite(output.loss)
  for leaf in jax.tree.leaves((after.params, after.batch_stats)):
    finite &= jnp.isfinite(leaf).reshape(leaf.shape[0], -1).all(axis=1)
  frozen = frozen | ~finite

  def keep(old, new):
    return jnp.where(frozen.reshape(frozen.shape + (1,) * (new.ndim - 1)), old, new)

  return (jax.tree.map(keep, before, after),
          output._replace(loss=jnp.where(frozen, jnp.nan, output.loss)), frozen)


def run_step(program: EpochProgram, step: jax.Array, indices: jax.Array,
             images: jax.Array, labels: jax.Array, carry: tuple) -> tuple:
  """Step `step` (int32 []) of every replica on its batch `indices` (int32 [R, B]) into the
  shared uint8 `images` [N, 28, 28, 1] and int32 `labels` [N]; `carry`: (states [R, ...],
  the partial `EpochOutput`, the replicas' step keys [R, 2]). Writes the step's losses and
  learning rates into the output and merges its metrics."""
  states, partial, step_keys = carry
  num_replicas = partial.frozen.shape[0]
  keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(step_keys, step)
  step_fn = replicas_lib.over_replicas(functools.partial(replica_step, program=program),
                                       num_replicas)
  new_states, output = step_fn(states, images[indices], labels[indices], keys)
  frozen = partial.frozen
  if program.freeze_diverged:
    new_states, output, frozen = freeze_diverged(states, new_states, output, frozen)
  partial = EpochOutput(
      partial.metrics.merge(output.metrics),
      partial.step_losses.at[:, step].set(output.loss.astype(jnp.float32)),
      partial.learning_rates.at[:, step].set(output.learning_rate.astype(jnp.float32)),
      frozen)
  return new_states, partial, step_keys


def epoch_keys(states: step_lib.TrainState, epoch: jax.Array,
               num_examples: int) -> tuple[jax.Array, jax.Array]:
  """Each replica's order of the training images in `epoch` (int32 [R, N]) and the root of its
  step keys ([R, 2]): both from ``fold_in(state.key, epoch)``, so a resumed run draws what an
  uninterrupted one would."""
  keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(states.key, epoch)
  permutation_keys, step_keys = jnp.moveaxis(jax.vmap(jax.random.split)(keys), 1, 0)
  permutations = jax.vmap(functools.partial(jax.random.permutation, x=num_examples))(
      permutation_keys)
  return permutations, step_keys


def _segment(program: EpochProgram, states: step_lib.TrainState, partial: EpochOutput,
             images: jax.Array, labels: jax.Array, segment: Segment
             ) -> tuple[step_lib.TrainState, EpochOutput]:
  """`train_steps` on one device's share of the replicas."""
  batch_size = program.batch_size
  num_full, remainder = divmod(program.num_examples, batch_size)
  permutations, step_keys = epoch_keys(states, segment.epoch, program.num_examples)

  def full_step(step, carry):
    indices = jax.lax.dynamic_slice_in_dim(permutations, step * batch_size, batch_size, axis=1)
    return run_step(program, step, indices, images, labels, carry)

  def remainder_step(carry):
    indices = permutations[:, num_full * batch_size:]
    return run_step(program, num_full, indices, images, labels, carry)

  carry = (states, partial, step_keys)
  if num_full:  # fewer examples than one batch: the remainder step alone
    carry = jax.lax.fori_loop(segment.start, jnp.minimum(segment.stop, num_full), full_step,
                              carry)
  if remainder:
    carry = jax.lax.cond(segment.stop > num_full, remainder_step, lambda c: c, carry)
  states, partial, _ = carry
  return states, partial


def train_steps(program: EpochProgram, states: step_lib.TrainState, partial: EpochOutput,
                images: jax.Array, labels: jax.Array, segment: Segment
                ) -> tuple[step_lib.TrainState, EpochOutput]:
  """The optimizer steps of `segment` for every replica (jit it, `program` static).

  Args:
    program: the run's `EpochProgram` (static).
    states: TrainState with a leading replica axis [R, ...].
    partial: the epoch's `EpochOutput` so far (`empty_epoch_output` at the epoch's start).
    images: uint8 [N, 28, 28, 1] and labels: int32 [N], on the device, shared by all replicas.
    segment: which steps of which epoch (`Segment`); `whole_epoch` for all of them.

  Returns:
    (states, partial) with the steps' losses and learning rates written into `partial` and
    their metrics merged into it. One call over the whole epoch equals any split into segments
    (the progress bar's).
  """
  # The one non-default JAX mode: the classic (non-partitionable) threefry stream. JAX's
  # default compiled and trained slower on XLA:CPU, and it would change every random draw of
  # the committed runs. tests/test_fast_cpu.py and test_epoch.py fail if JAX changes this
  # stream (they compare it with jax.random under this mode).
  with jax.threefry_partitionable(False):
    segment_fn = functools.partial(_segment, program)
    return replicas_lib.split_replicas(segment_fn, program.mesh, split=2, shared=3)(
        states, partial, images, labels, segment)


def make_train_segment(config: ml_collections.ConfigDict, num_examples: int,
                       mesh: Mesh | None = None,
                       features: hyperparameters_lib.Features | None = None) -> Callable:
  """`train_steps(states, partial, images, labels, segment)` of `config`'s `EpochProgram`
  (jit it); `features` as `EpochProgram.create` takes them."""
  return functools.partial(train_steps, EpochProgram.create(config, num_examples, mesh, features))


def train_epoch(program: EpochProgram, states: step_lib.TrainState, images: jax.Array,
                labels: jax.Array, epoch: jax.Array) -> tuple[step_lib.TrainState, EpochOutput]:
  """The whole of epoch `epoch` (int32 []) as one call of `train_steps` (see there), from an
  empty `EpochOutput`: returns (states, the epoch's EpochOutput)."""
  num_replicas = jax.tree.leaves(states)[0].shape[0]
  start = empty_epoch_output(num_replicas, program.num_steps)
  segment = Segment(epoch, jnp.int32(0), jnp.int32(program.num_steps))
  return train_steps(program, states, start, images, labels, segment)


def make_train_epoch(config: ml_collections.ConfigDict, num_examples: int,
                     mesh: Mesh | None = None) -> Callable:
  """`train_epoch(states, images, labels, epoch)` of `config`'s `EpochProgram` (jit it)."""
  return functools.partial(train_epoch, EpochProgram.create(config, num_examples, mesh))
