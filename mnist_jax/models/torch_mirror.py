"""PyTorch mirrors of the registered models, built from the same layer specs.

For parity tests and side-by-side benchmarks only: torch is imported inside the functions,
so ``mnist_jax`` itself never needs it.

`build` returns an ``nn.Sequential`` (NCHW) whose child ``i`` mirrors spec layer ``i``, so
its state_dict keys ``"<i>.weight"`` map onto the Flax submodule ``layers_<i>``. Functional
ops of the reference (``F.relu``, ``x.view``, ...) become their module forms here: same
numbers, and the indices stay aligned.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np

from mnist_jax import models
from mnist_jax.models import layers


def build(name: str, dropout_rate: float | None = None) -> Any:
  """The ``torch.nn.Sequential`` mirror of model `name` (float32, torch default init).

  Args:
    name: a registered model (`mnist_jax.models.names()`).
    dropout_rate: overrides the model's rate for every dropout layer (e.g. 0 for
      deterministic train-mode comparisons).

  Returns:
    ``torch.nn.Sequential`` mapping float32 [N, 1, 28, 28] to [N, 10] log-probabilities.

  Raises:
    ValueError: unknown model name.
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
                           padding=layer.padding, dilation=layer.dilation, bias=layer.use_bias)
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
  """Converts a `build(name)` state_dict into Flax variables for ``models.create(name)``.

  Conv weights OIHW -> HWIO; Linear (out, in) -> (in, out), with the input rows of a Linear
  after a flatten reordered from torch's (C, H, W) flatten order to Flax's (H, W, C);
  BatchNorm weight/bias -> scale/bias, running_mean/running_var -> batch_stats mean/var
  (``num_batches_tracked`` is dropped: with momentum 0.1 torch never reads it).

  Args:
    state_dict: ``module.state_dict()`` of `build(name)` (torch tensors or numpy arrays).
    name: the registered model it was built for.

  Returns:
    ``{'params': ..., 'batch_stats': ...}`` of float32 arrays (no ``batch_stats`` key when the
    model has no BatchNorm).

  Raises:
    ValueError: unknown model name, or a state_dict that does not fit the model.
  """
  def get(key: str) -> np.ndarray:
    if key not in state_dict:
      raise ValueError(f"state_dict has no {key!r}; is it from build({name!r})?")
    value = state_dict[key]
    value = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    return value.astype(np.float32)

  params, batch_stats = {}, {}
  shape = layers.INPUT_SHAPE
  flattened_from = None  # (H, W, C) of the map the next Linear reads flattened.
  for index, layer in enumerate(models.spec(name).layers):
    key = f"layers_{index}"
    match layer:
      case layers.Conv():
        params[key] = {"kernel": get(f"{index}.weight").transpose(2, 3, 1, 0)}
        if layer.use_bias:
          params[key]["bias"] = get(f"{index}.bias")
      case layers.BatchNorm():
        params[key] = {"scale": get(f"{index}.weight"), "bias": get(f"{index}.bias")}
        batch_stats[key] = {"mean": get(f"{index}.running_mean"),
                            "var": get(f"{index}.running_var")}
      case layers.Flatten() if len(shape) == 3:
        flattened_from = shape
      case layers.Dense():
        weight = get(f"{index}.weight")  # (out, in)
        if flattened_from is not None:
          height, width, channels = flattened_from
          weight = weight.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
          weight = weight.reshape(weight.shape[0], -1)
          flattened_from = None
        params[key] = {"kernel": weight.T}
        if layer.use_bias:
          params[key]["bias"] = get(f"{index}.bias")
    shape = layers.output_shape(layer, shape)
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  return _to_jax(variables)


def _to_jax(tree: Mapping[str, Any]) -> dict:
  return {k: _to_jax(v) if isinstance(v, Mapping) else jnp.asarray(v) for k, v in tree.items()}
