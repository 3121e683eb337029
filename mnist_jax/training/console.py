"""What a run prints and how it answers signals: the references' console lines, the tqdm bar
within an epoch, and SIGINT/SIGTERM turned into a stop between two segments of an epoch."""

import os
import signal
import threading

import jax
import numpy as np



def test_line(loss: float, correct: int, total: int) -> str:
  """The references' console line for a test-set evaluation."""
  return eval_line("test", loss, correct, total)


def eval_line(split: str, loss: float, correct: int, total: int) -> str:
  """The references' line for an evaluation of `split` ("test" or "validation")."""
  return (f"{split.capitalize()} set: Average loss: {loss:.4f}, Accuracy: {correct}/{total} "
          f"({100.0 * correct / total:.2f}%)")


class Progress:
  """tqdm bar within an epoch, updated by the host between segments of the epoch's steps."""

  def __init__(self, total: int, enabled: bool):
    self.total = total
    self.enabled = enabled
    self.bar = None

  def segments(self) -> list[tuple[int, int]]:
    """Step ranges [start, stop) of the epoch's calls: about 20 with the bar, else one."""
    every = max(1, self.total // 20) if self.enabled else self.total
    starts = list(range(0, self.total, every))
    return list(zip(starts, starts[1:] + [self.total]))

  def start(self):
    if self.enabled:
      import tqdm  # pylint: disable=g-import-not-at-top
      self.bar = tqdm.tqdm(total=self.total, dynamic_ncols=True)

  def update(self, partial, stop: int):
    """Shows the loss of step `stop - 1` and the accuracy so far (the references' bar text)
    of `partial`, the epoch's `epoch.EpochOutput` so far."""
    if self.bar is None:
      return
    losses = np.asarray(partial.step_losses[:, stop - 1])
    correct = np.asarray(partial.metrics.accuracy.total, np.float64).sum()
    seen = max(float(np.asarray(partial.metrics.accuracy.count).sum()), 1.0)
    self.bar.n = stop
    self.bar.set_description(
        f"Loss={float(np.mean(losses))} Batch_id={stop - 1} Accuracy={100.0 * correct / seen:0.2f}",
        refresh=False)
    self.bar.refresh()

  def close(self):
    if self.bar is not None:
      self.bar.close()
      self.bar = None


class StopRequest:
  """Records SIGINT and SIGTERM instead of dying, so training stops between two segments of
  an epoch with its checkpoints intact; a second signal stops at once."""

  def __init__(self):
    self.signal = None
    self.previous = {}
    if threading.current_thread() is threading.main_thread():  # signals reach only the main thread
      for number in (signal.SIGINT, signal.SIGTERM):
        self.previous[number] = signal.signal(number, self._handle)

  def _handle(self, number, frame):
    del frame
    self.signal = signal.Signals(number).name
    self.restore()  # the second signal takes the default path

  def restore(self):
    """Puts back the handlers that were there before (also after a failed run)."""
    for number, handler in self.previous.items():
      signal.signal(number, handler)
    self.previous = {}

  def __enter__(self) -> "StopRequest":
    return self

  def __exit__(self, *exc_info) -> None:
    self.restore()


def banner_line(config, trainer, splits: dict[str, tuple], trace_seconds: float,
                compile_seconds: float) -> str:
  """The run's first line: the model and its parameters, the seeds and sweep cells, the
  images of each split, the devices, and how long tracing and compiling took (seconds).
  `trainer`: the run's `trainer.Trainer`; `splits`: {name: (images, labels)}."""
  num_seeds = config.num_seeds
  seeds = [config.seed + s for s in range(num_seeds)]
  num_replicas = len(trainer.labels)
  grid = (f" x {num_replicas // num_seeds} sweep cells = {num_replicas} replicas"
          if config.get("sweep") else "")
  sizes = " / ".join(f"{len(splits[name][1])} {name}" for name in trainer.eval_sets)
  device = jax.devices()[0]
  return (f"Model {config.model}: {trainer.num_params:,} parameters; {num_seeds} seed(s) "
          f"{seeds}{grid}; {len(splits['train'][1])} train / {sizes} images; "
          f"device {device.device_kind} x{jax.device_count()}; "
          f"traced in {trace_seconds:.1f} s, compiled in {compile_seconds:.1f} s")


def interrupted_line(signal_name: str, epoch: int, manager) -> str:
  """The line `train.Interrupted` carries: the signal, the epoch, and where the run resumes."""
  last = manager.latest_step()
  where = ("no checkpoint yet, the same command starts again" if last is None else
           f"last checkpoint: epoch {last} in {manager.directory}; "
           "the same command resumes from it")
  return f"{signal_name} during epoch {epoch}; stopped, {where}"


def final_lines(history: list[dict], labels: list[str], workdir: str,
                train_seconds: float, compile_seconds: float) -> list[str]:
  """The words a finished run ends with: per replica (`labels`, e.g. "seed 0") its best test
  accuracy (percent, 2 decimals), its epoch ("epoch 13 of 15", from 1 as RESULTS.md counts)
  and its last-3 mean; mean and std over replicas where there are several; the workdir's
  files and the TensorBoard command. `history`: metrics.jsonl's records, oldest first (at
  least one); summary.json keeps the unrounded numbers."""
  accuracy = np.asarray([record["test_accuracy"] for record in history], np.float64)  # [E, R]
  best, last3 = accuracy.max(axis=0), accuracy[-3:].mean(axis=0)
  lines = [f"Finished {len(history)} epochs in {train_seconds:.1f} s "
           f"(compiling apart: {compile_seconds:.1f} s). Test accuracy:"]
  width = max(len(label) for label in labels)
  for r, label in enumerate(labels):
    lines.append(f"  {label:<{width}}  best {best[r]:.2f} % "
                 f"(epoch {int(accuracy[:, r].argmax()) + 1} of {len(history)}), "
                 f"last 3 epochs {last3[r]:.2f} %")
  if len(labels) > 1:
    lines.append(f"  {'mean':<{width}}  best {best.mean():.2f} ± {best.std(ddof=1):.2f} %, "
                 f"last 3 epochs {last3.mean():.2f} ± {last3.std(ddof=1):.2f} %")
  files = sorted(name + ("/" if os.path.isdir(os.path.join(workdir, name)) else "")
                 for name in os.listdir(workdir) if not name.startswith("."))  # not the lock
  lines.append(f"Workdir {workdir}: {', '.join(files)}")
  lines.append(f"TensorBoard: tensorboard --logdir {workdir}")
  return lines
