"""The published per-epoch logs against published.py and the write-ups."""

import dataclasses
import re

import pytest

from mnist_jax import published
from mnist_jax.published import logs as published_logs

from tests import write_ups
from tests.write_ups import requires_write_ups

NAMES = ("ref1_code4", "ref2_final_exp1", "ref3_step4", "ref4_step1", "ref4_step2",
         "ref4_step3", "ref4_step4", "ref4_step5", "ref5_step3", "ref5_step5", "ref5_step6")


def test_every_name_has_a_log_or_a_reason():
  assert published_logs.NAMES == NAMES
  assert set(published_logs.LOGS).isdisjoint(published_logs.NO_LOG)
  assert set(published_logs.LOGS) | set(published_logs.NO_LOG) == set(NAMES)
  # Only ref3 (the Training Logs of its final model, Step 4) and ref4 (each of its Steps
  # 1-5) print whole logs.
  assert set(published_logs.LOGS) == {"ref3_step4", "ref4_step1", "ref4_step2", "ref4_step3",
                                      "ref4_step4", "ref4_step5"}
  order = [record.name for record in published.all()]  # write-up order; known record names
  assert list(NAMES) == sorted(NAMES, key=order.index)


@pytest.mark.parametrize("name", sorted(published_logs.LOGS))
def test_log_epochs_and_ranges(name):
  logs = published_logs.log(name)
  assert [epoch.epoch for epoch in logs] == list(range(len(logs)))
  # published.py: the ref3 and ref4 logs run for 15 epochs ("EPOCH: 0" .. "EPOCH: 14").
  assert len(logs) == published.record(name).epochs == 15
  for epoch in logs:
    for accuracy in (epoch.train_accuracy, epoch.test_accuracy):
      assert accuracy is not None and 0 < accuracy <= 100, (name, epoch)
      assert round(accuracy, 2) == accuracy, (name, epoch)  # printed to two decimals
    # A cross-entropy averaged over the test set, printed to four decimals; the highest
    # printed is 0.1389 (ref4 Step 2, EPOCH: 0).
    assert epoch.test_loss is not None and 0 < epoch.test_loss < 1, (name, epoch)
    assert round(epoch.test_loss, 4) == epoch.test_loss, (name, epoch)
    assert epoch.learning_rate is None  # the ref3 and ref4 logs print no learning rate


# A record note's claim about the log's highest accuracy and every epoch that prints it:
# "highest test 99.45 ('EPOCH: 11')", "highest train accuracy is 99.10 ('EPOCH: 14')",
# "highest train 99.61 ('EPOCH: 12', 'EPOCH: 14')".
_HIGHEST_RE = re.compile(
    r"highest (test|train)(?: accuracy is)? (\d+\.\d+) \(('EPOCH: \d+'(?:, 'EPOCH: \d+')*)\)")


@pytest.mark.parametrize("name", sorted(published_logs.LOGS))
def test_log_maxima_agree_with_published(name):
  """The logs' maxima against published.py's Results figures and notes.

  published.py keeps the write-up's Results figures, and its notes say where the log
  differs: its highest test and train accuracies and the epochs that print them. For ref4
  the Results' "Best Test Accuracy" is the last epoch's, not necessarily the log's maximum,
  and its "Best Train Accuracy" is in no line of the log. ref3's summary gives Step 4's
  highest test accuracy, and as its train figure EPOCH: 10's, not the highest.
  """
  logs = published_logs.log(name)
  record = published.record(name)
  tests = [epoch.test_accuracy for epoch in logs]
  trains = [epoch.train_accuracy for epoch in logs]
  claims = _HIGHEST_RE.findall(record.note)
  # Every note gives the log's highest train accuracy (none of the Results figures is it).
  assert "train" in {kind for kind, _, _ in claims}, record.note
  assert record.best_train_accuracy != max(trains)
  for kind, value, epochs in claims:
    values = tests if kind == "test" else trains
    assert float(value) == max(values), (name, kind)
    assert [int(e) for e in re.findall(r"EPOCH: (\d+)", epochs)] == [
        e for e, v in enumerate(values) if v == max(values)], (name, kind)
  if name.startswith("ref4_"):
    assert record.best_test_accuracy == tests[-1]  # the last epoch's
    # The note gives the highest test accuracy exactly where it is above the last epoch's.
    assert (max(tests) > tests[-1]) == ("test" in {kind for kind, _, _ in claims}), name
    assert record.best_train_accuracy not in trains  # Results' train figure is in no line
  else:
    assert name == "ref3_step4"
    best = tests.index(max(tests))
    assert record.best_test_accuracy == max(tests)
    assert f"best test {max(tests):.2f}% at 'EPOCH: {best}'" in record.note
    # "not the published 99.05 (that is EPOCH: 10's)".
    (epoch,) = re.findall(r"that is EPOCH: (\d+)'s", record.note)
    assert trains[int(epoch)] == record.best_train_accuracy < max(trains)
  # ref4 Step 3: "99.37 (99.45 in 12th epoch)": the Results count epochs from 1.
  for value, ordinal in re.findall(r"\((\d+\.\d+) in (\d+)th epoch\)", record.note):
    assert tests[int(ordinal) - 1] == float(value) == max(tests), name
  # ref4 Step 5: "99.40 in the last 3 epochs" (and not in the one before).
  for value, count in re.findall(r"(\d+\.\d+) in the last (\d+) epochs", record.note):
    count = int(count)
    assert tests[-count:] == [float(value)] * count and tests[-count - 1] != float(value), name


def test_log_values():
  epoch_log = published_logs.EpochLog
  # ref3.md, Training Logs, "EPOCH: 3": "Accuracy=98.46: ..." and
  # "Test set: Average loss: 0.0270, Accuracy: 9924/10000 (99.24%)".
  assert published_logs.log("ref3_step4")[3] == epoch_log(3, 98.46, 99.24, None, 0.0270)
  # "EPOCH: 13": "Accuracy=99.07", "Average loss: 0.0174", "(99.53%)" (the summary's best).
  assert published_logs.log("ref3_step4")[13] == epoch_log(13, 99.07, 99.53, None, 0.0174)
  # ref4.md, Step 1, "EPOCH: 0": "Accuracy=63.66", "Average loss: 0.1294", "(95.87%)".
  assert published_logs.log("ref4_step1")[0] == epoch_log(0, 63.66, 95.87, None, 0.1294)
  # ref4.md, Step 2, "EPOCH: 12": "Accuracy=98.98", "Average loss: 0.0293", "(99.10%)".
  assert published_logs.log("ref4_step2")[12] == epoch_log(12, 98.98, 99.10, None, 0.0293)
  # ref4.md, Step 3: "Loss=0.025535114109516144 Batch_id=937 Accuracy=99.24: ..." and
  # "Test set: Average loss: 0.0189, Accuracy: 9945/10000 (99.45%)" after "EPOCH: 11".
  assert published_logs.log("ref4_step3")[11] == epoch_log(11, 99.24, 99.45, None, 0.0189)
  # ref4.md, Step 4, "EPOCH: 0": "Accuracy=94.11", "Average loss: 0.0490" and "(98.55%)".
  assert published_logs.log("ref4_step4")[0] == epoch_log(0, 94.11, 98.55, None, 0.0490)
  # ref4.md, Step 5, "EPOCH: 14": "Accuracy=99.00", "Average loss: 0.0200", "(99.40%)".
  assert published_logs.log("ref4_step5")[14] == epoch_log(14, 99.00, 99.40, None, 0.0200)
  # test_loss is the last field, None by default.
  assert [field.name for field in dataclasses.fields(epoch_log)] == [
      "epoch", "train_accuracy", "test_accuracy", "learning_rate", "test_loss"]
  assert epoch_log(0, 95.1, 98.1, None).test_loss is None


def test_unknown_and_logless_names_raise():
  with pytest.raises(ValueError, match="unknown step 'ref6_step1'.*ref4_step3.*ref5_step6"):
    published_logs.log("ref6_step1")
  with pytest.raises(ValueError, match="'ref5_step3' has no published per-epoch log.*EPOCH: 12"):
    published_logs.log("ref5_step3")


def test_epoch_log_is_frozen():
  with pytest.raises(dataclasses.FrozenInstanceError):
    published_logs.log("ref4_step3")[0].epoch = 1  # type: ignore[misc]


# One epoch as the ref3/ref4/ref5 logs print it: the epoch, its progress line, its test line
# (ref4 prints a blank line between the two): epoch, train accuracy, test loss, test accuracy.
_EPOCH_RE = re.compile(
    r"^EPOCH: ?(\d+)[^\n]*\n"
    r"Loss=\S+ Batch_id=\d+ Accuracy=(\d+\.\d+):[^\n]*\n"
    r"(?:[^\n]*\n)??"
    r"Test set: Average loss: (\d+\.\d+), Accuracy: \d+/10000 \((\d+\.\d+)%\)", re.M)


@requires_write_ups
@pytest.mark.parametrize("name", sorted(published_logs.LOGS))
def test_logs_are_copied_from_their_section(name):
  section = write_ups.section(name)
  # Every number appears in the section, in order: epoch, train, test loss, then test.
  position = 0
  for epoch in published_logs.log(name):
    for printed in (f"EPOCH: {epoch.epoch}\n", f"Accuracy={epoch.train_accuracy:.2f}:",
                    f"Average loss: {epoch.test_loss:.4f},", f"({epoch.test_accuracy:.2f}%)"):
      found = section.find(printed, position)
      assert found >= 0, (name, epoch, printed)
      position = found + len(printed)
  # And the section prints no other epoch: an independent parse gives the same log.
  parsed = [(int(epoch), float(train), float(loss), float(test))
            for epoch, train, loss, test in _EPOCH_RE.findall(section)]
  assert section.count("EPOCH") == section.count("Test set:") == len(parsed)
  assert parsed == [(epoch.epoch, epoch.train_accuracy, epoch.test_loss, epoch.test_accuracy)
                    for epoch in published_logs.log(name)]
  # No learning rate printed, hence None: ref5's logs print one as "EPOCH:14 | LR: [0.0086...]"
  # (ref3's section heading "## [4. LR Scheduler](Model_04)" names the scheduler only).
  assert "LR:" not in section and section.count("LR") == section.count("LR Scheduler")


@requires_write_ups
@pytest.mark.parametrize("name", sorted(published_logs.NO_LOG))
def test_logless_sections_print_at_most_one_epoch(name):
  section = write_ups.section(name)
  assert len(_EPOCH_RE.findall(section)) == section.count("EPOCH") <= 1, name
  if name.startswith("ref5"):
    # The one epoch printed is quoted, as printed, in NO_LOG.
    ((epoch, train, _, test),) = _EPOCH_RE.findall(section)
    reason = published_logs.NO_LOG[name]
    assert f"'EPOCH: {epoch}'" in reason and f"'Accuracy={train}'" in reason
    assert f"'({test}%)'" in reason
  else:
    assert "EPOCH" not in section and "Loss=" not in section
  for quoted in re.findall(r"'([^']+)'", published_logs.NO_LOG[name]):
    assert quoted in section, (name, quoted)
