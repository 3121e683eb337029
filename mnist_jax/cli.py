"""Command-line plumbing shared by the scripts: flag parsing that ends bad input in one line."""

import difflib
import importlib.util
import inspect
import os
import sys
import textwrap
import types
from typing import NoReturn

from absl import flags
import ml_collections


def fail(message: str) -> NoReturn:
  """Prints `error: message` on stderr and exits with status 1."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(1)


def require_torch(what: str) -> None:
  """Stops with one `error:` line naming the `torch` extra when PyTorch is not installed."""
  try:
    import torch  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    fail(f"{what} needs PyTorch, which is not installed: pip install \"mnist_jax[torch]\" "
         "(from a checkout: pip install -e \".[torch]\")")


def parse_flags(argv: list[str]) -> list[str]:
  """`absl.app.run`'s flags_parser: absl's parsing, with one `error:` line for bad flags: an
  unknown override field (`--config.nosuchfield=1`) with the closest valid names, a bad config
  file or step (`check_config_step`), else absl's message (e.g. a value of the wrong type).
  """
  if "config" in flags.FLAGS:
    check_config_step(argv)
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:
    overrides = [arg[len("--config."):] for arg in argv if arg.startswith("--config.")]
    for path in [override.split("=")[0] for override in overrides]:
      problem = unknown_field(_config_without_overrides(argv), path)
      if problem:
        fail(problem)
    fail(f"bad flag: {' '.join(str(e).split())}")
  except flags.Error as e:
    fail(" ".join(str(e).split()))


def _config_without_overrides(argv: list[str]) -> ml_collections.ConfigDict:
  """The --config file's ConfigDict, loaded by absl again without the overrides (ml_collections
  applies those from sys.argv while loading, so an unknown field fails before the config is read).
  """
  kept = [arg for arg in argv if not arg.startswith("--config.")]
  saved_argv = sys.argv
  sys.argv = kept
  try:
    flags.FLAGS.unparse_flags()
    flags.FLAGS(kept, known_only=True)
    return flags.FLAGS["config"].value
  finally:
    sys.argv = saved_argv


def unknown_field(config: ml_collections.ConfigDict, path: str) -> str | None:
  """The one-line complaint about override `path` (e.g. "schedule.max_lr"), None if it exists."""
  node = config
  walked = []
  for part in path.split("."):
    if not isinstance(node, ml_collections.ConfigDict) or part not in node:
      names = list(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
      prefix = "config." + "".join(f"{w}." for w in walked)
      close = difflib.get_close_matches(part, names, n=3, cutoff=0.0)
      suggestion = ", ".join(prefix + name for name in close) or "none (not a config group)"
      return f"unknown config field 'config.{path}'; closest valid names: {suggestion}"
    node = node[part]
    walked.append(part)
  return None


# absl's help flags: with one of them the command prints its help, whatever --config says.
_HELP = ("help", "helpfull", "helpshort", "helpxml", "h", "?")


def check_config_step(argv: list[str], flag: str = "config") -> None:
  """Stops with one `error:` line when the --config value (FILE or FILE:STEP) cannot be loaded:
  a missing file; a file with `STEPS` (e.g. configs/ref3.py; `EXAMPLE` names the step suggested,
  else the last) without a known step; a step for a `get_config()` that takes none. Other
  problems are absl's; nothing is checked when help is asked for.
  """
  value = _flag_value(argv, flag)
  if value is None or any(arg.lstrip("-") in _HELP for arg in argv[1:] if arg.startswith("-")):
    return
  path, colon, step = value.partition(":")
  if not os.path.isfile(path):
    fail(f"--{flag}: no config file {path}")
  module = _load_module(path)
  if module is None or not callable(getattr(module, "get_config", None)):
    return  # absl's parsing reports it
  steps = getattr(module, "STEPS", None)
  if steps is None:
    if colon and not inspect.signature(module.get_config).parameters:
      fail(f"{path} takes no step; give it without a colon: --{flag} {path}")
    return
  if not step:
    example = getattr(module, "EXAMPLE", steps[-1])
    fail(f"{path} needs a step after a colon, e.g. {path}:{example}; steps: {', '.join(steps)}")
  try:
    module.get_config(step)
  except ValueError as e:
    fail(" ".join(str(e).split()))


def _flag_value(argv: list[str], name: str) -> str | None:
  """The value of flag `name` in `argv` (`--name=V`, `--name V`, one dash too; the last wins)."""
  value = None
  for i, arg in enumerate(argv[1:], start=1):
    if arg == "--":
      break
    if not arg.startswith("-"):
      continue
    key, equals, rest = arg.lstrip("-").partition("=")
    if key == name:
      value = rest if equals else (argv[i + 1] if i + 1 < len(argv) else None)
  return value


def _load_module(path: str) -> types.ModuleType | None:
  """The Python file `path` as a module (as ml_collections loads it), None if it fails to load."""
  try:
    spec = importlib.util.spec_from_file_location("mnist_jax_config_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
  except Exception:  # pylint: disable=broad-except  (absl's parsing reports it)
    return None
  return module


def config_listing(experiments: dict[str, tuple[str, ...] | None], folder: str = "configs",
                   width: int = 100) -> str:
  """Help text naming each config file of `folder` and its steps (see configs.base.experiments)."""
  lines = ["Config files (--config FILE, or --config FILE:STEP for a file with steps):"]
  column = max(len(f"{folder}/{stem}.py:") for stem in experiments) + 3
  for stem, steps in experiments.items():
    head = f"  {folder}/{stem}.py" + (":" if steps else "")
    if not steps:
      lines.append(head + " " * (column - len(head)) + "(no step)")
      continue
    lines.extend(textwrap.wrap(", ".join(steps), width=width, break_on_hyphens=False,
                               initial_indent=head.ljust(column), subsequent_indent=" " * column))
  return "\n".join(lines) + "\n"
