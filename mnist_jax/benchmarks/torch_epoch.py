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


def time_torch_epoch(config: ml_collections.ConfigDict, images: np.ndarray, labels: np.ndarray,
                     num_epochs: int, threads: int | None = None, compile_model: bool = False,
                     name: str | None = None, device: str = "cpu") -> measurements.Timing:
  """Times the PyTorch mirror of `config.model` (NCHW) over `num_epochs` epochs: same batch
  size and SGD (OneCycleLR per batch), data in memory as float tensors in [0, 1], a fresh
  shuffle each epoch, the remainder batch kept, and the same work per batch as ours: the
  config's ±`rotation_degrees` nearest rotation (`rotate_batch`; none for 0), then Normalize
  (torchvision's ToTensor -> RandomRotation -> Normalize). `images` uint8
  [N, 28, 28, 1], `labels` int32 [N]; `threads`: `torch.set_num_threads` (default: the cores);
  `compile_model`: `torch.compile`, in an untimed warm-up epoch (`compile_seconds`; a failure
  returned as `Timing.error`, not raised); `name`: the contender's label; `device`: "cpu" or
  "cuda" (model and data on the GPU, shuffled on the CPU, each epoch ending in a sync).

  Raises:
    ValueError: `device` not in `TORCH_DEVICES`, or "cuda" without a CUDA device.
  """
  import torch  # pylint: disable=import-outside-toplevel
  import torch.nn.functional as F  # pylint: disable=import-outside-toplevel,invalid-name
  from mnist_jax.torch import mirror as torch_mirror  # pylint: disable=import-outside-toplevel

  check_torch_device(device)
  threads = threads or os.cpu_count()
  where = "cuda" if device == "cuda" else f"{threads} thread{'s' * (threads > 1)}"
  name = name or f"torch {'compile' if compile_model else 'eager'} ({where})"
  num_examples = len(labels)
  timing = measurements.Timing(name, num_examples, config.batch_size)
  previous_threads = torch.get_num_threads()
  torch.set_num_threads(threads)
  try:
    torch.manual_seed(config.seed)
    model = torch_mirror.build(config.model, dropout_rate=config.dropout_rate).to(device)
    model.train()
    schedule = config.schedule
    one_cycle = schedule.name == "one_cycle"
    optimizer = torch.optim.SGD(model.parameters(), momentum=config.momentum,
                                lr=schedule.max_lr if one_cycle else config.learning_rate,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    # Only OneCycleLR steps per batch (StepLR per epoch, ReduceLROnPlateau per evaluation).
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=schedule.max_lr, epochs=config.num_epochs,
        steps_per_epoch=math.ceil(num_examples / config.batch_size),
        pct_start=schedule.pct_start, anneal_strategy=schedule.anneal_strategy,
        cycle_momentum=schedule.cycle_momentum, base_momentum=schedule.base_momentum,
        max_momentum=schedule.max_momentum, div_factor=schedule.div_factor,
        final_div_factor=schedule.final_div_factor,
        three_phase=schedule.three_phase) if one_cycle else None
    # ToTensor once, up front: the data sit in memory as float tensors in [0, 1].
    x_all = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float().div_(255)
    x_all = x_all.to(device)
    degrees = float(config.rotation_degrees)
    y_all = torch.from_numpy(labels.astype(np.int64)).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    step_model = model

    def run_epoch():
      permutation = torch.randperm(num_examples, generator=generator).to(device)
      for start in range(0, num_examples, config.batch_size):
        index = permutation[start:start + config.batch_size]
        optimizer.zero_grad()
        x = x_all[index]
        if degrees > 0:
          x, _ = rotate_batch(x, degrees, generator)
        loss = F.nll_loss(step_model((x - augment.MEAN) / augment.STD), y_all[index])
        loss.backward()
        optimizer.step()
        if scheduler is not None and scheduler.last_epoch + 1 < scheduler.total_steps:
          scheduler.step()
      if device == "cuda":
        torch.cuda.synchronize()  # kernels run asynchronously: the epoch ends when they do

    if compile_model:
      start = time.perf_counter()
      try:
        step_model = torch.compile(model)  # compiles lazily, during the first epoch
        run_epoch()
      except Exception as e:  # pylint: disable=broad-except  (reported, never fatal)
        message = str(e).strip()
        timing.error = f"{type(e).__name__}: {message.splitlines()[0] if message else ''}"
        return timing
      timing.compile_seconds = time.perf_counter() - start
    for _ in range(num_epochs):
      start = time.perf_counter()
      run_epoch()
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
