"""ref1.md: Codes 1-5 ("BASIC SKELETON" ... "Final Netowrk").

Code 5 publishes a torchsummary table (ref1.md, Code 5 "Model Summary", Total params: 7,904).
Code 4 ("ADD capacity of network", 7,904) is the same network: Code 5 only adds rotation
augmentation to the data. Both use ``Dropout2d`` (whole channels) after every BatchNorm;
the rate is not stated in ref1.md, so we use 0.1, the usual value in these notebooks.

Codes 1-3 are published only as parameter counts (119,392; 4,990; 5,150), so their networks
are RECONSTRUCTIONS: they match the counts exactly and follow the text, but the original
channel widths are unknown. What the text fixes: Code 3 is Code 2 plus BatchNorm ("ADD batch
normalization": 5,150 - 4,990 = 160 = 2 * 80 BatchNorm channels); Code 4 "Add[s] more layer"
and "added one extra layer after GAP", so Codes 1-3 already end in GAP with no layer after
it, and none of them has dropout. Like Code 5, they use bias-free convolutions and
Conv -> ReLU (-> BatchNorm). (Code 2's analysis says "Model has 8790 paramter", which
contradicts its own Results line, 4,990; we follow the Results line.)
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

# Code 1, RECONSTRUCTION. ref1.md: "Create the basic neural network architecture for MNIST
# dataset"; "Extremely large paramter for simple dataset(MNIST)"; Parameters: 119,392.
# Conv 3x3 1->32: 288; 3x3 32->128: 36,864; max-pool; 3x3 pad 1 128->64: 73,728;
# 1x1 64->16: 1,024; 3x3 16->32: 4,608; 3x3 32->10: 2,880; GAP -> 119,392.
_CODE1 = (
    Conv(32, 3, use_bias=False), ReLU(),              # 26x26
    Conv(128, 3, use_bias=False), ReLU(),             # 24x24
    MaxPool(2),                                       # 12x12
    Conv(64, 3, padding=1, use_bias=False), ReLU(),   # 12x12
    Conv(16, 1, use_bias=False), ReLU(),              # 12x12
    Conv(32, 3, use_bias=False), ReLU(),              # 10x10
    Conv(10, 3, use_bias=False),                      # 8x8, class scores
    AvgPool(8),                                       # GAP
    Flatten(), LogSoftmax(),
)


def _code2(batch_norm: bool) -> tuple:
  """Code 2 (and, with BatchNorm, Code 3), RECONSTRUCTION.

  ref1.md Code 2: "Create lighter model architecture", Parameters: 4,990. The Code 5 layout
  without the two 3x3 convolutions at 8x8/6x6 and without the layer after GAP (which Code 4
  adds), the last convolution giving the 10 class maps:
    3x3 1->10: 90; 1x1 10->8: 80; 3x3 8->10: 720; max-pool; 3x3 pad 1 10->32: 2,880;
    1x1 32->10: 320; 3x3 10->10: 900; GAP -> 4,990.
  ref1.md Code 3: "To improve the performance of model we are adding BN", Parameters: 5,150.
  BatchNorm after every convolution: 2 * (10 + 8 + 10 + 32 + 10 + 10) = 160 -> 5,150. That
  includes the last convolution (no ReLU there), as ref2's Net1 also does before its GAP; only
  with it do natural widths reach 160 exactly.
  """
  bn = (BatchNorm(),) if batch_norm else ()
  return (
      Conv(10, 3, use_bias=False), ReLU(), *bn,              # 26x26
      Conv(8, 1, use_bias=False), ReLU(), *bn,               # 26x26
      Conv(10, 3, use_bias=False), ReLU(), *bn,              # 24x24
      MaxPool(2),                                            # 12x12
      Conv(32, 3, padding=1, use_bias=False), ReLU(), *bn,   # 12x12
      Conv(10, 1, use_bias=False), ReLU(), *bn,              # 12x12
      Conv(10, 3, use_bias=False), *bn,                      # 10x10, class scores
      AvgPool(10),                                           # GAP
      Flatten(), LogSoftmax(),
  )


SPECS = (
    ModelSpec("ref1_code1", _CODE1, 0.0,
              "ref1.md, Code 1 'BASIC SKELETON' (119,392): reconstruction"),
    ModelSpec("ref1_code2", _code2(batch_norm=False), 0.0,
              "ref1.md, Code 2 'Define Lighter architecture' (4,990): reconstruction"),
    ModelSpec("ref1_code3", _code2(batch_norm=True), 0.0,
              "ref1.md, Code 3 'ADD batch normalization' (5,150): reconstruction"),
    ModelSpec("ref1_code4", _CODE5, DROPOUT_RATE,
              "ref1.md, Code 4 'ADD capacity of network' (7,904): the Code 5 table's network"),
    ModelSpec("ref1_code5", _CODE5, DROPOUT_RATE,
              "ref1.md, Code 5 'Final Netowrk', Model Summary (Total params: 7,904)"),
)
