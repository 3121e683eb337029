"""XLA:CPU flags that make our training faster, applied by the command-line scripts.

Measured in docs/PERFORMANCE.md (study 3): with YNNPACK fusions off, XLA's own Eigen
convolutions and matmuls run ref2 Final's train step 0.93x as long on the 2-core CPU
(YNNPACK, on by default in jaxlib 0.10, takes 11.0 ms where Eigen takes 7.6 ms for the
26x26 convolution).
"""

import os

# Flags known to the jaxlib versions we measured; an unknown XLA flag aborts the process.
CPU_FLAGS = {"--xla_cpu_experimental_ynn_fusion_type": ""}
_MEASURED_JAXLIB = (0, 10)


def apply_cpu_flags(environ=os.environ) -> list[str]:
  """Adds `CPU_FLAGS` to XLA_FLAGS in `environ`, keeping any the user set; returns those added.

  Call before JAX starts its backend (the first computation); later calls have no effect
  on the running process. Adds nothing for a jaxlib older than the one measured.
  """
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
