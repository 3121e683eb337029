"""A full disk and a read-only workdir, on real small file systems: a tmpfs mounted in a user
and mount namespace of its own (`unshare -rm`), so no root is needed and nothing outside
changes."""

import asyncio
import errno
import gc
import logging
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from mnist_jax.training import storage_errors
from mnist_jax.training import workdir as workdir_lib
from tests.test_train import REPO_ROOT, assert_trees_close, error_lines, final_params, run_script
from tests.test_crashes import ARGS, metrics_without_times

# In the namespace: a tmpfs of $SIZE kB, the run until the disk is full, a look at what it
# left, then room and the same command again; the workdir is copied out for the checks.
SCRIPT = """
set -u
mount -t tmpfs -o size="$SIZE"k tmpfs "$MNT"
python scripts/train.py "$@" --workdir "$MNT/run" >"$OUT/full.out" 2>"$OUT/full.err"
echo $? >"$OUT/full.rc"
(cd "$MNT/run" && find . | sort) >"$OUT/full.files"
mount -o remount,size=64m "$MNT"
python scripts/train.py "$@" --workdir "$MNT/run" >"$OUT/resumed.out" 2>"$OUT/resumed.err"
echo $? >"$OUT/resumed.rc"
cp -r "$MNT/run" "$OUT/run"
mount -o remount,ro "$MNT"
python scripts/train.py "$@" --workdir "$MNT/other" >/dev/null 2>"$OUT/read_only.err"
echo $? >"$OUT/read_only.rc"
"""


def namespaces_available() -> bool:
  if shutil.which("unshare") is None:
    return False
  return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not namespaces_available(),
                    reason="needs `unshare -rm` (user and mount namespaces) to mount a tmpfs")
def test_a_full_disk_stops_in_one_line_and_the_same_command_resumes(tmp_path):
  reference = tmp_path / "reference"
  assert run_script(*ARGS, "--workdir", str(reference)).returncode == 0
  mount, out = tmp_path / "mnt", tmp_path / "out"
  mount.mkdir()
  out.mkdir()
  # 400 kB: the run files and the first checkpoint (about 200 kB on a tmpfs) fit, not two.
  subprocess.run(["unshare", "-rm", "bash", "-c", SCRIPT, "script", *ARGS], cwd=REPO_ROOT,
                 env={**os.environ, "SIZE": "400", "MNT": str(mount),
                      "OUT": str(out)}, check=True, timeout=600)
  read = lambda name: (out / name).read_text()
  assert read("full.rc").strip() == "1"
  assert "Traceback" not in read("full.err")
  (line,) = error_lines(read("full.err"))
  assert re.fullmatch(
      rf"error: checkpoint (\d): cannot write to workdir '{mount}/run' \(no space left on device; "
      r"needed about \d+ kB, \d+ kB free\); free space or fix its permissions, then rerun the "
      r"same command to resume from the last checkpoint", line), line
  failed = int(re.search(r"checkpoint (\d)", line).group(1))
  files = read("full.files").split()
  saved = sorted({path.split("/")[2] for path in files if path.startswith("./checkpoints/")})
  assert saved == [str(step) for step in range(1, failed)], files  # whole ones only
  assert not [path for path in files if "tmp" in path], files  # the partial one removed

  assert read("resumed.rc").strip() == "0", read("resumed.err")[-2000:]
  assert f"Resuming from the checkpoint after epoch {failed - 1}." in read("resumed.out")
  assert_trees_close(final_params(out / "run"), final_params(reference), atol=0)
  assert metrics_without_times(out / "run") == metrics_without_times(reference)

  assert read("read_only.rc").strip() == "1"
  assert error_lines(read("read_only.err")) == [
      f"error: workdir '{mount}/other' is not writable: Read-only file system"]


def test_refused_writes_are_worded_with_the_space(tmp_path):
  line = workdir_lib.io_error_line(OSError(errno.ENOSPC, "No space left on device"),
                                   str(tmp_path), needed_bytes=2_500_000)
  assert re.fullmatch(rf"cannot write to workdir '{tmp_path}' \(no space left on device; needed "
                      r"about 2\.5 MB, [\d.]+ (MB|kB) free\); free space or fix its permissions, "
                      "then rerun the same command to resume from the last checkpoint", line)
  assert workdir_lib.io_error_line(OSError(errno.EROFS, "Read-only file system"),
                                   str(pathlib.Path(tmp_path) / "gone")) == (
      f"cannot write to workdir '{tmp_path}/gone' (read-only file system); free space or fix its "
      "permissions, then rerun the same command to resume from the last checkpoint")
  assert workdir_lib.io_error_line(OSError(errno.ENOENT, "No such file"), str(tmp_path)) is None


def test_an_unretrieved_refused_write_is_never_reported(caplog):
  # What a failed save's other TensorStore writes leave: futures holding the refusal, which
  # asyncio reports when the garbage collector reaches them, under load long after the save.
  storage_errors.silence_unretrieved_refusals()
  storage_errors.silence_unretrieved_refusals()  # installed once
  assert sum(isinstance(f, storage_errors.UnretrievedRefusalFilter)
             for f in logging.getLogger("asyncio").filters) == 1
  loop = asyncio.new_event_loop()
  try:
    with caplog.at_level(logging.ERROR, logger="asyncio"):
      for error in (ValueError("RESOURCE_EXHAUSTED: No space left on device [source locations]"),
                    OSError(errno.ENOSPC, "No space left on device"),
                    RuntimeError("a bug of ours")):
        future = loop.create_future()
        future.set_exception(error)
        del future
        gc.collect()
  finally:
    loop.close()
  reported = [record for record in caplog.records if "never retrieved" in record.getMessage()]
  # The refusals are dropped whenever they come; any other unretrieved exception still shows.
  assert len(reported) == 1 and "a bug of ours" in str(reported[0].exc_info[1])
