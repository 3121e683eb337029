"""The benchmark's Markdown, and the sections of docs/PERFORMANCE.md that hold it, between
markers, one pair per named section (e.g. CPU, GPU); the rest is written by hand."""

from __future__ import annotations

import math
import os

from mnist_jax.benchmarks import measurements

BEGIN_MARKER = "<!-- benchmark:begin -->"
END_MARKER = "<!-- benchmark:end -->"


def _ratio(a: measurements.Timing, b: measurements.Timing) -> str:
  if a.error or b.error or not a.epoch_seconds or not b.epoch_seconds:
    return "n/a"
  return f"{a.median_epoch_seconds / b.median_epoch_seconds:.2f}"


def format_report(report: measurements.Report, command: str | None = None) -> str:
  """The report as Markdown: machine, then each part it holds (the comparison table with its
  ratios, the multi-seed table, the sweep table)."""
  lines = _header(report, command)
  if report.timings:
    lines += _comparison(report)
  if report.seed_timings:
    lines += _seeds_table(report.seed_timings)
  if report.sweep_timings:
    lines += _sweep_table(report.sweep_timings)
  return "\n".join(lines) + "\n"


def _header(report: measurements.Report, command: str | None) -> list[str]:
  lines = [f"Command: `{command}`", ""] if command else []
  first = (report.timings or report.seed_timings or report.sweep_timings or [None])[0]
  data_line = ("random uint8 images (--synthetic)" if report.synthetic
               else "real MNIST training images")
  if first is not None:
    lines += [f"Config `{report.config_name}` (model `{report.model}`), batch {first.batch_size}, "
              f"{first.num_examples} {data_line} per epoch, {len(first.epoch_seconds)} timed "
              f"epoch(s) per contender (median)."]
  lines += [f"Load average (1/5/15 min) before: {report.load_before}; "
            f"after: {report.load_after}.", ""]
  lines += ["| machine | |", "|---|---|"]
  return lines + [f"| {key} | {value} |" for key, value in report.machine.items()]


def _comparison(report: measurements.Report) -> list[str]:
  lines = ["", "| contender | ms/step | s/epoch | images/s | compile s | epochs (s) |",
           "|---|---|---|---|---|---|"]
  for t in report.timings:
    if t.error:
      lines.append(f"| {t.name} | failed: {t.error.replace('|', '/')} | | | | |")
      continue
    compile_s = "" if t.compile_seconds is None else f"{t.compile_seconds:.1f}"
    epochs = ", ".join(f"{s:.2f}" for s in t.epoch_seconds)
    lines.append(f"| {t.name} | {t.ms_per_step:.1f} | {t.median_epoch_seconds:.2f} | "
                 f"{t.images_per_second:,.0f} | {compile_s} | {epochs} |")
  ours = [t for t in report.timings if t.name.startswith("ours")]
  eager = [t for t in report.timings if t.name.startswith("torch eager")]
  if ours and eager:
    lines += ["", "Ratios (median epoch time, ours / torch eager; < 1 means ours is faster):", ""]
    for o in ours:
      for e in eager:
        lines.append(f"- {o.name} / {e.name}: **{_ratio(o, e)}**")
  if ours and report.num_epochs:
    lines += ["", f"{report.num_epochs} epochs (a full run of the config) of "
              f"{report.timings[0].num_examples} images at these medians (training only, without "
              "the per-epoch test-set evaluation and compile):", ""]
    lines += [f"- {t.name}: {report.num_epochs * t.median_epoch_seconds:.1f} s" for t in ours]
  return lines


def _seeds_table(timings: list[measurements.Timing]) -> list[str]:
  lines = ["", f"Multi-seed program ({timings[0].num_examples} images per epoch per seed, rotation "
           "as configured):", "",
           "| seeds | ms/step (all seeds) | s/epoch | s/epoch per seed | images/s (all seeds) "
           "| compile s |",
           "|---|---|---|---|---|---|"]
  for t in timings:
    lines.append(f"| {t.num_replicas} | {t.ms_per_step:.1f} | {t.median_epoch_seconds:.2f} | "
                 f"{t.seconds_per_replica:.2f} | {t.images_per_second:,.0f} | "
                 f"{t.compile_seconds:.1f} |")
  return lines


def _swept_range(values: list[float]) -> str:
  if not values:
    return "as configured"
  return f"{min(values):g}–{max(values):g} ({len(set(values))} values)"


def _sweep_table(timings: list[measurements.Timing]) -> list[str]:
  """The sweep table; the ratio column compares each row with the 1-replica row (the plain run)."""
  separate = next((t for t in timings if t.num_replicas == 1), None)
  lines = ["", f"Sweep program: R recipes of the config, one seed each, each its own "
           f"schedule.max_lr, trained as the replicas of one program (split across the devices "
           f"when they divide evenly); {timings[0].num_examples} images per epoch per replica, "
           "rotation as configured. 1 replica is the plain run, trained alone. Ratio: time per "
           "replica-epoch / epoch time of the plain run (<= 1: the sweep is no slower per replica "
           "than separate runs); speed-up: its inverse.", "",
           "| replicas | max_lr | ms/epoch (all replicas) | ms per replica-epoch "
           "| images/s (all replicas) | per replica / separate run | speed-up | compile s |",
           "|---|---|---|---|---|---|---|---|"]
  for t in timings:
    if t.error:
      lines.append(f"| {t.num_replicas} | failed: {t.error.replace('|', '/')} | | | | | | |")
      continue
    ratio = math.nan if separate is None else measurements.per_replica_ratio(t, separate)
    ratio_s, speedup_s = (("n/a", "n/a") if math.isnan(ratio)
                          else (f"{ratio:.2f}", f"{1 / ratio:.2f}x"))
    lines.append(f"| {t.num_replicas} | {_swept_range(t.swept.get('schedule.max_lr', []))} | "
                 f"{1000 * t.median_epoch_seconds:,.0f} | {1000 * t.seconds_per_replica:,.1f} | "
                 f"{t.images_per_second:,.0f} | {ratio_s} | {speedup_s} | "
                 f"{t.compile_seconds:.1f} |")
  return lines


_DOC_HEADER = """# Performance

The section between the benchmark markers is written by `scripts/benchmark.py --output
docs/PERFORMANCE.md`; the rest of this file is maintained by hand.

"""


def section_markers(section: str = "") -> tuple[str, str]:
  """Begin and end markers of a named benchmark section ("" is the default, CPU, section).
  Raises ValueError for a name other than letters, digits and "_"."""
  if not section:
    return BEGIN_MARKER, END_MARKER
  if not section.replace("_", "").isalnum():
    raise ValueError(f"section name must be letters, digits and '_', got {section!r}")
  return f"<!-- benchmark:{section}:begin -->", f"<!-- benchmark:{section}:end -->"


def update_performance_doc(path: str, text: str, section: str = "") -> None:
  """Replaces benchmark section `section` (`section_markers`) of `path` with `text`, creating
  the file or appending the section when missing. Raises ValueError for a begin marker without
  an end marker (or the reverse), or a bad section name."""
  begin_marker, end_marker = section_markers(section)
  section = f"{begin_marker}\n{text.rstrip()}\n{end_marker}\n"
  if not os.path.exists(path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    content = _DOC_HEADER + section
  else:
    with open(path) as f:
      content = f.read()
    has_begin, has_end = begin_marker in content, end_marker in content
    if has_begin != has_end:
      raise ValueError(
          f"{path} has only one of {begin_marker!r} and {end_marker!r}; fix it by hand")
    if has_begin:
      head, rest = content.split(begin_marker, 1)
      tail = rest.split(end_marker, 1)[1]
      content = head + section + ("\n" + tail.lstrip("\n") if tail.strip() else "")
    else:
      content = content.rstrip("\n") + "\n\n" + section
  with open(path, "w") as f:
    f.write(content)
