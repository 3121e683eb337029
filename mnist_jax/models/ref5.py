"""ref5.md: Steps 1-7. Every network here is a RECONSTRUCTION.

ref5.md publishes only the parameter counts (10,368; 9,648; 9,792; 9,496; 6,376 for Steps
5-7) and a description per step. The networks below match the counts exactly and follow the
descriptions; the original widths are unknown. Common choices: bias-free 3x3 convolutions
(10,368 and 9,648 are multiples of 9: 9 * 1,152 and 9 * 1,072), no ReLU after the
convolution that gives the 10 class scores, log_softmax at the end. Dropout is elementwise
with rate 0.1: ref5.md names neither kind nor rate.

Steps 1-4: three blocks, two max-pools, padding in the first block. Steps 5-7: two blocks,
one max-pool, no padding, GAP.
"""

from mnist_jax.models.layers import AvgPool, BatchNorm, Conv, Dropout, Flatten, LogSoftmax
from mnist_jax.models.layers import MaxPool, ModelSpec, ReLU

DROPOUT_RATE = 0.1  # Not stated in ref5.md; a common value.


def _three_blocks(widths: tuple[int, int, int, int, int]) -> tuple:
  """Steps 1-2: Conv 3x3 (no bias) -> ReLU; the last convolution reaches 1x1, no GAP.

  ref5.md Step 1: "Created a model with three blocks and tried to keep the number of
  parameters around 10000"; "Because I chose three blocks, I used two max pooling, and
  keeping the size of image in mind, added paading in the first block".
  """
  a, b, c, d, e = widths
  return (
      Conv(a, 3, padding=1, use_bias=False), ReLU(),   # block 1: 28x28
      MaxPool(2),                                      # 14x14
      Conv(b, 3, use_bias=False), ReLU(),              # block 2: 12x12
      Conv(c, 3, use_bias=False), ReLU(),              # 10x10
      MaxPool(2),                                      # 5x5
      Conv(d, 3, use_bias=False), ReLU(),              # block 3: 3x3
      Conv(e, 3, use_bias=False),                      # 1x1, class scores
      Flatten(), LogSoftmax(),
  )


# Step 1 (10,368), "Create base model":
#   3x3 1->32 (pad 1): 288; 3x3 32->20: 5,760; 3x3 20->10: 1,800; 3x3 10->14: 1,260;
#   3x3 14->10: 1,260 -> 10,368 = 9 * (32 + 640 + 200 + 140 + 140).
_STEP1 = _three_blocks((32, 20, 10, 14, 10))

# Step 2 (9,648), "Reduce number of parameters": "Played around with no of output channels
# size to reduce parameters". Block 3's first convolution 14 -> 10 channels:
#   288 + 5,760 + 1,800 + 900 + 900 = 9,648 = 9 * 1,072.
_STEP2 = _three_blocks((32, 20, 10, 10, 10))

# Step 3 (9,792), "To add batch normalisation and dropout"; "Batch norm before relu was
# giving results better". Step 2 with Conv -> BatchNorm -> ReLU -> Dropout on every
# convolution but the last: 9,648 + 2 * (32 + 20 + 10 + 10) = 9,648 + 144 = 9,792.
_STEP3 = (
    Conv(32, 3, padding=1, use_bias=False), BatchNorm(), ReLU(), Dropout(),   # 28x28
    MaxPool(2),                                                               # 14x14
    Conv(20, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),              # 12x12
    Conv(10, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),              # 10x10
    MaxPool(2),                                                               # 5x5
    Conv(10, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),              # 3x3
    Conv(10, 3, use_bias=False),                                              # 1x1
    Flatten(), LogSoftmax(),
)

# Step 4 (9,496), "GAP layer to be added and increase capacity". GAP replaces the last
# convolution (3x3 -> 1x1); the first block widens 32 -> 40, block 2's first layer 20 -> 18:
#   3x3 1->40 (pad 1): 360 + BN 80; 3x3 40->18: 6,480 + BN 36; 3x3 18->10: 1,620 + BN 20;
#   3x3 10->10: 900; GAP -> 9,360 + 136 = 9,496.
_STEP4 = (
    Conv(40, 3, padding=1, use_bias=False), BatchNorm(), ReLU(), Dropout(),   # 28x28
    MaxPool(2),                                                               # 14x14
    Conv(18, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),              # 12x12
    Conv(10, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),              # 10x10
    MaxPool(2),                                                               # 5x5
    Conv(10, 3, use_bias=False),                                              # 3x3, scores
    AvgPool(3),                                                               # GAP
    Flatten(), LogSoftmax(),
)

# Steps 5-7 (6,376), "Restructured the model to remove a block"; "Removed padding"; GAP kept.
# Two blocks of 3x3 convolutions with a max-pool and a 1x1 transition between them:
#   3x3 1->8: 72 + BN 16; 3x3 8->16: 1,152 + BN 32; max-pool; 1x1 16->8: 128 + BN 16;
#   3x3 8->16: 1,152 + BN 32; 3x3 16->16: 2,304 + BN 32; 3x3 16->10: 1,440; GAP
#   -> 6,248 + 128 = 6,376.
_STEP5 = (
    Conv(8, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),    # block 1: 26x26
    Conv(16, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),   # 24x24
    MaxPool(2),                                                    # 12x12
    Conv(8, 1, use_bias=False), BatchNorm(), ReLU(),               # transition: 12x12
    Conv(16, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),   # block 2: 10x10
    Conv(16, 3, use_bias=False), BatchNorm(), ReLU(), Dropout(),   # 8x8
    Conv(10, 3, use_bias=False),                                   # 6x6, class scores
    AvgPool(6),                                                    # GAP
    Flatten(), LogSoftmax(),
)

SPECS = (
    ModelSpec("ref5_step1", _STEP1, 0.0, "ref5.md, Step 1 (10,368): reconstruction"),
    ModelSpec("ref5_step2", _STEP2, 0.0, "ref5.md, Step 2 (9,648): reconstruction"),
    ModelSpec("ref5_step3", _STEP3, DROPOUT_RATE, "ref5.md, Step 3 (9,792): reconstruction"),
    ModelSpec("ref5_step4", _STEP4, DROPOUT_RATE, "ref5.md, Step 4 (9,496): reconstruction"),
    ModelSpec("ref5_step5", _STEP5, DROPOUT_RATE, "ref5.md, Step 5 (6,376): reconstruction"),
    ModelSpec("ref5_step6", _STEP5, DROPOUT_RATE,
              "ref5.md, Step 6 'Add image Augmentation' (6,376): Step 5 network, reconstruction"),
    ModelSpec("ref5_step7", _STEP5, DROPOUT_RATE,
              "ref5.md, Step 7 'Adding LR scheduler' (6,376): Step 5 network, reconstruction"),
)
