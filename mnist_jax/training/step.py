"""One replica's training and evaluation steps (`train_step`, `eval_step`): TrainState, the
model, the loss, and the optional `RECIPE_PIECES` (label smoothing, an EMA of the weights).
`mnist_jax.training.epoch` maps them over replicas and batches."""

from typing import Any, Callable

import flax
from flax.training import train_state
import jax
import jax.numpy as jnp
import ml_collections
import optax

from mnist_jax.data import augment
from mnist_jax.optim import recipe as recipe_lib
from mnist_jax.optim import sweep
from mnist_jax.training import metrics as metrics_lib
from mnist_jax import models


class TrainState(train_state.TrainState):
  """Flax TrainState plus BatchNorm running statistics and the replica's data key.

  `key` (uint32 [2], a raw PRNG key) is the root of every random draw after initialisation:
  epoch e uses `fold_in(key, e)` for its permutation and `fold_in(., step)` for each step's
  rotation angles and dropout masks, so a resumed run draws exactly what an uninterrupted
  one would.

  `recipe` holds the replica's swept values (`mnist_jax.optim.sweep.replica_values`): scalar
  arrays by config field path, empty outside a sweep.
  """

  batch_stats: Any
  key: jax.Array
  recipe: Any = flax.struct.field(default_factory=dict)


class EmaTrainState(TrainState):
  """A TrainState with an exponential moving average of its variables, used when some replica
  has `config.ema_decay` > 0 (other runs keep the plain TrainState and their programs).

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
  """The registered model named by `config.model`, with `config.dropout_rate` if set and the
  network `config.fast_path` chooses (a config without the field gets "auto")."""
  overrides = {} if config.dropout_rate is None else {"dropout_rate": config.dropout_rate}
  return models.create(config.model, fast_path=config.get("fast_path", "auto"), **overrides)


def create_train_state(key: jax.Array, model, tx: optax.GradientTransformation,
                       recipe: dict[str, jax.Array] | None = None,
                       opt_state: optax.OptState | None = None, ema: bool = False) -> TrainState:
  """Initialises one replica from a raw PRNG key (uint32 [2]), with its swept values, if any,
  and an optimizer state (default: ``tx.init`` of the parameters). With `ema`, an
  `EmaTrainState` whose average starts at the initial variables."""
  init_key, data_key = jax.random.split(key)
  variables = model.init({"params": init_key}, jnp.zeros((1, 28, 28, 1), jnp.float32), train=False)
  params = variables["params"]
  batch_stats = variables.get("batch_stats", {})
  extra = {"ema": {"params": params, "batch_stats": batch_stats}} if ema else {}
  # A strongly typed step, as a restored checkpoint has: a resumed run compiles the same program.
  return (EmaTrainState if ema else TrainState)(
      step=jnp.zeros((), jnp.int32), apply_fn=model.apply, params=params, tx=tx,
      opt_state=tx.init(params) if opt_state is None else opt_state,
      batch_stats=batch_stats, key=data_key, recipe=recipe or {}, **extra)


def create_replica_states(config: ml_collections.ConfigDict,
                          recipe: recipe_lib.Recipe) -> TrainState:
  """Fresh TrainStates of all replicas, stacked [R, ...] (`sweep.replicas` order), each from
  `jax.random.PRNGKey(seed)` with its swept values in ``recipe`` and its optimizer state; all
  share ``recipe.optimizer``. `EmaTrainState`s when some replica `uses` "ema_decay"."""
  model = create_model(config)
  keys = jnp.stack([jax.random.PRNGKey(seed) for seed in sweep.replica_seeds(config)])
  ema = uses(config, "ema_decay")

  def init(key, values):
    state = create_train_state(key, model, recipe.optimizer, values, ema=ema)
    return state.replace(opt_state=recipe.init(state.params, values))

  return jax.jit(jax.vmap(init))(keys, recipe.values)


# Optional recipe pieces: float config fields in [0, 1), 0 = off; `train_step` arguments
# (`recipe_pieces`) only when some replica has a nonzero value.
RECIPE_PIECES = ("label_smoothing", "ema_decay")


def uses(config: ml_collections.ConfigDict, field: str) -> bool:
  """Whether any replica has a nonzero `field`: its config value (0 when the config lacks the
  field, as a config.json written before it existed) or one of its swept values."""
  return max(sweep.replica_range(config, field)) > 0


def recipe_pieces(config: ml_collections.ConfigDict,
                  values: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """The `train_step` arguments of the `RECIPE_PIECES` some replica uses, float32 [] each: the
  replica's swept value (`values`, its ``state.recipe``), else the config's; {} when none is
  used, so a run without them compiles the program it always did."""
  return {field: jnp.asarray(values.get(field, config.get(field, 0.0)), jnp.float32)
          for field in RECIPE_PIECES if uses(config, field)}


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
               keep_prob: jax.Array | None = None, label_smoothing: jax.Array | None = None,
               ema_decay: jax.Array | None = None
               ) -> tuple[TrainState, jax.Array, metrics_lib.Metrics]:
  """One SGD step on a normalised batch (then the EMA update of an `EmaTrainState`).

  state: one replica's TrainState; its ``tx`` takes the swept values ``state.recipe``.
  images: float32 [B, 28, 28, 1], normalised (mean 0.1307, std 0.3081); labels: int32 [B];
  dropout_key: raw PRNG key; keep_prob: float32 [], a swept dropout rate as 1 - rate.
  label_smoothing: float32 [] in [0, 1): the gradient is that of `smoothed_nll_loss` (torch's
  ``nn.CrossEntropyLoss(label_smoothing=eps)``); None: of `nll_loss`.
  ema_decay: float32 [] in [0, 1), the decay of `update_ema`; required by an `EmaTrainState`.

  Returns (new state, mean NLL float32 [], the batch's training metrics): the NLL the
  references print, with or without label smoothing. Raises ValueError for an
  `EmaTrainState` without `ema_decay`.
  """
  has_ema = isinstance(state, EmaTrainState)
  if has_ema and ema_decay is None:
    raise ValueError("train_step of an EmaTrainState needs ema_decay")
  extra = {} if keep_prob is None else {"keep_prob": keep_prob}

  def loss_fn(params):
    log_probs, updates = state.apply_fn(
        {"params": params, "batch_stats": state.batch_stats}, images, train=True,
        rngs={"dropout": dropout_key}, mutable=["batch_stats"], **extra)
    per_example = nll_loss(log_probs, labels)
    loss = (per_example if label_smoothing is None
            else smoothed_nll_loss(log_probs, labels, label_smoothing))
    return loss.mean(), (per_example, log_probs, updates)

  grads, (per_example, log_probs, updates) = jax.grad(loss_fn, has_aux=True)(state.params)
  batch_stats = updates.get("batch_stats", state.batch_stats)
  tx = optax.with_extra_args_support(state.tx)
  step_updates, opt_state = tx.update(grads, state.opt_state, state.params, values=state.recipe)
  params = optax.apply_updates(state.params, step_updates)
  if has_ema:
    state = state.replace(ema=update_ema(state.ema, {"params": params, "batch_stats": batch_stats},
                                         ema_decay, first=state.step == 0))
  state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                        batch_stats=batch_stats)
  batch_metrics = metrics_lib.Metrics.single_from_model_output(
      loss=per_example, logits=log_probs, labels=labels)
  return state, per_example.mean(), batch_metrics


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
