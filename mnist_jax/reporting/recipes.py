"""Per published step, the recipe we train and which of its fields the write-up states.

Each row of RESULTS.md's "Recipes" table shows a run's recipe field by field, each value
marked "W" (stated by the write-up, `published_recipes`), "W, part" (stated in part) or "ours"
(the write-up is silent; the table's text says more).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from mnist_jax import models
from mnist_jax.models.layers import Dropout
from mnist_jax.published import recipes as published_recipes
from mnist_jax.optim import schedules
from mnist_jax.reporting import analysis
from mnist_jax.reporting import markdown

STATED = "W"
PART = "W, part"
OURS = "ours"
FIELDS = ("batch_size", "num_epochs", "learning_rate", "momentum", "weight_decay", "schedule",
          "dropout_rate", "rotation_degrees")
HEADER_LINES = 6  # of `table`: title, blank, text, blank, header, rule


def format_schedule(schedule: Mapping[str, Any] | None) -> str:
  """A schedule config as a short text, e.g. "one_cycle(max_lr=0.1, pct_start=0.3)"."""
  if not schedule or schedule.get("name", "constant") == "constant":
    return "constant"
  name = schedule["name"]
  parameters = ", ".join(f"{key}={schedule[key]:g}" for key in schedules.MAIN_FIELDS.get(name, ())
                         if key in schedule)
  return f"{name}({parameters})"


def field_value(config: Mapping[str, Any], field: str) -> str:
  """The value of `field` in a run's config, as shown; a dropout rate of None is the model's
  own default, and a model without a Dropout layer shows "no dropout layer"."""
  if field == "schedule":
    return format_schedule(config.get("schedule"))
  schedule = config.get("schedule") or {}
  if field == "learning_rate" and schedule.get("name") == "one_cycle":
    # OneCycleLR replaces the optimizer's own rate: its peak is the learning rate.
    return f"max_lr {schedule['max_lr']:g}"
  value = config.get(field)
  model = config.get("model", "")
  if field == "dropout_rate" and model in models.names():
    layers = models.spec(model).layers
    if not any(isinstance(layer, Dropout) for layer in layers):
      return "no dropout layer"
    value = models.spec(model).dropout_rate if value is None else value
  if value is None:
    return "—"
  return f"{value:g}" if isinstance(value, float) else str(value)


def row(result: analysis.RunResult) -> list[str] | None:
  """The table row of `result`'s recipe, or None when it is not a published step of its own."""
  if not result.own_record:
    return None
  marks = [source(result.name, field) for field in FIELDS]
  cells = [f"`{result.name}`"]
  cells += [f"{field_value(result.run.config, field)} ({mark})" for field, mark in zip(FIELDS, marks)]
  cells.append(f"{marks.count(STATED)} + {marks.count(PART)} in part")
  return cells


def source(name: str, field: str) -> str:
  """`STATED`, `PART` or `OURS` for `field` of published step `name`."""
  if not published_recipes.is_stated(name, field):
    return OURS
  return PART if published_recipes.is_partly_stated(name, field) else STATED


def table(results: Sequence[analysis.RunResult]) -> list[str]:
  """The Markdown lines of the "Recipes" section: one row per run of a published step."""
  rows = [r for r in (row(result) for result in results) if r is not None]
  header = ["recipe", *(f"`{field}`" for field in FIELDS), "fields stated"]
  lines = ["## Recipes: what the write-ups state and what is ours", "",
           f"Each value is the run's; ({STATED}) = stated by the write-up (quoted, or derived "
           f"with certainty from its log: `mnist_jax/published/recipes.py` holds each quote), "
           f"({PART}) = stated in part (a scheduler without its kind or parameters, an epoch "
           "budget), "
           f"({OURS}) = the write-up is silent and the value is our choice (the step's config "
           "docstring says why; docs/EXPERIMENTS.md gives the runs behind searched values).", ""]
  return lines + markdown.markdown_table(header, rows)
