"""ref4.md: Steps 1-5 ("Build the basic skeleton" ... "Add Learning rate scheduler").

Steps 3-5 (9,426) follow the text list in ref4.md, "Final Model Architecture":
conv -> batch norm -> relu, max pool -> dropout, no ReLU after the last convolution, global
average pooling, softmax (log_softmax here, as everywhere). The total 9,426 implies
convolutions with bias:
  conv1 5x5 1->96: 2,496; BN 192; conv2 1x1 96->16: 1,552; BN 32; conv3 3x3 16->16: 2,320;
  BN 32; conv4 1x1 16->8: 136; BN 16; conv5 3x3 8->16: 1,168; BN 32; conv6 3x3 16->10: 1,450
  -> 9,426.
Conv1 keeps 28x28, so its padding is 2. Step 2 ("Build lighter model", 9,122 = 9,426 - 304)
is the same network without BatchNorm and, since Step 3 is "Add batch normalization &
dropout", without dropout.

Step 1 ("Build the basic skeleton", 185,930) is published only as a count: a RECONSTRUCTION
(see `_skeleton`).

The text names neither the dropout kind nor its rate: we use elementwise ``Dropout`` with
0.1, the usual value in these notebooks. GAP is ``AdaptiveAvgPool2d(1)`` (same result as
``AvgPool2d(2)`` on the 2x2 map).
"""

from mnist_jax.models.layers import BatchNorm, Conv, Dropout, Flatten, GlobalAvgPool
from mnist_jax.models.layers import LogSoftmax, MaxPool, ModelSpec, ReLU

DROPOUT_RATE = 0.1  # Not stated in ref4.md; a common value.


def _network(batch_norm: bool, dropout: bool) -> tuple:
  """ref4.md "Final Model Architecture", items 1-10."""
  bn = (BatchNorm(),) if batch_norm else ()
  drop = (Dropout(),) if dropout else ()
  return (
      Conv(96, 5, padding=2), *bn, ReLU(),   # 1. 96 x 28 x 28
      Conv(16, 1), *bn, ReLU(),              # 2. 16 x 28 x 28
      MaxPool(2), *drop,                     # 3. 16 x 14 x 14
      Conv(16, 3), *bn, ReLU(),              # 4. 16 x 12 x 12
      Conv(8, 1), *bn, ReLU(),               # 5. 8 x 12 x 12
      MaxPool(2), *drop,                     # 6. 8 x 6 x 6
      Conv(16, 3), *bn, ReLU(),              # 7. 16 x 4 x 4
      Conv(10, 3),                           # 8. 10 x 2 x 2, no ReLU
      GlobalAvgPool(),                       # 9. 10 x 1 x 1
      Flatten(), LogSoftmax(),               # 10.
  )


def _skeleton() -> tuple:
  """Step 1, RECONSTRUCTION: the final layout with wider layers, no BatchNorm, no dropout.

  ref4.md STEP 1: "Build the code skeleton and achieve a decent accuracy", Parameters:
  185,930; Step 2 then builds "a lighter model with less than 10k parameter". We keep the
  layout of Steps 2-5 (and its first layer, 5x5 1->96, which all later steps keep) and widen
  the rest; with convolutions with bias, as in Steps 2-5:
    5x5 1->96: 2,496; 1x1 96->48: 4,656; max-pool; 3x3 48->16: 6,928; 1x1 16->64: 1,088;
    max-pool; 3x3 64->256: 147,712; 3x3 256->10: 23,050; GAP -> 185,930.
  Among widths from {8, 10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512} this layout reaches
  185,930 only with these.
  """
  return (
      Conv(96, 5, padding=2), ReLU(),   # 96 x 28 x 28
      Conv(48, 1), ReLU(),              # 48 x 28 x 28
      MaxPool(2),                       # 48 x 14 x 14
      Conv(16, 3), ReLU(),              # 16 x 12 x 12
      Conv(64, 1), ReLU(),              # 64 x 12 x 12
      MaxPool(2),                       # 64 x 6 x 6
      Conv(256, 3), ReLU(),             # 256 x 4 x 4
      Conv(10, 3),                      # 10 x 2 x 2, no ReLU
      GlobalAvgPool(),                  # 10 x 1 x 1
      Flatten(), LogSoftmax(),
  )


SPECS = (
    ModelSpec("ref4_step1", _skeleton(), 0.0,
              "ref4.md, STEP 1 'Build the basic skeleton' (185,930): reconstruction"),
    ModelSpec("ref4_step2", _network(batch_norm=False, dropout=False), 0.0,
              "ref4.md, Step 2 'Build lighter model' (9,122): final list without BatchNorm"),
    ModelSpec("ref4_step3", _network(batch_norm=True, dropout=True), DROPOUT_RATE,
              "ref4.md, Step 3 'Add batch normalization & dropout' (9,426)"),
    ModelSpec("ref4_step4", _network(batch_norm=True, dropout=True), DROPOUT_RATE,
              "ref4.md, Step 4 'Add data augmentation' (9,426)"),
    ModelSpec("ref4_step5", _network(batch_norm=True, dropout=True), DROPOUT_RATE,
              "ref4.md, Step 5 'Add Learning rate scheduler' (9,426), 'Final Model Architecture'"),
)
