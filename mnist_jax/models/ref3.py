"""ref3.md: "MNIST Classification using Target, Results and Analysis Strategy", Steps 1-4.

The final torchsummary table (ref3.md, "Model Summary", Total params: 9,436) is shared by
Steps 2-4 (all report 9,436 parameters). Step 1 ("Skeleton Model", 9,264) is that network
without BatchNorm: 9,436 - 9,264 = 172 = 2 * (12 + 14 + 14 + 14 + 16 + 16), exactly its six
BatchNorm2d layers. Step 1 also has no dropout: Step 2 is the one titled "Regularization and
BatchNormalization".

Dropout: the table lists ``Dropout`` (elementwise, not ``Dropout2d``); the write-up gives no
rate, so we use 0.1, the usual value in these notebooks.
"""

from mnist_jax.models.layers import AvgPool, BatchNorm, Conv, Dropout, Flatten, LogSoftmax
from mnist_jax.models.layers import MaxPool, ModelSpec, ReLU

DROPOUT_RATE = 0.1  # Not stated in ref3.md; a common value.


def _network(batch_norm: bool, dropout: bool) -> tuple:
  """ref3.md "Model Summary" rows 1-27 (bias-free convolutions: 108 = 1*12*3*3)."""
  bn = (BatchNorm(),) if batch_norm else ()
  drop = (Dropout(),) if dropout else ()
  return (
      Conv(12, 3, use_bias=False), ReLU(), *bn, *drop,   # Conv2d-1..Dropout-4, 26x26
      Conv(14, 3, use_bias=False), ReLU(), *bn,          # Conv2d-5..BatchNorm2d-7, 24x24
      MaxPool(2),                                        # MaxPool2d-8, 12x12
      Conv(10, 1, use_bias=False),                       # Conv2d-9 (1x1 transition)
      Conv(14, 3, use_bias=False), ReLU(), *bn, *drop,   # Conv2d-10..Dropout-13, 10x10
      Conv(14, 3, use_bias=False), ReLU(), *bn, *drop,   # Conv2d-14..Dropout-17, 8x8
      Conv(16, 3, use_bias=False), ReLU(), *bn, *drop,   # Conv2d-18..Dropout-21, 6x6
      Conv(16, 3, use_bias=False), ReLU(), *bn, *drop,   # Conv2d-22..Dropout-25, 4x4
      AvgPool(4),                                        # AvgPool2d-26, GAP
      Conv(10, 1, use_bias=False),                       # Conv2d-27, 1x1 head
      Flatten(), LogSoftmax(),
  )


SPECS = (
    ModelSpec("ref3_step1", _network(batch_norm=False, dropout=False), 0.0,
              "ref3.md, Step 1 'Skeleton Model' (9,264): final network without BatchNorm"),
    ModelSpec("ref3_step2", _network(batch_norm=True, dropout=True), DROPOUT_RATE,
              "ref3.md, Step 2 'Regularization and BatchNormalization' (9,436), final table"),
    ModelSpec("ref3_step3", _network(batch_norm=True, dropout=True), DROPOUT_RATE,
              "ref3.md, Step 3 'Image Augmentations' (9,436), final table"),
    ModelSpec("ref3_step4", _network(batch_norm=True, dropout=True), DROPOUT_RATE,
              "ref3.md, Step 4 'LR Scheduler' (9,436), final 'Model Summary' table"),
)
