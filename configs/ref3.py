"""ref3.md recipes (Steps 1-4); select with `--config=configs/ref3.py:step4`.

Published: batch 256 (235 batches per epoch in the logs), 15 epochs; Step 2 adds BatchNorm and
dropout, Step 3 image augmentation, Step 4 an LR scheduler. Not stated, chosen here: SGD lr 0.01
momentum 0.9, ±7° rotation; for Step 4, OneCycleLR(max_lr=0.1, pct_start=0.2), the flagship's
scheduler (configs/final.py), because a StepLR from lr 0.01 under-fits and falls short of the
published 99.53 % (docs/EXPERIMENTS.md, "ref3 Step 4").
"""

from configs import base

_BATCH = {"batch_size": 256}
RECIPES = {
    "step1": dict(_BATCH),
    "step2": dict(_BATCH),
    "step3": dict(_BATCH, rotation_degrees=7.0),
    "step4": dict(_BATCH, rotation_degrees=7.0, schedule=base.one_cycle(max_lr=0.1, pct_start=0.2)),
}


STEPS = tuple(RECIPES)


def get_config(step: str | None = None):
  return base.recipe("ref3", step, RECIPES)
