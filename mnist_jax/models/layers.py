"""Layer specs: each network is a tuple of the frozen dataclasses below in the published PyTorch
call order, read by `network.Network` (Flax, NHWC), `mnist_jax.torch.mirror` (torch, NCHW) and
`table`. Specs follow torch defaults (``Conv(use_bias=True)``, pool stride = window).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Union


INPUT_SHAPE = (28, 28, 1)  # H, W, C of one MNIST image, the input of every model.


@dataclasses.dataclass(frozen=True)
class Op:
  """A layer without parameters of its own. ``functional``: the reference calls it as a
  function (``F.relu``, ``x.view``, ...) rather than as a module, so torchsummary does not
  list it. Not a layer itself: specs use the kinds below."""
  functional: bool = False


@dataclasses.dataclass(frozen=True)
class Conv:
  """``nn.Conv2d(in, features, kernel_size, stride, padding, dilation, groups, bias=use_bias)``,
  sizes in pixels; kernel [k, k, in / groups, features]; groups = in = features: depthwise."""
  features: int
  kernel_size: int
  padding: int = 0
  stride: int = 1
  dilation: int = 1
  use_bias: bool = True
  groups: int = 1


@dataclasses.dataclass(frozen=True)
class ReLU(Op):
  """``nn.ReLU()``, or ``F.relu`` when ``functional``."""


@dataclasses.dataclass(frozen=True)
class BatchNorm:
  """``nn.BatchNorm2d(C)`` (or ``BatchNorm1d`` after a flatten): eps 1e-5, momentum 0.1."""


@dataclasses.dataclass(frozen=True)
class Dropout:
  """``nn.Dropout2d(p)`` when ``channelwise`` (drops whole channels), else ``nn.Dropout(p)``;
  p is the model's ``dropout_rate``."""
  channelwise: bool = False


@dataclasses.dataclass(frozen=True)
class Pool:
  """Fields of `MaxPool` and `AvgPool`: window side and stride in pixels (stride None = the
  window, as in torch), ``functional`` as in `Op`. Not a layer itself."""
  window: int
  stride: int | None = None
  functional: bool = False


@dataclasses.dataclass(frozen=True)
class MaxPool(Pool):
  """``nn.MaxPool2d(window, stride)``; window 2 unless given."""
  window: int = 2


@dataclasses.dataclass(frozen=True)
class AvgPool(Pool):
  """``nn.AvgPool2d(window, stride)``; the references use it as GAP with window = map size."""


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool(Op):
  """``nn.AdaptiveAvgPool2d(1)``: mean over the whole feature map, keeps a 1x1 map."""


@dataclasses.dataclass(frozen=True)
class Flatten(Op):
  """``x.view(N, -1)``. Flax flattens NHWC; `torch.mirror` permutes Linear weights to match."""
  functional: bool = True


@dataclasses.dataclass(frozen=True)
class Dense:
  """``nn.Linear(in, features, bias=use_bias)``."""
  features: int
  use_bias: bool = True


@dataclasses.dataclass(frozen=True)
class LogSoftmax(Op):
  """``F.log_softmax(x, dim=-1)``, the last op of every reference network."""
  functional: bool = True


Layer = Union[Conv, ReLU, BatchNorm, Dropout, MaxPool, AvgPool, GlobalAvgPool, Flatten, Dense,
              LogSoftmax]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One registered network: ``name`` (``ref<k>_<step>``, or e.g. ``frontier_4k`` for ours), its
  ``layers`` in call order, ``dropout_rate`` of every `Dropout` (0 without), and the ``source``
  of the architecture (write-up file and step, or "ours")."""
  name: str
  layers: tuple[Layer, ...]
  dropout_rate: float
  source: str


def stride_of(layer: Pool) -> int:
  """The pool's stride in pixels: `layer.stride`, or the window when None."""
  return layer.window if layer.stride is None else layer.stride


def output_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
  """Shape after `layer` for one example: ``(H, W, C)`` for maps, ``(F,)`` after a flatten.
  Raises ValueError if the layer does not fit the input (e.g. a kernel larger than the map, or
  conv groups that do not divide its input channels and features)."""
  match layer:
    case Conv(features=features, kernel_size=k, padding=p, stride=s, dilation=d, groups=g):
      height, width, channels = shape
      if g < 1 or channels % g or features % g:
        raise ValueError(f"{layer} needs groups >= 1 dividing its {channels} input channels "
                         f"and {features} features")
      size = lambda n: (n + 2 * p - d * (k - 1) - 1) // s + 1
      out = (size(height), size(width), features)
    case MaxPool() | AvgPool():
      height, width, channels = shape
      k, s = layer.window, stride_of(layer)
      out = ((height - k) // s + 1, (width - k) // s + 1, channels)
    case GlobalAvgPool():
      out = (1, 1, shape[-1])
    case Flatten():
      out = (math.prod(shape),)
    case Dense(features=features):
      if len(shape) != 1:
        raise ValueError(f"Dense needs a flat input, got shape {shape}; add Flatten() before it")
      out = (features,)
    case _:
      out = tuple(shape)
  if min(out) < 1:
    raise ValueError(f"{layer} does not fit input shape {shape} (output {out})")
  return out
