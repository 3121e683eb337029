"""ref1.md: Codes 1-5 ("BASIC SKELETON" ... "Final Netowrk").

Code 5 publishes a torchsummary table (ref1.md, Code 5 "Model Summary", Total params: 7,904).
Code 4 ("ADD capacity of network", 7,904) is the same network: Code 5 only adds rotation
augmentation to the data. Both use ``Dropout2d`` (whole channels) after every BatchNorm;
the rate is not stated in ref1.md, so we use 0.1, the usual value in these notebooks.
"""

from mnist_jax.models.layers import AvgPool, BatchNorm, Conv, Dropout, Flatten, LogSoftmax
from mnist_jax.models.layers import MaxPool, ModelSpec, ReLU

DROPOUT_RATE = 0.1  # Not stated in ref1.md; a common value.


def _block(features: int, kernel_size: int, padding: int = 0) -> tuple:
  """Conv2d (no bias) -> ReLU -> BatchNorm2d -> Dropout2d, as in every Code 5 row group."""
  return (Conv(features, kernel_size, padding=padding, use_bias=False), ReLU(), BatchNorm(),
          Dropout(channelwise=True))


# ref1.md, Code 5 "Model Summary", rows Conv2d-1 .. Conv2d-35.
_CODE5 = (
    *_block(32, 3),             # rows 1-4:   [-1, 32, 26, 26], 288
    *_block(8, 1),              # rows 5-8:   [-1, 8, 26, 26], 256
    *_block(10, 3),             # rows 9-12:  [-1, 10, 24, 24], 720
    MaxPool(2),                 # row 13:     [-1, 10, 12, 12]
    *_block(16, 3, padding=1),  # rows 14-17: [-1, 16, 12, 12], 1,440
    *_block(10, 1),             # rows 18-21: [-1, 10, 12, 12], 160
    *_block(10, 3),             # rows 22-25: [-1, 10, 10, 10], 900
    *_block(16, 3),             # rows 26-29: [-1, 16, 8, 8], 1,440
    *_block(16, 3),             # rows 30-33: [-1, 16, 6, 6], 2,304
    AvgPool(6),                 # row 34:     [-1, 16, 1, 1] (GAP)
    Conv(10, 1, use_bias=False),  # row 35:   [-1, 10, 1, 1], 160 ("one extra layer after GAP")
    Flatten(), LogSoftmax(),
)

SPECS = (
    ModelSpec("ref1_code4", _CODE5, DROPOUT_RATE,
              "ref1.md, Code 4 'ADD capacity of network' (7,904): the Code 5 table's network"),
    ModelSpec("ref1_code5", _CODE5, DROPOUT_RATE,
              "ref1.md, Code 5 'Final Netowrk', Model Summary (Total params: 7,904)"),
)
