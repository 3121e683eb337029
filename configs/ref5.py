"""ref5.md recipes (Steps 1-7); select with `--config=configs/ref5.py:step7`.

Published: batch 128 for Steps 1-4 (469 batches per epoch) and 64 for Steps 5-7 (938), 15
epochs; Step 6 adds RandomRotation, Step 7 OneCycleLR. Step 7's OneCycleLR(max_lr=0.1,
epochs=15) with torch's other defaults is read off its log (ref5.md, Step 7: "EPOCH:14 | LR:
[0.008679444396382234]"; tests/test_optim.py reproduces it, docs/EXPERIMENTS.md, "ref5 Step 7",
gives the search). Not stated, chosen here: SGD momentum 0.9, ±7° rotation, and lr 0.01 for
Steps 1, 2 and 4; for Steps 3, 5 and 6, lr 0.05, 0.02 and 0.1, the cells of the reproduction
sweeps `configs/sweeps.py:reproduce_ref5_step3_lr`, `reproduce_ref5_step5_lr` and
`reproduce_ref5_step6_lr` (lr 0.01 / 0.02 / 0.05 / 0.1, 3 seeds each) whose best test and
train accuracy come closest to the published run; for Step 6 also dropout 0.1 (ref5.md names
neither kind nor rate), the closest cell of its second sweep `reproduce_ref5_step6_dropout`
(0 / 0.05 / 0.1 at lr 0.1) (docs/EXPERIMENTS.md,
"Reproduction sweeps"; tests/test_reproduction.py checks that config and sweeps agree).
"""

from configs import base

RECIPES = {
    "step1": {},
    "step2": {},
    "step3": {"learning_rate": 0.05},
    "step4": {},
    "step5": {"batch_size": 64, "learning_rate": 0.02},
    "step6": {"batch_size": 64, "learning_rate": 0.1, "dropout_rate": 0.1, "rotation_degrees": 7.0},
    "step7": {"batch_size": 64, "rotation_degrees": 7.0, "schedule": base.one_cycle(max_lr=0.1)},
}


STEPS = tuple(RECIPES)


def get_config(step: str | None = None):
  return base.recipe("ref5", step, RECIPES)
