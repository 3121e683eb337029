"""Process set-up for the command-line scripts: XLA:CPU flags, compilation cache, quiet console;
`configure` does it all, before JAX starts its backend and before TensorFlow is imported.
"""

import os
import pathlib

# XLA:CPU flags that make our training faster (docs/PERFORMANCE.md, study 3): with YNNPACK
# fusions (on by default in jaxlib 0.10) off, XLA's Eigen ops run ref2 Final's step 0.93x as
# long on the 2-core CPU. Only for the jaxlib versions measured: an unknown flag aborts.
CPU_FLAGS = {"--xla_cpu_experimental_ynn_fusion_type": ""}
_MEASURED_JAXLIB = (0, 10)

# Names the compilation cache folder; "0", "off", "false" or "no" turn the cache off.
CACHE_VARIABLE = "MNIST_JAX_COMPILATION_CACHE"
_OFF = ("0", "off", "false", "no")


def configure(compilation_cache: bool = True, environ=os.environ) -> str | None:
  """Quiet console, XLA:CPU flags and (unless `compilation_cache` is False, the scripts'
  `--nocompilation_cache`) JAX's persistent compilation cache, in the environment `environ`.
  Returns the compilation cache folder in use, or None when the cache is off."""
  # TensorFlow's C++ INFO and WARNING lines off (errors still print), and its oneDNN ops, whose
  # notice ignores TF_CPP_MIN_LOG_LEVEL (TensorFlow only writes events and decodes TFDS images,
  # exactly). Values the user set win.
  environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
  apply_cpu_flags(environ)
  folder = compilation_cache_dir(environ) if compilation_cache else None
  if folder is not None:
    enable_compilation_cache(folder)
  return folder


def apply_cpu_flags(environ=os.environ) -> list[str]:
  """Adds `CPU_FLAGS` to XLA_FLAGS in `environ`, keeping any the user set; returns those added
  (none for a jaxlib older than the one measured). Only a call before JAX's first computation
  affects the running process."""
  import jaxlib  # pylint: disable=import-outside-toplevel
  version = tuple(int(part) for part in jaxlib.__version__.split(".")[:2])
  if version < _MEASURED_JAXLIB:
    return []
  current = environ.get("XLA_FLAGS", "")
  names = {flag.split("=")[0] for flag in current.split()}
  added = [f"{name}={value}" for name, value in CPU_FLAGS.items() if name not in names]
  if added:
    environ["XLA_FLAGS"] = " ".join([current, *added]).strip()
  return added


def compilation_cache_dir(environ=os.environ) -> str | None:
  """The cache folder: `MNIST_JAX_COMPILATION_CACHE` if set (None if it says off), else
  `$XDG_CACHE_HOME/mnist_jax/jax` (XDG's default `~/.cache` when unset)."""
  value = environ.get(CACHE_VARIABLE, "").strip()
  if value.lower() in _OFF:
    return None
  if value:
    return value
  cache_home = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return str(pathlib.Path(cache_home, "mnist_jax", "jax"))


def enable_compilation_cache(folder: str) -> None:
  """Turns on JAX's persistent compilation cache in `folder`, for every program (by default
  only those compiling for 1 s or more; a warm start should compile nothing)."""
  import jax  # pylint: disable=import-outside-toplevel
  jax.config.update("jax_compilation_cache_dir", folder)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def initialize_distributed(coordinator_address: str | None, num_processes: int,
                           process_id: int) -> None:
  """Joins a run of `num_processes` processes through `jax.distributed.initialize` (every
  process runs the same program; global arrays span all devices). Raises ValueError for no
  coordinator address, or a process id outside [0, num_processes)."""
  if not coordinator_address:
    raise ValueError("--coordinator_address (host:port of process 0) is needed with "
                     f"--num_processes={num_processes}")
  if not 0 <= process_id < num_processes:
    raise ValueError(f"--process_id must be in [0, {num_processes}), got {process_id}")
  import jax  # pylint: disable=import-outside-toplevel
  jax.distributed.initialize(coordinator_address, num_processes=num_processes,
                             process_id=process_id)
