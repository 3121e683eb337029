"""Trains a model with its published recipe.

  python scripts/train.py --config configs/final.py --workdir workdirs/final
  python scripts/train.py --config configs/ref3.py:step4 --workdir workdirs/ref3_step4 \
      --config.num_seeds=3

Re-running with the same --workdir resumes from its latest checkpoint. Bad input ends with
one line on stderr and exit status 1.
"""

import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax import data
from mnist_jax import xla_flags
from mnist_jax import train

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "workdirs/default", "Directory for checkpoints, metrics and plots.")
config_flags.DEFINE_config_file("config", None, "Training configuration file.", lock_config=True)
flags.mark_flags_as_required(["config"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  logging.set_verbosity(logging.WARNING)  # keep the console to the references' lines
  xla_flags.apply_cpu_flags()  # before the first computation starts the backend
  try:
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except (ValueError, data.DataError, train.TrainingError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  app.run(main)
