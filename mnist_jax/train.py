"""Training and evaluation: TrainState, the jitted steps, the epoch program, the main loop.

Shape of a run (DESIGN.md): the dataset goes to the device once as uint8; each epoch is one
jitted call that draws the permutation, gathers, rotates and normalises each batch and runs
`train_step` under `jax.lax.scan`; the whole test set is evaluated in one call. The host only
reports, checkpoints and plots.

Several seeds train as one program: the per-step function is mapped over a leading replica
axis of the state (`config.num_seeds`; `jax.vmap` on accelerators, `jax.lax.map` on CPU,
see `over_replicas`), each replica with its own init, dropout, shuffling and augmentation
keys derived from seed `config.seed + replica`.
"""

import functools
import json
import math
import os
import signal
import threading
import time
from typing import Any, Callable, NamedTuple

from absl import logging
import flax
from flax.training import train_state
import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mnist_jax import augment
from mnist_jax import checkpoint
from mnist_jax import data
from mnist_jax import metrics as metrics_lib
from mnist_jax import models
from mnist_jax import schedules
from mnist_jax import summary


class TrainingError(RuntimeError):
  """A run that cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""


class Interrupted(TrainingError):
  """SIGINT or SIGTERM stopped the run between two segments of an epoch; the message names the
  last checkpoint, from which the same command resumes."""


class TrainState(train_state.TrainState):
  """Flax TrainState plus BatchNorm running statistics and the replica's data key.

  `key` (uint32 [2], a raw PRNG key) is the root of every random draw after initialisation:
  epoch e uses `fold_in(key, e)` for its permutation and `fold_in(., step)` for each step's
  rotation angles and dropout masks, so a resumed run draws exactly what an uninterrupted
  one would.
  """

  batch_stats: Any
  key: jax.Array


@flax.struct.dataclass
class InferenceState:
  """What evaluation reads of a TrainState: the model's `apply_fn` and its variables.

  params, batch_stats: pytrees of float32 arrays with a leading replica axis [R, ...].
  """

  apply_fn: Callable = flax.struct.field(pytree_node=False)
  params: Any = None
  batch_stats: Any = None


class EpochOutput(NamedTuple):
  """What one training epoch returns, per replica.

  metrics: `metrics_lib.Metrics` over the epoch's training examples (train-mode outputs).
  step_losses: float32 [steps] mean loss of each optimizer step.
  learning_rates: float32 [steps] learning rate used by each optimizer step.
  """

  metrics: metrics_lib.Metrics
  step_losses: jax.Array
  learning_rates: jax.Array


# ---------------------------------------------------------------------------------------------
# Configuration checks
# ---------------------------------------------------------------------------------------------


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError (one line, naming the field and the valid range) for impossible values."""
  if config.model not in models.names():
    raise ValueError(f"unknown model {config.model!r}; valid models: {', '.join(models.names())}")
  positive_ints = ("batch_size", "eval_batch_size", "num_epochs", "num_seeds", "keep_checkpoints")
  for field in positive_ints:
    value = config[field]
    if not isinstance(value, int) or value <= 0:
      raise ValueError(f"config.{field} must be a positive integer, got {value!r}")
  if not config.learning_rate > 0:
    raise ValueError(f"config.learning_rate must be > 0, got {config.learning_rate!r}")
  if not 0 <= config.momentum < 1:
    raise ValueError(f"config.momentum must be in [0, 1), got {config.momentum!r}")
  if config.weight_decay < 0:
    raise ValueError(f"config.weight_decay must be >= 0, got {config.weight_decay!r}")
  if config.rotation_degrees < 0:
    raise ValueError(f"config.rotation_degrees must be >= 0 (0 = no rotation), got {config.rotation_degrees!r}")
  for field in ("train_subset", "test_subset"):
    if config[field] < 0:
      raise ValueError(f"config.{field} must be >= 0 (0 = the whole split), got {config[field]!r}")
  if config.dropout_rate is not None and not 0 <= config.dropout_rate < 1:
    raise ValueError(f"config.dropout_rate must be in [0, 1) or None (model default), got {config.dropout_rate!r}")


def prepare_workdir(workdir: str) -> None:
  """Creates `workdir` and checks it is writable; raises ValueError naming it otherwise."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, ".write_test")
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise ValueError(f"workdir {workdir!r} is not writable: {e.strerror or e}") from None


# ---------------------------------------------------------------------------------------------
# State, optimizer, steps
# ---------------------------------------------------------------------------------------------


def create_model(config: ml_collections.ConfigDict):
  """The registered model named by `config.model`, with `config.dropout_rate` if set."""
  overrides = {} if config.dropout_rate is None else {"dropout_rate": config.dropout_rate}
  return models.create(config.model, **overrides)


def create_optimizer(config: ml_collections.ConfigDict,
                     schedule: schedules.Schedules) -> optax.GradientTransformation:
  """torch.optim.SGD as optax: weight decay added to the gradient, then (Nesterov) momentum.

  Learning rate and momentum are injected hyperparameters, so schedules drive them per step
  and ReduceLROnPlateau can set the learning rate between epochs.
  """

  def torch_sgd(learning_rate, momentum, weight_decay):
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.sgd(learning_rate, momentum=momentum, nesterov=config.nesterov))

  return optax.inject_hyperparams(torch_sgd)(
      learning_rate=schedule.learning_rate, momentum=schedule.momentum,
      weight_decay=config.weight_decay)


def create_train_state(key: jax.Array, model, tx: optax.GradientTransformation) -> TrainState:
  """Initialises one replica from a raw PRNG key (uint32 [2])."""
  init_key, data_key = jax.random.split(key)
  variables = model.init({"params": init_key}, jnp.zeros((1, 28, 28, 1), jnp.float32), train=False)
  return TrainState.create(
      apply_fn=model.apply, params=variables["params"], tx=tx,
      batch_stats=variables.get("batch_stats", {}), key=data_key)


def set_learning_rate(state: TrainState, learning_rate: jax.Array) -> TrainState:
  """Replaces the injected learning rate (used by ReduceLROnPlateau between epochs)."""
  # A copy: the state is donated to the next epoch and must not share buffers with the caller's.
  hyperparams = dict(state.opt_state.hyperparams,
                     learning_rate=jnp.array(learning_rate, jnp.float32, copy=True))
  return state.replace(opt_state=state.opt_state._replace(hyperparams=hyperparams))


def nll_loss(log_probs: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example negative log-likelihood, float32 [B] (torch's `F.nll_loss(reduction='none')`)."""
  return -jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]


def train_step(state: TrainState, images: jax.Array, labels: jax.Array,
               dropout_key: jax.Array) -> tuple[TrainState, jax.Array, metrics_lib.Metrics]:
  """One SGD step on a normalised batch.

  Args:
    state: one replica's TrainState.
    images: float32 [B, 28, 28, 1], normalised (mean 0.1307, std 0.3081).
    labels: int32 [B].
    dropout_key: raw PRNG key for this step's dropout masks.

  Returns:
    (new state, mean loss float32 [], training metrics of this batch).
  """

  def loss_fn(params):
    log_probs, updates = state.apply_fn(
        {"params": params, "batch_stats": state.batch_stats}, images, train=True,
        rngs={"dropout": dropout_key}, mutable=["batch_stats"])
    per_example = nll_loss(log_probs, labels)
    return per_example.mean(), (per_example, log_probs, updates)

  grads, (per_example, log_probs, updates) = jax.grad(loss_fn, has_aux=True)(state.params)
  state = state.apply_gradients(grads=grads, batch_stats=updates.get("batch_stats", state.batch_stats))
  batch_metrics = metrics_lib.Metrics.single_from_model_output(
      loss=per_example, logits=log_probs, labels=labels)
  return state, per_example.mean(), batch_metrics


def eval_step(state: TrainState, images: jax.Array, labels: jax.Array,
              mask: jax.Array) -> metrics_lib.Metrics:
  """Eval-mode metrics of a batch: uint8 images [B, 28, 28, 1], int32 labels [B], bool mask [B]."""
  log_probs = predict_log_probs(state, images)
  return metrics_lib.Metrics.single_from_model_output(
      loss=nll_loss(log_probs, labels), logits=log_probs, labels=labels, mask=mask)


def predict_log_probs(state: TrainState, images: jax.Array) -> jax.Array:
  """Eval-mode log-probabilities float32 [B, 10] of uint8 images [B, 28, 28, 1]."""
  x = augment.normalize(augment.to_float(images))
  return state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x, train=False)


# ---------------------------------------------------------------------------------------------
# Epoch programs
# ---------------------------------------------------------------------------------------------


def over_replicas(fn: Callable, num_replicas: int, in_axes: int | tuple = 0,
                  backend: str | None = None) -> Callable:
  """`fn` mapped over the leading replica axis (`in_axes` as in `jax.vmap`; results axis 0).

  Accelerators: `jax.vmap`, so the replicas run side by side in one set of kernels.
  CPU (`backend`, default `jax.default_backend()`): `jax.lax.map`, one replica after
  another in the same compiled program. On one CPU device the replicas cannot run in
  parallel anyway, and vmap turns every convolution into a grouped one that XLA:CPU runs
  far slower (4 seeds of ref2 Final: 497 vs 289 ms/step, docs/PERFORMANCE.md study 4).
  One replica is squeezed, so a single-seed run compiles to the plain network.
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


def make_train_steps(config: ml_collections.ConfigDict, num_examples: int,
                     mesh: Mesh | None = None) -> Callable:
  """Builds `train_steps(states, partial, images, labels, epoch, start, stop)` (jit it).

  Runs the optimizer steps `start <= step < stop` (int32 [], 0-based within the epoch) of
  epoch `epoch` (int32 [], 0-based) and returns `(states, partial)` with the steps' losses and
  learning rates written into `partial` (`EpochOutput`, from `empty_epoch_output`) and their
  metrics merged into it. One call over `[0, steps_per_epoch)` is the whole epoch; the console
  progress bar calls it in segments, and the bounds are traced, so both are one compiled
  program (which JAX's persistent compilation cache can store: a host callback inside would
  keep it out of the cache).

  states: TrainState with a leading replica axis [R, ...]; images uint8 [N, 28, 28, 1] and
  labels int32 [N] on the device (shared by all replicas). Batches follow torch's
  DataLoader(shuffle=True, drop_last=False): N // batch_size full batches, then the smaller
  remainder batch, if any, as one more step.
  """
  batch_size = config.batch_size
  num_full, remainder = divmod(num_examples, batch_size)
  degrees = float(config.rotation_degrees)
  batch_sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec("batch"))

  def replica_step(state, images, labels, step_key):
    augment_key, dropout_key = jax.random.split(step_key)
    x = augment.to_float(images)
    if batch_sharding is not None:
      x = jax.lax.with_sharding_constraint(x, batch_sharding)
    if degrees > 0:
      x = augment.random_rotation(augment_key, x, (-degrees, degrees), fill=config.rotation_fill)
    x = augment.normalize(x)
    learning_rate = state.opt_state.hyperparams["learning_rate"]
    state, loss, batch_metrics = train_step(state, x, labels, dropout_key)
    return state, (loss, learning_rate, batch_metrics)

  def train_steps(states, partial, images, labels, epoch, start, stop):
    # Partitionable threefry (JAX's default) makes XLA:CPU spend ~15 s more compiling the
    # dropout masks; the classic stream compiles in seconds and runs no slower.
    with jax.threefry_partitionable(False):
      return _train_steps(states, partial, images, labels, epoch, start, stop)

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
  """Builds `train_epoch(states, images, labels, epoch) -> (states, EpochOutput)` (jit it).

  The whole epoch as one call of `make_train_steps`'s program; see there for the arguments.
  """
  train_steps = make_train_steps(config, num_examples, mesh)
  num_steps = steps_per_epoch(num_examples, config.batch_size)

  def train_epoch(states, images, labels, epoch):
    num_replicas = jax.tree.leaves(states)[0].shape[0]
    return train_steps(states, empty_epoch_output(num_replicas, num_steps), images, labels, epoch,
                       jnp.int32(0), jnp.int32(num_steps))

  return train_epoch


def make_evaluate(config: ml_collections.ConfigDict, num_examples: int) -> Callable:
  """Builds `evaluate(states, images, labels) -> Metrics [R]` over the whole set in one call.

  The set is cut into chunks of `config.eval_batch_size` under `lax.scan` (bounded memory);
  the last chunk is padded and its padding masked out of the metrics.
  """
  chunk = min(config.eval_batch_size, num_examples)
  num_chunks = math.ceil(num_examples / chunk)
  padded = num_chunks * chunk

  def evaluate(states, images, labels):
    pad = padded - num_examples
    images = jnp.pad(images, ((0, pad), (0, 0), (0, 0), (0, 0)))
    labels = jnp.pad(labels, (0, pad))
    mask = jnp.arange(padded) < num_examples
    batches = jax.tree.map(lambda x: x.reshape((num_chunks, chunk) + x.shape[1:]), (images, labels, mask))
    num_replicas = jax.tree.leaves(states)[0].shape[0]
    step_fn = over_replicas(lambda s, b: eval_step(s, *b), num_replicas, in_axes=(0, None))

    def body(total, batch):
      return total.merge(step_fn(states, batch)), None

    empty = jax.vmap(lambda _: metrics_lib.Metrics.empty())(jnp.arange(num_replicas))
    total, _ = jax.lax.scan(body, empty, batches)
    return total

  return evaluate


# ---------------------------------------------------------------------------------------------
# The main loop
# ---------------------------------------------------------------------------------------------


def load_datasets(config: ml_collections.ConfigDict):
  """Train and test arrays (uint8 images, int32 labels), cut to the configured subsets."""
  data_dir = config.data_dir or None
  train = data.load("train", data_dir=data_dir, source=config.data_source)
  test = data.load("test", data_dir=data_dir, source=config.data_source)
  if config.train_subset:
    train = tuple(a[:config.train_subset] for a in train)
  if config.test_subset:
    test = tuple(a[:config.test_subset] for a in test)
  return train, test


def compute_per_replica(collection: metrics_lib.Metrics) -> dict[str, jax.Array]:
  """`collection.compute()` for metrics with a leading replica axis: {name: float32 [R]}."""
  return jax.vmap(lambda m: m.compute())(collection)


def create_replica_states(config: ml_collections.ConfigDict, schedule: schedules.Schedules):
  """Fresh states of all replicas: (TrainState [R, ...], plateau state [R, ...] or None).

  Replica r is initialised from `jax.random.PRNGKey(config.seed + r)` (`replica_seeds`).
  """
  model = create_model(config)
  tx = create_optimizer(config, schedule)
  keys = jnp.stack([jax.random.PRNGKey(s) for s in replica_seeds(config)])
  states = jax.jit(jax.vmap(lambda k: create_train_state(k, model, tx)))(keys)
  plateau_state = (jax.vmap(lambda _: schedule.plateau.init())(keys[:, 0])
                   if schedule.plateau is not None else None)
  return states, plateau_state


def replica_seeds(config: ml_collections.ConfigDict) -> list[int]:
  """Seed of each replica: `config.seed + r` for r in range(num_seeds)."""
  return [config.seed + r for r in range(config.num_seeds)]


def test_line(loss: float, correct: int, total: int) -> str:
  """The references' console line for a test-set evaluation."""
  return (f"Test set: Average loss: {loss:.4f}, Accuracy: {correct}/{total} "
          f"({100.0 * correct / total:.2f}%)")


class _Progress:
  """tqdm bar within an epoch, updated by the host between segments of the epoch's steps."""

  def __init__(self, total: int, enabled: bool):
    self.total = total
    self.enabled = enabled
    self.bar = None

  def segments(self) -> list[tuple[int, int]]:
    """Step ranges [start, stop) of the epoch's calls: about 20 with the bar, else one."""
    every = max(1, self.total // 20) if self.enabled else self.total
    starts = list(range(0, self.total, every))
    return list(zip(starts, starts[1:] + [self.total]))

  def start(self):
    if self.enabled:
      import tqdm  # pylint: disable=g-import-not-at-top
      self.bar = tqdm.tqdm(total=self.total, dynamic_ncols=True)

  def update(self, partial: EpochOutput, stop: int):
    """Shows the loss of step `stop - 1` and the accuracy so far (the references' bar text)."""
    if self.bar is None:
      return
    losses = np.asarray(partial.step_losses[:, stop - 1])
    correct = np.asarray(partial.metrics.accuracy.total, np.float64).sum()
    seen = max(float(np.asarray(partial.metrics.accuracy.count).sum()), 1.0)
    self.bar.n = stop
    self.bar.set_description(
        f"Loss={float(np.mean(losses))} Batch_id={stop - 1} Accuracy={100.0 * correct / seen:0.2f}",
        refresh=False)
    self.bar.refresh()

  def close(self):
    if self.bar is not None:
      self.bar.close()
      self.bar = None


def check_same_run(workdir: str, config: ml_collections.ConfigDict, has_checkpoints: bool) -> None:
  """Raises ValueError (one line) when `workdir` holds checkpoints of another computation.

  The workdir's config.json is the run's identity; fields that change nothing computed may
  differ (`checkpoint.config_differences`). Nothing in the workdir is touched.
  """
  path = os.path.join(workdir, "config.json")
  if not has_checkpoints or not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  differences = checkpoint.config_differences(saved, config)
  if differences:
    raise ValueError(f"workdir {workdir!r} holds another run ({'; '.join(differences)}); "
                     "use a new --workdir, or the saved config to resume it")


class _StopRequest:
  """Records SIGINT and SIGTERM instead of dying, so training stops between two segments of
  an epoch with its checkpoints intact; a second signal stops at once."""

  def __init__(self):
    self.signal = None
    self.previous = {}
    if threading.current_thread() is threading.main_thread():  # signals reach only the main thread
      for number in (signal.SIGINT, signal.SIGTERM):
        self.previous[number] = signal.signal(number, self._handle)

  def _handle(self, number, frame):
    del frame
    self.signal = signal.Signals(number).name
    self.restore()  # the second signal takes the default path

  def restore(self):
    for number, handler in self.previous.items():
      signal.signal(number, handler)
    self.previous = {}


def _interrupted_line(signal_name: str, epoch: int, manager) -> str:
  last = manager.latest_step()
  where = (f"no checkpoint yet, the same command starts again" if last is None else
           f"last checkpoint: epoch {last} in {manager.directory}; the same command resumes from it")
  return f"{signal_name} during epoch {epoch}; stopped, {where}"


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> list[dict[str, Any]]:
  """Trains `config.model` with its recipe, evaluating and checkpointing every epoch.

  Re-running with the same `workdir` resumes from the latest checkpoint. Writes to `workdir`:
  config.json, metrics.jsonl (one line per epoch, every value a list over replicas),
  steps.jsonl (per-step losses and learning rates), TensorBoard events, checkpoints/,
  summary.json and, when `config.plots`, curves.png, learning_rate.png, misclassified.png.

  Returns:
    The per-epoch history (the records of metrics.jsonl).

  Raises:
    ValueError: an impossible config value, an unknown model, an unwritable workdir, or a
      workdir holding another run (`checkpoint.config_differences`; nothing is written).
    checkpoint.CheckpointError: the workdir's checkpoints exist but none restores.
    data.DataError: missing or corrupt data files.
    TrainingError: a non-finite training loss (the last good checkpoint is kept).
    Interrupted: SIGINT or SIGTERM (the last checkpoint is kept; rerun to resume).
  """
  validate_config(config)
  prepare_workdir(workdir)
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints)
  check_same_run(workdir, config, has_checkpoints=bool(manager.all_steps()))
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=2))

  (train_images, train_labels), (test_images, test_labels) = load_datasets(config)
  num_train, num_test = len(train_labels), len(test_labels)
  num_steps = steps_per_epoch(num_train, config.batch_size)
  schedule = schedules.create(config, steps_per_epoch=num_steps, num_epochs=config.num_epochs)

  seeds = replica_seeds(config)
  states, plateau_state = create_replica_states(config, schedule)
  num_params = summary.count_params({"params": jax.tree.map(lambda x: x[0], states.params)})

  mesh = jax.make_mesh((jax.device_count(),), ("batch",), axis_types=(jax.sharding.AxisType.Auto,))
  replicated = NamedSharding(mesh, PartitionSpec())
  train_images, train_labels, test_images, test_labels = jax.device_put(
      (train_images, train_labels, test_images, test_labels), replicated)

  history: list[dict[str, Any]] = []
  start_epoch = 0
  restored = checkpoint.restore_latest(manager, states, plateau_state)
  if restored is not None:
    start_epoch, states, plateau_state, history = restored
    logging.info("Resumed from %s at epoch %d.", manager.directory, start_epoch)
    print(f"Resuming from the checkpoint after epoch {start_epoch}.")
  metrics_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "metrics.jsonl"))
  steps_writer = metrics_lib.JsonLinesWriter(os.path.join(workdir, "steps.jsonl"))
  metrics_writer.rewrite(history)
  steps_writer.rewrite([r for r in metrics_lib.read_json_lines(steps_writer.path) if r["epoch"] < start_epoch])
  summary_writer = metrics_lib.create_summary_writer(workdir)
  if summary_writer is not None and start_epoch == 0:
    summary_writer.write_hparams({k: v for k, v in config.items() if not isinstance(v, ml_collections.ConfigDict)})

  progress = _Progress(num_steps, enabled=config.progress_bar)
  train_steps = jax.jit(make_train_steps(config, num_train, mesh), donate_argnums=(0, 1))
  evaluate = jax.jit(make_evaluate(config, num_test))
  # Tracing and lowering (Python) apart from compiling (XLA, or a load from JAX's persistent
  # compilation cache, which the scripts turn on).
  trace_start = time.perf_counter()
  lowered = (train_steps.lower(states, empty_epoch_output(len(seeds), num_steps), train_images,
                               train_labels, jnp.int32(0), jnp.int32(0), jnp.int32(0)),
             evaluate.lower(states, test_images, test_labels))
  compile_start = time.perf_counter()
  train_steps, evaluate = (program.compile() for program in lowered)
  compile_seconds = time.perf_counter() - compile_start
  trace_seconds = compile_start - trace_start
  update_plateau = jax.jit(jax.vmap(schedule.plateau.update)) if schedule.plateau is not None else None

  print(f"Model {config.model}: {num_params:,} parameters; {len(seeds)} seed(s) {seeds}; "
        f"{num_train} train / {num_test} test images; device {jax.devices()[0].device_kind} "
        f"x{jax.device_count()}; traced in {trace_seconds:.1f} s, compiled in {compile_seconds:.1f} s")
  stop_request = _StopRequest()
  for epoch in range(start_epoch, config.num_epochs):
    print(f"EPOCH: {epoch}")
    epoch_start = time.perf_counter()
    progress.start()
    out = empty_epoch_output(len(seeds), num_steps)
    for start, stop in progress.segments():
      if stop_request.signal is not None:
        progress.close()
        stop_request.restore()
        raise Interrupted(_interrupted_line(stop_request.signal, epoch, manager))
      states, out = train_steps(states, out, train_images, train_labels, jnp.int32(epoch),
                                jnp.int32(start), jnp.int32(stop))
      progress.update(out, stop)
    test_metrics = evaluate(states, test_images, test_labels)
    step_losses = np.asarray(out.step_losses)
    learning_rates = np.asarray(out.learning_rates)
    train_result = jax.device_get(compute_per_replica(out.metrics))
    test_result = jax.device_get(compute_per_replica(test_metrics))
    epoch_seconds = time.perf_counter() - epoch_start
    progress.close()

    last_good = ("not saved, no checkpoint yet" if manager.latest_step() is None else
                 f"not saved, last good checkpoint: epoch {manager.latest_step()} in {manager.directory}")
    if not np.all(np.isfinite(step_losses)):
      replica, step = np.argwhere(~np.isfinite(step_losses))[0]
      raise TrainingError(f"non-finite training loss at epoch {epoch} step {step} "
                          f"(seed {seeds[replica]}); {last_good}")
    if not np.all(np.isfinite(test_result["loss"])):
      replica = np.flatnonzero(~np.isfinite(test_result["loss"]))[0]
      # BatchNorm can keep the training loss finite while its running statistics overflow.
      raise TrainingError(f"non-finite test loss at epoch {epoch} (seed {seeds[replica]}); {last_good}")

    test_correct = np.rint(np.asarray(test_metrics.accuracy.total)).astype(int)
    record = {
        "epoch": epoch,
        "seeds": seeds,
        "train_loss": train_result["loss"],
        "train_accuracy": 100.0 * train_result["accuracy"],
        "test_loss": test_result["loss"],
        "test_accuracy": 100.0 * test_result["accuracy"],
        "test_correct": test_correct,
        "test_total": num_test,
        "learning_rate": learning_rates[:, 0],
        "epoch_seconds": epoch_seconds,
    }
    record = metrics_lib.to_builtin(record)
    history.append(record)
    for r, seed in enumerate(seeds):
      prefix = "" if len(seeds) == 1 else f"[seed {seed}] "
      print(prefix + test_line(record["test_loss"][r], int(test_correct[r]), num_test))

    if update_plateau is not None:
      plateau_state = update_plateau(plateau_state, jnp.asarray(test_result["loss"]))
      states = set_learning_rate(states, jax.vmap(schedule.plateau.learning_rate)(plateau_state))

    checkpoint.save_checkpoint(manager, epoch + 1, states, plateau_state, history,
                               float(np.mean(record["test_accuracy"])))
    metrics_writer.write(record)
    steps_writer.write({"epoch": epoch, "step_loss": step_losses, "learning_rate": learning_rates})
    if summary_writer is not None:
      first_step = epoch * num_steps
      for i in range(step_losses.shape[1]):
        summary_writer.write_scalars(first_step + i, {"train_step_loss": float(step_losses[:, i].mean())})
      summary_writer.write_scalars((epoch + 1) * num_steps, {
          k: float(np.mean(record[k])) for k in
          ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate")})
      summary_writer.flush()

  stop_request.restore()
  run_summary = write_summary(workdir, config, history, num_params, compile_seconds)
  if config.plots:
    make_plots(workdir, states, history, test_images, test_labels, config)
  if summary_writer is not None:
    summary_writer.close()
  manager.close()
  print(json.dumps(run_summary["test_accuracy"], indent=None))
  return history


def evaluate_checkpoint(workdir: str, step: int | None = None) -> dict[str, Any]:
  """Evaluates a saved checkpoint of `workdir` (default: the best) on the configured test set.

  Returns:
    {"epoch": checkpoint step (epochs finished), "seeds": [...], "test_loss": [per seed],
     "test_correct": [per seed], "test_total": int}.

  Raises:
    ValueError: `workdir` has no config.json, no checkpoint, or none at `step`.
  """
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise ValueError(f"no run in workdir {workdir!r}: config.json is missing")
  with open(config_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  manager = checkpoint.create_checkpoint_manager(workdir, config.keep_checkpoints)
  steps = manager.all_steps()
  step = manager.best_step() if step is None else step
  if step is None:
    raise ValueError(f"no checkpoint in {manager.directory}")
  if step not in steps:
    raise ValueError(f"no checkpoint {step} in {manager.directory}; "
                     f"saved: {', '.join(map(str, sorted(steps)))}")
  _, (test_images, test_labels) = load_datasets(config)
  # Restored without a target: evaluation needs the variables, not the optimizer or schedule.
  arrays = checkpoint.restore_arrays(manager, step)
  manager.close()
  states = InferenceState(create_model(config).apply, arrays["params"], arrays.get("batch_stats", {}))
  test_metrics = jax.jit(make_evaluate(config, len(test_labels)))(states, test_images, test_labels)
  result = jax.device_get(compute_per_replica(test_metrics))
  return {
      "epoch": step,
      "seeds": replica_seeds(config),
      "test_loss": result["loss"].tolist(),
      "test_correct": np.rint(np.asarray(test_metrics.accuracy.total)).astype(int).tolist(),
      "test_total": len(test_labels),
  }


def write_summary(workdir: str, config: ml_collections.ConfigDict, history: list[dict[str, Any]],
                  num_params: int, compile_seconds: float) -> dict[str, Any]:
  """Writes workdir/summary.json: per-seed best and last-3 test accuracy, times, device."""
  test_accuracy = np.array([r["test_accuracy"] for r in history])  # [epochs, R]
  summary = {
      "model": config.model,
      "num_params": num_params,
      "seeds": history[-1]["seeds"] if history else replica_seeds(config),
      "num_epochs": len(history),
      "device": f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind} x{jax.device_count()}",
      "compile_seconds": compile_seconds,
      "train_seconds": float(sum(r["epoch_seconds"] for r in history)),
      "test_accuracy": {
          "best": test_accuracy.max(axis=0).tolist() if history else [],
          "last3_mean": test_accuracy[-3:].mean(axis=0).tolist() if history else [],
      },
  }
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  return summary


def make_plots(workdir: str, states: TrainState, history: list[dict[str, Any]],
               test_images: jax.Array, test_labels: jax.Array, config: ml_collections.ConfigDict) -> None:
  """Curves (every replica), learning rate per step and misclassified test images (first replica)."""
  from mnist_jax import plots  # pylint: disable=g-import-not-at-top  (matplotlib only when plotting)

  steps = metrics_lib.read_json_lines(os.path.join(workdir, "steps.jsonl"))
  step_losses = np.concatenate([np.asarray(r["step_loss"]) for r in steps], axis=1)
  learning_rates = np.concatenate([np.asarray(r["learning_rate"]) for r in steps], axis=1)
  plots.plot_curves(history, os.path.join(workdir, "curves.png"), step_losses=step_losses)
  plots.plot_learning_rate(learning_rates[0], os.path.join(workdir, "learning_rate.png"))
  first = jax.tree.map(lambda x: x[0], states)
  predictions = np.asarray(jax.jit(predict_log_probs)(first, test_images).argmax(-1))
  labels = np.asarray(test_labels)
  wrong = np.flatnonzero(predictions != labels)
  plots.plot_misclassified(np.asarray(test_images)[wrong], labels[wrong], predictions[wrong],
                           os.path.join(workdir, "misclassified.png"))
