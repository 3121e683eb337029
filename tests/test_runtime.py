"""Process set-up of the scripts: XLA:CPU flags (and that XLA accepts them), compilation cache."""

import os
import subprocess
import sys

from mnist_jax import runtime


def test_adds_flags_and_keeps_the_users():
  environ = {}
  assert runtime.apply_cpu_flags(environ) == ["--xla_cpu_experimental_ynn_fusion_type="]
  assert environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type="
  environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
  runtime.apply_cpu_flags(environ)
  assert environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2",
                                          "--xla_cpu_experimental_ynn_fusion_type="]
  environ = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=default"}
  assert runtime.apply_cpu_flags(environ) == []
  assert environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=default"


def test_xla_accepts_the_flags():
  # An unknown flag would abort the process at the first computation.
  code = ("import jax; from mnist_jax import runtime; assert runtime.apply_cpu_flags();"
          "print(float(jax.numpy.ones(3).sum()))")
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == "3.0"


def test_compilation_cache_folder_follows_xdg_and_can_be_turned_off(tmp_path):
  home = os.path.expanduser("~")
  assert runtime.compilation_cache_dir({}) == os.path.join(home, ".cache", "mnist_jax", "jax")
  assert runtime.compilation_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == str(tmp_path / "mnist_jax" / "jax")
  assert runtime.compilation_cache_dir({"MNIST_JAX_COMPILATION_CACHE": str(tmp_path / "c")}) == str(tmp_path / "c")
  for off in ("0", "off", "False", "no"):
    assert runtime.compilation_cache_dir({"MNIST_JAX_COMPILATION_CACHE": off}) is None


def test_configure_quiets_tensorflow_and_keeps_the_users_choice():
  environ = {"MNIST_JAX_COMPILATION_CACHE": "0"}
  assert runtime.configure(environ=environ) is None
  assert environ["TF_CPP_MIN_LOG_LEVEL"] == "2" and environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
  environ = {"TF_CPP_MIN_LOG_LEVEL": "0", "MNIST_JAX_COMPILATION_CACHE": "0"}
  runtime.configure(environ=environ)
  assert environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_second_process_loads_its_programs_from_the_cache(tmp_path):
  # Each process counts its persistent-cache hits through jax.monitoring's public events.
  code = ("import jax; from mnist_jax import runtime; hits = [];"
          "jax.monitoring.register_event_listener("
          "  lambda event, **kw: hits.append(event) if event.endswith('cache_hits') else None);"
          "assert runtime.configure(compilation_cache=True);"
          "f = jax.jit(lambda x: jax.numpy.sin(x) @ x.T);"
          "print(float(f(jax.numpy.ones((8, 8))).sum()), len(hits))")
  env = dict(os.environ, MNIST_JAX_COMPILATION_CACHE=str(tmp_path / "cache"))
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root)
          for _ in range(2)]
  for result in runs:
    assert result.returncode == 0, result.stderr[-2000:]
  (first_value, first_hits), (second_value, second_hits) = [r.stdout.split() for r in runs]
  assert first_value == second_value
  assert int(first_hits) == 0 and int(second_hits) >= 1
  assert any((tmp_path / "cache").iterdir())
