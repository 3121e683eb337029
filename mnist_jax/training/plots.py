"""Training curves, learning-rate and misclassified-image plots (PNG files), as the references'
"Training Graphs" and "Misclassified Images"; each on its own Agg `Figure`, never pyplot."""

from __future__ import annotations

import math
import os
import pathlib
from typing import Any, Mapping, Sequence

from matplotlib.backends import backend_agg
from matplotlib import figure as figure_lib
import numpy as np

HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy")

_SEED_STYLE = dict(linewidth=0.8, alpha=0.45)
_MEAN_STYLE = dict(linewidth=2.0, color="black")
_PUBLISHED_STYLE = dict(linewidth=1.5, color="tab:orange", linestyle="--", marker="o", markersize=3)


def new_figure(width: float, height: float) -> figure_lib.Figure:
  """A matplotlib Figure (width x height inches, 100 dpi) on the Agg canvas, no pyplot state."""
  figure = figure_lib.Figure(figsize=(width, height), dpi=100, layout="constrained")
  backend_agg.FigureCanvasAgg(figure)
  return figure


def save_figure(figure: figure_lib.Figure, path: str | os.PathLike[str]) -> pathlib.Path:
  """Writes `figure` as a PNG to `path` (creating its folder); returns the path."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  figure.savefig(path, format="png")
  return path


def _series(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
  """[epochs] for one run or [epochs, seeds] when each value is a list."""
  values = [entry[key] for entry in history]
  per_seed = [np.ndim(value) == 1 for value in values]
  if any(per_seed) and not all(per_seed):
    raise ValueError(f"history[*][{key!r}] mixes scalars and per-seed lists; use one kind")
  try:
    array = np.asarray(values, dtype=np.float64)
  except ValueError:
    raise ValueError(f"history[*][{key!r}] per-seed lists differ in length; "
                     "every epoch needs one value per seed") from None
  if array.ndim not in (1, 2):
    raise ValueError(f"history[*][{key!r}] must be a number or a 1-D list per epoch, "
                     f"got shape {array.shape[1:]}")
  return array


def _draw(axes, x: np.ndarray, y: np.ndarray, label: str | None = None) -> None:
  """One line (labelled `label`), or one thin line per seed (columns of y) plus their mean."""
  if y.ndim == 1:
    axes.plot(x, y, label=label, **_MEAN_STYLE)
    if label:
      axes.legend(fontsize=7)
    return
  for seed in range(y.shape[1]):
    axes.plot(x, y[:, seed], label=f"seed {seed}" if seed < 10 else None, **_SEED_STYLE)
  axes.plot(x, y.mean(axis=1), label=f"mean of {y.shape[1]} seeds", **_MEAN_STYLE)
  axes.legend(fontsize=7)


def moving_average(values: np.ndarray | Sequence[float], window: int) -> np.ndarray:
  """Mean of each run of `window` consecutive values: float [steps] -> [steps - window + 1]
  (element i is the mean of values[i : i + window]).

  Raises:
    ValueError: window < 1 or longer than `values`, or `values` not 1-D.
  """
  values = np.asarray(values, dtype=np.float64)
  if values.ndim != 1:
    raise ValueError(f"values must be 1-D, got shape {values.shape}")
  if not 1 <= window <= len(values):
    raise ValueError(f"window must be in 1..{len(values)} (the number of values), got {window}")
  return np.convolve(values, np.full(window, 1.0 / window), mode="valid")


def _draw_step_losses(axes, losses: np.ndarray) -> None:
  """Per-step loss [steps] or [seeds, steps] (mean over seeds) thin, its moving average over
  1 % of the steps thick (thousands of noisy steps alone fill the panel solid)."""
  per_step = losses if losses.ndim == 1 else losses.mean(axis=0)
  window = max(1, len(per_step) // 100)
  seeds = "" if losses.ndim == 1 else f" (mean of {losses.shape[0]} seeds)"
  axes.plot(np.arange(len(per_step)), per_step, color="tab:gray", linewidth=0.5, alpha=0.5,
            label=f"per step{seeds}")
  axes.plot(np.arange(window - 1, len(per_step)), moving_average(per_step, window),
            label=f"moving average over {window} steps", **_MEAN_STYLE)
  axes.legend(fontsize=7)


def plot_curves(history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str],
                step_losses: np.ndarray | Sequence[float] | None = None,
                title: str | None = None,
                published: Mapping[str, Sequence[float]] | None = None,
                published_label: str = "published") -> pathlib.Path:
  """Writes `curves_figure(...)` as a PNG to `path` (creating its folders); returns the path."""
  return save_figure(curves_figure(history, step_losses, title, published, published_label), path)


def curves_figure(history: Sequence[Mapping[str, Any]],
                  step_losses: np.ndarray | Sequence[float] | None = None,
                  title: str | None = None,
                  published: Mapping[str, Sequence[float]] | None = None,
                  published_label: str = "published") -> figure_lib.Figure:
  """The 2x2 "Training Graphs" figure (train/test loss and accuracy), panels in that order.

  history: one dict per epoch with `HISTORY_KEYS` (accuracies in percent); for several seeds
    each value but ``epoch`` is a list, one entry per seed (drawn thin, their mean thick).
  step_losses: per-step train loss, float [steps] or [seeds, steps]; the train-loss panel then
    shows it against the optimizer step. Raises ValueError for an empty history, a missing
    key, or inconsistent per-seed values.
  published: a write-up's per-epoch log to draw beside ours, e.g. {"test_accuracy": [...],
    "test_loss": [...], "train_accuracy": [...]} (keys of `HISTORY_KEYS`, one value per
    epoch from epoch 0, percent for accuracies), dashed and labelled `published_label`.
  """
  if not history:
    raise ValueError("history is empty; need one dict per epoch")
  for key in HISTORY_KEYS:
    missing = [i for i, entry in enumerate(history) if key not in entry]
    if missing:
      raise ValueError(f"history[{missing[0]}] has no {key!r}; each epoch needs "
                       f"{', '.join(HISTORY_KEYS)}")
  epochs = _series(history, "epoch")
  if epochs.ndim != 1:
    raise ValueError("history[*]['epoch'] must be one number per epoch, not per seed")
  series = {key: _series(history, key) for key in HISTORY_KEYS[1:]}
  seeds = {values.shape[1] for values in series.values() if values.ndim == 2}
  if len(seeds) > 1 or (seeds and any(v.ndim == 1 for v in series.values())):
    raise ValueError("history values must all be scalars or all have the same "
                     f"number of seeds, got seed counts {sorted(seeds)}")
  figure = new_figure(12, 9)
  grid = figure.subplots(2, 2)
  panels = [("train_loss", "Training Loss", "loss"),
            ("train_accuracy", "Training Accuracy", "accuracy (%)"),
            ("test_loss", "Test Loss", "loss"), ("test_accuracy", "Test Accuracy", "accuracy (%)")]
  for axes, (key, name, ylabel) in zip(grid.flat, panels):
    axes.set_title(name)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    if key == "train_loss" and step_losses is not None:
      losses = np.asarray(step_losses, dtype=np.float64)
      if losses.ndim not in (1, 2) or losses.shape[-1] == 0:
        raise ValueError(f"step_losses must be float [steps] or [seeds, steps], "
                         f"got shape {losses.shape}")
      axes.set_xlabel("step")
      _draw_step_losses(axes, losses)
    else:
      _draw(axes, epochs, series[key], label="ours" if published and key in published else None)
    if published and key in published:
      values = np.asarray(published[key], dtype=np.float64)
      axes.plot(np.arange(len(values)), values, label=published_label, **_PUBLISHED_STYLE)
      axes.legend(fontsize=7)
  if title:
    figure.suptitle(title)
  return figure


def plot_learning_rate(learning_rates: np.ndarray | Sequence[float],
                       path: str | os.PathLike[str], steps_per_epoch: int | None = None,
                       title: str | None = None) -> pathlib.Path:
  """Writes `learning_rates` (float [steps], the lr of each update) as a PNG to `path`
  (creating its folders), with epoch boundaries as vertical lines if `steps_per_epoch` is
  given; returns the path. Raises ValueError for `learning_rates` not a non-empty 1-D array
  or `steps_per_epoch` not a positive int.
  """
  rates = np.asarray(learning_rates, dtype=np.float64)
  if rates.ndim != 1 or rates.size == 0:
    raise ValueError(f"learning_rates must be a non-empty 1-D array, got shape {rates.shape}")
  if steps_per_epoch is not None and not (isinstance(steps_per_epoch, int)
                                          and steps_per_epoch > 0):
    raise ValueError(f"steps_per_epoch must be a positive int or None, got {steps_per_epoch!r}")
  figure = new_figure(9, 4)
  axes = figure.subplots()
  if steps_per_epoch is not None:
    for boundary in range(steps_per_epoch, rates.size, steps_per_epoch):
      axes.axvline(boundary, color="grey", linewidth=0.5, alpha=0.5)
  axes.plot(np.arange(rates.size), rates, linewidth=1.5)
  axes.set_xlabel("step" if steps_per_epoch is None
                  else f"step (lines: epochs of {steps_per_epoch} steps)")
  axes.set_ylabel("learning rate")
  axes.set_title(title or "Learning rate")
  axes.grid(True, axis="y", alpha=0.3)
  return save_figure(figure, path)


def plot_misclassified(images: np.ndarray, labels: np.ndarray | Sequence[int],
                       predictions: np.ndarray | Sequence[int], path: str | os.PathLike[str],
                       max_images: int = 25) -> pathlib.Path:
  """Writes a grid of the first `max_images` (positive int) misclassified digits, titled
  "true: t / pred: p", as a PNG to `path` (creating its folders); returns the path (a figure
  saying so when nothing is misclassified). Correct ones are skipped.

  images: uint8 [N, 28, 28, 1] (or [N, 28, 28]) in 0..255, or float of the same shape (each
  image then scaled to its range); labels, predictions: int [N]. Raises ValueError for
  mismatched shapes or a non-positive `max_images`.
  """
  images, labels, predictions = np.asarray(images), np.asarray(labels), np.asarray(predictions)
  if images.ndim == 4 and images.shape[-1] == 1:
    images = images[..., 0]
  if images.ndim != 3:
    raise ValueError(f"images must be [N, H, W, 1] or [N, H, W], got shape {images.shape}")
  if labels.shape != (images.shape[0],) or predictions.shape != labels.shape:
    raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} must "
                     f"both be [N] with N = {images.shape[0]} images")
  if not isinstance(max_images, int) or max_images <= 0:
    raise ValueError(f"max_images must be a positive int, got {max_images!r}")
  wrong = np.flatnonzero(labels != predictions)[:max_images]
  if wrong.size == 0:
    figure = new_figure(4, 2)
    figure.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    return save_figure(figure, path)
  columns = min(wrong.size, math.ceil(math.sqrt(max_images)))
  rows = math.ceil(wrong.size / columns)
  figure = new_figure(1.9 * columns, 2.1 * rows)
  grid = np.asarray(figure.subplots(rows, columns, squeeze=False))
  scale = dict(vmin=0, vmax=255) if images.dtype == np.uint8 else {}
  for axes, index in zip(grid.flat, wrong):
    axes.imshow(images[index], cmap="gray", **scale)
    axes.set_title(f"true: {labels[index]} / pred: {predictions[index]}", fontsize=9)
  for axes in grid.flat:
    axes.axis("off")
  return save_figure(figure, path)
