"""Markdown pieces shared by the reports (RESULTS.md, sweep and reproduction reports, frontier)."""

from __future__ import annotations

from typing import Sequence


def format_mean_std(mean_std: tuple[float, float | None]) -> str:
  """"99.45 ± 0.05" (percent, 2 decimals), or the mean alone when there is no std."""
  mean, std = mean_std
  return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
  """The lines of a Markdown table with `header` and `rows` (cells as strings)."""
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  return lines + ["| " + " | ".join(row) + " |" for row in rows]
