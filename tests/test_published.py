"""The published numbers against the write-ups they come from."""

import re

import jax
import jax.numpy as jnp
import pytest

from mnist_jax import models
from mnist_jax import published
from mnist_jax.models import table as model_table

from tests import write_ups
from tests.write_ups import requires_write_ups

EXPECTED_NAMES = (
    [f"ref1_code{i}" for i in range(1, 6)]
    + ["ref2_model_init", "ref2_net1", "ref2_net2", "ref2_final_exp1", "ref2_final_exp2",
       "ref2_final"]
    + [f"ref3_step{i}" for i in range(1, 5)]
    + [f"ref4_step{i}" for i in range(1, 6)]
    + [f"ref5_step{i}" for i in range(1, 8)]
)


def test_names_unique_and_complete():
  names = [record.name for record in published.all()]
  assert len(names) == len(set(names))
  assert names == EXPECTED_NAMES


def test_models_are_registry_names():
  models = {record.model for record in published.all()}
  assert models == set(EXPECTED_NAMES) - {"ref2_final_exp1", "ref2_final_exp2"}
  assert published.record("ref2_final_exp1").model == "ref2_final"


# Spot checks typed from the write-ups; the comment is the line they come from.
def test_spot_checks():
  # ref1.md, Code 2: "- Parameters :4990" and "Model has 8790 paramter ..."
  code2 = published.record("ref1_code2")
  assert code2.params == 4990
  assert 8790 in numbers_in(code2.note)
  # ref1.md, Code 5: "- Best Test Accuracy: 99.41"
  assert published.record("ref1_code5").best_test_accuracy == 99.41
  # ref2.md: "Fixed hyperparameters:  batch Size: 128<br>"
  assert published.record("ref2_net1").batch_size == 128
  # ref2.md, Net2: "1. Training accuracy: 99<br>"
  assert published.record("ref2_net2").best_train_accuracy == 99.0
  assert published.record("ref2_net2").epochs == 20
  # ref2.md, Experiments3: "2. Test accuracy: 99.46<br>"
  assert published.record("ref2_final").best_test_accuracy == 99.46
  # ref3.md: "    Best Test Acc - 99.53% (Increase)"
  step4 = published.record("ref3_step4")
  assert (step4.params, step4.best_test_accuracy) == (9436, 99.53)
  # ref3.md log: "... 235/235 [00:19<00:00, 11.79it/s]"
  assert step4.batch_size == 256
  # ref4.md, Step 3: "Best Test Accuracy: 99.37 (99.45 in 12th epoch)"
  step3 = published.record("ref4_step3")
  assert step3.best_test_accuracy == 99.37 and 99.45 in numbers_in(step3.note)
  # ref4.md, Step 1: "Parameters: 185,930 \"
  assert published.record("ref4_step1").params == 185930
  # ref5.md, Step 7: "Test set: Average loss: 0.0178, Accuracy: 9947/10000 (99.47%)"
  # and "Loss=0.018181532621383667 Batch_id=937 Accuracy=99.04: ..."
  step7 = published.record("ref5_step7")
  assert (step7.best_test_accuracy, step7.best_train_accuracy) == (99.47, 99.04)
  assert step7.batch_size == 64 and "OneCycleLR" in step7.schedule
  # ref5.md, Step 4: "Loss=0.013936594128608704 Batch_id=468 Accuracy=98.98: ...
  #   469/469" and "(99.07%)"
  step = published.record("ref5_step4")
  assert (step.params, step.best_train_accuracy, step.best_test_accuracy,
          step.batch_size) == (9496, 98.98, 99.07, 128)


def test_final_models():
  finals = published.final_models()
  assert finals == {"ref1": "ref1_code5", "ref2": "ref2_final", "ref3": "ref3_step4",
                    "ref4": "ref4_step5", "ref5": "ref5_step7"}
  for experiment, name in finals.items():
    assert published.record(name).experiment == experiment
  # README.md summary table: params and best test accuracy of the final models.
  figures = {name: (published.record(name).params,
                    published.record(name).best_test_accuracy)
             for name in finals.values()}
  assert figures == {"ref1_code5": (7904, 99.41), "ref2_final": (7958, 99.46),
                     "ref3_step4": (9436, 99.53), "ref4_step5": (9426, 99.40),
                     "ref5_step7": (6376, 99.47)}


def test_unknown_name_lists_known_names():
  with pytest.raises(ValueError, match="unknown reference record 'ref6_step1'.*ref3_step4"):
    published.record("ref6_step1")


def test_records_are_frozen():
  record = published.record("ref1_code1")
  with pytest.raises(AttributeError):
    record.params = 1  # type: ignore[misc]


# A number as the write-ups print it ("99", "99.07", "7,958", "185930"), not part of a longer
# one or of a word: "99" in "99.07", "0.0" in "0.05" or "1" in "ref1" are not numbers here.
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?!\w|[.,]\d)")


def numbers_in(text: str) -> set[float]:
  """The numbers printed in `text`, parsed ("7,958" -> 7958.0, "99" -> 99.0)."""
  return {float(number.replace(",", "")) for number in _NUMBER.findall(text)}


def test_numbers_in_parses_whole_numbers_only():
  assert numbers_in("Parameters :4990, Total params: 185,930 (99.07%) ref1 x2") == {
      4990.0, 185930.0, 99.07}
  assert 99.0 not in numbers_in("Accuracy=99.07") and 0.0 not in numbers_in("lr 0.05")
  assert numbers_in("Training accuracy: 99<br> EPOCH: 11\n") == {99.0, 11.0}


def _progress_bar(steps: int) -> re.Pattern[str]:
  return re.compile(rf"(?<!\d){steps}/{steps}(?!\d)")


@requires_write_ups
@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_numbers_appear_in_their_source_section(name):
  """Every record has a source whose section states its params and accuracies."""
  record = published.record(name)
  assert record.source.startswith(f"{record.experiment}.md, '")
  section = write_ups.section(record.name)
  printed = numbers_in(section)
  for value in (record.params, record.best_train_accuracy, record.best_test_accuracy):
    assert value in printed, (name, value)
  if record.batch_size == 64:
    assert _progress_bar(938).search(section)
  if record.batch_size == 128 and record.experiment == "ref5":
    assert _progress_bar(469).search(section)
  if record.batch_size == 256:
    assert _progress_bar(235).search(section)


# The write-ups' index, "What each file specifies exactly", typed from its three lists.
EXPECTED_ARCHITECTURE = {
    **{name: published.RECONSTRUCTION for name in
       ["ref1_code1", "ref1_code2", "ref1_code3", "ref4_step1"]
       + [f"ref5_step{i}" for i in range(1, 8)]},
    **{name: published.PUBLISHED_TABLE for name in
       ["ref1_code4", "ref1_code5", "ref2_model_init", "ref2_net2", "ref2_final_exp1",
        "ref2_final_exp2", "ref2_final", "ref3_step2", "ref3_step3", "ref3_step4"]},
    **{name: published.DERIVED for name in
       ["ref2_net1", "ref3_step1", "ref4_step2", "ref4_step3", "ref4_step4", "ref4_step5"]},
}


def test_architecture_follows_the_readme():
  assert published.ARCHITECTURES == ("published table", "derived", "reconstruction")
  assert {record.name: record.architecture for record in published.all()} == EXPECTED_ARCHITECTURE


def test_known_architectures_are_registered_with_the_published_count():
  """A network known exactly (table or derivation) is in the registry with the published size."""
  for record in published.all():
    if record.architecture == published.RECONSTRUCTION:
      continue
    assert record.model in models.names(), record.name
    model = models.create(record.model)
    variables = jax.eval_shape(lambda m=model: m.init(
        {"params": jax.random.key(0)}, jnp.zeros((1, 28, 28, 1)), train=False))
    assert model_table.count_params(variables) == record.params, record.name
