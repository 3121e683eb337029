"""Model registry: every reference network by name, ``ref<k>_<step>``.

Usage::

  model = models.create("ref3_step4", dropout_rate=0.05)
  variables = model.init({"params": key}, x, train=False)   # x: float32 [N, 28, 28, 1]
  log_probs, updates = model.apply(variables, x, train=True, rngs={"dropout": key},
                                   mutable=["batch_stats"])  # float32 [N, 10]

Variables are ``params`` and, for models with BatchNorm, ``batch_stats`` (models without it
have no ``batch_stats`` and return ``{}`` as updates). The networks are
specs (`layers.ModelSpec`) in one file per reference write-up; `layers.Network` runs them.
"""

from __future__ import annotations

from mnist_jax.models import ref1, ref2, ref3, ref4, ref5
from mnist_jax.models.layers import ModelSpec, Network

_ALL_SPECS = [spec for module in (ref1, ref2, ref3, ref4, ref5) for spec in module.SPECS]
_SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in _ALL_SPECS}
if len(_SPECS) != len(_ALL_SPECS):
  raise ImportError("two model specs share a name")

# Fields of `Network` a caller may override; `layers` is the model itself.
_OVERRIDABLE = ("dropout_rate",)


def names() -> list[str]:
  """All registered model names, sorted."""
  return sorted(_SPECS)


def spec(name: str) -> ModelSpec:
  """The layer spec of model `name`.

  Raises:
    ValueError: unknown name (the message lists the valid names).
  """
  if name not in _SPECS:
    raise ValueError(f"unknown model {name!r}; valid names: {', '.join(names())}")
  return _SPECS[name]


def create(name: str, **overrides) -> Network:
  """A fresh Flax module for model `name`.

  Args:
    name: one of `names()`.
    **overrides: ``dropout_rate`` (float in [0, 1)) replaces the published/default rate.

  Returns:
    A `layers.Network`; call it on float32 [N, 28, 28, 1] to get float32 [N, 10]
    log-probabilities.

  Raises:
    ValueError: unknown name or override, or a dropout rate outside [0, 1).
  """
  model_spec = spec(name)
  unknown = sorted(set(overrides) - set(_OVERRIDABLE))
  if unknown:
    raise ValueError(f"unknown override(s) {', '.join(unknown)} for model {name!r}; "
                     f"valid overrides: {', '.join(_OVERRIDABLE)}")
  dropout_rate = float(overrides.get("dropout_rate", model_spec.dropout_rate))
  if not 0.0 <= dropout_rate < 1.0:
    raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
  return Network(layers=model_spec.layers, dropout_rate=dropout_rate)
