"""Side-by-side timing of our training epoch and the same network in PyTorch
(docs/PERFORMANCE.md explains the numbers; timings never go into tests): `run` times ours
(the real epoch program, compiled ahead of time), torch eager and compile, and the multi-seed
program; `run_sweep` the sweep program. Each returns a `measurements.Report`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Callable, Sequence

import jax
from jax.sharding import NamedSharding, PartitionSpec
import ml_collections
import numpy as np

from mnist_jax import data
from mnist_jax.training import epoch as epoch_lib
from mnist_jax.training import replicas as replicas_lib
from mnist_jax.optim import optimizer as optimizer_lib
from mnist_jax.optim import sweep
from mnist_jax.training import step as step_lib
from mnist_jax.benchmarks import machine
from mnist_jax.benchmarks import measurements
from mnist_jax.benchmarks import torch_epoch

# The max_lr range `run_sweep`'s sweeps span (the flagship's 0.1 lies inside).
SWEEP_MAX_LR = (0.02, 0.2)


def load_images(num_examples: int, synthetic: bool = False,
                data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The first `num_examples` (1..60000) MNIST training images, uint8 [N, 28, 28, 1], and
  labels int32 [N]; `synthetic`: seeded random ones; `data_dir` defaults to MNIST_DIR.
  Raises ValueError for num_examples outside 1..60000, data.DataError for missing data.
  """
  if not 1 <= num_examples <= 60000:
    raise ValueError(f"num_examples must be in 1..60000, got {num_examples}")
  if synthetic:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (num_examples,) + data.IMAGE_SHAPE, dtype=np.uint8)
    labels = rng.integers(0, data.NUM_CLASSES, num_examples).astype(np.int32)
    return images, labels
  images, labels = data.load("train", data_dir=data_dir, source="idx")
  return images[:num_examples], labels[:num_examples]


def time_jax_epoch(config: ml_collections.ConfigDict, images: np.ndarray, labels: np.ndarray,
                   num_epochs: int, name: str = "ours",
                   trace_dir: str | None = None) -> measurements.Timing:
  """Times `epoch.make_train_epoch` (AOT-compiled, the compile timed apart) over `num_epochs`
  epochs of `config`'s replicas across the devices; images uint8 [N, 28, 28, 1], labels int32 [N].
  With `trace_dir`, the last epoch runs under `jax.profiler.trace` (a Perfetto trace there).
  """
  num_examples = len(labels)
  num_replicas = len(sweep.replicas(config))
  steps_per_epoch = epoch_lib.steps_per_epoch(num_examples, config.batch_size)
  states = step_lib.create_replica_states(config, optimizer_lib.Optimizer(config, steps_per_epoch))
  mesh = replicas_lib.create_mesh(num_replicas)
  states = replicas_lib.place(states, NamedSharding(mesh, PartitionSpec("replica")))
  device_images, device_labels = replicas_lib.place((images, labels),
                                                 NamedSharding(mesh, PartitionSpec()))
  epoch_fn = jax.jit(epoch_lib.make_train_epoch(config, num_examples, mesh), donate_argnums=0)
  start = time.perf_counter()
  compiled = epoch_fn.lower(states, device_images, device_labels, np.int32(0)).compile()
  compile_seconds = time.perf_counter() - start
  timing = measurements.Timing(name, num_examples, config.batch_size,
                               compile_seconds=compile_seconds, num_replicas=num_replicas)
  for epoch in range(num_epochs):
    traced = trace_dir is not None and epoch == num_epochs - 1
    with (jax.profiler.trace(trace_dir, create_perfetto_trace=True) if traced
          else contextlib.nullcontext()):
      start = time.perf_counter()
      states, out = compiled(states, device_images, device_labels, np.int32(epoch))
      jax.block_until_ready(out)
      timing.epoch_seconds.append(time.perf_counter() - start)
  timing.swept = {path: [float(cell[path]) for _, cell in sweep.replicas(config)]
                  for path, _ in sweep.fields(config)}
  return timing


def sweep_config(config: ml_collections.ConfigDict, num_replicas: int) -> ml_collections.ConfigDict:
  """`config` as a sweep of `num_replicas` recipes, one seed each: 1 is the plain run, R > 1
  sweeps R values of schedule.max_lr, geometric over `SWEEP_MAX_LR` to 4 significant digits.
  Raises ValueError for num_replicas < 1, a schedule without max_lr, or too many replicas for
  distinct values."""
  if num_replicas < 1:
    raise ValueError(f"replica counts must be >= 1, got {num_replicas}")
  swept = _with(config, num_seeds=1, sweep=ml_collections.ConfigDict())
  if num_replicas > 1:
    values = sorted({float(f"{v:.4g}") for v in np.geomspace(*SWEEP_MAX_LR, num_replicas)})
    if len(values) != num_replicas:
      raise ValueError(
          f"{num_replicas} replicas: too many for distinct max_lr values in {SWEEP_MAX_LR}")
    swept.sweep = ml_collections.ConfigDict({"schedule": {"max_lr": values}})
    sweep.fields(swept)  # a schedule without max_lr fails here, in one line
  return swept


def _check_counts(num_epochs: int, counts: Sequence[int], what: str) -> None:
  if num_epochs < 1:
    raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
  if any(c < 1 for c in counts):
    raise ValueError(f"{what} counts must be >= 1, got {list(counts)}")


def _with(config: ml_collections.ConfigDict, **fields) -> ml_collections.ConfigDict:
  copy = ml_collections.ConfigDict(config.to_dict())
  for name, value in fields.items():
    copy[name] = value  # replaced, not merged as ConfigDict.update would
  return copy


def _add(timing: measurements.Timing, into: list[measurements.Timing],
         log: Callable[[str], None]) -> None:
  into.append(timing)
  if timing.error:
    log(f"{timing.name}: failed: {timing.error}")
  elif timing.num_replicas > 1:
    log(f"{timing.name}: {timing.median_epoch_seconds:.2f} s/epoch, "
        f"{1000 * timing.seconds_per_replica:.0f} ms per replica-epoch")
  else:
    log(f"{timing.name}: {timing.ms_per_step:.1f} ms/step, "
        f"{timing.median_epoch_seconds:.2f} s/epoch")


def _report(config: ml_collections.ConfigDict, torch_device: str, synthetic: bool,
            load_before: str, timings=(), seed_timings=(), sweep_timings=()) -> measurements.Report:
  return measurements.Report(
      config.get("name", "?"), config.model, machine.machine_info(torch_device), list(timings),
      list(seed_timings), synthetic, load_before, machine.load_average(), config.num_epochs,
      list(sweep_timings))


def run(config: ml_collections.ConfigDict, num_examples: int = 60000, num_epochs: int = 3,
        seeds: Sequence[int] = (1, 4, 8), seeds_num_examples: int | None = None,
        torch_threads: Sequence[int] | None = None, torch_compile: bool = False,
        torch_device: str = "cpu", synthetic: bool = False, data_dir: str | None = None,
        log: Callable[[str], None] = print) -> measurements.Report:
  """Runs every contender once, in one process, and returns the `measurements.Report`.
  `config`: the training config, its `num_seeds` ignored; `num_examples`: training images per
  epoch; `num_epochs`: timed epochs per contender (>= 1; >= 3 for a meaningful median);
  `seeds`: seed counts of the multi-seed program (empty: skip) on `seeds_num_examples` images
  (default min(num_examples, 6400)); `torch_threads`: torch eager's thread counts (default: the
  cores); `torch_compile`: also `torch.compile` (first thread count); `torch_device`: "cpu" or
  "cuda" (first thread count only); `synthetic`: random images; `data_dir`: IDX folder;
  `log`: one progress line per contender.

  Raises:
    ValueError: num_epochs < 1, a seed count < 1, a bad num_examples, or a torch_device
      that is unknown or absent.
  """
  torch_epoch.check_torch_device(torch_device)
  _check_counts(num_epochs, seeds, "seed")
  torch_threads = list(torch_threads or [os.cpu_count()])
  if torch_device == "cuda":
    torch_threads = torch_threads[:1]
  load_before = machine.load_average()
  images, labels = load_images(num_examples, synthetic, data_dir)
  base = _with(config, num_seeds=1)
  rotation = float(base.rotation_degrees)
  timings = []
  if rotation > 0:
    _add(time_jax_epoch(base, images, labels, num_epochs, name=f"ours (rotation ±{rotation:g}°)"),
         timings, log)
  no_rotation = _with(base, rotation_degrees=0.0)
  _add(time_jax_epoch(no_rotation, images, labels, num_epochs, name="ours (no rotation)"),
       timings, log)
  for threads in torch_threads:
    _add(torch_epoch.time_torch_epoch(base, images, labels, num_epochs, threads=threads,
                                      device=torch_device), timings, log)
  if torch_compile:
    _add(torch_epoch.time_torch_epoch(base, images, labels, num_epochs, threads=torch_threads[0],
                                      compile_model=True, device=torch_device), timings, log)

  seed_timings = []
  seeds_num_examples = seeds_num_examples or min(num_examples, 6400)
  seed_images, seed_labels = images[:seeds_num_examples], labels[:seeds_num_examples]
  for num_seeds in seeds:
    name = f"ours, {num_seeds} seed{'s' * (num_seeds > 1)}"
    if num_seeds == 1 and seeds_num_examples == num_examples:
      # The very program timed above (timings[0] has the configured rotation): reuse it.
      _add(dataclasses.replace(timings[0], name=name, epoch_seconds=list(timings[0].epoch_seconds)),
           seed_timings, log)
      continue
    seeded = _with(base, num_seeds=num_seeds)
    _add(time_jax_epoch(seeded, seed_images, seed_labels, num_epochs, name=name), seed_timings, log)
  return _report(base, torch_device, synthetic, load_before, timings=timings,
                 seed_timings=seed_timings)


def run_sweep(config: ml_collections.ConfigDict, replicas: Sequence[int] = (1, 8, 32, 64),
              num_examples: int = 6400, num_epochs: int = 3, synthetic: bool = False,
              data_dir: str | None = None,
              log: Callable[[str], None] = print) -> measurements.Report:
  """Times `config`'s epoch program as a sweep of R recipes (`sweep_config`) for each R and the
  plain run (R = 1); returns a `measurements.Report` with one `sweep_timings` entry per R,
  ascending. `replicas`: the counts R (each >= 1); `num_examples`: training images per epoch
  per replica (1..60000); `num_epochs`, `synthetic`, `data_dir`, `log`: as for `run`.

  Raises:
    ValueError: num_epochs < 1, a replica count < 1, a bad num_examples, or a config whose
      schedule has no max_lr.
    data.DataError: real data requested and not found.
  """
  _check_counts(num_epochs, replicas, "replica")
  load_before = machine.load_average()
  base = _with(config, num_seeds=1)
  configs = {count: sweep_config(base, count) for count in sorted(set(replicas) | {1})}
  images, labels = load_images(num_examples, synthetic, data_dir)
  sweep_timings = []
  for count, swept in configs.items():
    name = "plain run" if count == 1 else f"sweep, {count} replicas"
    _add(time_jax_epoch(swept, images, labels, num_epochs, name=name), sweep_timings, log)
  return _report(base, "cpu", synthetic, load_before, sweep_timings=sweep_timings)
