"""The XLA:CPU flags the scripts apply, and that XLA accepts them."""

import os
import subprocess
import sys

from mnist_jax import xla_flags


def test_adds_flags_and_keeps_the_users():
  environ = {}
  assert xla_flags.apply_cpu_flags(environ) == ["--xla_cpu_experimental_ynn_fusion_type="]
  assert environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type="
  environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
  xla_flags.apply_cpu_flags(environ)
  assert environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2",
                                          "--xla_cpu_experimental_ynn_fusion_type="]
  environ = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=default"}
  assert xla_flags.apply_cpu_flags(environ) == []
  assert environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=default"


def test_xla_accepts_the_flags():
  # An unknown flag would abort the process at the first computation.
  code = ("import jax; from mnist_jax import xla_flags; assert xla_flags.apply_cpu_flags();"
          "print(float(jax.numpy.ones(3).sum()))")
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == "3.0"
