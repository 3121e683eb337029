"""The wheel holds the whole package and works installed on its own, outside the checkout.

Slow tier: it builds a wheel (`python -m build --wheel`) of a copy of the package's sources,
installs it with --no-deps into a fresh virtual environment that takes the heavy dependencies
from the test environment, and imports it from a folder outside the repository.
"""

import os
import pathlib
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBPACKAGES = ("data", "models", "optim", "training", "torch", "published", "reporting", "benchmarks")


def run(*args, cwd, env=None):
  result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
  return result


def test_requires_python_and_the_torch_extra():
  project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
  # jax, flax and orbax-checkpoint declare Requires-Python >= 3.11.
  assert project["requires-python"] == ">=3.11"
  extras = project["optional-dependencies"]
  assert any(requirement.startswith("torch") for requirement in extras["torch"])
  assert "mnist_jax[torch]" in extras["test"] and any(r.startswith("build") for r in extras["test"])


@pytest.mark.slow
def test_wheel_holds_every_subpackage_and_imports_from_a_fresh_venv(tmp_path):
  # The build runs on a copy, so it leaves no build/ or egg-info in the checkout. No build
  # isolation: setuptools comes from the test environment, so the test needs no network.
  source = tmp_path / "source"
  source.mkdir()
  for name in ("pyproject.toml", "README.md", "LICENSE"):
    shutil.copy(REPO_ROOT / name, source / name)
  shutil.copytree(REPO_ROOT / "mnist_jax", source / "mnist_jax",
                  ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
  dist = tmp_path / "dist"
  built = run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, source,
              cwd=tmp_path)
  # setuptools' deprecations (a TOML-table license, say) end in builds that fail on a set date.
  output = built.stdout + built.stderr
  assert "Deprecat" not in output and "no longer be supported" not in output, output[-3000:]
  (wheel,) = dist.glob("mnist_jax-*.whl")
  assert any(name.endswith("licenses/LICENSE") for name in zipfile.ZipFile(wheel).namelist())

  names = zipfile.ZipFile(wheel).namelist()
  packages = {str(path.parent.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "mnist_jax").rglob("__init__.py")}
  assert {f"mnist_jax/{sub}" for sub in SUBPACKAGES} <= packages
  for package in sorted(packages):
    assert f"{package}/__init__.py" in names, f"{package} missing from {wheel.name}"
  modules = {str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "mnist_jax").rglob("*.py")}
  assert modules <= set(names), sorted(modules - set(names))
  assert not any(name.startswith(("configs/", "scripts/", "tests/")) for name in names)

  venv = tmp_path / "venv"
  run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv, cwd=tmp_path)
  python = venv / "bin" / "python"
  purelib = pathlib.Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                             cwd=tmp_path).stdout.strip())
  if sys.prefix != sys.base_prefix:
    # The test environment is itself a venv, whose packages --system-site-packages does not
    # reach: name its site-packages after the new venv's own (plain paths, so its .pth files,
    # e.g. an editable install of the checkout, stay out).
    (purelib / "test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
  env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
  outside = tmp_path / "elsewhere"
  outside.mkdir()
  run(python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "--quiet",
      wheel, cwd=outside, env=env)

  result = run(python, "-c", "import mnist_jax, mnist_jax.training.train, mnist_jax.data; "
               "print(mnist_jax.__file__); print(mnist_jax.training.train.__file__)",
               cwd=outside, env=env)
  paths = [pathlib.Path(line) for line in result.stdout.split()]
  assert paths[0] == purelib / "mnist_jax" / "__init__.py", result.stdout
  for path in paths:
    assert path.is_relative_to(purelib) and not path.is_relative_to(REPO_ROOT), result.stdout
