r"""Times our training epoch against the same network in PyTorch eager, in one run.

  python scripts/benchmark.py --config configs/final.py
  python scripts/benchmark.py --config configs/final.py --num_examples 12800 --epochs 3 \
      --seeds 1,4,8 --torch_compile --output docs/PERFORMANCE.md
  python scripts/benchmark.py --config configs/final.py --torch_device cuda \
      --seeds_num_examples 60000 --output docs/PERFORMANCE.md --section gpu
  python scripts/benchmark.py --config configs/final.py --sweep --sweep_replicas 1,8,32,64 \
      --output docs/PERFORMANCE.md --section sweep_cpu

Prints ms/step, s/epoch and images/s of: our epoch (`epoch.make_train_epoch`, with and
without rotation, compile time apart), torch eager (and optionally torch.compile), the
ratios, and the multi-seed program's time per seed; `--output` writes that section of
docs/PERFORMANCE.md. `--sweep` times only the sweep program instead: R recipes of the config
(each its own max_lr) as the replicas of one program, time per replica against the plain run;
its section (default sweep_cpu or sweep_gpu, by JAX's backend) must be named "sweep...".
Other processes on the machine skew every number: read the load averages printed with the
results.
"""

import shlex
import sys

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax import cli
from mnist_jax import data
from mnist_jax import runtime
from mnist_jax.benchmarks import timing as timing_lib
from mnist_jax.benchmarks import report as benchmark_report
from mnist_jax.benchmarks import torch_epoch

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Training configuration file.", lock_config=False)
flags.mark_flags_as_required(["config"])
flags.DEFINE_integer("num_examples", 60000, "Training images per epoch (first N of MNIST).")
flags.DEFINE_integer("epochs", 3, "Timed epochs per contender; the median is reported.")
flags.DEFINE_list("seeds", ["1", "4", "8"], "Replica counts of the multi-seed program; '' skips it.")
flags.DEFINE_integer("seeds_num_examples", None,
                     "Images per epoch for the multi-seed timings (default min(num_examples, 6400)).")
flags.DEFINE_list("torch_threads", None, "torch.set_num_threads values to time (default: all cores).")
flags.DEFINE_bool("torch_compile", False, "Also time torch.compile (a failure is reported).")
flags.DEFINE_enum("torch_device", "cpu", list(torch_epoch.TORCH_DEVICES),
                  "Where torch trains; 'cuda' compares with the same GPU as ours.")
flags.DEFINE_bool("synthetic", False, "Random uint8 images instead of real MNIST (MNIST_DIR).")
flags.DEFINE_string("output", None, "Markdown file whose benchmark section is replaced (e.g. docs/PERFORMANCE.md).")
flags.DEFINE_string("section", "", "Name of that section ('' for the CPU one, e.g. 'gpu'; with "
                    "--sweep, '' is sweep_cpu or sweep_gpu).")
flags.DEFINE_bool("sweep", False, "Time only the sweep program (R max_lr values as replicas of one "
                  "program) against the plain run.")
flags.DEFINE_list("sweep_replicas", ["1", "8", "32", "64"],
                  "Replica counts R of the sweep (the plain run, R = 1, is always timed).")
flags.DEFINE_integer("sweep_num_examples", None,
                     "Images per epoch per replica for --sweep (default min(num_examples, 6400)).")


def _ints(values, name):
  try:
    return [int(v) for v in values or [] if str(v).strip()]
  except ValueError:
    raise ValueError(f"--{name} must be comma-separated integers, got {','.join(values)!r}") from None


def _section() -> str:
  """--section, checked: a sweep writes only a "sweep..." section and the rest never does, so
  neither overwrites the other's results."""
  if not FLAGS.sweep:
    if FLAGS.section.startswith("sweep"):
      raise ValueError(f"--section {FLAGS.section} is for --sweep results")
    return FLAGS.section
  section = FLAGS.section or f"sweep_{'cpu' if jax.default_backend() == 'cpu' else 'gpu'}"
  if not section.startswith("sweep"):
    raise ValueError(f"--sweep writes a section named sweep..., got --section {section!r}")
  return section


def _run():
  if FLAGS.sweep:
    return timing_lib.run_sweep(
        FLAGS.config, replicas=_ints(FLAGS.sweep_replicas, "sweep_replicas"),
        num_examples=FLAGS.sweep_num_examples or min(FLAGS.num_examples, 6400),
        num_epochs=FLAGS.epochs, synthetic=FLAGS.synthetic)
  return timing_lib.run(
      FLAGS.config, num_examples=FLAGS.num_examples, num_epochs=FLAGS.epochs,
      seeds=_ints(FLAGS.seeds, "seeds"), seeds_num_examples=FLAGS.seeds_num_examples,
      torch_threads=_ints(FLAGS.torch_threads, "torch_threads") or None,
      torch_compile=FLAGS.torch_compile, torch_device=FLAGS.torch_device,
      synthetic=FLAGS.synthetic)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  # As scripts/train.py, so the timings are of training's program; no cache, so compile times are real.
  runtime.configure(compilation_cache=False)
  try:
    section = _section()
    if FLAGS.output:
      benchmark_report.section_markers(section)  # a bad name fails before the long run
    report = _run()
  except (ValueError, data.DataError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
  text = benchmark_report.format_report(report, command=command)
  print()
  print(text)
  if FLAGS.output:
    try:
      benchmark_report.update_performance_doc(FLAGS.output, text, section=section)
    except ValueError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(1)
    print(f"Wrote the benchmark section {section or '(default)'} of {FLAGS.output}.")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
