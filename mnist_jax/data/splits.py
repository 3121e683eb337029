"""The splits a run trains and evaluates on: train, an optional validation split held out of the
training images, and test, each cut to the config's subset sizes."""

import ml_collections
import numpy as np

from mnist_jax import data


def load_splits(config: ml_collections.ConfigDict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{"train", "validation" (only when config.validation_size > 0), "test"}: (uint8 images
  [N, 28, 28, 1], int32 labels [N]). Validation holds out the last `config.validation_size`
  training images; then `config.train_subset` and `config.test_subset` (0 = all) cut the rest.

  Raises:
    ValueError: a validation split that leaves no training image.
    data.DataError: missing or corrupt data files.
  """
  data_dir = config.data_dir or None
  train = data.load("train", data_dir=data_dir, source=config.data_source)
  test = data.load("test", data_dir=data_dir, source=config.data_source)
  splits = {}
  held_out = config.get("validation_size", 0)
  if held_out:
    if held_out >= len(train[1]):
      raise ValueError(f"config.validation_size must be below the {len(train[1])} training "
                       f"images, got {held_out}")
    splits["validation"] = tuple(a[-held_out:] for a in train)
    train = tuple(a[:-held_out] for a in train)
  if config.train_subset:
    train = tuple(a[:config.train_subset] for a in train)
  if config.test_subset:
    test = tuple(a[:config.test_subset] for a in test)
  return {"train": train, **splits, "test": test}
