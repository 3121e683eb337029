"""The write-ups (ref1.md .. ref5.md), for the tests that check our data against them.

They are not part of the repository: the checks run where the project's shared folder sits
beside the checkout (as in CI) or REFERENCE_DIR names them, and are reported as skipped, with
the reason, elsewhere (`requires_write_ups`).
"""

import os
import pathlib
import re

import pytest

from mnist_jax import published

REFERENCE_DIR = pathlib.Path(os.environ.get(
    "REFERENCE_DIR", pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference"))
requires_write_ups = pytest.mark.skipif(
    not (REFERENCE_DIR / "ref1.md").exists(),
    reason=f"the write-ups are not in {REFERENCE_DIR} (set REFERENCE_DIR to the folder with "
           "ref1.md..ref5.md to check the published numbers against them)")


def reference_file(name: str) -> str:
  """The text of write-up `name` (e.g. "ref3.md"); fails the test where it is missing."""
  path = REFERENCE_DIR / name
  if not path.exists():
    pytest.fail(f"{path} not found; set REFERENCE_DIR to the folder with ref1.md..ref5.md")
  return path.read_text()


def section(name: str) -> str:
  """Text of the write-up from record `name`'s heading to the next record's."""
  record = published.record(name)
  file_name, _, headings = record.source.partition(", ")
  text = reference_file(file_name)
  start = 0
  for heading in re.findall(r"'([^']*)'", headings):
    found = text.find(heading, start)
    assert found >= 0, f"{record.name}: heading {heading!r} not in {file_name}"
    start = found
  later = []
  for other in published.all():
    other_file, _, other_headings = other.source.partition(", ")
    if other_file == file_name and other is not record:
      last = re.findall(r"'([^']*)'", other_headings)[-1]
      position = text.find(last, start + 1)
      if position > start:
        later.append(position)
  return text[start:min(later, default=len(text))]
