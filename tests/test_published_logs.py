"""The published per-epoch logs against published.py and the write-ups."""

import dataclasses
import re

import pytest

from mnist_jax import published
from mnist_jax.published import logs as published_logs

from tests import write_ups
from tests.write_ups import requires_write_ups

NAMES = ("ref1_code4", "ref2_final_exp1", "ref4_step3", "ref4_step4", "ref5_step3",
         "ref5_step5", "ref5_step6")


def test_every_name_has_a_log_or_a_reason():
  assert published_logs.NAMES == NAMES
  assert set(published_logs.LOGS).isdisjoint(published_logs.NO_LOG)
  assert set(published_logs.LOGS) | set(published_logs.NO_LOG) == set(NAMES)
  # Only ref4 prints whole logs among these steps.
  assert set(published_logs.LOGS) == {"ref4_step3", "ref4_step4"}
  for name in NAMES:
    published.record(name)  # a known record name


@pytest.mark.parametrize("name", sorted(published_logs.LOGS))
def test_log_epochs_and_ranges(name):
  logs = published_logs.log(name)
  assert [epoch.epoch for epoch in logs] == list(range(len(logs)))
  # published.py: the ref4 logs run for 15 epochs ("EPOCH: 0" .. "EPOCH: 14").
  assert len(logs) == published.record(name).epochs == 15
  for epoch in logs:
    for accuracy in (epoch.train_accuracy, epoch.test_accuracy):
      assert accuracy is not None and 0 < accuracy <= 100, (name, epoch)
    assert epoch.learning_rate is None  # the ref4 logs print no learning rate


@pytest.mark.parametrize("name", sorted(published_logs.LOGS))
def test_log_maxima_agree_with_published(name):
  """The logs' maxima against published.py's Results figures and notes.

  published.py keeps the write-up's Results figures. For ref4 the Results' "Best Test
  Accuracy" is the last epoch's, not the log's maximum, and the "Best Train Accuracy" is
  in no line of the log; the record's note gives the log's highest test and train
  accuracies (e.g. "log: highest test 99.45 ('EPOCH: 11'), highest train 99.28
  ('EPOCH: 14')"), and those are what is asserted here.
  """
  logs = published_logs.log(name)
  record = published.record(name)
  best_test = max(logs, key=lambda epoch: epoch.test_accuracy)
  max_train = max(epoch.train_accuracy for epoch in logs)
  assert record.best_test_accuracy == logs[-1].test_accuracy
  assert best_test.test_accuracy > record.best_test_accuracy
  assert (f"highest test {best_test.test_accuracy:.2f} ('EPOCH: {best_test.epoch}')"
          in record.note)
  assert f"highest train {max_train:.2f}" in record.note
  assert max_train < record.best_train_accuracy  # Results' train figure is not in the log
  assert record.best_train_accuracy not in {epoch.train_accuracy for epoch in logs}
  # Results: "99.37 (99.45 in 12th epoch)": the Results count epochs from 1.
  assert f"({best_test.test_accuracy:.2f} in {best_test.epoch + 1}th epoch)" in record.note


def test_log_values():
  # ref4.md, Step 3: "Loss=0.025535114109516144 Batch_id=937 Accuracy=99.24: ..." and
  # "Test set: Average loss: 0.0189, Accuracy: 9945/10000 (99.45%)" after "EPOCH: 11".
  assert published_logs.log("ref4_step3")[11] == published_logs.EpochLog(11, 99.24, 99.45, None)
  # ref4.md, Step 4, "EPOCH: 0": "Accuracy=94.11" and "(98.55%)".
  assert published_logs.log("ref4_step4")[0] == published_logs.EpochLog(0, 94.11, 98.55, None)


def test_unknown_and_logless_names_raise():
  with pytest.raises(ValueError, match="unknown step 'ref6_step1'.*ref4_step3.*ref5_step6"):
    published_logs.log("ref6_step1")
  with pytest.raises(ValueError, match="'ref5_step3' has no published per-epoch log.*EPOCH: 12"):
    published_logs.log("ref5_step3")


def test_epoch_log_is_frozen():
  with pytest.raises(dataclasses.FrozenInstanceError):
    published_logs.log("ref4_step3")[0].epoch = 1  # type: ignore[misc]


# One epoch as the ref4/ref5 logs print it: the epoch, its progress line, its test line.
_EPOCH_RE = re.compile(
    r"^EPOCH: ?(\d+)[^\n]*\n"
    r"Loss=\S+ Batch_id=\d+ Accuracy=(\d+\.\d+):[^\n]*\n"
    r"(?:[^\n]*\n)??"
    r"Test set: Average loss: \S+, Accuracy: \d+/10000 \((\d+\.\d+)%\)", re.M)


@requires_write_ups
@pytest.mark.parametrize("name", sorted(published_logs.LOGS))
def test_logs_are_copied_from_their_section(name):
  section = write_ups.section(name)
  # Every number appears in the section, in order: epoch, train, then test.
  position = 0
  for epoch in published_logs.log(name):
    for printed in (f"EPOCH: {epoch.epoch}\n", f"Accuracy={epoch.train_accuracy:.2f}:",
                    f"({epoch.test_accuracy:.2f}%)"):
      found = section.find(printed, position)
      assert found >= 0, (name, epoch, printed)
      position = found + len(printed)
  # And the section prints no other epoch: an independent parse gives the same log.
  parsed = [(int(epoch), float(train), float(test))
            for epoch, train, test in _EPOCH_RE.findall(section)]
  assert section.count("EPOCH") == len(parsed)
  assert parsed == [(epoch.epoch, epoch.train_accuracy, epoch.test_accuracy)
                    for epoch in published_logs.log(name)]
  assert "LR" not in section  # no learning rate printed, hence None


@requires_write_ups
@pytest.mark.parametrize("name", sorted(published_logs.NO_LOG))
def test_logless_sections_print_at_most_one_epoch(name):
  section = write_ups.section(name)
  assert len(_EPOCH_RE.findall(section)) == section.count("EPOCH") <= 1, name
  if name.startswith("ref5"):
    # The one epoch printed is quoted, as printed, in NO_LOG.
    ((epoch, train, test),) = _EPOCH_RE.findall(section)
    reason = published_logs.NO_LOG[name]
    assert f"'EPOCH: {epoch}'" in reason and f"'Accuracy={train}'" in reason
    assert f"'({test}%)'" in reason
  else:
    assert "EPOCH" not in section and "Loss=" not in section
  for quoted in re.findall(r"'([^']+)'", published_logs.NO_LOG[name]):
    assert quoted in section, (name, quoted)
