"""One replica's training and evaluation steps (`train_step`, `eval_step`): TrainState, the
model, the loss, and the optional pieces `hyperparameters.Features` names (dropout, label
smoothing, a weight average). `mnist_jax.training.epoch` maps them over replicas and batches.

Flax is confined here and to the model registry (`mnist_jax.models`): the Linen modules, their
`init` and `apply`, and Flax's TrainState (docs/ARCHITECTURE.md, "Why Linen")."""

from typing import Any, Callable

import flax
from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import optax

from mnist_jax.data import augment
from mnist_jax.optim import hyperparameters as hyperparameters_lib
from mnist_jax.optim import optimizer as optimizer_lib
from mnist_jax.optim import sweep
from mnist_jax.training import metrics as metrics_lib
from mnist_jax import models


class TrainState(train_state.TrainState):
  """Flax TrainState plus BatchNorm running statistics, the replica's data key and its
  hyperparameters.

  Attributes (besides Flax's step, params, opt_state, apply_fn, tx):
    batch_stats: BatchNorm running statistics, float32, shaped like the model's.
    key: uint32 [2], a raw PRNG key, the root of every random draw after initialisation:
      epoch e uses `fold_in(key, e)` for its permutation and `fold_in(., step)` for each
      step's augmentation and dropout masks, so a resumed run draws exactly what an
      uninterrupted one would.
    hparams: the replica's `hyperparameters.Hyperparameters` (scalar leaves; [R] when the
      replicas are stacked). Built from the config; a resumed run takes them from
      its config again (`checkpoint.restore_checkpoint`), not from the checkpoint.
  """

  batch_stats: Any
  key: jax.Array
  hparams: Any = None


class EmaTrainState(TrainState):
  """A TrainState with an exponential moving average of its variables, used when some replica
  has `config.ema_decay` > 0 (`hyperparameters.Features.ema`; other runs keep the plain
  TrainState and their programs).

  `ema`: {"params": ..., "batch_stats": ...}, float32, shaped like `params` and `batch_stats`;
  the initial variables at step 0, then `update_ema` after every optimizer step: torch's
  `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)` with
  `update_parameters(model)` after each `optimizer.step()`. Evaluation reads `ema`.
  """

  ema: Any = flax.struct.field(default_factory=dict)


@flax.struct.dataclass
class InferenceState:
  """What evaluation reads of a TrainState: `apply_fn` and params, batch_stats (float32
  pytrees with a leading replica axis [R, ...])."""

  apply_fn: Callable = flax.struct.field(pytree_node=False)
  params: Any = None
  batch_stats: Any = None


def create_model(config: ml_collections.ConfigDict):
  """The registered model named by `config.model` (a Linen module), with `config.dropout_rate`
  if set and the network `config.fast_path` chooses (a config without the field gets "auto").
  Raises ValueError for an unknown model or fast path (`models.create`)."""
  overrides = {} if config.dropout_rate is None else {"dropout_rate": config.dropout_rate}
  return models.create(config.model, fast_path=config.get("fast_path", "auto"), **overrides)


def create_train_state(key: jax.Array, model, optimizer: optimizer_lib.Optimizer,
                       hparams: hyperparameters_lib.Hyperparameters,
                       ema: bool = False) -> TrainState:
  """Initialises one replica.

  Args:
    key: uint32 [2], a raw PRNG key (`jax.random.PRNGKey(seed)`): split into the
      initialisation key and the replica's data key.
    model: the Linen module (`create_model`).
    optimizer: the run's `optimizer.Optimizer`; its ``tx`` becomes the state's.
    hparams: the replica's hyperparameters (scalar leaves).
    ema: an `EmaTrainState`, whose average starts at the initial variables.

  Returns:
    The replica's TrainState at step 0 (a strongly typed int32 step, as a restored checkpoint
    has, so a resumed run compiles the same program).
  """
  init_key, data_key = jax.random.split(key)
  variables = model.init({"params": init_key}, jnp.zeros((1, 28, 28, 1), jnp.float32), train=False)
  params = variables["params"]
  batch_stats = variables.get("batch_stats", {})
  extra = {"ema": {"params": params, "batch_stats": batch_stats}} if ema else {}
  return (EmaTrainState if ema else TrainState)(
      step=jnp.zeros((), jnp.int32), apply_fn=model.apply, params=params, tx=optimizer.tx,
      opt_state=optimizer.init(params, hparams), batch_stats=batch_stats, key=data_key,
      hparams=hparams, **extra)


def create_replica_states(config: ml_collections.ConfigDict, optimizer: optimizer_lib.Optimizer,
                          hparams: hyperparameters_lib.Hyperparameters | None = None
                          ) -> TrainState:
  """Fresh TrainStates of all replicas, stacked [R, ...] (`sweep.replicas` order).

  Replica r starts from `jax.random.PRNGKey(seed_r)` with hyperparameters ``hparams[r]``
  (`hparams`: [R] leaves; default `hyperparameters.create(config)`); all share
  ``optimizer.tx``. `EmaTrainState`s when some replica keeps a weight average
  (`Features.ema`). Raises ValueError (one line) for a hyperparameter out of range.
  """
  if hparams is None:
    hparams = hyperparameters_lib.create(config, optimizer.steps_per_epoch)
  model = create_model(config)
  keys = jnp.stack([jax.random.PRNGKey(seed) for seed in sweep.replica_seeds(config)])
  ema = hyperparameters_lib.features(hparams).ema

  def init(key, replica_hparams):
    return create_train_state(key, model, optimizer, replica_hparams, ema=ema)

  return jax.jit(jax.vmap(init))(keys, hparams)


def nll_loss(log_probs: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example negative log-likelihood, float32 [B] (torch's `F.nll_loss(reduction='none')`)."""
  return -jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]


def smoothed_nll_loss(log_probs: jax.Array, labels: jax.Array,
                      label_smoothing: jax.Array | float) -> jax.Array:
  """Per-example label-smoothed cross-entropy, float32 [B]: (1 - eps) * NLL + eps * the mean
  over the C classes of -log p, torch's ``F.cross_entropy(log_probs, labels,
  label_smoothing=eps, reduction='none')``; eps = 0 gives `nll_loss` exactly.

  log_probs: float32 [B, C]; labels: int32 [B]; label_smoothing: float32 [] in [0, 1).
  """
  return ((1 - label_smoothing) * nll_loss(log_probs, labels)
          - label_smoothing * jnp.mean(log_probs, axis=-1))


def update_ema(ema: Any, variables: Any, decay: jax.Array | float, first: jax.Array) -> Any:
  """One EMA update: ``decay * ema + (1 - decay) * variables`` leaf by leaf, float32.

  torch's `get_ema_multi_avg_fn(decay)` under `AveragedModel.update_parameters`, which copies
  the model at its first update (``n_averaged == 0``): `first` (bool []) makes this update a
  copy. decay = 0 gives `variables` exactly (for a finite `ema`).
  """
  decay = jnp.where(first, 0.0, decay)
  return jax.tree.map(lambda e, v: decay * e + (1 - decay) * v, ema, variables)


def inference_variables(state: Any) -> dict[str, Any]:
  """The variables evaluation scores: the EMA of an `EmaTrainState`, else ``state.params`` and
  ``state.batch_stats``. {"params": ..., "batch_stats": ...}."""
  ema = getattr(state, "ema", None)
  return ema if ema else {"params": state.params, "batch_stats": state.batch_stats}


def train_step(state: TrainState, images: jax.Array, labels: jax.Array, dropout_key: jax.Array,
               features: hyperparameters_lib.Features
               ) -> tuple[TrainState, jax.Array, metrics_lib.Metrics]:
  """One SGD step on a normalised batch (then the EMA update of an `EmaTrainState`).

  Args:
    state: one replica's TrainState; its ``hparams`` (scalar leaves) give every value the step
      computes with: the dropout keep probability, label smoothing, the EMA decay, and the
      optimizer's learning rate, momentum and weight decay (``tx`` takes them as ``hparams=``).
    images: float32 [B, 28, 28, 1], normalised (mean 0.1307, std 0.3081).
    labels: int32 [B].
    dropout_key: raw PRNG key of the step's dropout masks.
    features: which optional pieces the program contains (static): dropout masks, the
      label-smoothed loss (the gradient is that of `smoothed_nll_loss`, torch's
      ``nn.CrossEntropyLoss(label_smoothing=eps)``, else of `nll_loss`), the weight average.

  Returns:
    (new state, mean NLL float32 [], the batch's training metrics): the NLL the references
    print, with or without label smoothing.

  Raises:
    ValueError: `features.ema` and a state without a weight average, or the other way round.
  """
  hparams = state.hparams
  if features.ema != isinstance(state, EmaTrainState):
    raise ValueError(f"train_step with features.ema={features.ema} needs "
                     f"{'an EmaTrainState' if features.ema else 'a TrainState without ema'}")
  keep_prob = hparams.dropout_keep_prob if features.dropout else None

  def loss_fn(params):
    log_probs, updates = state.apply_fn(
        {"params": params, "batch_stats": state.batch_stats}, images, train=True,
        rngs={"dropout": dropout_key}, mutable=["batch_stats"], keep_prob=keep_prob)
    per_example = nll_loss(log_probs, labels)
    loss = (smoothed_nll_loss(log_probs, labels, hparams.label_smoothing)
            if features.label_smoothing else per_example)
    return loss.mean(), (per_example, log_probs, updates)

  grads, (per_example, log_probs, updates) = jax.grad(loss_fn, has_aux=True)(state.params)
  batch_stats = updates.get("batch_stats", state.batch_stats)
  tx = optax.with_extra_args_support(state.tx)
  step_updates, opt_state = tx.update(grads, state.opt_state, state.params, hparams=hparams)
  params = optax.apply_updates(state.params, step_updates)
  if features.ema:
    variables = {"params": params, "batch_stats": batch_stats}
    state = state.replace(ema=update_ema(state.ema, variables, hparams.ema_decay,
                                         first=state.step == 0))
  state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                        batch_stats=batch_stats)
  batch_metrics = metrics_lib.Metrics.single_from_model_output(
      loss=per_example, logits=log_probs, labels=labels)
  return state, per_example.mean(), batch_metrics


def learning_rate(state: TrainState) -> jax.Array:
  """The learning rate of the update `state` last made, float32 []: what
  ``optax.inject_hyperparams`` holds after an update (before the first, the initial rate).
  Read after `train_step`, it is the rate torch's scheduler gives that step's
  ``optimizer.step()``."""
  return state.opt_state.hyperparams["learning_rate"]


def eval_step(state: TrainState, images: jax.Array, labels: jax.Array,
              mask: jax.Array) -> metrics_lib.Metrics:
  """Eval-mode metrics (loss: the NLL) of a batch: uint8 images [B, 28, 28, 1], int32 labels
  [B], bool mask [B]. Scores `inference_variables`: the EMA weights of an `EmaTrainState`."""
  log_probs = predict_log_probs(state, images)
  return metrics_lib.Metrics.single_from_model_output(
      loss=nll_loss(log_probs, labels), logits=log_probs, labels=labels, mask=mask)


def predict_log_probs(state: TrainState, images: jax.Array) -> jax.Array:
  """Eval-mode log-probabilities float32 [B, 10] of uint8 images [B, 28, 28, 1], from
  `inference_variables` (the EMA weights of an `EmaTrainState`)."""
  x = augment.normalize(augment.to_float(images))
  return state.apply_fn(inference_variables(state), x, train=False)
