"""One replica's training and evaluation steps: TrainState, the model, the loss.

The plain Flax and Optax path, the same on every backend: `train_step` is one SGD step on a
normalised batch, `eval_step` the eval-mode metrics of a batch. `mnist_jax.training.epoch` maps them
over replicas and batches.
"""

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

  `recipe` holds the replica's swept values (`mnist_jax.optim.sweep.replica_values`): scalar arrays
  by config field path, empty outside a sweep. Being data, one program trains a whole grid.
  """

  batch_stats: Any
  key: jax.Array
  recipe: Any = flax.struct.field(default_factory=dict)


@flax.struct.dataclass
class InferenceState:
  """What evaluation reads of a TrainState: the model's `apply_fn` and its variables.

  params, batch_stats: pytrees of float32 arrays with a leading replica axis [R, ...].
  """

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
                       opt_state: optax.OptState | None = None) -> TrainState:
  """Initialises one replica from a raw PRNG key (uint32 [2]), with its swept values, if any,
  and an optimizer state (default: ``tx.init`` of the parameters)."""
  init_key, data_key = jax.random.split(key)
  variables = model.init({"params": init_key}, jnp.zeros((1, 28, 28, 1), jnp.float32), train=False)
  params = variables["params"]
  # A strongly typed step, as a restored checkpoint has: the same program either way, so a
  # resumed run finds the fresh run's entry in the persistent compilation cache.
  return TrainState(step=jnp.zeros((), jnp.int32), apply_fn=model.apply, params=params, tx=tx,
                    opt_state=tx.init(params) if opt_state is None else opt_state,
                    batch_stats=variables.get("batch_stats", {}), key=data_key,
                    recipe=recipe or {})


def create_replica_states(config: ml_collections.ConfigDict, recipe: recipe_lib.Recipe) -> TrainState:
  """Fresh TrainStates of all replicas, stacked [R, ...] (`sweep.replicas` order).

  Replica r is initialised from `jax.random.PRNGKey(seed)` of its seed, with its swept values
  in ``recipe`` and in its optimizer's state; all share ``recipe.optimizer``.
  """
  model = create_model(config)
  keys = jnp.stack([jax.random.PRNGKey(seed) for seed in sweep.replica_seeds(config)])

  def init(key, values):
    state = create_train_state(key, model, recipe.optimizer, values)
    return state.replace(opt_state=recipe.init(state.params, values))

  return jax.jit(jax.vmap(init))(keys, recipe.values)


def nll_loss(log_probs: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example negative log-likelihood, float32 [B] (torch's `F.nll_loss(reduction='none')`)."""
  return -jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]


def train_step(state: TrainState, images: jax.Array, labels: jax.Array, dropout_key: jax.Array,
               keep_prob: jax.Array | None = None) -> tuple[TrainState, jax.Array, metrics_lib.Metrics]:
  """One SGD step on a normalised batch.

  Args:
    state: one replica's TrainState; its ``tx`` steps with the replica's swept values
      (``state.recipe``) where it takes them (`mnist_jax.optim.recipe.Recipe.optimizer`).
    images: float32 [B, 28, 28, 1], normalised (mean 0.1307, std 0.3081).
    labels: int32 [B].
    dropout_key: raw PRNG key for this step's dropout masks.
    keep_prob: float32 [], a swept dropout rate as 1 - rate (see `network.Network`).

  Returns:
    (new state, mean loss float32 [], training metrics of this batch).
  """
  extra = {} if keep_prob is None else {"keep_prob": keep_prob}

  def loss_fn(params):
    log_probs, updates = state.apply_fn(
        {"params": params, "batch_stats": state.batch_stats}, images, train=True,
        rngs={"dropout": dropout_key}, mutable=["batch_stats"], **extra)
    per_example = nll_loss(log_probs, labels)
    return per_example.mean(), (per_example, log_probs, updates)

  grads, (per_example, log_probs, updates) = jax.grad(loss_fn, has_aux=True)(state.params)
  batch_stats = updates.get("batch_stats", state.batch_stats)
  tx = optax.with_extra_args_support(state.tx)
  step_updates, opt_state = tx.update(grads, state.opt_state, state.params, values=state.recipe)
  state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, step_updates),
                        opt_state=opt_state, batch_stats=batch_stats)
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
