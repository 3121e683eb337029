"""What each published step's write-up states about its training recipe, as data.

One entry per record of `mnist_jax.published` (same names, same order), taken from the
PyTorch write-ups ``ref1.md`` .. ``ref5.md`` (not part of this repository), for the recipe
fields of `FIELDS`. None of the write-ups include training code, so most fields are not
stated; the values we train where they are silent, and why, are in the configs' docstrings.

Each field holds one of:
  * a quote: the write-up's words, in single quotes, with where they are, e.g.
    "'batch Size: 128' (ref2.md, 'Fixed hyperparameters', ...)"; any words after the
    closing parenthesis and a colon qualify it (what the quote does not give);
  * "derived: <value>, ...": a value that follows with certainty from the step's own log,
    with the log fragments it follows from in single quotes;
  * exactly `NOT_STATED`.

What counts as stated:
  * Numeric fields (batch size, epochs, learning rate, momentum, weight decay, dropout
    rate, rotation angle): only a value, quoted or derived. A layer or augmentation named
    without its number ("dropout", "RandomRotation") leaves the field `NOT_STATED`; the
    comment above the entry says what the write-up names. The number of epochs is also
    stated by a budget the write-up sets itself ("within 20 epochs"), not by a result
    ("less than 15 epochs" to reach a target accuracy, ref1.md Code 5).
  * The schedule: the write-up describes this step's schedule (a scheduler, named or
    not, or a change of the rate); a scheduler first added in a later step does not make
    the earlier steps' schedule stated.
  * A batch size is read off a log's batches per epoch over the 60,000 training images:
    ceil(60000 / batch) is 235 only for 256, 469 only for 128 and 938 only for 64.
  * A number of epochs is read off a whole log, ``EPOCH: 0`` to its last epoch; a log
    excerpt of one epoch gives none.
  * Quoted text is as printed, typos included; prose in a value has no apostrophes, so
    every single quote opens or closes a quote.

Example::

  published_recipes.stated("ref4_step3")["batch_size"]  # "derived: 64, from '938/938' ..."
  published_recipes.is_stated("ref4_step3", "momentum")  # False
"""

from __future__ import annotations

NOT_STATED = "not stated"
DERIVED = "derived: "

FIELDS = ("batch_size", "num_epochs", "learning_rate", "momentum", "weight_decay", "schedule",
          "dropout_rate", "rotation_degrees")


def _recipe(**statements: str) -> dict[str, str]:
  """Every field of `FIELDS`: the statements given, `NOT_STATED` for the rest."""
  unknown = set(statements) - set(FIELDS)
  if unknown:
    raise ValueError(f"unknown recipe fields {sorted(unknown)}; valid: {', '.join(FIELDS)}")
  return {field: statements.get(field, NOT_STATED) for field in FIELDS}


def _log_batch(batch: int, batches: int, where: str) -> str:
  """A batch size derived from a log's batches per epoch (`where`: file and section)."""
  return (f"{DERIVED}{batch}, from '{batches}/{batches}' batches per epoch in the log "
          f"({where}; ceil(60000 / {batch}) = {batches}, the size is not printed)")


def _log_epochs(where: str) -> str:
  """15 epochs derived from a whole log that ends at ``EPOCH: 14``."""
  return f"{DERIVED}15, from 'EPOCH: 0' .. 'EPOCH: 14', the last, in the log ({where})"


# ref2.md states its batch size once, above its first model, for every model.
_REF2_BATCH = "'batch Size: 128' (ref2.md, 'Fixed hyperparameters', above the first model)"
# ref3.md's introduction sets the budget of all four steps; only Step 4 prints a log.
_REF3_EPOCHS = ("'higher than 99.40% accuracy is less than 10,000 parameters and within 15 "
                "epochs' (ref3.md, introduction): a budget of 15; the epochs run are not printed")

STATED: dict[str, dict[str, str]] = {
    # ref1.md prints no code, log, optimizer or batch size, and its Results give
    # parameters and accuracies only.
    "ref1_code1": _recipe(),
    "ref1_code2": _recipe(),
    "ref1_code3": _recipe(),
    # Code 4's section names no dropout; Code 5's Model Summary (the same network, the
    # write-ups' index says) lists Dropout2d after every convolution, without a rate.
    # Augmentation first comes in Code 5, whose Analysis says "less than 15 epochs"
    # (about Code 5, not Code 4).
    "ref1_code4": _recipe(),
    # Target: "Adding image augumentation", kind and angle not named (the write-ups'
    # index, not ref1.md, says rotation of about 7 degrees). Analysis: "greater than 99.4
    # with paramter less than 8000 and less than 15 epochs" is when the accuracy was
    # reached, not how many epochs were run. Model Summary: Dropout2d without a rate.
    "ref1_code5": _recipe(),
    # ref2.md prints no code or log. "Optimizer Used: SGD" (beside the batch size) gives
    # no momentum or learning rate. Model Init's table has no Dropout layer.
    "ref2_model_init": _recipe(batch_size=_REF2_BATCH),
    # Target: "Use of batch normalization layers, dropouts layers", without a rate.
    "ref2_net1": _recipe(batch_size=_REF2_BATCH),
    # Its table lists Dropout layers without a rate.
    "ref2_net2": _recipe(
        batch_size=_REF2_BATCH,
        num_epochs="'get the accuracy upto 99.4 within 20 epochs' (ref2.md, 'Net2' Target): a "
                   "budget of 20; the epochs run are not printed",
    ),
    # Experiments2's Target "Change the learining rate to high" and Experiments3's "Add lr
    # schedular" imply a lower constant rate here; neither value is given. The Final Model
    # table lists Dropout layers without a rate. Epochs: only Net2's Target names a
    # number ("within 20 epochs").
    "ref2_final_exp1": _recipe(batch_size=_REF2_BATCH),
    # "in less epochs" (its Target) names no number.
    "ref2_final_exp2": _recipe(
        batch_size=_REF2_BATCH,
        schedule="'Change the learining rate to high' (ref2.md, 'Experiments2' Target): "
                 "higher than in Experiments1, neither rate given; a scheduler comes only in "
                 "Experiments3 ('Add lr schedular')",
    ),
    # Analysis: "Still training accracy is less due to making training data hard"; the
    # augmentation is not named.
    "ref2_final": _recipe(
        batch_size=_REF2_BATCH,
        schedule="'Add lr schedular to get whenever the validation or test accuracy becomes "
                 "plattue' (ref2.md, 'Experiments3' Target): the scheduler and "
                 "its settings are not named",
    ),
    # ref3.md prints no code; Steps 1-3 give parameters and accuracies only. Step 2 adds
    # dropout ('Regularization'; the final Model Summary lists Dropout without a rate),
    # Step 3 'Image Augmentations' (kinds not named).
    "ref3_step1": _recipe(num_epochs=_REF3_EPOCHS),
    "ref3_step2": _recipe(num_epochs=_REF3_EPOCHS),
    "ref3_step3": _recipe(num_epochs=_REF3_EPOCHS),
    # The Training Logs under "Results of the Final Model" are Step 4's (the final model;
    # 'EPOCH: 13' has its published 99.53%). They print no learning rate.
    "ref3_step4": _recipe(
        batch_size=_log_batch(256, 235, "ref3.md, 'Training Logs' of the final model"),
        num_epochs=_log_epochs("ref3.md, 'Training Logs' of the final model"),
        schedule="'4. LR Scheduler' (ref3.md, the list of steps): the scheduler and its "
                 "settings are not named",
    ),
    # ref4.md prints no code; each step prints its whole log, without a learning rate.
    "ref4_step1": _recipe(
        batch_size=_log_batch(64, 938, "ref4.md, 'STEP 1'"),
        num_epochs=_log_epochs("ref4.md, 'STEP 1'"),
    ),
    "ref4_step2": _recipe(
        batch_size=_log_batch(64, 938, "ref4.md, 'STEP 2'"),
        num_epochs=_log_epochs("ref4.md, 'STEP 2'"),
    ),
    # Step 3's Target adds dropout ("by adding dropout") and the 'Final Model Architecture'
    # places it after each max pool ("max pool -> dropout"), without a rate. The scheduler
    # first comes in Step 5.
    "ref4_step3": _recipe(
        batch_size=_log_batch(64, 938, "ref4.md, 'STEP 3'"),
        num_epochs=_log_epochs("ref4.md, 'STEP 3'"),
    ),
    # As Step 3; the augmentation is "adding data augmentation", kind and angle not named.
    "ref4_step4": _recipe(
        batch_size=_log_batch(64, 938, "ref4.md, 'STEP 4'"),
        num_epochs=_log_epochs("ref4.md, 'STEP 4'"),
    ),
    # As Step 4, with the scheduler added.
    "ref4_step5": _recipe(
        batch_size=_log_batch(64, 938, "ref4.md, 'STEP 5'"),
        num_epochs=_log_epochs("ref4.md, 'STEP 5'"),
        schedule="'Add Learning rate scheduler' (ref4.md, 'STEP 5' heading): the scheduler "
                 "and its settings are not named",
    ),
    # ref5.md prints no code; each Results excerpt shows one epoch, the best, so the number
    # of epochs is not given ('EPOCH: 14' in Steps 1 and 6 shows at least 14 or 15,
    # depending on whether the log counts from 0 or 1).
    "ref5_step1": _recipe(batch_size=_log_batch(128, 469, "ref5.md, 'Step - 1' excerpt")),
    "ref5_step2": _recipe(batch_size=_log_batch(128, 469, "ref5.md, 'Step 2' excerpt")),
    # Step 3's Target adds dropout ("To add batch normalisation and dropout"), without a
    # rate.
    "ref5_step3": _recipe(batch_size=_log_batch(128, 469, "ref5.md, 'Step 3' excerpt")),
    "ref5_step4": _recipe(batch_size=_log_batch(128, 469, "ref5.md, 'Step 4' excerpt")),
    "ref5_step5": _recipe(batch_size=_log_batch(64, 938, "ref5.md, 'Step 5' excerpt")),
    # Analysis: "Added RandomRotation, which helped increase accuracy" (and RandomErasing,
    # removed); the angle is not given.
    "ref5_step6": _recipe(batch_size=_log_batch(64, 938, "ref5.md, 'Step 6' excerpt")),
    # The printed rate is torch's OneCycleLR after 13 x 938 steps, not 14 x 938: the log
    # counts epochs from 1, or prints the rate one epoch late; either way it does not
    # show whether all 15 epochs of the schedule were run, so num_epochs is not stated.
    # OneCycleLR replaces the optimizer's own rate, hence the learning rate is its peak.
    "ref5_step7": _recipe(
        batch_size=_log_batch(64, 938, "ref5.md, 'Step 7' excerpt"),
        learning_rate=f"{DERIVED}0.1, the peak (max_lr) of the OneCycleLR of schedule, from "
                      "'LR: [0.008679444396382234]' at 'EPOCH:14' in the log (ref5.md, "
                      "'Step 7' excerpt)",
        schedule="'got the best result with OneCycleLR' (ref5.md, 'Step 7' Analysis); "
                 f"{DERIVED}OneCycleLR(max_lr=0.1, epochs=15, steps_per_epoch=938) with "
                 "torch defaults otherwise (pct_start=0.3, cos, div_factor=25, "
                 "final_div_factor=1e4) gives exactly 'LR: [0.008679444396382234]' "
                 "(ref5.md, 'Step 7' excerpt) after 13 x 938 steps",
    ),
}


def stated(name: str) -> dict[str, str]:
  """What the write-up of step `name` (e.g. "ref4_step3") states about each field.

  Returns:
    A new dict: field of `FIELDS` -> a quote with where, "derived: ..." with its
    evidence, or `NOT_STATED`.

  Raises:
    ValueError: if `name` is unknown; the message lists the known names.
  """
  if name not in STATED:
    raise ValueError(f"unknown step {name!r}; known: {', '.join(STATED)}")
  return dict(STATED[name])


def is_stated(name: str, field: str) -> bool:
  """Whether the write-up of step `name` quotes or lets us derive `field`.

  Raises:
    ValueError: if `name` or `field` is unknown.
  """
  if field not in FIELDS:
    raise ValueError(f"unknown recipe field {field!r}; valid: {', '.join(FIELDS)}")
  return stated(name)[field] != NOT_STATED


def is_partly_stated(name: str, field: str) -> bool:
  """Whether `field` is stated only in part: a quote qualified by what it does not give
  (``'...' (where): the scheduler and its parameters are not given``), e.g. a scheduler
  named without its kind or parameters, or an epoch budget rather than the epochs run.

  Raises:
    ValueError: if `name` or `field` is unknown.
  """
  value = stated(name)[field] if field in FIELDS else None
  if value is None:
    raise ValueError(f"unknown recipe field {field!r}; valid: {', '.join(FIELDS)}")
  return value.startswith("'") and "): " in value
