"""Side-by-side timing of our training epoch and the same network in PyTorch.

What is timed (docs/PERFORMANCE.md explains the numbers):

- ours: `epoch.make_train_epoch`, the real training program (one jitted call per epoch:
  permutation, batch gather, optional on-device rotation, forward, backward, SGD), compiled
  ahead of time so compile time is reported apart; with and without rotation.
- torch eager: `torch_mirror.build(config.model)` (NCHW), the same batch size and
  SGD (lr, momentum, and the same OneCycleLR/StepLR schedule stepped per batch), data
  already in memory as normalised float tensors, a fresh shuffled index each epoch, the
  remainder batch kept (DataLoader drop_last=False), no augmentation.
- optionally torch.compile of the same module; a failure is reported, not raised.
- the multi-seed program (`config.num_seeds` replicas in one jitted epoch), time per seed.

Timings never go into tests; torch is imported only inside the torch functions.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import statistics
import subprocess
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mnist_jax import augment
from mnist_jax import data
from mnist_jax import epoch as epoch_lib
from mnist_jax import optim
from mnist_jax import train

# docs/PERFORMANCE.md keeps the latest benchmark output between these markers; the rest of
# the file (the study of what each change did) is written by hand.
BEGIN_MARKER = "<!-- benchmark:begin -->"
END_MARKER = "<!-- benchmark:end -->"
TORCH_DEVICES = ("cpu", "cuda")


@dataclasses.dataclass
class Timing:
  """Wall-clock times of one contender.

  Attributes:
    name: what ran, e.g. "ours (rotation ±7°)" or "torch eager".
    num_examples: training images per epoch.
    batch_size: images per optimizer step (the last step may be smaller).
    epoch_seconds: one entry per timed epoch, seconds.
    compile_seconds: ahead-of-time compile (ours) or first-epoch warm-up (torch.compile);
      None where nothing is compiled.
    num_seeds: replicas trained together (ours, multi-seed program); 1 otherwise.
    error: the first line of the failure when the contender could not run; the times are
      then empty.
  """

  name: str
  num_examples: int
  batch_size: int
  epoch_seconds: list[float] = dataclasses.field(default_factory=list)
  compile_seconds: float | None = None
  num_seeds: int = 1
  error: str | None = None

  @property
  def steps_per_epoch(self) -> int:
    return math.ceil(self.num_examples / self.batch_size)

  @property
  def median_epoch_seconds(self) -> float:
    """Median over the timed epochs, seconds (nan when none ran)."""
    return statistics.median(self.epoch_seconds) if self.epoch_seconds else math.nan

  @property
  def ms_per_step(self) -> float:
    """Median epoch time divided by its optimizer steps, milliseconds (all seeds together)."""
    return 1000.0 * self.median_epoch_seconds / self.steps_per_epoch

  @property
  def images_per_second(self) -> float:
    """Training images per second, all seeds together."""
    return self.num_seeds * self.num_examples / self.median_epoch_seconds

  @property
  def seconds_per_seed(self) -> float:
    """Median epoch time per replica, seconds."""
    return self.median_epoch_seconds / self.num_seeds


@dataclasses.dataclass
class Report:
  """Everything one benchmark run measured, with the machine it ran on."""

  config_name: str
  model: str
  machine: dict[str, str]
  timings: list[Timing]
  seed_timings: list[Timing]
  synthetic: bool
  load_before: str
  load_after: str
  num_epochs: int | None = None  # epochs of a full run of the config (its `num_epochs`)


# ---------------------------------------------------------------------------------------------
# Machine and data
# ---------------------------------------------------------------------------------------------


def cpu_model() -> str:
  """The CPU's model name from /proc/cpuinfo ("unknown" where there is none)."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def load_average() -> str:
  """1, 5 and 15 minute load averages ("n/a" where the OS has none)."""
  try:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
  except OSError:
    return "n/a"


def git_commit() -> str:
  """Short commit hash of the checkout this module is in, "+dirty" when modified; "unknown" without git."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                            text=True, timeout=10, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True, timeout=10, check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return "unknown"
  return commit + ("+dirty" if dirty else "")


def machine_info(torch_device: str = "cpu") -> dict[str, str]:
  """Date, code version, devices, CPU, core count and library versions, as strings."""
  import flax  # pylint: disable=import-outside-toplevel
  import jaxlib  # pylint: disable=import-outside-toplevel
  info = {
      "date": time.strftime("%Y-%m-%d %H:%M %Z"),
      "commit": git_commit(),
      "jax device": f"{jax.devices()[0]} ({jax.devices()[0].device_kind}) x{jax.device_count()}",
      "cpu": cpu_model(),
      "cores": str(os.cpu_count()),
      "python": platform.python_version(),
      "jax": jax.__version__,
      "jaxlib": jaxlib.__version__,
      "flax": flax.__version__,
      "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") or "(none)",
  }
  try:
    import torch  # pylint: disable=import-outside-toplevel
    info["torch"] = torch.__version__
    info["torch device"] = (f"cuda ({torch.cuda.get_device_name()})" if torch_device == "cuda"
                            else "cpu")
  except ImportError:
    info["torch"] = "not installed"
  return info


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


# ---------------------------------------------------------------------------------------------
# Contenders
# ---------------------------------------------------------------------------------------------


def time_jax_epoch(config: ml_collections.ConfigDict, images: np.ndarray, labels: np.ndarray,
                   num_epochs: int, name: str = "ours") -> Timing:
  """Times `epoch.make_train_epoch` (AOT-compiled) over `num_epochs` epochs.

  Uses `config.num_seeds` replicas, seeds `config.seed + r`, and `config.rotation_degrees`.
  The schedule spans `config.num_epochs` epochs as in a real run.
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
  timing = Timing(name, num_examples, config.batch_size, compile_seconds=compile_seconds,
                  num_seeds=config.num_seeds)
  for epoch in range(num_epochs):
    start = time.perf_counter()
    states, out = compiled(states, device_images, device_labels, jnp.int32(epoch))
    jax.block_until_ready(out)
    timing.epoch_seconds.append(time.perf_counter() - start)
  return timing


def _torch_scheduler(config: ml_collections.ConfigDict, optimizer: Any, steps_per_epoch: int):
  """The torch scheduler matching `config.schedule`, stepped per batch; None when constant."""
  import torch  # pylint: disable=import-outside-toplevel
  schedule = config.schedule
  if schedule.name == "one_cycle":
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=schedule.max_lr, epochs=config.num_epochs,
        steps_per_epoch=steps_per_epoch, pct_start=schedule.pct_start,
        anneal_strategy=schedule.anneal_strategy, cycle_momentum=schedule.cycle_momentum,
        base_momentum=schedule.base_momentum, max_momentum=schedule.max_momentum,
        div_factor=schedule.div_factor, final_div_factor=schedule.final_div_factor,
        three_phase=schedule.three_phase)
  # StepLR steps per epoch and ReduceLROnPlateau per evaluation: nothing per batch.
  return None


def time_torch_epoch(config: ml_collections.ConfigDict, images: np.ndarray, labels: np.ndarray,
                     num_epochs: int, threads: int | None = None, compile_model: bool = False,
                     name: str | None = None, device: str = "cpu") -> Timing:
  """Times the PyTorch mirror of `config.model` over `num_epochs` epochs (no augmentation).

  Args:
    config: model, batch_size, learning_rate, momentum, nesterov, weight_decay, schedule.
    images: uint8 [N, 28, 28, 1]; labels: int32 [N].
    num_epochs: timed epochs (median reported).
    threads: `torch.set_num_threads` (default: the machine's cores); host threads only
      when `device` is "cuda".
    compile_model: wrap the module in `torch.compile`; its compile happens in one untimed
      warm-up epoch, reported as `compile_seconds`. A failure is returned as
      `Timing.error` (first line of the exception), not raised.
    name: label of the contender.
    device: "cpu" or "cuda" (one of `TORCH_DEVICES`). On "cuda" the model and the data live
      on the GPU (shuffled index made on the CPU, as a DataLoader does, then moved), and each
      timed epoch ends with `torch.cuda.synchronize()`.

  Returns:
    The `Timing`.

  Raises:
    ValueError: `device` not in `TORCH_DEVICES`, or "cuda" without a CUDA device.
  """
  import torch  # pylint: disable=import-outside-toplevel
  import torch.nn.functional as F  # pylint: disable=import-outside-toplevel,invalid-name
  from mnist_jax.models import torch_mirror  # pylint: disable=import-outside-toplevel

  check_torch_device(device)
  threads = threads or os.cpu_count()
  where = "cuda" if device == "cuda" else f"{threads} thread{'s' * (threads > 1)}"
  name = name or f"torch {'compile' if compile_model else 'eager'} ({where})"
  num_examples = len(labels)
  timing = Timing(name, num_examples, config.batch_size)
  previous_threads = torch.get_num_threads()
  torch.set_num_threads(threads)
  try:
    torch.manual_seed(config.seed)
    model = torch_mirror.build(config.model, dropout_rate=config.dropout_rate).to(device)
    model.train()
    learning_rate = config.schedule.max_lr if config.schedule.name == "one_cycle" else config.learning_rate
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    scheduler = _torch_scheduler(config, optimizer, math.ceil(num_examples / config.batch_size))
    # ToTensor + Normalize once, up front: the data sit in memory as float tensors.
    x_all = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float().div_(255)
    x_all = ((x_all - augment.MEAN) / augment.STD).to(device)
    y_all = torch.from_numpy(labels.astype(np.int64)).to(device)
    generator = torch.Generator().manual_seed(config.seed)
    step_model = model

    def run_epoch():
      permutation = torch.randperm(num_examples, generator=generator).to(device)
      for start in range(0, num_examples, config.batch_size):
        index = permutation[start:start + config.batch_size]
        optimizer.zero_grad()
        loss = F.nll_loss(step_model(x_all[index]), y_all[index])
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
        timing.error = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
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
      raise ValueError(f"torch device 'cuda' asked for, but torch {torch.__version__} sees no CUDA device")


# ---------------------------------------------------------------------------------------------
# The run and its report
# ---------------------------------------------------------------------------------------------


def run(config: ml_collections.ConfigDict, num_examples: int = 60000, num_epochs: int = 3,
        seeds: Sequence[int] = (1, 4, 8), seeds_num_examples: int | None = None,
        torch_threads: Sequence[int] | None = None, torch_compile: bool = False,
        torch_device: str = "cpu", synthetic: bool = False, data_dir: str | None = None,
        log: Callable[[str], None] = print) -> Report:
  """Runs every contender once, in one process, and returns the `Report`.

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
  check_torch_device(torch_device)
  if num_epochs < 1:
    raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
  if any(s < 1 for s in seeds):
    raise ValueError(f"seed counts must be >= 1, got {list(seeds)}")
  torch_threads = list(torch_threads or [os.cpu_count()])
  if torch_device == "cuda":
    torch_threads = torch_threads[:1]
  load_before = load_average()
  images, labels = load_images(num_examples, synthetic, data_dir)
  base = ml_collections.ConfigDict(config.to_dict())
  base.num_seeds = 1
  rotation = float(base.rotation_degrees)
  timings = []

  def add(timing: Timing, into: list[Timing]):
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
    add(time_torch_epoch(base, images, labels, num_epochs, threads=threads, device=torch_device),
        timings)
  if torch_compile:
    add(time_torch_epoch(base, images, labels, num_epochs, threads=torch_threads[0],
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
  return Report(config_name=base.get("name", "?"), model=base.model,
                machine=machine_info(torch_device),
                timings=timings, seed_timings=seed_timings, synthetic=synthetic,
                load_before=load_before, load_after=load_average(), num_epochs=base.num_epochs)


def _ratio(a: Timing, b: Timing) -> str:
  if a.error or b.error or not a.epoch_seconds or not b.epoch_seconds:
    return "n/a"
  return f"{a.median_epoch_seconds / b.median_epoch_seconds:.2f}"


def format_report(report: Report, command: str | None = None) -> str:
  """The report as Markdown: machine, the comparison table, ratios, the multi-seed table."""
  lines = []
  if command:
    lines += [f"Command: `{command}`", ""]
  first = report.timings[0] if report.timings else None
  data_line = "random uint8 images (--synthetic)" if report.synthetic else "real MNIST training images"
  if first is not None:
    lines += [f"Config `{report.config_name}` (model `{report.model}`), batch {first.batch_size}, "
              f"{first.num_examples} {data_line} per epoch, {len(first.epoch_seconds)} timed "
              f"epoch(s) per contender (median)."]
  lines += [f"Load average (1/5/15 min) before: {report.load_before}; after: {report.load_after}.", ""]
  lines += ["| machine | |", "|---|---|"]
  lines += [f"| {key} | {value} |" for key, value in report.machine.items()]
  lines += ["", "| contender | ms/step | s/epoch | images/s | compile s | epochs (s) |",
            "|---|---|---|---|---|---|"]
  for t in report.timings:
    if t.error:
      lines.append(f"| {t.name} | failed: {t.error.replace('|', '/')} | | | | |")
      continue
    compile_s = "" if t.compile_seconds is None else f"{t.compile_seconds:.1f}"
    epochs = ", ".join(f"{s:.2f}" for s in t.epoch_seconds)
    lines.append(f"| {t.name} | {t.ms_per_step:.1f} | {t.median_epoch_seconds:.2f} | "
                 f"{t.images_per_second:,.0f} | {compile_s} | {epochs} |")
  ours = [t for t in report.timings if t.name.startswith("ours")]
  eager = [t for t in report.timings if t.name.startswith("torch eager")]
  if ours and eager:
    lines += ["", "Ratios (median epoch time, ours / torch eager; < 1 means ours is faster):", ""]
    for o in ours:
      for e in eager:
        lines.append(f"- {o.name} / {e.name}: **{_ratio(o, e)}**")
  if ours and report.num_epochs:
    lines += ["", f"{report.num_epochs} epochs (a full run of the config) of {first.num_examples} images "
              "at these medians (training only, without the per-epoch test-set evaluation and "
              "compile):", ""]
    lines += [f"- {t.name}: {report.num_epochs * t.median_epoch_seconds:.1f} s" for t in ours]
  if report.seed_timings:
    lines += ["", f"Multi-seed program ({report.seed_timings[0].num_examples} images per epoch "
              f"per seed, rotation as configured):", "",
              "| seeds | ms/step (all seeds) | s/epoch | s/epoch per seed | images/s (all seeds) | compile s |",
              "|---|---|---|---|---|---|"]
    for t in report.seed_timings:
      lines.append(f"| {t.num_seeds} | {t.ms_per_step:.1f} | {t.median_epoch_seconds:.2f} | "
                   f"{t.seconds_per_seed:.2f} | {t.images_per_second:,.0f} | {t.compile_seconds:.1f} |")
  return "\n".join(lines) + "\n"


_DOC_HEADER = """# Performance

The section between the benchmark markers is written by `scripts/benchmark.py --output
docs/PERFORMANCE.md`; the rest of this file is maintained by hand.

"""


def section_markers(section: str = "") -> tuple[str, str]:
  """Begin and end markers of a named benchmark section ("" is the default, CPU, section).

  Raises:
    ValueError: a name other than letters, digits and "_".
  """
  if not section:
    return BEGIN_MARKER, END_MARKER
  if not section.replace("_", "").isalnum():
    raise ValueError(f"section name must be letters, digits and '_', got {section!r}")
  return f"<!-- benchmark:{section}:begin -->", f"<!-- benchmark:{section}:end -->"


def update_performance_doc(path: str, text: str, section: str = "") -> None:
  """Replaces one benchmark section of `path` (between its markers) with `text`.

  Creates the file (a header and the section) when it does not exist; appends the section
  when the file has no markers of that section; leaves everything outside them untouched.
  `section` names the section (`section_markers`), so one file can hold the CPU and the GPU
  results.

  Raises:
    ValueError: the file has a begin marker without an end marker (or the reverse), or a
      bad section name.
  """
  begin_marker, end_marker = section_markers(section)
  section = f"{begin_marker}\n{text.rstrip()}\n{end_marker}\n"
  if not os.path.exists(path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    content = _DOC_HEADER + section
  else:
    with open(path) as f:
      content = f.read()
    has_begin, has_end = begin_marker in content, end_marker in content
    if has_begin != has_end:
      raise ValueError(f"{path} has only one of {begin_marker!r} and {end_marker!r}; fix it by hand")
    if has_begin:
      head, rest = content.split(begin_marker, 1)
      tail = rest.split(end_marker, 1)[1]
      content = head + section + ("\n" + tail.lstrip("\n") if tail.strip() else "")
    else:
      content = content.rstrip("\n") + "\n\n" + section
  with open(path, "w") as f:
    f.write(content)
