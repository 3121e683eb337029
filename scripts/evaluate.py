"""Evaluates the best (or a given) checkpoint of a training workdir on the test set, or a
PyTorch state_dict of a mirrored network with our evaluation.

  python scripts/evaluate.py --workdir workdirs/final [--step 15]
  python scripts/evaluate.py --torch_checkpoint model.pt --model ref3_step4 [--test_subset 1000]

A torch checkpoint is a ``torch.save(module.state_dict())`` of
`mnist_jax.torch.mirror.build(model)` (e.g. written by scripts/export.py); reading it needs
PyTorch (the `torch` extra: pip install -e ".[torch]"). Bad input ends with one line on stderr
and exit status 1.
"""

from absl import app
from absl import flags
from absl import logging

import _paths  # noqa: F401  pylint: disable=unused-import

from configs import base
from mnist_jax import cli
from mnist_jax.training import console
from mnist_jax import data
from mnist_jax import models
from mnist_jax import runtime
from mnist_jax.torch import checkpoint as torch_checkpoint
from mnist_jax.training import evaluate

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (with config.json and checkpoints/).")
flags.DEFINE_integer("step", None, "Checkpoint step (epochs finished); default: the best.")
flags.DEFINE_string("torch_checkpoint", None,
                    "A PyTorch state_dict file of a mirrored network (torch_mirror.build(--model)).")
flags.DEFINE_enum("model", None, models.names(), "The model whose mirror wrote --torch_checkpoint.")
flags.DEFINE_integer("test_subset", None,
                     "With --torch_checkpoint: the first N test images (default: all 10,000).",
                     lower_bound=1)
flags.DEFINE_bool("compilation_cache", True,
                  "Keep compiled programs in JAX's persistent cache (mnist_jax/runtime.py).")
flags.mark_flags_as_mutual_exclusive(["workdir", "torch_checkpoint"], required=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  logging.set_verbosity(logging.WARNING)
  source = "--workdir" if FLAGS.workdir is not None else "--torch_checkpoint"
  wrong = {"--workdir": ("model", "test_subset"), "--torch_checkpoint": ("step",)}[source]
  for name in wrong:
    if FLAGS[name].present:
      cli.fail(f"--{name} does not apply to {source}")
  if FLAGS.torch_checkpoint is not None and FLAGS.model is None:
    cli.fail(f"--torch_checkpoint needs --model; valid models: {', '.join(models.names())}")
  runtime.configure(FLAGS.compilation_cache)
  if FLAGS.torch_checkpoint is not None:
    evaluate_torch_checkpoint()
    return
  try:
    result = evaluate.evaluate_checkpoint(FLAGS.workdir, FLAGS.step)
  except (ValueError, data.DataError) as e:
    cli.fail(str(e))
  print(f"Checkpoint after epoch {result['epoch']} of {FLAGS.workdir}")
  for seed, loss, correct in zip(result["seeds"], result["test_loss"], result["test_correct"]):
    prefix = "" if len(result["seeds"]) == 1 else f"[seed {seed}] "
    print(prefix + console.test_line(loss, correct, result["test_total"]))


def evaluate_torch_checkpoint():
  cli.require_torch("--torch_checkpoint")
  config = base.get_config(model=FLAGS.model, test_subset=FLAGS.test_subset or 0)
  try:
    result = torch_checkpoint.evaluate(FLAGS.torch_checkpoint, config)
  except (ValueError, data.DataError) as e:
    cli.fail(str(e))
  print(f"PyTorch state_dict {FLAGS.torch_checkpoint} of {FLAGS.model}")
  print(console.test_line(result["loss"], result["correct"], result["total"]))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
