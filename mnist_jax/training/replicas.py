"""The replica axis on the devices: one replica's function mapped over the leading axis of
stacked states (`over_replicas`), the ("replica", "batch") device mesh (`create_mesh`), the
replicas split across its devices (`split_replicas`), and host arrays placed on it and brought
back (`place`, `to_host`), in one process or several."""

from typing import Callable

import jax
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec
import numpy as np


def over_replicas(fn: Callable, num_replicas: int, in_axes: int | tuple = 0,
                  backend: str | None = None) -> Callable:
  """`fn` mapped over the leading replica axis (`in_axes` as in `jax.vmap`; results axis 0).

  Accelerators: `jax.vmap`. CPU (`backend`, default `jax.default_backend()`): `jax.lax.map`,
  one replica after another, since vmap's grouped convolutions run far slower on XLA:CPU
  (4 seeds of ref2 Final: 497 vs 289 ms/step, docs/PERFORMANCE.md study 4). One replica is
  squeezed, so a single-seed run compiles to the plain network.
  """
  backend = backend or jax.default_backend()

  def axes_of(args):
    return in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)

  if num_replicas == 1:

    def single(*args):
      squeezed = [a if axis is None else jax.tree.map(lambda x: x[0], a)
                  for a, axis in zip(args, axes_of(args))]
      return jax.tree.map(lambda x: x[None], fn(*squeezed))

    return single
  if backend != "cpu":
    return jax.vmap(fn, in_axes=in_axes)

  def mapped(*args):
    axes = axes_of(args)
    if any(axis not in (0, None) for axis in axes):
      raise ValueError(f"over_replicas on CPU maps axis 0 or None only, got in_axes={in_axes}")

    def one(replica_args):
      replica_args = iter(replica_args)
      return fn(*[a if axis is None else next(replica_args) for a, axis in zip(args, axes)])

    return jax.lax.map(one, [a for a, axis in zip(args, axes) if axis is not None])

  return mapped


def create_mesh(num_replicas: int) -> Mesh:
  """The ("replica", "batch") mesh over every device (of every process).

  The replicas split across the devices when their count divides evenly: each device then
  trains whole replicas with no communication in the step, the cheapest layout. Otherwise
  (one replica on two GPUs, say) each batch is split across the devices ("batch"), which
  costs an all-reduce of the gradients per step but uses every device.
  """
  devices = jax.device_count()
  shape = (devices, 1) if num_replicas % devices == 0 else (1, devices)
  return jax.make_mesh(shape, ("replica", "batch"), axis_types=(AxisType.Auto, AxisType.Auto))


def place(tree, sharding: NamedSharding):
  """Host values (numpy or local JAX arrays, the same in every process) as global arrays;
  each process supplies the shards its own devices hold (`jax.make_array_from_callback`)."""
  def one(value):
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

  return jax.tree.map(one, jax.device_get(tree))


def to_host(tree):
  """Global arrays as numpy arrays, in every process (a collective when several processes
  hold parts of them: every process must call it)."""
  def one(value):
    if getattr(value, "is_fully_addressable", True):
      return np.asarray(value)
    return multihost_utils.process_allgather(value, tiled=True)

  return jax.tree.map(one, tree)


def replica_specs(*, split: int, shared: int) -> tuple[PartitionSpec, ...]:
  """`jax.shard_map` in_specs: the first `split` arguments cut along the "replica" mesh axis
  (each device gets its share of the replicas), the next `shared` ones whole on every device."""
  return (PartitionSpec("replica"),) * split + (PartitionSpec(),) * shared


def split_replicas(fn: Callable, mesh: Mesh | None, *, split: int, shared: int) -> Callable:
  """`fn` run on each device with its share of the replicas (`jax.shard_map` over "replica").

  `fn` takes `split` arguments with the leading replica axis, then `shared` arguments without
  (`replica_specs`); every output has the replica axis. Without a mesh or with one replica
  device, `fn` itself.
  """
  if mesh is None or mesh.shape["replica"] == 1:
    return fn
  return jax.shard_map(fn, mesh=mesh, in_specs=replica_specs(split=split, shared=shared),
                       out_specs=PartitionSpec("replica"), axis_names={"replica"},
                       check_vma=False)
