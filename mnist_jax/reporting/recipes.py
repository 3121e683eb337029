"""RESULTS.md's "Recipes" table: per published step, the recipe we train field by field, each
value marked "W" (stated by the write-up, `published_recipes`), "W, part" or "ours" (silent)."""

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


def field_value(config: Mapping[str, Any], field: str) -> str:
  """The value of `field` in a run's config, as shown: a schedule as e.g. "one_cycle(max_lr=0.1,
  pct_start=0.3)"; a dropout rate of None is the model's own default, and a model without a
  Dropout layer shows "no dropout layer"."""
  schedule = config.get("schedule") or {}
  name = schedule.get("name", "constant")
  if field == "schedule":
    shown = [f"{key}={schedule[key]:g}" for key in schedules.MAIN_FIELDS.get(name, ())
             if key in schedule]
    return "constant" if name == "constant" else f"{name}({', '.join(shown)})"
  if field == "learning_rate" and name == "one_cycle":
    # OneCycleLR replaces the optimizer's own rate: its peak is the learning rate.
    return f"max_lr {schedule['max_lr']:g}"
  value = config.get(field)
  if field == "dropout_rate" and config.get("model") in models.names():
    spec = models.spec(config["model"])
    if not any(isinstance(layer, Dropout) for layer in spec.layers):
      return "no dropout layer"
    value = spec.dropout_rate if value is None else value
  return "—" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def row(result: analysis.RunResult) -> list[str] | None:
  """The table row of `result`'s recipe, or None when it is not a published step of its own."""
  if not result.own_record:
    return None
  marks = [OURS if not published_recipes.is_stated(result.name, field)
           else PART if published_recipes.is_partly_stated(result.name, field) else STATED
           for field in FIELDS]
  values = [f"{field_value(result.run.config, f)} ({mark})" for f, mark in zip(FIELDS, marks)]
  return [f"`{result.name}`", *values, f"{marks.count(STATED)} + {marks.count(PART)} in part"]


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
