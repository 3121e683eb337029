"""Trains a model with its published recipe.

  python scripts/train.py --config configs/final.py                  # -> workdirs/final
  python scripts/train.py --config configs/ref3.py:step4 --config.num_seeds=3 \\
      --workdir workdirs/ref3_step4_3seeds

A file with steps (ref1.py ... ref5.py, frontier.py, sweeps.py) is given with its step after
a colon; `--help` lists the files and their steps. Without --workdir the run goes to
workdirs/<config.name>. Re-running with the same workdir resumes from its latest checkpoint.
Compiled programs are kept in JAX's persistent compilation cache (see mnist_jax/runtime.py;
--nocompilation_cache or MNIST_JAX_COMPILATION_CACHE=0 turn it off). Bad input ends with one
line on stderr and exit status 1.

Several processes (hosts, or processes on one machine) train one run together through JAX's
multi-controller runtime: start the same command in each with --num_processes, --process_id
and --coordinator_address (host:port of process 0); the replicas are split across all their
devices, and process 0 writes the metrics, summary and plots.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

import _paths  # noqa: F401  pylint: disable=unused-import

from configs import base
from mnist_jax import cli
from mnist_jax import data
from mnist_jax import runtime
from mnist_jax.training import train

__doc__ += "\n" + cli.config_listing(base.experiments())  # for --help

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None,
                    "Directory for checkpoints, metrics and plots (default: workdirs/<config.name>).")
flags.DEFINE_bool("compilation_cache", True,
                  "Keep compiled programs in JAX's persistent cache (mnist_jax/runtime.py).")
flags.DEFINE_string("coordinator_address", None,
                    "host:port of process 0 for a run across processes (jax.distributed.initialize).")
flags.DEFINE_integer("num_processes", 1, "Processes training this run together.")
flags.DEFINE_integer("process_id", 0, "This process's index in [0, num_processes).")
config_flags.DEFINE_config_file("config", None,
                                "Training configuration file, FILE or FILE:STEP (listed above the flags).",
                                lock_config=True)
flags.mark_flags_as_required(["config"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  logging.set_verbosity(logging.WARNING)  # keep the console to the references' lines
  runtime.configure(FLAGS.compilation_cache)  # before the first computation and TensorFlow
  if FLAGS.num_processes > 1:
    try:
      runtime.initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
    except ValueError as e:
      cli.fail(str(e))
  workdir = FLAGS.workdir or os.path.join("workdirs", FLAGS.config.name)
  try:
    train.train_and_evaluate(FLAGS.config, workdir)
  except train.Interrupted as e:
    print(f"interrupted: {e}", file=sys.stderr)
    sys.exit(1)
  except (ValueError, data.DataError, train.TrainingError) as e:
    cli.fail(str(e))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
