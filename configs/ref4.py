"""ref4.md recipes (Steps 1-5); select with `--config=configs/ref4.py:step5`.

Published: batch 64 (938 batches per epoch in the logs), 15 epochs; Step 3 adds BatchNorm and
dropout, Step 4 data augmentation, Step 5 an LR scheduler. Not stated, chosen here: SGD lr 0.01
momentum 0.9, ±7° rotation; for Step 5, OneCycleLR(max_lr=0.1, pct_start=0.2), the scheduler
that brought ref3 Step 4 to its published figure (configs/ref3.py).

Step 5's scheduler chosen by measurement (3 seeds x 15 epochs, CPU):
- StepLR(step_size=6, gamma=0.1) from lr 0.01 (commit 22fb77f): best 99.22 ± 0.03 % against
  the published 99.40 %; train accuracy stalls at ~98.6 % once the rate drops to 1e-3 after
  epoch 6, while the published log (ref4.md, Step 5) reaches 94.2 % train accuracy in its first
  epoch (ours 91.8 %) and ~99.0 % by epoch 7: a larger rate than ours.
- OneCycleLR(max_lr=0.1, pct_start=0.2) (this file, runs/ref4_step5): best 99.40 ± 0.05 %, the
  published figure; last-3 mean 99.38 ± 0.05 %; 1/3 seeds >= 99.40 % in each of the last 3
  epochs (the write-up's single run holds 99.40 % in its last 3).
"""

from configs import base

_BATCH = {"batch_size": 64}
RECIPES = {
    "step1": dict(_BATCH),
    "step2": dict(_BATCH),
    "step3": dict(_BATCH),
    "step4": dict(_BATCH, rotation_degrees=7.0),
    "step5": dict(_BATCH, rotation_degrees=7.0, schedule=base.one_cycle(max_lr=0.1, pct_start=0.2)),
}


def get_config(step: str = "step5"):
  return base.recipe("ref4", step, RECIPES)
