"""Training runs on disk: a workdir's ``config.json``, ``metrics.jsonl`` (a line per finished
epoch, every value a list over seeds) and, once finished, ``summary.json``; `collect` copies
these and the plots (not the checkpoints) into the committed ``runs/<recipe name>/``."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
from typing import Any, Sequence

from mnist_jax.training import workdir as workdir_lib
from mnist_jax import published

RUN_FILES = ("config.json", "metrics.jsonl", "summary.json")
PLOT_FILES = ("curves.png", "misclassified.png")
FLAGSHIP = "final"  # the recipe name of the flagship (configs/final.py)


@dataclasses.dataclass(frozen=True)
class Run:
  """The files of one run: config.json, metrics.jsonl's records (one per finished epoch) and
  summary.json (None while in progress), read from `workdir`."""
  workdir: str
  config: dict[str, Any]
  history: list[dict[str, Any]]
  summary: dict[str, Any] | None

  @property
  def name(self) -> str:
    """The recipe name (config ``name``, e.g. "ref3_step4" or "final")."""
    return self.config.get("name") or os.path.basename(os.path.normpath(self.workdir))

  @property
  def files(self) -> list[str]:
    """Paths of the run files that exist, in `RUN_FILES` order."""
    return [os.path.join(self.workdir, f) for f in RUN_FILES
            if os.path.exists(os.path.join(self.workdir, f))]


def load_run(workdir: str) -> Run:
  """Reads the run in `workdir`. Raises ValueError for no config.json, a file that cannot be
  read (`workdir.WorkdirError`, naming it), metrics.jsonl's epochs not 0, 1, 2, ..., or
  summary.json counting other epochs."""
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise ValueError(f"{workdir!r} is not a run workdir: it has no config.json")
  config = workdir_lib.read_json(config_path, "it names the run: restore it from a copy, or "
                                              "remove the run")
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  history = workdir_lib.read_json_lines(metrics_path)
  epochs = [record["epoch"] for record in history]
  if epochs != list(range(len(history))):
    raise ValueError(f"{metrics_path}: epochs must be 0, 1, 2, ... in order, got {epochs}")
  summary_path = os.path.join(workdir, "summary.json")
  summary = (workdir_lib.read_json(summary_path, workdir_lib.RERUN)
             if os.path.exists(summary_path) else None)
  if summary is not None and summary.get("num_epochs") != len(history):
    raise ValueError(f"{summary_path} counts {summary.get('num_epochs')} epochs but "
                     f"{metrics_path} has {len(history)}")
  return Run(workdir=workdir, config=config, history=history, summary=summary)


def find_runs(patterns: Sequence[str]) -> list[Run]:
  """The runs in the folders with config.json matched by the glob `patterns`, in `recipe_order`.
  Raises ValueError when a pattern matches no run, or two runs share a recipe name."""
  runs: dict[str, Run] = {}
  for pattern in patterns:
    folders = sorted(path for path in glob.glob(pattern)
                     if os.path.exists(os.path.join(path, "config.json")))
    if not folders:
      raise ValueError(f"no run workdir (a folder with config.json) matches {pattern!r}")
    for folder in folders:
      run = load_run(folder)
      if run.name in runs and not os.path.samefile(runs[run.name].workdir, folder):
        raise ValueError(f"two runs of recipe {run.name!r}: {runs[run.name].workdir} and "
                         f"{folder}; pass only one of them")
      runs.setdefault(run.name, run)
  return sorted(runs.values(), key=lambda run: recipe_order(run.name))


def recipe_order(name: str) -> tuple[int, int, str]:
  """Sort key: ref1 .. ref5 (in write-up order), then `FLAGSHIP`, then other names."""
  positions = {record.name: i for i, record in enumerate(published.all())}
  experiment = name.split("_")[0]
  if experiment in published.EXPERIMENTS:
    return (published.EXPERIMENTS.index(experiment), positions.get(name, len(positions)), name)
  return (len(published.EXPERIMENTS) + (name != FLAGSHIP), 0, name)


def copy_or_remove(source: str, destination: str) -> bool:
  """Copies `source` to `destination`, or removes a stale `destination` where `source` is
  missing; returns whether `source` exists."""
  if os.path.exists(source):
    shutil.copyfile(source, destination)
    return True
  if os.path.exists(destination):
    os.remove(destination)
  return False


def collect(workdir: str, runs_dir: str = "runs") -> str:
  """Copies the run in `workdir` (`RUN_FILES`, `PLOT_FILES`) into ``runs_dir/<recipe name>/``,
  removing files it lacks; returns that folder. Raises ValueError as `load_run`."""
  run = load_run(workdir)
  target = os.path.join(runs_dir, run.name)
  os.makedirs(target, exist_ok=True)
  if not os.path.samefile(workdir, target):
    for file_name in RUN_FILES + PLOT_FILES:
      copy_or_remove(os.path.join(workdir, file_name), os.path.join(target, file_name))
  return target


def write_run(run: Run, folder: str) -> str:
  """Writes `run`'s files into `folder` (created) as `collect` would, draws curves.png and
  removes stale files it cannot write (misclassified.png, a missing summary.json); returns it."""
  os.makedirs(folder, exist_ok=True)
  texts = {"config.json": json.dumps(run.config, indent=2),
           "metrics.jsonl": "".join(json.dumps(record) + "\n" for record in run.history),
           "summary.json": None if run.summary is None else json.dumps(run.summary, indent=2),
           **dict.fromkeys(PLOT_FILES)}  # None: a stale copy, removed
  for file_name, text in texts.items():
    path = os.path.join(folder, file_name)
    if text is not None:
      with open(path, "w") as f:
        f.write(text)
    elif os.path.exists(path):
      os.remove(path)
  if run.history:
    from mnist_jax.training import plots  # pylint: disable=g-import-not-at-top  (matplotlib)
    plots.plot_curves(run.history, os.path.join(folder, "curves.png"))
  return folder


def collect_all(patterns: Sequence[str], runs_dir: str = "runs") -> list[str]:
  """`collect` for every run of `find_runs(patterns)` (all checked before any is copied)."""
  return [collect(run.workdir, runs_dir) for run in find_runs(patterns)]
