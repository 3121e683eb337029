"""The flagship: ref2 Final network (7,958 parameters), ±7° rotation, OneCycleLR, batch 64.

Under 8,000 parameters and aimed at >= 99.40 % test accuracy in each of the last 3 of 15
epochs. Of the two published networks under 8,000 parameters (ref1 Code 5, 7,904; ref2 Final,
7,958), ref2 Final is the cheaper to train: its widest layer at full resolution has 20
channels where ref1 Code 5 has 32 (ref1.md and ref2.md summaries). OneCycleLR replaces ref2's
ReduceLROnPlateau because it ends every run at a small learning rate, which steadies the
last epochs that the 99.40 % target is judged on.

Measured (5 seeds x 15 epochs, CPU; per-seed tables in docs/RESULTS.md):
- dropout 0.1, max_lr 0.05, pct_start 0.25 (commit 61377af): best 99.35 ± 0.06 %, train
  accuracy only ~99.0 % at the end: under-fitting; 0/5 seeds >= 99.40 % in each of the
  last 3 epochs.
- dropout 0.05, max_lr 0.1, pct_start 0.2 (commit d8892ea): best 99.46 ± 0.05 %, last-3
  mean 99.43 ± 0.05 %; 2/5 seeds >= 99.40 % in each of the last 3 epochs.
- dropout 0, max_lr 0.1, pct_start 0.2, batch 128 (commit 4af29e6): best 99.49 ± 0.05 %,
  last-3 mean 99.44 ± 0.05 %; 3/5 seeds >= 99.40 % in each of the last 3 epochs (seeds 2
  and 3 dip to 99.38 and 99.36 in one of them). Train accuracy now ends at ~99.6 %, above test.
- dropout 0, max_lr 0.2 (not kept; run not committed): last 3 epochs per seed 99.49/99.51/99.46,
  99.38/99.45/99.40, 99.36/99.37/99.44, 99.46/99.41/99.50, 99.41/99.41/99.44 -> also 3/5.
- dropout 0, max_lr 0.1, pct_start 0.2, batch 64 (this file; ref4 and ref5 Steps 5-7 train at
  64): twice the updates per epoch. Last 3 epochs per seed 99.45/99.42/99.34, 99.43/99.52/99.51,
  99.50/99.46/99.47, 99.44/99.43/99.47, 99.43/99.41/99.44 -> 4/5 seeds >= 99.40 % in each;
  seed 0 drops to 99.34 in the last epoch. Mean ± std in docs/RESULTS.md.
"""

from configs import base


def get_config():
  return base.get_config(
      name="final",
      model="ref2_final",
      batch_size=64,
      num_epochs=15,
      rotation_degrees=7.0,
      dropout_rate=0.0,
      schedule=base.one_cycle(max_lr=0.1, pct_start=0.2))
