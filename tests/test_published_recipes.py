"""What the write-ups state about each step's recipe, against published.py and the write-ups."""

import math
import re

import pytest

from mnist_jax import published
from mnist_jax.published import recipes as published_recipes

from tests import write_ups
from tests.write_ups import requires_write_ups

NAMES = [record.name for record in published.all()]
FIELDS = ("batch_size", "num_epochs", "learning_rate", "momentum", "weight_decay", "schedule",
          "dropout_rate", "rotation_degrees")
NOT_STATED = published_recipes.NOT_STATED

# Per record, one mark per field of FIELDS: Q quoted, D derived from a log, - not stated.
EXPECTED_MARKS = {
    **{f"ref1_code{i}": "--------" for i in range(1, 6)},
    "ref2_model_init": "Q-------",
    "ref2_net1": "Q-------",
    "ref2_net2": "QQ------",
    "ref2_final_exp1": "Q-------",
    "ref2_final_exp2": "Q----Q--",
    "ref2_final": "Q----Q--",
    **{f"ref3_step{i}": "-Q------" for i in range(1, 4)},
    "ref3_step4": "DD---Q--",
    **{f"ref4_step{i}": "DD------" for i in range(1, 5)},
    "ref4_step5": "DD---Q--",
    **{f"ref5_step{i}": "D-------" for i in range(1, 7)},
    "ref5_step7": "D-D--Q--",
}


def _mark(value: str) -> str:
  if value == NOT_STATED:
    return "-"
  return "D" if value.startswith(published_recipes.DERIVED) else "Q"


def _quoted(text: str) -> list[str]:
  return re.findall(r"'([^']+)'", text)


def test_every_record_has_every_field():
  assert published_recipes.FIELDS == FIELDS
  assert list(published_recipes.STATED) == NAMES  # published.all() order
  for name in NAMES:
    recipe = published_recipes.stated(name)
    assert tuple(recipe) == FIELDS, name
    for field, value in recipe.items():
      assert published_recipes.is_stated(name, field) == (value != NOT_STATED)
      if value == NOT_STATED:
        continue
      # A statement opens with its quote or with "derived: ", cites its write-up, and has no
      # apostrophe outside its quotes (so the quotes can be read off it).
      assert value.strip() == value and len(value) > len(published_recipes.DERIVED), (name, field)
      assert value.startswith(("'", published_recipes.DERIVED)), (name, field)
      assert value.count("'") % 2 == 0 and _quoted(value), (name, field)
      assert f"({name.split('_')[0]}.md, " in value, (name, field)


def test_marks():
  marks = {name: "".join(_mark(value) for value in published_recipes.stated(name).values())
           for name in NAMES}
  assert marks == EXPECTED_MARKS


def test_nothing_states_optimizer_details():
  # No write-up prints training code: momentum, weight decay, a dropout rate or a rotation
  # angle appear nowhere; the one learning rate is read off ref5 Step 7's printed rate.
  for name in NAMES:
    recipe = published_recipes.stated(name)
    for field in ("momentum", "weight_decay", "dropout_rate", "rotation_degrees"):
      assert recipe[field] == NOT_STATED, (name, field)
    assert (recipe["learning_rate"] == NOT_STATED) == (name != "ref5_step7"), name


def test_stated_returns_a_copy():
  published_recipes.stated("ref4_step3")["momentum"] = "changed"
  assert published_recipes.stated("ref4_step3")["momentum"] == NOT_STATED


def test_unknown_names_and_fields_raise():
  with pytest.raises(ValueError, match="unknown step 'ref6_step1'.*ref1_code1.*ref5_step7"):
    published_recipes.stated("ref6_step1")
  with pytest.raises(ValueError, match="unknown step"):
    published_recipes.is_stated("ref6_step1", "momentum")
  with pytest.raises(ValueError, match="unknown recipe field 'nesterov'.*batch_size"):
    published_recipes.is_stated("ref4_step3", "nesterov")


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_published(name):
  """Where published.py holds the same fact, both agree."""
  record = published.record(name)
  recipe = published_recipes.stated(name)
  # A batch size is in published.py exactly when the write-up states it or its log gives it.
  if record.batch_size is None:
    assert recipe["batch_size"] == NOT_STATED
  elif _mark(recipe["batch_size"]) == "D":
    assert recipe["batch_size"].startswith(f"derived: {record.batch_size}, ")
  else:
    assert f": {record.batch_size}'" in recipe["batch_size"]
  # published.py has 15 epochs unless the write-up says otherwise; any number stated is its.
  if record.epochs != 15:
    assert published_recipes.is_stated(name, "num_epochs")
  if _mark(recipe["num_epochs"]) == "D":
    assert recipe["num_epochs"].startswith(f"derived: {record.epochs}, ")
  elif _mark(recipe["num_epochs"]) == "Q":
    assert f"within {record.epochs} epochs'" in recipe["num_epochs"]
  # A schedule is described in published.py exactly when the write-up describes one.
  assert (record.schedule is None) == (recipe["schedule"] == NOT_STATED)
  if "OneCycleLR" in (record.schedule or ""):
    assert "OneCycleLR" in recipe["schedule"]
  # An angle could only be stated for a step that augments with rotation.
  if published_recipes.is_stated(name, "rotation_degrees"):
    assert "rotation" in (record.augmentation or "").lower()
  # Log fragments a value is derived from are those published.py's note cites, if any.
  if "LR: [" in recipe["learning_rate"]:
    (printed,) = [q for q in _quoted(recipe["learning_rate"]) if q.startswith("LR: [")]
    assert printed in record.note


def _one_cycle_lr(step: int, max_lr: float, total_steps: int, pct_start: float = 0.3,
                  div_factor: float = 25.0, final_div_factor: float = 1e4) -> float:
  """torch.optim.lr_scheduler.OneCycleLR's rate after `step` steps (two phases, cos)."""
  initial_lr = max_lr / div_factor
  phases = ((float(pct_start * total_steps) - 1, initial_lr, max_lr),
            (total_steps - 1, max_lr, initial_lr / final_div_factor))
  start = 0.0
  for end, start_lr, end_lr in phases:
    if step <= end or end == total_steps - 1:
      pct = (step - start) / (end - start)
      return end_lr + (start_lr - end_lr) / 2.0 * (math.cos(math.pi * pct) + 1)
    start = end
  raise AssertionError("unreachable")


def test_ref5_step7_one_cycle_reproduces_the_printed_rate():
  # The schedule stated for ref5 Step 7, at 938 batches per epoch, gives the printed rate
  # exactly after 13 epochs of steps (and not after 14).
  recipe = published_recipes.stated("ref5_step7")
  assert "OneCycleLR(max_lr=0.1, epochs=15, steps_per_epoch=938)" in recipe["schedule"]
  assert "after 13 x 938 steps" in recipe["schedule"]
  assert recipe["learning_rate"].startswith("derived: 0.1, ")
  printed = float(re.search(r"'LR: \[([0-9.]+)\]'", recipe["learning_rate"]).group(1))
  assert _one_cycle_lr(13 * 938, 0.1, 15 * 938) == printed
  assert _one_cycle_lr(14 * 938, 0.1, 15 * 938) != pytest.approx(printed, rel=1e-3)


@requires_write_ups
@pytest.mark.parametrize("name", NAMES)
def test_quotes_are_in_the_write_up(name):
  file_name = published.record(name).source.partition(", ")[0]
  text = write_ups.reference_file(file_name)
  section = write_ups.section(name)
  for field, value in published_recipes.stated(name).items():
    quoted, _, derived = value.partition(published_recipes.DERIVED)
    # Quotes come from anywhere in the write-up (ref2 states its batch size once, above its
    # models); what a value is derived from, from the step's own section.
    for fragment in _quoted(quoted):
      assert fragment in text, (name, field, fragment)
    for fragment in _quoted(derived):
      assert fragment in section, (name, field, fragment)


@requires_write_ups
@pytest.mark.parametrize("name", NAMES)
def test_derived_values_follow_from_the_log(name):
  section = write_ups.section(name)
  recipe = published_recipes.stated(name)
  # Every progress line of the section shows the same number of batches per epoch.
  totals = {int(total) for done, total in re.findall(r"\| (\d+)/(\d+) \[", section)
            if done == total}
  assert bool(totals) == (_mark(recipe["batch_size"]) == "D"), name
  if _mark(recipe["batch_size"]) == "D":
    batch = int(re.match(r"derived: (\d+), ", recipe["batch_size"]).group(1))
    assert totals == {math.ceil(60000 / batch)}, name
    assert f"'{math.ceil(60000 / batch)}/{math.ceil(60000 / batch)}'" in recipe["batch_size"]
  # A whole log, EPOCH: 0 to its last, gives the number of epochs; an excerpt gives none.
  epochs = [int(epoch) for epoch in re.findall(r"EPOCH: ?(\d+)", section)]
  if _mark(recipe["num_epochs"]) == "D":
    count = int(re.match(r"derived: (\d+), ", recipe["num_epochs"]).group(1))
    assert epochs == list(range(count)), name
  else:
    assert len(epochs) <= 1, name


# Words that would state a field; a field not stated must find none in its step's section.
# Epochs are left out: the sections name epochs as results ("12th epoch", "less than 15
# epochs"), and the number run is checked through the logs above.
_STATING = {
    "batch_size": (r"batch\s*_?size",),
    "learning_rate": (r"\blr\s*[=:]", r"learning rate\s*(of|=|:)\s*\d"),
    "momentum": (r"momentum",),
    "weight_decay": (r"weight[_ ]decay", r"l2 regulari"),
    "schedule": (r"schedul", r"onecycle", r"step ?lr", r"plateau", r"step_size", r"gamma"),
    "dropout_rate": (r"dropout\w*\s*\(\s*(p\s*=\s*)?0?\.\d", r"\bp\s*=", r"dropout (rate|of)"),
    # ("degree" alone: ref4 Step 2's "Overfitting of lower degree".)
    "rotation_degrees": (r"degrees", r"\d\s*deg", "°", "±", r"rotation\s*\("),
}


@requires_write_ups
@pytest.mark.parametrize("name", NAMES)
def test_sections_state_nothing_called_not_stated(name):
  section = write_ups.section(name).lower()
  for field, patterns in _STATING.items():
    if published_recipes.is_stated(name, field):
      continue
    for pattern in patterns:
      assert not re.search(pattern, section), (name, field, pattern)


def test_partly_stated_fields_are_qualified_quotes():
  # A scheduler named without its kind or parameters is stated in part; a log-derived or fully
  # quoted value is not partial; an unstated field is neither.
  assert published_recipes.is_partly_stated("ref3_step4", "schedule")
  assert published_recipes.is_partly_stated("ref2_net2", "num_epochs")
  assert not published_recipes.is_partly_stated("ref3_step4", "batch_size")
  assert not published_recipes.is_partly_stated("ref2_net1", "batch_size")
  assert not published_recipes.is_partly_stated("ref5_step7", "schedule")
  assert not published_recipes.is_partly_stated("ref1_code4", "learning_rate")
  with pytest.raises(ValueError, match="unknown recipe field 'lr'; valid: batch_size"):
    published_recipes.is_partly_stated("ref1_code4", "lr")
