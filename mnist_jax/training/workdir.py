"""A run's workdir: one writer at a time (`WorkdirLock`), its files read with one-line errors
naming the file and what to do (`read_json`, `read_json_lines`), and a full disk in words."""

import datetime
import errno
import fcntl
import json
import os
import shutil
import socket
from typing import Any, Callable

LOCK_FILE = ".lock"
# Errors of a file system that cannot take the run's writes; what `io_error_line` words.
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG)


class WorkdirError(ValueError):
  """The workdir cannot be used as asked; the message is one line naming the file or folder
  and what to do."""


class WorkdirLock:
  """An exclusive `fcntl.flock` (POSIX) on `workdir/.lock` for the run that writes there; the
  file names the writer (process id, host, start) for the line a second writer stops with. The
  kernel drops the lock when its process dies, SIGKILL included: a free lock whose file still
  names a writer is taken over with one line through `report`. (py-filelock locks alike but
  names no holder, hence our own.) Readers (scripts/evaluate.py, the reports) never take it.
  Raises (on `acquire` / entering): WorkdirError when another live process holds it.
  """

  def __init__(self, workdir: str, report: Callable[[str], None] = print):
    self.workdir, self.report, self.fd = workdir, report, None
    self.path = os.path.join(workdir, LOCK_FILE)

  def acquire(self) -> None:
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "a process"
      os.close(fd)
      raise WorkdirError(f"workdir {self.workdir!r} is in use by another run ({holder}); wait "
                         "for it to end, or use another --workdir") from None
    left = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    if left:
      self.report(f"Workdir {self.workdir!r} was locked by a run that ended without releasing "
                  f"it ({left}); taking the lock over.")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"process {os.getpid()} on host {socket.gethostname()}, since {now}\n"
              .encode(), 0)
    self.fd = fd

  def release(self) -> None:
    if self.fd is not None:
      os.ftruncate(self.fd, 0)  # an empty file: released, not left behind
      os.close(self.fd)  # closing drops the flock
      self.fd = None

  def __enter__(self) -> "WorkdirLock":
    self.acquire()
    return self

  def __exit__(self, *exc_info) -> None:
    self.release()


def _reason(error: Exception) -> str:
  if isinstance(error, OSError):
    return error.strerror or type(error).__name__
  return " ".join(str(error).split()) or type(error).__name__


def read_json(path: str, remedy: str) -> Any:
  """The JSON value in the file at `path`. Raises WorkdirError for a missing, unreadable or
  not-JSON file: one line naming `path`, why, and `remedy` (what to do)."""
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as e:  # ValueError: JSONDecodeError, UnicodeDecodeError
    raise WorkdirError(f"{path} cannot be read ({_reason(e)}); {remedy}") from None


RERUN = "rerun its training command, which rewrites it from the checkpoints, or remove the run"


def read_json_lines(path: str, remedy: str = RERUN,
                    drop_torn_tail: bool = False) -> list[dict[str, Any]]:
  """The records of a JSON-lines file (metrics.jsonl, steps.jsonl); [] when it does not exist.
  drop_torn_tail: drop a last line that is not JSON and lacks its newline, which a writer
  killed mid-line leaves (training rewrites those files from its checkpoint on resume).
  Raises WorkdirError for an unreadable file or a line that is not JSON: one line naming
  `path`, the line number and `remedy`.
  """
  if not os.path.exists(path):
    return []
  try:
    with open(path) as f:
      lines = f.read().split("\n")
  except (OSError, ValueError) as e:
    raise WorkdirError(f"{path} cannot be read ({_reason(e)}); {remedy}") from None
  records = []
  for number, line in enumerate(lines, start=1):
    if line.strip():
      try:
        records.append(json.loads(line))
      except ValueError as e:
        if drop_torn_tail and number == len(lines):  # the last piece has no newline after it
          break
        raise WorkdirError(f"{path}, line {number}, cannot be read ({_reason(e)}); "
                           f"{remedy}") from None
  return records


def io_error_line(error: OSError, workdir: str, needed_bytes: int | None = None) -> str | None:
  """One line for a write to `workdir` that the file system refused (`WRITE_ERRORS`): the
  workdir, the error, the space needed (`needed_bytes`, where known) and free, and that the
  same command resumes; None for other errors."""
  if error.errno not in WRITE_ERRORS:
    return None
  free = shutil.disk_usage(workdir).free if os.path.isdir(workdir) else None
  space = "" if needed_bytes is None else f"; needed about {_megabytes(needed_bytes)}"
  space += "" if free is None else f", {_megabytes(free)} free"
  reason = (error.strerror or os.strerror(error.errno)).lower()
  return (f"cannot write to workdir {workdir!r} ({reason}{space}); free space or fix its "
          "permissions, then rerun the same command to resume from the last checkpoint")


def _megabytes(count: int) -> str:
  return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"
