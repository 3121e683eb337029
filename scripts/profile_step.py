r"""Profiles training steps: the kernels one step launches and where its time goes.

  python scripts/profile_step.py --config configs/final.py
  python scripts/profile_step.py --config configs/final.py --output docs/PERFORMANCE.md \
      --section profile_gpu

Compiles the epoch program of `--config` (as scripts/benchmark.py times it) on --num_examples
images, runs one epoch to warm up, then traces one more with `jax.profiler.trace` and reads its
Perfetto trace (perfetto_trace.json.gz, kept in --trace_dir for Perfetto or TensorBoard).
Reported: the device's kernels per step and their time per step, the busiest kernels, and
the step's wall time. On a GPU the kernels are the events of the "/device:GPU:N" process's
"Stream" lines (its "XLA Ops" line repeats them as HLO instructions); on the CPU, XLA's
kernels run on the host, so the host's events named like XLA's instructions are counted
instead (Python frames and runtime bookkeeping left out). Bad input ends with one line on
stderr and exit status 1.
"""

import collections
import glob
import gzip
import json
import os
import shlex
import sys
import tempfile

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax import cli
from mnist_jax import data
from mnist_jax import runtime
from mnist_jax.benchmarks import machine
from mnist_jax.benchmarks import report as benchmark_report
from mnist_jax.benchmarks import timing as timing_lib
from mnist_jax.training import epoch as epoch_lib

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command line's flags, defined only when run as a script: the tests import this
  module beside scripts/benchmark.py, whose flags share these names."""
  config_flags.DEFINE_config_file("config", None, "Training configuration file.",
                                  lock_config=False)
  flags.mark_flags_as_required(["config"])
  flags.DEFINE_integer("num_examples", 6400, "Training images per profiled epoch (first N).")
  flags.DEFINE_integer("top", 12, "Kernels listed, by total time.")
  flags.DEFINE_string("trace_dir", None, "Folder for the trace (default: a new temporary one).")
  flags.DEFINE_string("output", None, "Markdown file whose section --section is replaced.")
  flags.DEFINE_string("section", "profile", "Name of that section (letters, digits, '_').")

# Host events of the runtime, not kernels: XLA:CPU's thunk executor, PJRT, the thread pool.
_HOST_BOOKKEEPING = ("Thunk", "PjRt", "Pjit", "Threadpool", "Parse", "Handle", "Allocate",
                     "Wait for", "Python", "Common", "ExecuteHelper")


def kernel_events(trace: dict) -> list[tuple[str, float]]:
  """(name, duration in microseconds) of each kernel of a Perfetto trace (JSON, as
  `jax.profiler.trace(create_perfetto_trace=True)` writes it): the complete events of the
  "/device:..." processes, or, where there are none (the CPU), the host's XLA instructions."""
  events = trace["traceEvents"] if isinstance(trace, dict) else trace
  processes = {e["pid"]: e["args"]["name"] for e in events
               if e.get("ph") == "M" and e.get("name") == "process_name"}
  threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
              if e.get("ph") == "M" and e.get("name") == "thread_name"}
  complete = [e for e in events if e.get("ph") == "X" and "dur" in e]
  device = [e for e in complete if processes.get(e["pid"], "").startswith("/device:")]
  # A GPU's "Stream #N" lines hold its kernels; its "XLA Ops" line repeats them as HLO ops.
  streams = [e for e in device if threads.get((e["pid"], e.get("tid")), "").startswith("Stream")]
  device = streams or device
  if not device:
    device = [e for e in complete if not e["name"].startswith(("$", "end: "))
              and not any(word in e["name"] for word in _HOST_BOOKKEEPING)]
  return [(e["name"], float(e["dur"])) for e in device]


# Kinds of kernel, read off XLA's instruction names (a fusion is named after its ops, e.g.
# `bitcast_concatenate_fusion`, `input_reduce_fusion`): the first kind whose words a name
# holds. A reading of names, not of the program: what it cannot place is "elementwise, other".
KERNEL_KINDS = (
    ("convolution", ("convolution", "conv_")),
    ("matmul (im2col convolutions)", ("dot",)),
    ("pooling (reduce-window, select-and-scatter)", ("reduce-window", "reduce_window",
                                                     "select-and-scatter", "select_and_scatter")),
    # Before the copies: XLA names a fusion ending in a bitcast "bitcast_<op>_fusion".
    ("gather, scatter (rotation, batch gather)", ("gather", "scatter")),
    ("layout copies (concatenate, transpose, copy, pad, slice)", (
        "concatenate", "transpose", "copy", "pad", "slice")),
    ("random bits (threefry)", ("threefry", "rng", "xor", "shift")),
    ("reductions (BatchNorm statistics, sums, metrics)", ("reduce",)),
)
OTHER_KIND = "elementwise, other"


def kernel_kind(name: str) -> str:
  """The `KERNEL_KINDS` entry of kernel `name`, else `OTHER_KIND`."""
  lowered = name.lower()
  return next((kind for kind, words in KERNEL_KINDS if any(w in lowered for w in words)),
              OTHER_KIND)


def summarize(kernels: list[tuple[str, float]], steps: int, wall_seconds: float,
              top: int) -> list[str]:
  """Markdown lines: kernels and kernel time per step, the time by kind (`kernel_kind`), then
  the `top` kernels by time."""
  total = collections.Counter()
  count = collections.Counter()
  for name, duration in kernels:
    total[name] += duration
    count[name] += 1
  busy = sum(total.values())
  lines = ["| per step | value |", "|---|---|",
           f"| kernels launched | {len(kernels) / steps:.1f} ({len(total)} distinct) |",
           f"| kernel time | {busy / steps:.1f} µs |",
           f"| wall time | {wall_seconds / steps * 1e6:.1f} µs |", "",
           "| kind | launches per step | µs per step | share of kernel time |",
           "|---|---|---|---|"]
  kind_total = collections.Counter()
  kind_count = collections.Counter()
  for name, duration in total.items():
    kind_total[kernel_kind(name)] += duration
    kind_count[kernel_kind(name)] += count[name]
  for kind, duration in kind_total.most_common():
    lines.append(f"| {kind} | {kind_count[kind] / steps:.1f} | {duration / steps:.1f} | "
                 f"{duration / busy:.0%} |")
  lines += ["", "| kernel | launches per step | µs per step | share of kernel time |",
            "|---|---|---|---|"]
  for name, duration in total.most_common(top):
    lines.append(f"| `{name[:60]}` | {count[name] / steps:.1f} | {duration / steps:.1f} | "
                 f"{duration / busy:.0%} |")
  return lines


def profile(config, num_examples: int, trace_dir: str) -> tuple[dict, int, float]:
  """Runs two epochs of `config`'s program on `num_examples` images, tracing the second
  (compiled and warm by then); returns (its Perfetto trace, its steps, its wall seconds)."""
  images, labels = timing_lib.load_images(num_examples)
  timing = timing_lib.time_jax_epoch(config, images, labels, 2, trace_dir=trace_dir)
  traces = sorted(glob.glob(os.path.join(trace_dir, "**", "perfetto_trace.json.gz"),
                            recursive=True), key=os.path.getmtime)
  with gzip.open(traces[-1]) as f:
    trace = json.load(f)
  return trace, epoch_lib.steps_per_epoch(num_examples, config.batch_size), timing.epoch_seconds[-1]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  runtime.configure(compilation_cache=False)
  try:
    if FLAGS.output:
      benchmark_report.section_markers(FLAGS.section)  # a bad name fails before the run
    if FLAGS.num_examples < FLAGS.config.batch_size:
      raise ValueError(f"--num_examples must be at least the batch size "
                       f"({FLAGS.config.batch_size}), got {FLAGS.num_examples}")
    trace_dir = FLAGS.trace_dir or tempfile.mkdtemp(prefix="profile_")
    trace, steps, seconds = profile(FLAGS.config, FLAGS.num_examples, trace_dir)
  except (ValueError, data.DataError) as e:
    cli.fail(str(e))
  info = machine.machine_info()
  command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
  text = "\n".join([
      f"Generated by `{command}` ({info['date']}, commit {info['commit']}): one epoch of "
      f"{FLAGS.config.model} ({steps} steps of batch {FLAGS.config.batch_size}) traced on "
      f"{info['jax device']}, jax {info['jax']}.", "",
      *summarize(kernel_events(trace), steps, seconds, FLAGS.top)])
  print(text)
  print(f"Trace: {trace_dir}")
  if FLAGS.output:
    benchmark_report.update_performance_doc(FLAGS.output, text, section=FLAGS.section)
    print(f"Wrote the section {FLAGS.section} of {FLAGS.output}.")


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
