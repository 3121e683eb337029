"""Evaluates the best (or a given) checkpoint of a training workdir on the test set.

  python scripts/evaluate.py --workdir workdirs/final [--step 15]
"""


from absl import app
from absl import flags
from absl import logging

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax import cli
from mnist_jax import console
from mnist_jax import data
from mnist_jax import runtime
from mnist_jax import train

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (with config.json and checkpoints/).")
flags.DEFINE_integer("step", None, "Checkpoint step (epochs finished); default: the best.")
flags.DEFINE_bool("compilation_cache", True,
                  "Keep compiled programs in JAX's persistent cache (mnist_jax/runtime.py).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  logging.set_verbosity(logging.WARNING)
  runtime.configure(FLAGS.compilation_cache)
  try:
    result = train.evaluate_checkpoint(FLAGS.workdir, FLAGS.step)
  except (ValueError, data.DataError) as e:
    cli.fail(str(e))
  print(f"Checkpoint after epoch {result['epoch']} of {FLAGS.workdir}")
  for seed, loss, correct in zip(result["seeds"], result["test_loss"], result["test_correct"]):
    prefix = "" if len(result["seeds"]) == 1 else f"[seed {seed}] "
    print(prefix + console.test_line(loss, correct, result["test_total"]))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
