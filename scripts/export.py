"""Writes one trained replica of a workdir as a PyTorch state_dict of its torch mirror.

  python scripts/export.py --workdir workdirs/final --output final.pt [--step 15] [--seed 1]

The file loads into `mnist_jax.torch.mirror.build(model)` with
``load_state_dict(torch.load("final.pt", weights_only=True), strict=True)``. Default: the
best checkpoint, the first replica; --seed picks a seed's replica, --replica an index of a
sweep's replicas (cell-major, `mnist_jax.optim.sweep.replicas`). Needs PyTorch (the `torch`
extra: pip install -e ".[torch]"). Bad input ends with one line on stderr and exit status 1.
"""

from absl import app
from absl import flags
from absl import logging

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax import cli
from mnist_jax.torch import checkpoint as torch_checkpoint

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (with config.json and checkpoints/).")
flags.DEFINE_integer("step", None, "Checkpoint step (epochs finished); default: the best.")
flags.DEFINE_integer("seed", None, "Export the replica trained from this seed; default: the first.")
flags.DEFINE_integer("replica", None, "Export this replica index instead (for a sweep whose cells "
                     "share the seed).")
flags.DEFINE_string("output", None, "Path of the .pt file to write (torch.save of the state_dict).")
flags.mark_flags_as_required(["workdir", "output"])
flags.mark_flags_as_mutual_exclusive(["seed", "replica"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Too many command-line arguments: {argv[1:]}")
  logging.set_verbosity(logging.WARNING)
  cli.require_torch("scripts/export.py")
  import torch  # pylint: disable=import-outside-toplevel  (only this script needs it)

  try:
    state_dict, info = torch_checkpoint.export_replica(FLAGS.workdir, FLAGS.step, FLAGS.seed,
                                                       FLAGS.replica)
  except ValueError as e:
    cli.fail(str(e))
  try:
    torch.save(state_dict, FLAGS.output)
  except (OSError, RuntimeError) as e:
    cli.fail(f"cannot write {FLAGS.output!r}: {' '.join(str(e).split())}")
  print(f"Wrote {FLAGS.output}: {info['model']} after epoch {info['step']}, replica "
        f"{info['replica']} ({info['label']}), num_batches_tracked {info['num_batches_tracked']}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
