"""Plots write readable PNGs and leave matplotlib's global state alone."""

import json
import pathlib
import subprocess
import sys

import matplotlib
from matplotlib import image as mpimg
import numpy as np
import pytest

from mnist_jax.published import logs as published_logs
from mnist_jax.training import plots
from mnist_jax.training import run_files


def _history(num_epochs=4, seeds=None):
  rng = np.random.default_rng(0)
  history = []
  for epoch in range(1, num_epochs + 1):
    def value(center):
      if seeds is None:
        return float(center + 0.01 * rng.random())
      return [float(center + 0.01 * rng.random()) for _ in range(seeds)]
    history.append({"epoch": epoch, "train_loss": value(1.0 / epoch),
                    "train_accuracy": value(90 + epoch), "test_loss": value(0.5 / epoch),
                    "test_accuracy": value(95 + epoch)})
  return history


def _read_png(path, min_height, min_width):
  assert path.exists() and path.stat().st_size > 1000
  pixels = mpimg.imread(path)
  assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
  assert pixels.shape[0] >= min_height and pixels.shape[1] >= min_width
  assert pixels[..., :3].std() > 0.01  # something was drawn
  return pixels


def test_plot_curves(tmp_path):
  path = plots.plot_curves(_history(), tmp_path / "curves" / "curves.png", title="ref3_step4")
  assert path == tmp_path / "curves" / "curves.png"
  pixels = _read_png(path, 800, 1100)
  assert pixels.shape[:2] == (900, 1200)


def test_plot_curves_with_step_losses(tmp_path):
  step_losses = np.exp(-np.linspace(0, 3, 4 * 50)) + 0.01
  path = plots.plot_curves(_history(), tmp_path / "curves.png", step_losses=step_losses)
  _read_png(path, 800, 1100)


def test_moving_average_values_and_errors():
  np.testing.assert_allclose(plots.moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 2), [1.5, 2.5, 3.5, 4.5])
  np.testing.assert_allclose(plots.moving_average([1.0, 2.0, 6.0], 3), [3.0])
  np.testing.assert_allclose(plots.moving_average([4.0, 2.0], 1), [4.0, 2.0])
  with pytest.raises(ValueError, match="window must be in 1..3"):
    plots.moving_average([1.0, 2.0, 3.0], 4)
  with pytest.raises(ValueError, match="window must be in 1..3"):
    plots.moving_average([1.0, 2.0, 3.0], 0)
  with pytest.raises(ValueError, match="values must be 1-D"):
    plots.moving_average(np.ones((2, 3)), 2)


def test_plot_curves_multi_seed(tmp_path):
  history = _history(seeds=3)
  multi = _read_png(plots.plot_curves(history, tmp_path / "multi.png"), 800, 1100)
  # The seed lines differ from a plot of the mean alone.
  mean_history = [{key: float(np.mean(value)) for key, value in entry.items()}
                  for entry in history]
  mean_only = _read_png(plots.plot_curves(mean_history, tmp_path / "mean.png"), 800, 1100)
  assert multi.shape == mean_only.shape and not np.array_equal(multi, mean_only)
  step_losses = np.random.default_rng(1).random((3, 200))
  _read_png(plots.plot_curves(history, tmp_path / "steps.png", step_losses=step_losses),
            800, 1100)


@pytest.mark.parametrize("history,message", [
    ([], "history is empty"),
    ([{"epoch": 1, "train_loss": 1.0, "train_accuracy": 90.0, "test_loss": 1.0}],
     "test_accuracy"),
    ([{"epoch": 1, "train_loss": [1.0, 2.0], "train_accuracy": [90.0, 91.0],
       "test_loss": [1.0, 1.1], "test_accuracy": [95.0, 96.0]},
      {"epoch": 2, "train_loss": [1.0], "train_accuracy": [90.0],
       "test_loss": [1.0], "test_accuracy": [95.0]}], "differ in length"),
    ([{"epoch": 1, "train_loss": [1.0, 2.0], "train_accuracy": 90.0,
       "test_loss": 1.0, "test_accuracy": 95.0}], "same number of seeds"),
])
def test_plot_curves_rejects_bad_history(tmp_path, history, message):
  with pytest.raises(ValueError, match=message):
    plots.plot_curves(history, tmp_path / "bad.png")


def test_plot_learning_rate(tmp_path):
  steps = np.arange(15 * 100)
  rates = 0.05 * 0.1 ** (steps // 600)
  path = plots.plot_learning_rate(rates, tmp_path / "lr.png", steps_per_epoch=100)
  _read_png(path, 300, 700)
  _read_png(plots.plot_learning_rate(list(rates[:10]), tmp_path / "lr_short.png"), 300, 700)
  with pytest.raises(ValueError, match="1-D"):
    plots.plot_learning_rate(np.zeros((2, 3)), tmp_path / "bad.png")
  with pytest.raises(ValueError, match="steps_per_epoch"):
    plots.plot_learning_rate(rates, tmp_path / "bad.png", steps_per_epoch=0)


def test_plot_misclassified_uint8_full_grid(tmp_path):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, size=(40, 28, 28, 1), dtype=np.uint8)
  labels = rng.integers(0, 10, size=40)
  predictions = (labels + 1) % 10  # all wrong
  path = plots.plot_misclassified(images, labels, predictions, tmp_path / "wrong.png")
  pixels = _read_png(path, 500, 500)
  assert pixels.shape[:2] == (5 * 210, 5 * 190)  # 25 shown in a 5 x 5 grid


def test_plot_misclassified_fewer_than_max_and_float(tmp_path):
  rng = np.random.default_rng(1)
  images = ((rng.random((10, 28, 28, 1)) - 0.1307) / 0.3081).astype(np.float32)
  labels = np.arange(10)
  predictions = labels.copy()
  predictions[[2, 5, 7]] = [3, 6, 1]  # three misclassified
  path = plots.plot_misclassified(images, labels, predictions, tmp_path / "few.png")
  pixels = _read_png(path, 150, 400)
  assert pixels.shape[:2] == (210, 3 * 190)  # one row of three


def test_plot_misclassified_none_wrong(tmp_path):
  labels = np.arange(5)
  path = plots.plot_misclassified(np.zeros((5, 28, 28), np.uint8), labels, labels,
                                  tmp_path / "none.png")
  _read_png(path, 150, 300)


def test_plot_misclassified_rejects_bad_shapes(tmp_path):
  with pytest.raises(ValueError, match="labels"):
    plots.plot_misclassified(np.zeros((5, 28, 28, 1)), np.arange(4), np.arange(4),
                             tmp_path / "bad.png")
  with pytest.raises(ValueError, match="images"):
    plots.plot_misclassified(np.zeros((5, 28)), np.arange(5), np.arange(5),
                             tmp_path / "bad.png")


# Every plot drawn in a fresh interpreter; then whether pyplot (and with it the global figure
# registry) was imported. Nothing here may import it: `matplotlib.get_backend()` does, where
# no backend was chosen yet, so the backend is read as set (`rcParams` unresolved) instead.
_PLOT_EVERYTHING = """
import json, pathlib, sys
import matplotlib
import numpy as np
from mnist_jax.training import plots
from tests.test_plots import _history
folder = pathlib.Path(sys.argv[1])
backend = dict.__getitem__(matplotlib.rcParams, "backend")
plots.plot_curves(_history(), folder / "a.png")
plots.plot_curves(_history(seeds=3), folder / "b.png")
plots.plot_learning_rate(np.ones(10), folder / "c.png")
labels = np.arange(5)
plots.plot_misclassified(np.zeros((5, 28, 28), np.uint8), labels, (labels + 1) % 10,
                         folder / "d.png")
after = dict.__getitem__(matplotlib.rcParams, "backend")
print(json.dumps({"pyplot": "matplotlib.pyplot" in sys.modules,
                  "backend": [str(backend), str(after)]}))
"""


def test_no_global_matplotlib_state(tmp_path):
  backend = matplotlib.get_backend()
  plots.plot_curves(_history(), tmp_path / "a.png")
  plots.plot_learning_rate(np.ones(10), tmp_path / "b.png")
  assert matplotlib.get_backend() == backend
  # In a fresh interpreter, so that whether pyplot is imported depends on the plots alone.
  result = subprocess.run([sys.executable, "-c", _PLOT_EVERYTHING, str(tmp_path)],
                          cwd=pathlib.Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  state = json.loads(result.stdout.strip().splitlines()[-1])
  assert state["pyplot"] is False, state
  assert state["backend"][0] == state["backend"][1], state
  for name in ("a.png", "b.png", "c.png", "d.png"):
    assert (tmp_path / name).stat().st_size > 1000, name


def test_curves_of_a_published_step_draw_ours_beside_the_write_ups_log():
  published = run_files.published_curves("ref4_step3")
  log = published_logs.log("ref4_step3")
  assert published == {"train_accuracy": [e.train_accuracy for e in log],
                       "test_loss": [e.test_loss for e in log],
                       "test_accuracy": [e.test_accuracy for e in log]}
  history = [{"epoch": e, "train_loss": 0.1, "train_accuracy": 98.0, "test_loss": 0.03,
              "test_accuracy": 99.0 + e / 100} for e in range(15)]
  figure = plots.curves_figure(history, published=published, published_label="published (ref4.md)")
  train_loss, train_accuracy, test_loss, test_accuracy = figure.axes[:4]
  assert len(train_loss.lines) == 1  # the write-up prints no per-epoch training loss
  for axes, key in ((train_accuracy, "train_accuracy"), (test_loss, "test_loss"),
                    (test_accuracy, "test_accuracy")):
    assert [line.get_label() for line in axes.lines] == ["ours", "published (ref4.md)"]
    np.testing.assert_array_equal(axes.lines[1].get_ydata(), published[key])
    np.testing.assert_array_equal(axes.lines[0].get_ydata(), [r[key] for r in history])


def test_steps_without_a_published_log_draw_ours_alone():
  assert run_files.published_curves("final") is None
  assert run_files.published_curves("ref5_step3") is None  # prints its best epoch only
  figure = plots.curves_figure(_history(), published=run_files.published_curves("final"))
  assert [len(axes.lines) for axes in figure.axes[:4]] == [1, 1, 1, 1]
