"""What a benchmark measured: the times of one contender (`Timing`) and of a whole run (`Report`).

Kept apart from the code that times (`benchmark`, `torch_epoch`) and from the Markdown
(`benchmark_report`), which all read these records.
"""

from __future__ import annotations

import dataclasses
import math
import statistics


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
    num_replicas: replicas trained together in one program (ours: seeds times sweep cells);
      1 otherwise.
    swept: the swept values the timed program's states carried, {field path: [R] values}
      ({} outside a sweep).
    error: the first line of the failure when the contender could not run; the times are
      then empty.
  """

  name: str
  num_examples: int
  batch_size: int
  epoch_seconds: list[float] = dataclasses.field(default_factory=list)
  compile_seconds: float | None = None
  num_replicas: int = 1
  swept: dict[str, list[float]] = dataclasses.field(default_factory=dict)
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
    """Median epoch time divided by its optimizer steps, milliseconds (all replicas together)."""
    return 1000.0 * self.median_epoch_seconds / self.steps_per_epoch

  @property
  def images_per_second(self) -> float:
    """Training images per second, all replicas together."""
    return self.num_replicas * self.num_examples / self.median_epoch_seconds

  @property
  def seconds_per_replica(self) -> float:
    """Median epoch time divided by the replicas, seconds: one replica-epoch's share."""
    return self.median_epoch_seconds / self.num_replicas


def per_replica_ratio(timing: Timing, separate: Timing) -> float:
  """`timing`'s time per replica over the epoch time of one separate run (`separate`).

  <= 1: training the replicas together is no slower per replica than one run after another.
  nan when either has no times.
  """
  if timing.error or separate.error or not timing.epoch_seconds or not separate.epoch_seconds:
    return math.nan
  return timing.seconds_per_replica / separate.median_epoch_seconds


@dataclasses.dataclass
class Report:
  """Everything one benchmark run measured, with the machine it ran on.

  Attributes:
    config_name: the config's ``name`` (e.g. "final").
    model: the registry model it trains.
    machine: `machine.machine_info` of the machine it ran on.
    timings: ours (with and without rotation) and torch, one seed each.
    seed_timings: the multi-seed program, one entry per replica count.
    synthetic: random images instead of MNIST.
    load_before: `machine.load_average` before the first contender.
    load_after: the same after the last.
    num_epochs: epochs of a full run of the config (its `num_epochs`), or None.
    sweep_timings: the sweep program (`benchmark.run_sweep`), one entry per replica count,
      the plain run (1 replica) first.
  """

  config_name: str
  model: str
  machine: dict[str, str]
  timings: list[Timing]
  seed_timings: list[Timing]
  synthetic: bool
  load_before: str
  load_after: str
  num_epochs: int | None = None
  sweep_timings: list[Timing] = dataclasses.field(default_factory=list)
