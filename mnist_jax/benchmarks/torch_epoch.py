"""The PyTorch side of the benchmark: the same network and optimizer trained by torch (torch
is imported only inside the functions)."""

from __future__ import annotations

import math
import os
import time

import ml_collections
import numpy as np

from mnist_jax.data import augment
from mnist_jax.benchmarks import measurements

TORCH_DEVICES = ("cpu", "cuda")


def rotate_batch(x, degrees: float, generator):
  """torchvision's ``RandomRotation((-d, d), InterpolationMode.NEAREST, fill=0)`` on a batch in
  one call: each image of x (a float torch tensor [B, C, H, W], H == W, pixels in [0, 1]) turned
  by its own angle, uniform in [-d, d) degrees, counter-clockwise, from `generator`.

  What torchvision's tensor ``rotate`` computes (an affine grid through the image centre,
  ``grid_sample(mode="nearest", padding_mode="zeros", align_corners=False)``), batched: the
  per-image rotation a DataLoader would apply, without the DataLoader's per-image cost (the
  contender that favours torch). Equal to `mnist_jax.data.augment.rotate` on the same angles
  but for exact half-pixel ties (tests/test_benchmark.py). Returns (rotated x, angles [B]).
  """
  import torch  # pylint: disable=import-outside-toplevel
  import torch.nn.functional as F  # pylint: disable=import-outside-toplevel,invalid-name

  angles = (torch.rand(x.shape[0], generator=generator, dtype=torch.float32).to(x.device)
            * (2 * degrees) - degrees)
  radians = torch.deg2rad(angles.double())
  cos, sin, zero = torch.cos(radians), torch.sin(radians), torch.zeros_like(radians)
  theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
  grid = F.affine_grid(theta.float(), list(x.shape), align_corners=False)
  return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False), angles


def torch_optimizer(config: ml_collections.ConfigDict, model, steps_per_epoch: int):
  """``torch.optim.SGD`` over `model`'s parameters with the config's momentum, Nesterov and
  weight decay, and ``OneCycleLR`` (stepped per batch) where the config's schedule is
  one_cycle, else None: StepLR steps per epoch and ReduceLROnPlateau per evaluation, which an
  epoch's timing leaves out. Returns (optimizer, scheduler or None)."""
  import torch  # pylint: disable=import-outside-toplevel

  schedule = config.schedule
  one_cycle = schedule.name == "one_cycle"
  optimizer = torch.optim.SGD(model.parameters(), momentum=config.momentum,
                              lr=schedule.max_lr if one_cycle else config.learning_rate,
                              nesterov=config.nesterov, weight_decay=config.weight_decay)
  if not one_cycle:
    return optimizer, None
  scheduler = torch.optim.lr_scheduler.OneCycleLR(
      optimizer, max_lr=schedule.max_lr, epochs=config.num_epochs,
      steps_per_epoch=steps_per_epoch, pct_start=schedule.pct_start,
      anneal_strategy=schedule.anneal_strategy, cycle_momentum=schedule.cycle_momentum,
      base_momentum=schedule.base_momentum, max_momentum=schedule.max_momentum,
      div_factor=schedule.div_factor, final_div_factor=schedule.final_div_factor,
      three_phase=schedule.three_phase)
  return optimizer, scheduler


def train_torch_epoch(model, optimizer, scheduler, x_all, y_all, batch_size: int,
                      degrees: float, generator, device: str) -> None:
  """One training epoch in torch: a fresh `randperm` (from `generator`), the remainder batch
  kept, each batch rotated by ±`degrees` (`rotate_batch`; none for 0), normalised, then an SGD
  step and a scheduler step. x_all: float [N, 1, 28, 28] in [0, 1]; y_all: int64 [N]; both
  on `device`, where a "cuda" epoch ends in a sync (its kernels run asynchronously)."""
  import torch  # pylint: disable=import-outside-toplevel
  import torch.nn.functional as F  # pylint: disable=import-outside-toplevel,invalid-name

  num_examples = len(y_all)
  permutation = torch.randperm(num_examples, generator=generator).to(device)
  for start in range(0, num_examples, batch_size):
    index = permutation[start:start + batch_size]
    optimizer.zero_grad()
    x = x_all[index]
    if degrees > 0:
      x, _ = rotate_batch(x, degrees, generator)
    loss = F.nll_loss(model((x - augment.MEAN) / augment.STD), y_all[index])
    loss.backward()
    optimizer.step()
    if scheduler is not None and scheduler.last_epoch + 1 < scheduler.total_steps:
      scheduler.step()
  if device == "cuda":
    torch.cuda.synchronize()


def time_torch_epoch(config: ml_collections.ConfigDict, images: np.ndarray, labels: np.ndarray,
                     num_epochs: int, threads: int | None = None, compile_model: bool = False,
                     name: str | None = None, device: str = "cpu") -> measurements.Timing:
  """Times the PyTorch mirror of `config.model` (NCHW) over `num_epochs` epochs of
  `train_torch_epoch`: same batch size and SGD (`torch_optimizer`), data in memory as float
  tensors in [0, 1], and the same work per batch as ours (torchvision's ToTensor ->
  RandomRotation -> Normalize).

  Args:
    config: the training config (model, batch size, recipe, rotation_degrees, seed).
    images: uint8 [N, 28, 28, 1]; labels: int32 [N].
    num_epochs: timed epochs.
    threads: `torch.set_num_threads` (default: the cores).
    compile_model: `torch.compile`, in an untimed warm-up epoch (`compile_seconds`; a failure
      is returned as `Timing.error`, not raised).
    name: the contender's label (default from the mode and threads).
    device: "cpu" or "cuda" (model and data on the GPU, shuffled on the CPU).

  Returns:
    The contender's `measurements.Timing` (seconds per epoch).

  Raises:
    ValueError: `device` not in `TORCH_DEVICES`, or "cuda" without a CUDA device.
  """
  import torch  # pylint: disable=import-outside-toplevel
  from mnist_jax.torch import mirror as torch_mirror  # pylint: disable=import-outside-toplevel

  check_torch_device(device)
  threads = threads or os.cpu_count()
  where = "cuda" if device == "cuda" else f"{threads} thread{'s' * (threads > 1)}"
  name = name or f"torch {'compile' if compile_model else 'eager'} ({where})"
  timing = measurements.Timing(name, len(labels), config.batch_size)
  previous_threads = torch.get_num_threads()
  torch.set_num_threads(threads)
  try:
    torch.manual_seed(config.seed)
    model = torch_mirror.build(config.model, dropout_rate=config.dropout_rate).to(device)
    model.train()
    optimizer, scheduler = torch_optimizer(config, model,
                                           math.ceil(len(labels) / config.batch_size))
    # ToTensor once, up front: the data sit in memory as float tensors in [0, 1].
    x_all = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float().div_(255)
    data = (x_all.to(device), torch.from_numpy(labels.astype(np.int64)).to(device))
    generator = torch.Generator().manual_seed(config.seed)
    rest = (config.batch_size, float(config.rotation_degrees), generator, device)
    if compile_model:
      start = time.perf_counter()
      try:
        compiled = torch.compile(model)  # compiles lazily, during the first epoch
        train_torch_epoch(compiled, optimizer, scheduler, *data, *rest)
      except Exception as e:  # pylint: disable=broad-except  (reported, never fatal)
        message = str(e).strip()
        timing.error = f"{type(e).__name__}: {message.splitlines()[0] if message else ''}"
        return timing
      timing.compile_seconds = time.perf_counter() - start
      model = compiled
    for _ in range(num_epochs):
      start = time.perf_counter()
      train_torch_epoch(model, optimizer, scheduler, *data, *rest)
      timing.epoch_seconds.append(time.perf_counter() - start)
  finally:
    torch.set_num_threads(previous_threads)
  return timing


def check_torch_device(device: str) -> None:
  """Raises ValueError unless torch can train on `device` ("cpu" or "cuda")."""
  if device not in TORCH_DEVICES:
    raise ValueError(f"torch device must be one of {', '.join(TORCH_DEVICES)}, got {device!r}")
  if device == "cuda":
    import torch  # pylint: disable=import-outside-toplevel
    if not torch.cuda.is_available():
      raise ValueError(f"torch device 'cuda' asked for, but torch {torch.__version__} sees no "
                       "CUDA device")
