"""torchsummary-style table and receptive field of any registered model: ``torchsummary.summary``
rows plus receptive field and jump (``rf += dilation * (kernel - 1) * jump; jump *= stride``);
parameter counts from the Flax module (`jax.eval_shape` of ``init``: no arrays computed).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import jax
import jax.numpy as jnp

from mnist_jax import models
from mnist_jax.models import layers
from mnist_jax.models import network

INPUT_SHAPE = layers.INPUT_SHAPE

_TORCH_TYPES = {
    layers.Conv: "Conv2d", layers.ReLU: "ReLU", layers.BatchNorm: "BatchNorm2d",
    layers.MaxPool: "MaxPool2d", layers.AvgPool: "AvgPool2d",
    layers.GlobalAvgPool: "AdaptiveAvgPool2d", layers.Flatten: "Flatten",
    layers.Dense: "Linear", layers.LogSoftmax: "LogSoftmax",
}
# How the references spell the functional form (F.relu(x) etc.).
_FUNCTIONAL_NAMES = {
    layers.ReLU: "F.relu", layers.MaxPool: "F.max_pool2d", layers.AvgPool: "F.avg_pool2d",
    layers.GlobalAvgPool: "F.adaptive_avg_pool2d", layers.Flatten: "view",
    layers.LogSoftmax: "F.log_softmax",
}


@dataclasses.dataclass(frozen=True)
class Row:
  """One summary row per ``nn.Module`` the reference calls: ``name``, torchsummary's
  ``<TorchType>-<k>`` (k counting modules in call order, e.g. ``"Conv2d-1"``; functional ops:
  the call, e.g. ``"F.relu"``); ``layer_type``, the torch class name; ``output_shape``
  ``(-1, C, H, W)`` or ``(-1, F)``; trainable ``params``; ``receptive_field`` after the layer
  and ``jump`` between neighbouring outputs, in input pixels (one side); ``functional`` as in
  `layers.Op`.
  """
  name: str
  layer_type: str
  output_shape: tuple[int, ...]
  params: int
  receptive_field: int
  jump: int
  functional: bool = False


def torch_type(layer: layers.Layer, input_shape: tuple[int, ...]) -> str:
  """torch class name of the module that `layer` mirrors."""
  if isinstance(layer, layers.Dropout):
    return "Dropout2d" if layer.channelwise else "Dropout"
  if isinstance(layer, layers.BatchNorm) and len(input_shape) == 1:
    return "BatchNorm1d"
  return _TORCH_TYPES[type(layer)]


def count_params(model: str | layers.ModelSpec | Mapping[str, Any]) -> int:
  """Number of trainable parameters (the size of ``'params'``) of `model`: a Flax variables
  dict with arrays or `jax.ShapeDtypeStruct` leaves, a registered name or a `layers.ModelSpec`.
  Raises ValueError for an unknown model name."""
  variables = model if isinstance(model, Mapping) else _variable_shapes(_spec(model))
  return _size(variables["params"])


def _size(tree: Any) -> int:
  return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree))


def _spec(model: str | layers.ModelSpec) -> layers.ModelSpec:
  return models.spec(model) if isinstance(model, str) else model


def _variable_shapes(spec: layers.ModelSpec) -> Mapping[str, Any]:
  model = network.Network(layers=spec.layers, dropout_rate=spec.dropout_rate)
  x = jax.ShapeDtypeStruct((1, *INPUT_SHAPE), jnp.float32)
  return jax.eval_shape(lambda x: model.init({"params": jax.random.key(0)}, x, train=False), x)


def rows(model: str | layers.ModelSpec, include_functional: bool = False) -> list[Row]:
  """Summary rows of `model`, a registered name or a `layers.ModelSpec`, in call order.
  `include_functional`: also list ops the reference calls as functions (F.relu, ...), which
  torchsummary omits; they do not advance the ``-k`` numbering. ValueError: unknown name."""
  spec = _spec(model)
  params = _variable_shapes(spec)["params"]
  shape, receptive_field, jump = INPUT_SHAPE, 1, 1
  flattened_extent = 1  # Side of the map a Dense after Flatten mixes over.
  result, module_count = [], 0
  for index, layer in enumerate(spec.layers):
    out_shape = layers.output_shape(layer, shape)
    match layer:
      case layers.Conv(kernel_size=k, stride=s, dilation=d):
        receptive_field += d * (k - 1) * jump
        jump *= s
      case layers.MaxPool() | layers.AvgPool():
        receptive_field += (layer.window - 1) * jump
        jump *= layers.stride_of(layer)
      case layers.GlobalAvgPool():
        receptive_field += (max(shape[:2]) - 1) * jump
        jump *= max(shape[:2])
      case layers.Flatten() if len(shape) == 3:
        flattened_extent = max(shape[:2])
      case layers.Dense():
        # Every output of a Dense on a flattened HxW map sees all H*W positions.
        receptive_field += (flattened_extent - 1) * jump
        jump *= flattened_extent
        flattened_extent = 1
    count = _size(params.get(f"layers_{index}", {}))
    functional = getattr(layer, "functional", False)
    if not functional:
      module_count += 1
    if include_functional or not functional:
      layer_type = torch_type(layer, shape)
      row_name = _FUNCTIONAL_NAMES[type(layer)] if functional else f"{layer_type}-{module_count}"
      torch_shape = (-1, out_shape[2], out_shape[0], out_shape[1]) if len(out_shape) == 3 else (
          -1, *out_shape)
      result.append(Row(row_name, layer_type, torch_shape, count, receptive_field, jump,
                        functional))
    shape = out_shape
  return result


def receptive_field(model: str | layers.ModelSpec) -> int:
  """Receptive field of the output of `model` (a name or a `layers.ModelSpec`), in input
  pixels along one side. Raises ValueError for an unknown model name."""
  return rows(model, include_functional=True)[-1].receptive_field


def table(model: str | layers.ModelSpec, include_functional: bool = False) -> str:
  """The torchsummary table of `model` (a name or a `layers.ModelSpec`), with receptive field
  and jump columns; `include_functional` as for `rows`. Raises ValueError for an unknown name.
  """
  spec = _spec(model)
  table_rows = rows(spec, include_functional)
  variables = _variable_shapes(spec)
  total = count_params(variables)
  buffers = _size(variables.get("batch_stats", {}))
  line = "{:>20}  {:>25} {:>15} {:>8} {:>6}"
  width = len(line.format("", "", "", "", ""))
  out = ["-" * width, line.format("Layer (type)", "Output Shape", "Param #", "RF", "Jump"),
         "=" * width]
  for row in table_rows:
    out.append(line.format(row.name, str(list(row.output_shape)), f"{row.params:,}",
                           row.receptive_field, row.jump))
  out += ["=" * width, f"Total params: {total:,}", f"Trainable params: {total:,}",
          "Non-trainable params: 0", f"BatchNorm running statistics (buffers): {buffers:,}",
          f"Receptive field: {receptive_field(spec)}", "-" * width]
  return "\n".join(out)
