"""What a benchmark measured: the times of one contender (`Timing`), of a whole run (`Report`)."""

from __future__ import annotations

import dataclasses
import math
import statistics


@dataclasses.dataclass
class Timing:
  """Wall-clock seconds of one contender ("torch eager", ...): one per timed epoch of
  `num_examples` images; the compile (None without one); `num_replicas` trained together; the
  swept values ({field path: [R] values}); `error`, the failure's first line (no times then).
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
  """`timing`'s time per replica over the epoch time of one separate run (`separate`): <= 1,
  training the replicas together is no slower per replica; nan when either has no times."""
  if timing.error or separate.error or not timing.epoch_seconds or not separate.epoch_seconds:
    return math.nan
  return timing.seconds_per_replica / separate.median_epoch_seconds


@dataclasses.dataclass
class Report:
  """One benchmark run: the config and model, `machine.machine_info`, the contenders'
  `timings` (one seed each), `seed_timings` and `sweep_timings` (one per replica count, the
  plain run first), load averages before and after, and the config's `num_epochs`."""

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
