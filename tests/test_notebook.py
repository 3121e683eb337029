"""notebooks/step_by_step.ipynb runs top to bottom at its small size, and is what its builder
(notebooks/build_step_by_step.py) writes.

Nothing here is skipped: without nbclient, nbformat or ipykernel (the test extra) these tests
fail, as a notebook that CI has not run could be broken.
"""

import importlib.util
import pathlib
import re

import nbclient
import nbformat
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "notebooks" / "step_by_step.ipynb"
BUILDER = REPO_ROOT / "notebooks" / "build_step_by_step.py"
STEPS = ("step1", "step2", "step3", "step4")
# The small size's test set (the notebook's parameters cell): 1,000 images.
TEST_LINE = re.compile(r"Test set: Average loss: \d+\.\d{4}, Accuracy: \d+/1000 \(\d+\.\d{2}%\)")


def _builder():
  spec = importlib.util.spec_from_file_location("build_step_by_step", BUILDER)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _cells(notebook) -> list[tuple[str, str, str]]:
  return [(cell.cell_type, cell.get("id"), cell.source) for cell in notebook.cells]


def _stdout(cell) -> str:
  return "".join(output.get("text", "") for output in cell.outputs
                 if output.output_type == "stream" and output.name == "stdout")


def _data(cell, mime: str) -> list[str]:
  return [output.data[mime] for output in cell.outputs
          if output.output_type in ("display_data", "execute_result") and mime in output.data]


def test_committed_notebook_is_what_the_builder_writes():
  committed = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(committed)
  assert _cells(committed) == _cells(_builder().build()), (
      "notebooks/step_by_step.ipynb differs from its builder: run "
      "`python notebooks/build_step_by_step.py --execute` and commit both")


@pytest.mark.slow
def test_notebook_runs_at_small_size(monkeypatch, tmp_path):
  monkeypatch.setenv("MNIST_JAX_NOTEBOOK_SMALL", "1")
  monkeypatch.setenv("MNIST_JAX_NOTEBOOK_WORKDIR", str(tmp_path))  # the kernel inherits both
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                   resources={"metadata": {"path": str(REPO_ROOT)}})
  client.execute()  # raises CellExecutionError, naming the cell, where one fails

  cells = {cell.get("id"): cell for cell in notebook.cells}
  assert "small run:" in _stdout(cells["parameters"])
  for step in STEPS:
    summary = _stdout(cells[f"summary-{step}"])
    assert "Layer (type)" in summary and "Receptive field of the output:" in summary, step
    lines = TEST_LINE.findall(_stdout(cells[f"train-{step}"]))
    assert len(lines) == 2, f"{step}: expected a test line per epoch (2), got {lines}"
    for image in ("curves", "published", "misclassified"):
      assert len(_data(cells[f"{image}-{step}"], "image/png")) == 1, (step, image)
    assert (tmp_path / "small" / f"ref3_{step}" / "summary.json").is_file(), step
  assert len(_data(cells["learning-rate-step4"], "image/png")) == 1

  (table,) = _data(cells["results"], "text/markdown")
  rows = [line for line in table.splitlines() if re.match(r"\| Step \d \|", line)]
  assert len(rows) == len(STEPS), table
  for step in STEPS:
    assert f"`ref3_{step}`" in table, table
  assert "Small run" in table
