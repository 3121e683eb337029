"""Side-by-side timing of our training epoch and the same network in PyTorch.

What is timed (docs/PERFORMANCE.md explains the numbers):

- ours: `epoch.make_train_epoch`, the real training program (one jitted call per epoch:
  permutation, batch gather, optional on-device rotation, forward, backward, SGD), compiled
  ahead of time so compile time is reported apart; with and without rotation.
- torch eager, and optionally torch.compile, of the same network (`torch_epoch`).
- the multi-seed program (`config.num_seeds` replicas in one jitted epoch), time per seed.

`run` times them all in one process and returns a `measurements.Report`, with the machine
(`machine`); `benchmark_report` turns it into Markdown. Timings never go into tests.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mnist_jax import data
from mnist_jax import epoch as epoch_lib
from mnist_jax import optim
from mnist_jax import train
from mnist_jax.reporting import machine
from mnist_jax.reporting import measurements
from mnist_jax.reporting import torch_epoch


def load_images(num_examples: int, synthetic: bool = False,
                data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The first `num_examples` MNIST training images, or random ones of the same shape.

  Args:
    num_examples: 1..60000.
    synthetic: random uint8 pixels and labels 0-9 (seeded) instead of real MNIST.
    data_dir: IDX folder for `data.load` (default: the MNIST_DIR environment variable).

  Returns:
    images uint8 [N, 28, 28, 1] and labels int32 [N].

  Raises:
    ValueError: num_examples outside 1..60000.
    data.DataError: real data requested and not found.
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
                   num_epochs: int, name: str = "ours") -> measurements.Timing:
  """Times `epoch.make_train_epoch` (AOT-compiled) over `num_epochs` epochs.

  Uses `config.num_seeds` replicas, seeds `config.seed + r`, and `config.rotation_degrees`.
  The schedule spans `config.num_epochs` epochs as in a real run.

  Args:
    config: the training config.
    images: uint8 [N, 28, 28, 1]; labels: int32 [N].
    num_epochs: timed epochs (after the untimed compile).
    name: label of the contender.

  Returns:
    The `measurements.Timing`, compile time apart.
  """
  num_examples = len(labels)
  steps_per_epoch = epoch_lib.steps_per_epoch(num_examples, config.batch_size)
  schedule = optim.create(config, steps_per_epoch=steps_per_epoch, num_epochs=config.num_epochs)
  states, _ = train.create_replica_states(config, schedule)
  device_images, device_labels = jax.device_put((images, labels))
  epoch_fn = jax.jit(epoch_lib.make_train_epoch(config, num_examples), donate_argnums=0)
  start = time.perf_counter()
  compiled = epoch_fn.lower(states, device_images, device_labels, jnp.int32(0)).compile()
  compile_seconds = time.perf_counter() - start
  timing = measurements.Timing(name, num_examples, config.batch_size,
                               compile_seconds=compile_seconds, num_seeds=config.num_seeds)
  for epoch in range(num_epochs):
    start = time.perf_counter()
    states, out = compiled(states, device_images, device_labels, jnp.int32(epoch))
    jax.block_until_ready(out)
    timing.epoch_seconds.append(time.perf_counter() - start)
  return timing


def run(config: ml_collections.ConfigDict, num_examples: int = 60000, num_epochs: int = 3,
        seeds: Sequence[int] = (1, 4, 8), seeds_num_examples: int | None = None,
        torch_threads: Sequence[int] | None = None, torch_compile: bool = False,
        torch_device: str = "cpu", synthetic: bool = False, data_dir: str | None = None,
        log: Callable[[str], None] = print) -> measurements.Report:
  """Runs every contender once, in one process, and returns the `measurements.Report`.

  Args:
    config: the training config (e.g. `configs/final.py`); its `num_seeds` is ignored.
    num_examples: training images per epoch for the main comparison.
    num_epochs: timed epochs per contender (>= 1; >= 3 for a meaningful median).
    seeds: replica counts of the multi-seed program to time (empty: skip).
    seeds_num_examples: images per epoch for the multi-seed timings (default
      min(num_examples, 6400): N seeds cost N times as much).
    torch_threads: thread counts for torch eager (default: [the machine's cores]).
    torch_compile: also time `torch.compile` (with the first thread count).
    torch_device: where torch trains, "cpu" or "cuda"; on "cuda" one eager contender runs
      (the thread counts after the first are skipped: they set host threads only).
    synthetic: random images instead of real MNIST.
    data_dir: IDX folder (default MNIST_DIR).
    log: progress lines (one per contender).

  Raises:
    ValueError: num_epochs < 1, a seed count < 1, a bad num_examples, or a torch_device
      that is unknown or absent.
  """
  torch_epoch.check_torch_device(torch_device)
  if num_epochs < 1:
    raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
  if any(s < 1 for s in seeds):
    raise ValueError(f"seed counts must be >= 1, got {list(seeds)}")
  torch_threads = list(torch_threads or [os.cpu_count()])
  if torch_device == "cuda":
    torch_threads = torch_threads[:1]
  load_before = machine.load_average()
  images, labels = load_images(num_examples, synthetic, data_dir)
  base = ml_collections.ConfigDict(config.to_dict())
  base.num_seeds = 1
  rotation = float(base.rotation_degrees)
  timings = []

  def add(timing: measurements.Timing, into: list[measurements.Timing]):
    into.append(timing)
    if timing.error:
      log(f"{timing.name}: failed: {timing.error}")
    else:
      log(f"{timing.name}: {timing.ms_per_step:.1f} ms/step, {timing.median_epoch_seconds:.2f} s/epoch")

  if rotation > 0:
    add(time_jax_epoch(base, images, labels, num_epochs, name=f"ours (rotation ±{rotation:g}°)"), timings)
  no_rotation = ml_collections.ConfigDict(base.to_dict())
  no_rotation.rotation_degrees = 0.0
  add(time_jax_epoch(no_rotation, images, labels, num_epochs, name="ours (no rotation)"), timings)
  for threads in torch_threads:
    add(torch_epoch.time_torch_epoch(base, images, labels, num_epochs, threads=threads,
                                     device=torch_device), timings)
  if torch_compile:
    add(torch_epoch.time_torch_epoch(base, images, labels, num_epochs, threads=torch_threads[0],
                                     compile_model=True, device=torch_device), timings)

  seed_timings = []
  seeds_num_examples = seeds_num_examples or min(num_examples, 6400)
  seed_images, seed_labels = images[:seeds_num_examples], labels[:seeds_num_examples]
  for num_seeds in seeds:
    name = f"ours, {num_seeds} seed{'s' * (num_seeds > 1)}"
    if num_seeds == 1 and seeds_num_examples == num_examples:
      # The very program timed above (timings[0] has the configured rotation): reuse it.
      add(dataclasses.replace(timings[0], name=name, epoch_seconds=list(timings[0].epoch_seconds)),
          seed_timings)
      continue
    seeded = ml_collections.ConfigDict(base.to_dict())
    seeded.num_seeds = num_seeds
    add(time_jax_epoch(seeded, seed_images, seed_labels, num_epochs, name=name), seed_timings)
  return measurements.Report(config_name=base.get("name", "?"), model=base.model,
                             machine=machine.machine_info(torch_device),
                             timings=timings, seed_timings=seed_timings, synthetic=synthetic,
                             load_before=load_before, load_after=machine.load_average(),
                             num_epochs=base.num_epochs)
