"""ref2.md ("S7"): Model Init, Net1, Net2 and the Final Model (Experiments 1-3).

All four architectures come from the torchsummary tables in ref2.md. The write-up states
no dropout rate; we use 0.1, the usual value in these notebooks. The tables list
``Dropout`` (elementwise), never ``Dropout2d``.
"""

from mnist_jax.models.layers import AvgPool, BatchNorm, Conv, Dense, Dropout, Flatten
from mnist_jax.models.layers import LogSoftmax, MaxPool, ModelSpec, ReLU

DROPOUT_RATE = 0.1  # Not stated in ref2.md; a common value.

# ref2.md, "ModelName: Model Init" (593,200). The table lists only Conv2d-1..4 and Linear-5/6,
# so ReLU and max-pool are functional calls (F.relu, F.max_pool2d). The pools are placed by
# the shapes: 24x24 -> 10x10 after Conv2d-3 needs a pool before it, and Linear-5 has
# 204,850 = (256*4*4)*50 + 50 inputs, so 8x8 -> 4x4 after Conv2d-4. The ReLU between the two
# Linear layers is not visible in a table; we follow the usual F.relu(fc1(x)).
_MODEL_INIT = (
    Conv(32, 3), ReLU(functional=True),                              # Conv2d-1, 26x26, 320
    Conv(64, 3), ReLU(functional=True), MaxPool(2, functional=True),  # Conv2d-2, 24x24, 18,496
    Conv(128, 3), ReLU(functional=True),                             # Conv2d-3, 10x10, 73,856
    Conv(256, 3), ReLU(functional=True), MaxPool(2, functional=True),  # Conv2d-4, 8x8, 295,168
    Flatten(),
    Dense(50), ReLU(functional=True),                                # Linear-5, 204,850
    Dense(10),                                                       # Linear-6, 510
    LogSoftmax(),
)

# ref2.md, "ModelName: Net1" (19,470). The published table skips rows 12-14; the total fixes
# them: 19,470 - (listed rows: 10,158) = 9,312 = BatchNorm2d-12 (64) + Conv2d-13 (32*32*9+32 =
# 9,248), with ReLU-14 between Conv2d-13 and BatchNorm2d-15 (shape [-1, 32, 8, 8]).
_NET1 = (
    Conv(16, 3), ReLU(), BatchNorm(),              # rows 1-3:   [-1, 16, 26, 26], 160 + 32
    Conv(16, 3), ReLU(), BatchNorm(),              # rows 4-6:   [-1, 16, 24, 24], 2,320 + 32
    MaxPool(2), ReLU(), Dropout(),                 # rows 7-9:   [-1, 16, 12, 12]
    Conv(32, 3), ReLU(), BatchNorm(),              # rows 10-12: [-1, 32, 10, 10], 4,640 + 64
    Conv(32, 3), ReLU(), BatchNorm(),              # rows 13-15: [-1, 32, 8, 8], 9,248 + 64
    MaxPool(2), ReLU(), Dropout(),                 # rows 16-18: [-1, 32, 4, 4]
    Conv(10, 3), BatchNorm(), Dropout(),           # rows 19-21: [-1, 10, 2, 2], 2,890 + 20
    AvgPool(2),                                    # row 22:     [-1, 10, 1, 1]
    Flatten(), LogSoftmax(),
)


def _block(features: int, padding: int = 0) -> tuple:
  """Conv2d 3x3 (no bias) -> ReLU -> BatchNorm2d -> Dropout, the Net2/Final row group."""
  return (Conv(features, 3, padding=padding, use_bias=False), ReLU(), BatchNorm(), Dropout())


# ref2.md, "ModelName: Net2" (13,808).
_NET2 = (
    *_block(16),                    # rows 1-4:   [-1, 16, 26, 26], 144
    *_block(32),                    # rows 5-8:   [-1, 32, 24, 24], 4,608
    Conv(10, 1, use_bias=False),    # row 9:      [-1, 10, 24, 24], 320
    MaxPool(2),                     # row 10:     [-1, 10, 12, 12]
    *_block(16),                    # rows 11-14: [-1, 16, 10, 10], 1,440
    *_block(16),                    # rows 15-18: [-1, 16, 8, 8], 2,304
    *_block(16),                    # rows 19-22: [-1, 16, 6, 6], 2,304
    *_block(16, padding=1),         # rows 23-26: [-1, 16, 6, 6], 2,304
    AvgPool(6),                     # row 27:     [-1, 16, 1, 1]
    Conv(10, 1, use_bias=False),    # row 28:     [-1, 10, 1, 1], 160
    Flatten(), LogSoftmax(),
)

# ref2.md, "ModelName: Final Model", Experiments 1-3 (7,958).
_FINAL = (
    *_block(10),                    # rows 1-4:   [-1, 10, 26, 26], 90
    *_block(20),                    # rows 5-8:   [-1, 20, 24, 24], 1,800
    Conv(10, 1, use_bias=False),    # row 9:      [-1, 10, 24, 24], 200
    MaxPool(2),                     # row 10:     [-1, 10, 12, 12]
    *_block(10),                    # rows 11-14: [-1, 10, 10, 10], 900
    *_block(10),                    # rows 15-18: [-1, 10, 8, 8], 900
    *_block(16),                    # rows 19-22: [-1, 16, 6, 6], 1,440
    *_block(16, padding=1),         # rows 23-26: [-1, 16, 6, 6], 2,304
    AvgPool(6),                     # row 27:     [-1, 16, 1, 1]
    Conv(10, 1, use_bias=False),    # row 28:     [-1, 10, 1, 1], 160
    Flatten(), LogSoftmax(),
)

SPECS = (
    ModelSpec("ref2_model_init", _MODEL_INIT, 0.0, "ref2.md, 'ModelName: Model Init' table"),
    ModelSpec("ref2_net1", _NET1, DROPOUT_RATE,
              "ref2.md, 'ModelName: Net1' table (rows 12-14 fixed by the 19,470 total)"),
    ModelSpec("ref2_net2", _NET2, DROPOUT_RATE, "ref2.md, 'ModelName: Net2' table"),
    ModelSpec("ref2_final", _FINAL, DROPOUT_RATE,
              "ref2.md, 'ModelName: Final Model' table (Experiments 1-3 share it)"),
)
