"""Which OneCycleLR settings give ref5.md Step 7's logged rate at an epoch boundary?

ref5.md, Step 7: "EPOCH:14 | LR: [0.008679444396382234]", 938 batches per epoch. Searches
torch's OneCycleLR formula (three_phase=False) over epochs, pct_start, anneal strategy,
div_factor and final_div_factor, and asks for a max_lr with 1-2 significant digits that gives
the logged rate within 1e-9 (relative) at or next to an epoch boundary (13, 14 or 15 epochs of
steps). Run: `python docs/measurements/ref5_step7_schedule/lr_search.py`; its output:

  1 setting(s)
  epochs=15 pct_start=0.3 anneal=cos div_factor=25 final_div_factor=10000.0 max_lr=0.1 step=12194 (13.0 epochs)
"""

import numpy as np

LOGGED = 0.008679444396382234
STEPS_PER_EPOCH = 938


def one_cycle_fraction(steps, total_steps, pct_start, anneal, div_factor, final_div_factor):
  """torch OneCycleLR's rate at `steps` for max_lr = 1 (the rate is linear in max_lr)."""
  initial = 1 / div_factor
  minimum = initial / final_div_factor
  end_up, end_down = float(pct_start * total_steps) - 1, total_steps - 1
  if anneal == "cos":
    curve = lambda start, end, pct: end + (start - end) / 2 * (np.cos(np.pi * pct) + 1)
  else:
    curve = lambda start, end, pct: (end - start) * pct + start
  return np.where(steps <= end_up, curve(initial, 1.0, steps / end_up),
                  curve(1.0, minimum, (steps - end_up) / (end_down - end_up)))


def main():
  hits = set()
  for epochs in range(14, 61):
    total = epochs * STEPS_PER_EPOCH
    steps = np.array([e * STEPS_PER_EPOCH + d for e in (13, 14, 15) for d in (-1, 0, 1)], np.float64)
    steps = steps[(steps >= 0) & (steps < total)]
    for pct_start in np.round(np.arange(0.05, 0.96, 0.05), 2):
      for anneal in ("cos", "linear"):
        for div_factor in (2, 4, 5, 8, 10, 20, 25, 50, 100, 1000):
          for final_div_factor in (1e5, 1e4, 1e3, 100, 50, 25, 10, 1):
            max_lr = LOGGED / one_cycle_fraction(steps, total, pct_start, anneal, div_factor,
                                                 final_div_factor)
            for digits in (1, 2):
              scale = 10 ** (np.floor(np.log10(max_lr)) - digits + 1)
              rounded = np.round(max_lr / scale) * scale
              for i in np.flatnonzero(np.abs(rounded - max_lr) / max_lr < 1e-9):
                hits.add((epochs, float(pct_start), anneal, div_factor, final_div_factor,
                          float(rounded[i]), int(steps[i])))
  print(f"{len(hits)} setting(s)")
  for epochs, pct, anneal, div, final_div, max_lr, step in sorted(hits):
    print(f"epochs={epochs} pct_start={pct} anneal={anneal} div_factor={div} "
          f"final_div_factor={final_div} max_lr={max_lr:g} step={step} ({step / STEPS_PER_EPOCH:.1f} epochs)")


if __name__ == "__main__":
  main()
