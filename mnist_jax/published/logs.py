"""Per-epoch training logs of seven published steps, as data.

Covers the steps ``ref1_code4``, ``ref2_final_exp1``, ``ref4_step3``, ``ref4_step4``,
``ref5_step3``, ``ref5_step5`` and ``ref5_step6`` (names as in `mnist_jax.published`,
whose ``source`` field names the write-up section of each), taken from the PyTorch
write-ups ``ref1.md`` .. ``ref5.md`` (not part of this repository).

What it holds:
  * `LOGS`: name -> one `EpochLog` per epoch of the training log printed in the
    step's section, in the order printed. Numbers are copied as printed (two
    decimals); nothing is recomputed, rounded or filled in.
  * `NO_LOG`: name -> one line on what the write-up shows instead, for the steps
    whose section prints no per-epoch log (ref1 and ref2 print none at all; ref5's
    Results print the lines of a single epoch, the one with the best test accuracy,
    which `mnist_jax.published` already holds as that step's best accuracies).

What each write-up states about a step's recipe (batch size, epochs, optimizer settings,
schedule, ...) is in `mnist_jax.published.recipes`, for every published step.

Units and conventions:
  * Accuracies are in percent: the train accuracy is the ``Accuracy=`` of the
    training progress line (the running accuracy over the epoch), the test
    accuracy the percentage of its ``Test set: ... (99.12%)`` line.
  * Epochs are counted as printed: ``EPOCH: 0`` is the first. ref4's Results count
    from 1 ("99.45 in 12th epoch" is the log's ``EPOCH: 11``).
  * Learning rates: as printed per epoch, or None where the log prints none (no
    log here prints one).

Example::

  logs = published_logs.log("ref4_step3")
  max(epoch.test_accuracy for epoch in logs)  # 99.45, at logs[11]
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class EpochLog:
  """One epoch of a published training log.

  Attributes:
    epoch: epoch index as printed (``EPOCH: 0`` is the first).
    train_accuracy: percent, the ``Accuracy=`` of the epoch's training progress
      line, or None where not printed.
    test_accuracy: percent, from the epoch's ``Test set:`` line, or None where not
      printed.
    learning_rate: as printed for the epoch, or None where not printed.
  """
  epoch: int
  train_accuracy: float | None
  test_accuracy: float | None
  learning_rate: float | None


def _epochs(*accuracies: tuple[float, float]) -> tuple[EpochLog, ...]:
  """(train, test) per epoch from ``EPOCH: 0`` on; the ref4 logs print no learning rate."""
  return tuple(EpochLog(epoch=epoch, train_accuracy=train, test_accuracy=test,
                        learning_rate=None)
               for epoch, (train, test) in enumerate(accuracies))


# Every step covered here, in write-up order.
NAMES = ("ref1_code4", "ref2_final_exp1", "ref4_step3", "ref4_step4", "ref5_step3",
         "ref5_step5", "ref5_step6")

LOGS: dict[str, tuple[EpochLog, ...]] = {
    # ref4.md, '# STEP 3 - Add batch normalization & dropout': 938/938 batches per epoch.
    # Results say "Best Train Accuracy: 99.62", which is in no line of this log
    # (its highest is 99.28 at EPOCH: 14); "99.37 (99.45 in 12th epoch)" is the last
    # epoch's test accuracy and EPOCH: 11's.
    "ref4_step3": _epochs(
        (94.48, 97.82),  # EPOCH: 0
        (98.14, 98.81),
        (98.46, 99.07),
        (98.69, 99.19),
        (98.83, 99.17),
        (98.86, 99.06),  # EPOCH: 5
        (98.96, 99.22),
        (99.03, 99.05),
        (99.05, 99.33),
        (99.17, 99.26),
        (99.19, 99.32),  # EPOCH: 10
        (99.24, 99.45),
        (99.27, 99.27),
        (99.19, 99.40),
        (99.28, 99.37),  # EPOCH: 14
    ),
    # ref4.md, '# STEP 4 - Add data augmentation': 938/938 batches per epoch.
    # Results say "Best Train Accuracy: 99.40", which is in no line of this log (its
    # highest is 99.10 at EPOCH: 14); "99.39 (99.41 in 8th epoch)" is the last epoch's
    # test accuracy and EPOCH: 7's.
    "ref4_step4": _epochs(
        (94.11, 98.55),  # EPOCH: 0
        (97.88, 98.71),
        (98.22, 99.12),
        (98.34, 99.01),
        (98.54, 99.21),
        (98.60, 99.13),  # EPOCH: 5
        (98.69, 99.30),
        (98.86, 99.41),
        (98.84, 99.37),
        (98.88, 99.38),
        (98.91, 99.26),  # EPOCH: 10
        (98.98, 99.29),
        (98.94, 99.31),
        (99.03, 99.39),
        (99.10, 99.39),  # EPOCH: 14
    ),
}

# The steps whose section prints no per-epoch log; the quoted strings are in the
# step's section as printed.
NO_LOG: dict[str, str] = {
    "ref1_code4": "no training log: Results give only 'Best Train Accuracy: 98.60' and "
                  "'Best Test Accuracy: 99.39'",
    "ref2_final_exp1": "no training log: Results give only 'Training accuracy: 98.78' and "
                       "'Test accuracy: 99.38(Only one time)'",
    # ref5 prints one epoch under "Best Test Accuracy:", not a log from EPOCH: 0; a
    # one-epoch excerpt would pass for a log that starts late, so it is left out.
    "ref5_step3": "Results print one epoch only (the best test epoch): 'EPOCH: 12', "
                  "'Accuracy=99.16', '(99.38%)'",
    "ref5_step5": "Results print one epoch only (the best test epoch): 'EPOCH: 10', "
                  "'Accuracy=98.65', '(99.32%)'",
    "ref5_step6": "Results print one epoch only (the best test epoch): 'EPOCH: 14', "
                  "'Accuracy=98.68', '(99.44%)'",
}


def log(name: str) -> tuple[EpochLog, ...]:
  """The published per-epoch log of step `name` (e.g. "ref4_step3").

  Raises:
    ValueError: if `name` has no published log (the message says what the write-up
      shows instead) or is unknown (the message lists the known names).
  """
  if name in LOGS:
    return LOGS[name]
  if name in NO_LOG:
    raise ValueError(f"{name!r} has no published per-epoch log: {NO_LOG[name]}")
  raise ValueError(f"unknown step {name!r}; known: {', '.join(NAMES)} (with a log: "
                   f"{', '.join(LOGS)})")
