"""PyTorch mirrors of the registered models, from the same layer specs, and their variables
both ways (`to_flax_variables`, `to_state_dict`); torch is imported inside the functions. Child
``i`` is spec layer ``i`` (functional ops become modules, keeping the indices aligned):
state_dict key ``"<i>.weight"`` is the Flax submodule ``layers_<i>``.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, Callable, Mapping

from flax import traverse_util

import jax.numpy as jnp
import numpy as np

from mnist_jax import models
from mnist_jax.models import layers


def build(name: str, dropout_rate: float | None = None) -> Any:
  """The ``torch.nn.Sequential`` mirror of registered model `name` (float32, torch default
  init), mapping float32 [N, 1, 28, 28] to [N, 10] log-probabilities. `dropout_rate` overrides
  the model's rate for every dropout layer (0: deterministic). Raises ValueError for an unknown
  model name.
  """
  import torch  # pylint: disable=import-outside-toplevel
  from torch import nn  # pylint: disable=import-outside-toplevel

  spec = models.spec(name)
  rate = spec.dropout_rate if dropout_rate is None else dropout_rate
  shape = layers.INPUT_SHAPE
  modules = []
  for layer in spec.layers:
    match layer:
      case layers.Conv():
        module = nn.Conv2d(shape[-1], layer.features, layer.kernel_size, stride=layer.stride,
                           padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                           bias=layer.use_bias)
      case layers.ReLU():
        module = nn.ReLU()
      case layers.BatchNorm():
        module = nn.BatchNorm2d(shape[-1]) if len(shape) == 3 else nn.BatchNorm1d(shape[-1])
      case layers.Dropout():
        module = nn.Dropout2d(rate) if layer.channelwise and len(shape) == 3 else nn.Dropout(rate)
      case layers.MaxPool():
        module = nn.MaxPool2d(layer.window, layers.stride_of(layer))
      case layers.AvgPool():
        module = nn.AvgPool2d(layer.window, layers.stride_of(layer))
      case layers.GlobalAvgPool():
        module = nn.AdaptiveAvgPool2d(1)
      case layers.Flatten():
        module = nn.Flatten()
      case layers.Dense():
        module = nn.Linear(shape[0], layer.features, bias=layer.use_bias)
      case layers.LogSoftmax():
        module = nn.LogSoftmax(dim=-1)
      case _:
        raise TypeError(f"unknown layer spec {layer!r}")
    modules.append(module)
    shape = layers.output_shape(layer, shape)
  return nn.Sequential(*modules).to(torch.float32)


def to_flax_variables(state_dict: Mapping[str, Any], name: str) -> dict[str, dict]:
  """Converts a `build(name)` state_dict (torch tensors of any float dtype, or numpy arrays)
  into Flax variables for ``models.create(name)``: Conv OIHW -> HWIO; Linear (out, in) -> (in,
  out), after a flatten reordered from (C, H, W) to (H, W, C); BatchNorm weight/bias ->
  scale/bias, running_mean/var -> batch_stats (``num_batches_tracked``, unread by torch at
  momentum 0.1, dropped or absent). Returns ``{'params', 'batch_stats'}`` of float32 arrays
  (no ``batch_stats`` without BatchNorm).

  Raises:
    ValueError: unknown model name, or a state_dict that does not fit the model (a missing
      or unexpected key, or a tensor of another shape; the message names the first).
  """
  tensors = _tensors(name)
  _check_names(state_dict, [t.key for t in tensors if t.path], [t.key for t in tensors],
               "state_dict has", f"build({name!r})")
  flat = {}
  for tensor in tensors:
    if tensor.path is None:
      continue
    value = state_dict[tensor.key]
    value = value.detach().cpu().float().numpy() if hasattr(value, "detach") else np.asarray(value)
    _check_shape(f"state_dict[{tensor.key!r}]", value.shape, tensor.torch_shape, f"build({name!r})")
    flat[tensor.path] = tensor.to_flax(value).astype(np.float32)
  return _to_jax(traverse_util.unflatten_dict(flat))


def to_state_dict(variables: Mapping[str, Any], name: str,
                  num_batches_tracked: int = 0) -> dict[str, Any]:
  """Converts Flax variables of ``models.create(name)`` (one network's ``{'params',
  'batch_stats'}``, numpy or JAX arrays) into a `build(name)` state_dict, the exact inverse of
  `to_flax_variables`: float32 CPU tensors in ``state_dict()`` order, every BatchNorm's
  ``num_batches_tracked`` an int64 scalar (the optimizer steps, an int >= 0), as
  ``load_state_dict(strict=True)`` accepts.

  Raises:
    ValueError: unknown model name, a negative `num_batches_tracked`, or variables that do not
      fit the model (a missing or unexpected variable, or one of another shape).
  """
  import torch  # pylint: disable=import-outside-toplevel

  try:
    count = operator.index(num_batches_tracked)
  except TypeError:
    count = -1
  if count < 0:
    raise ValueError(f"num_batches_tracked must be an integer >= 0, got {num_batches_tracked!r}")
  tensors = _tensors(name)
  flat = traverse_util.flatten_dict(dict(variables), sep="/")
  paths = ["/".join(t.path) for t in tensors if t.path]
  _check_names(flat, paths, paths, "variables have", f"models.create({name!r})")
  state_dict = {}
  for tensor in tensors:
    if tensor.path is None:
      state_dict[tensor.key] = torch.tensor(count, dtype=torch.int64)
      continue
    path = "/".join(tensor.path)
    value = np.asarray(flat[path], np.float32)
    _check_shape(f"variables {path!r}", value.shape, tensor.flax_shape, f"models.create({name!r})")
    state_dict[tensor.key] = torch.from_numpy(np.array(tensor.to_torch(value), order="C"))
  return state_dict


@dataclasses.dataclass(frozen=True)
class _Tensor:
  """One state_dict tensor of `build(name)` (key, e.g. "3.weight") and the Flax variable it is:
  path (collection, module, name), e.g. ("params", "layers_3", "kernel"), None for
  ``num_batches_tracked``; its shapes on either side and the layout change each way."""
  key: str
  path: tuple[str, str, str] | None
  torch_shape: tuple[int, ...]
  flax_shape: tuple[int, ...]
  to_flax: Callable[[np.ndarray], np.ndarray] = lambda x: x
  to_torch: Callable[[np.ndarray], np.ndarray] = lambda x: x


# BatchNorm: (torch name, Flax collection, Flax name); num_batches_tracked follows them.
_BATCH_NORM = (("weight", "params", "scale"), ("bias", "params", "bias"),
               ("running_mean", "batch_stats", "mean"), ("running_var", "batch_stats", "var"))


def _tensors(name: str) -> list[_Tensor]:
  """The state_dict tensors of `build(name)` in its order (ValueError: unknown model name)."""
  result = []
  shape = layers.INPUT_SHAPE
  flattened_from = None  # (H, W, C) of the map the next Linear reads flattened.
  for index, layer in enumerate(models.spec(name).layers):
    module = f"layers_{index}"
    match layer:
      case layers.Conv(features=features, kernel_size=k, groups=groups):
        # Grouped: torch (out, in / groups, k, k), Flax (k, k, in / groups, out); same transpose.
        fan_in = shape[-1] // groups
        result.append(_Tensor(f"{index}.weight", ("params", module, "kernel"),
                              (features, fan_in, k, k), (k, k, fan_in, features),
                              lambda w: w.transpose(2, 3, 1, 0), lambda w: w.transpose(3, 2, 0, 1)))
      case layers.BatchNorm():
        result += [_Tensor(f"{index}.{torch_name}", (collection, module, flax_name), shape[-1:],
                           shape[-1:]) for torch_name, collection, flax_name in _BATCH_NORM]
        result.append(_Tensor(f"{index}.num_batches_tracked", None, (), ()))
      case layers.Flatten() if len(shape) == 3:
        flattened_from = shape
      case layers.Dense(features=features):
        result.append(_Tensor(f"{index}.weight", ("params", module, "kernel"),
                              (features, shape[0]), (shape[0], features),
                              *_linear_layouts(flattened_from)))
        flattened_from = None
    if isinstance(layer, (layers.Conv, layers.Dense)) and layer.use_bias:
      result.append(_Tensor(f"{index}.bias", ("params", module, "bias"),
                            (layer.features,), (layer.features,)))
    shape = layers.output_shape(layer, shape)
  return result


def _linear_layouts(flattened_from: tuple[int, int, int] | None) -> tuple[Callable, Callable]:
  """(to_flax, to_torch) of a Linear weight [out, in] <-> Dense kernel [in, out]; after a
  flatten of an (H, W, C) map `in` runs over (C, H, W) in torch, (H, W, C) in Flax."""
  if flattened_from is None:
    return (lambda weight: weight.T), (lambda kernel: kernel.T)
  height, width, channels = flattened_from

  def to_flax(weight):
    chw = weight.reshape(weight.shape[0], channels, height, width)
    return chw.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1).T

  def to_torch(kernel):
    hwc = kernel.T.reshape(kernel.shape[1], height, width, channels)
    return hwc.transpose(0, 3, 1, 2).reshape(kernel.shape[1], -1)

  return to_flax, to_torch


def _check_names(given: Mapping[str, Any], required: list[str], allowed: list[str],
                 subject: str, source: str) -> None:
  """Raises ValueError naming the first of `required` missing from `given`, else the first key
  of `given` not in `allowed` (with how many more there are), e.g. "state_dict has no
  '0.bias' (and 5 more); is it from build('ref2_model_init')?"."""
  missing = [key for key in required if key not in given]
  unexpected = sorted(set(given) - set(allowed))
  for problem, keys in (("no", missing), ("unexpected", unexpected)):
    if keys:
      more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
      raise ValueError(f"{subject} {problem} {keys[0]!r}{more}; is it from {source}?")


def _check_shape(what: str, shape: tuple[int, ...], expected: tuple[int, ...], source: str) -> None:
  if tuple(shape) != tuple(expected):
    raise ValueError(f"{what} has shape {tuple(shape)}, but {source} needs {tuple(expected)}")


def _to_jax(tree: Mapping[str, Any]) -> dict:
  return {k: _to_jax(v) if isinstance(v, Mapping) else jnp.asarray(v) for k, v in tree.items()}
