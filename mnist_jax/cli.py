"""Command-line plumbing shared by the scripts: flag parsing that ends bad input in one line."""

import difflib
import sys
from typing import NoReturn

from absl import flags
import ml_collections


def fail(message: str) -> NoReturn:
  """Prints `error: message` on stderr and exits with status 1."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(1)


def parse_flags(argv: list[str]) -> list[str]:
  """`absl.app.run`'s flags_parser: absl's parsing, with one `error:` line for bad flags.

  An unknown config field in an override (`--config.nosuchfield=1`) is named with the closest
  valid names; any other parsing error (e.g. a value of the wrong type) gives absl's message.
  """
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
  """The --config file's ConfigDict, loaded by absl again with the overrides left out.

  ml_collections' config flag applies the overrides it finds in sys.argv while it loads the
  file, so an unknown field fails before the config can be read; hence the second parse.
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
