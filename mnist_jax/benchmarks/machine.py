"""The machine a benchmark ran on: CPU, load, code version, devices and library versions, as
strings for the report; what cannot be found reads "unknown" (or "n/a", "not installed")."""

from __future__ import annotations

import os
import platform
import subprocess
import time

import jax


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
  """Short commit hash of this module's checkout, "+dirty" when modified, else "unknown"."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  git = lambda *args: subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                     timeout=10, check=True).stdout.strip()
  try:
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
  except (OSError, subprocess.SubprocessError):
    return "unknown"
  return commit + ("+dirty" if dirty else "")


def machine_info(torch_device: str = "cpu") -> dict[str, str]:
  """Date, code version, devices, CPU, core count and library versions, as strings."""
  import flax  # pylint: disable=import-outside-toplevel
  import jaxlib  # pylint: disable=import-outside-toplevel
  device = jax.devices()[0]
  info = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "commit": git_commit(),
          "jax device": f"{device} ({device.device_kind}) x{jax.device_count()}",
          "cpu": cpu_model(), "cores": str(os.cpu_count()), "python": platform.python_version(),
          "jax": jax.__version__, "jaxlib": jaxlib.__version__, "flax": flax.__version__,
          "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") or "(none)"}
  try:
    import torch  # pylint: disable=import-outside-toplevel
    info["torch"] = torch.__version__
    info["torch device"] = (f"cuda ({torch.cuda.get_device_name()})" if torch_device == "cuda"
                            else "cpu")
  except ImportError:
    info["torch"] = "not installed"
  return info
