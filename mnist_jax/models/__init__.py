"""Model registry: every reference network by name, ``ref<k>_<step>``, and ours (``frontier_*``),
as specs (`layers.ModelSpec`, one file per write-up); `create` gives the Flax module running one.
Variables are ``params`` and, with BatchNorm, ``batch_stats`` (without: ``{}`` as updates).
"""

from __future__ import annotations

import jax

from mnist_jax.models import frontier, ref1, ref2, ref3, ref4, ref5
from mnist_jax.models.fast_cpu import FastCpuNetwork
from mnist_jax.models.layers import ModelSpec
from mnist_jax.models.network import Network

_ALL_SPECS = [spec for module in (ref1, ref2, ref3, ref4, ref5, frontier) for spec in module.SPECS]
_SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in _ALL_SPECS}
if len(_SPECS) != len(_ALL_SPECS):
  raise ImportError("two model specs share a name")

# Fields of `Network` a caller may override; `layers` is the model itself.
_OVERRIDABLE = ("dropout_rate",)
FAST_PATHS = ("auto", "on", "off")


def names() -> list[str]:
  """All registered model names, sorted."""
  return sorted(_SPECS)


def spec(name: str) -> ModelSpec:
  """The layer spec of model `name`; ValueError for an unknown name (listing the valid ones)."""
  if name not in _SPECS:
    raise ValueError(f"unknown model {name!r}; valid names: {', '.join(names())}")
  return _SPECS[name]


def uses_fast_path(fast_path: str) -> bool:
  """Whether `fast_path` ("auto" | "on" | "off") means the XLA:CPU fast path here: "auto" where
  JAX's default backend is the CPU, where it was measured (docs/PERFORMANCE.md). Raises
  ValueError for any other value."""
  if fast_path not in FAST_PATHS:
    raise ValueError(f"fast_path must be one of {', '.join(FAST_PATHS)}, got {fast_path!r}")
  return fast_path == "on" or (fast_path == "auto" and jax.default_backend() == "cpu")


def create(name: str, fast_path: str = "auto", **overrides) -> Network:
  """A fresh Flax module for model `name` (one of `names()`) mapping float32 [N, 28, 28, 1] to
  float32 [N, 10] log-probabilities: `fast_cpu.FastCpuNetwork` or the plain `network.Network`
  (same variables and function) as `uses_fast_path(fast_path)` says. ``dropout_rate`` (in
  [0, 1)), the one override, replaces the published/default rate.

  Raises:
    ValueError: unknown name, fast path or override, or a dropout rate outside [0, 1).
  """
  network_class = FastCpuNetwork if uses_fast_path(fast_path) else Network
  model_spec = spec(name)
  unknown = sorted(set(overrides) - set(_OVERRIDABLE))
  if unknown:
    raise ValueError(f"unknown override(s) {', '.join(unknown)} for model {name!r}; "
                     f"valid overrides: {', '.join(_OVERRIDABLE)}")
  dropout_rate = float(overrides.get("dropout_rate", model_spec.dropout_rate))
  if not 0.0 <= dropout_rate < 1.0:
    raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
  return network_class(layers=model_spec.layers, dropout_rate=dropout_rate)
