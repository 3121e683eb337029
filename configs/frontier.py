"""Frontier recipes, one per model; select with `--config=configs/frontier.py:frontier_4k`.

Protocol: recipes are chosen on the validation split (the last 5,000 training images,
`validation_size` 5000 here), never on the test set; the final test runs of a chosen recipe
add ``--config.validation_size=0 --config.num_seeds=5`` and report the mean over the 5 seeds
of each seed's best test accuracy in 15 epochs.

Starting recipe (from what the best public small nets share): SGD momentum 0.9 under
OneCycleLR stepped per batch (torch defaults otherwise, so momentum cycles 0.95 -> 0.85),
batch 64, 15 epochs, ±7° rotation, dropout 0, pct_start 0.25. max_lr is chosen per model on
the validation split (configs/sweeps.py frontier_<model>_max_lr; tables in docs/sweeps/ and
docs/EXPERIMENTS.md, "Frontier"): frontier_4k 0.2 (of 0.05 / 0.1 / 0.2 / 0.4), frontier_5k
0.2 (of 0.1 / 0.2 / 0.4), frontier_2k_separable 0.2 (of 0.2 / 0.4), frontier_1k_separable
0.4 (of 0.2 / 0.4; at batch 32, below, 0.2). frontier_2k (dense, not searched) holds its
starting point. Later searches (`EXTRA`) replace these where validation prefers them.
"""

from configs import base

_SHARED = {"batch_size": 64, "num_epochs": 15, "momentum": 0.9, "rotation_degrees": 7.0,
           "dropout_rate": 0.0, "validation_size": 5000}
# Model name without "frontier_" -> OneCycle (max_lr, pct_start).
ONE_CYCLE = {"5k": (0.2, 0.25), "4k": (0.2, 0.25), "3k7": (0.2, 0.25), "2k": (0.15, 0.25),
             "2k_separable": (0.2, 0.25), "1k_separable": (0.2, 0.25)}
# Fields beyond the shared recipe, chosen on the validation split: configs/sweeps.py
# frontier_3k7_augmentation (shift 0 / 0.1 x weight average 0 / 0.999 at batch 64) chose the
# shift; frontier_3k7_batch32 (max_lr 0.1 / 0.2 x weight average 0 / 0.999 at batch 32, the
# shift kept) then beat that choice's validation last-3 mean (99.32 against 99.29 %).
# frontier_1k_separable_batch32 (max_lr 0.1 / 0.2 x rotation 0 / 7 degrees at batch 32) beat
# its batch-64 choice, max_lr 0.4 (98.95 against 98.78 %).
EXTRA = {"3k7": {"translate": 0.1, "batch_size": 32, "ema_decay": 0.999},
         "1k_separable": {"batch_size": 32, "rotation_degrees": 0.0}}
# Selected after the colon (configs/frontier.py:frontier_4k); "4k" is accepted as well.
STEPS = tuple(f"frontier_{model}" for model in ONE_CYCLE)
EXAMPLE = "frontier_4k"


def get_config(model: str | None = None):
  """The recipe of frontier model `model` (also the config's name); "4k" = "frontier_4k".

  Raises:
    ValueError: no model, or an unknown one (the message lists the valid ones).
  """
  short = model and model.removeprefix("frontier_")
  if short not in ONE_CYCLE:
    problem = "frontier needs a step" if model is None else f"unknown step {model!r} for frontier"
    raise ValueError(f"{problem}; valid steps: {', '.join(STEPS)}")
  # Fresh schedules each call: a ConfigDict in a module-level recipe would be shared by
  # every config made from it, so one run's override would leak into the next.
  recipes = {step: {**_SHARED, **EXTRA.get(step, {}),
                    "schedule": base.one_cycle(max_lr=max_lr, pct_start=pct_start)}
             for step, (max_lr, pct_start) in ONE_CYCLE.items()}
  return base.recipe("frontier", short, recipes)
