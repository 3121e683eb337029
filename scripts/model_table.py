"""Prints the torchsummary-style table of a registered model.

  python scripts/model_table.py --model=ref3_step4
"""

from absl import app
from absl import flags

import _paths  # noqa: F401  pylint: disable=unused-import

from mnist_jax import models
from mnist_jax.models import table as model_table

_MODEL = flags.DEFINE_enum("model", None, models.names(), "Registered model name.")
_INCLUDE_FUNCTIONAL = flags.DEFINE_bool(
    "include_functional", False, "Also list F.relu/F.max_pool2d/... rows torchsummary omits.")
flags.mark_flag_as_required("model")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  print(model_table.table(_MODEL.value, include_functional=_INCLUDE_FUNCTIONAL.value))


if __name__ == "__main__":
  app.run(main)
