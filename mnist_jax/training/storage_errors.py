"""What a failed Orbax read or write leaves behind, kept to the one line the caller reports:
TensorStore's refusals mapped to their errno (`refusal_errno`), its other threads' noise on
stderr silenced during the failing call (`quiet_failures`), and asyncio's reports of the
failed save's unretrieved futures dropped whenever they come (`silence_unretrieved_refusals`).
Our own: Orbax and TensorStore offer no switch for any of these."""

import contextlib
import errno
import gc
import logging
import os
import sys
import time

from mnist_jax.training import workdir as workdir_lib

# TensorStore's words for a write the file system refused, by errno.
_REFUSALS = ((errno.ENOSPC, ("RESOURCE_EXHAUSTED", "No space left")), (errno.EROFS, ("Read-only",)),
             (errno.EACCES, ("PERMISSION_DENIED", "Permission denied")))


def refusal_errno(error: BaseException) -> int | None:
  """The errno of a write the file system refused (`workdir.WRITE_ERRORS`: a full disk, a
  read-only or unwritable folder), from an OSError or TensorStore's words; else None."""
  code = error.errno if isinstance(error, OSError) else next(
      (code for code, words in _REFUSALS if any(word in str(error) for word in words)), None)
  return code if code in workdir_lib.WRITE_ERRORS else None


class UnretrievedRefusalFilter(logging.Filter):
  """Drops asyncio's "... exception was never retrieved" records whose exception is a refused
  write: the futures of a failed save's other TensorStore writes, logged whenever the garbage
  collector reaches them (later under load), long after `save_checkpoint` reported the failure
  in one line. Every other record passes."""

  def filter(self, record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    if error is None or "never retrieved" not in str(record.msg):
      return True
    return refusal_errno(error) is None


def silence_unretrieved_refusals() -> None:
  """Installs `UnretrievedRefusalFilter` on asyncio's logger, once per process: a mechanism at
  the futures' source, which does not depend on when they are collected."""
  asyncio_logger = logging.getLogger("asyncio")
  if not any(isinstance(f, UnretrievedRefusalFilter) for f in asyncio_logger.filters):
    asyncio_logger.addFilter(UnretrievedRefusalFilter())


@contextlib.contextmanager
def quiet_failures():
  """Silences what a failed restore leaves behind on stderr: TensorStore's other reads fail
  in their own threads ("Event loop is closed") and asyncio logs futures nobody awaited. The
  failure itself still raises and is reported in one line by the caller."""
  asyncio_logger = logging.getLogger("asyncio")
  level = asyncio_logger.level
  sys.stderr.flush()
  saved_fd = os.dup(2)
  with open(os.devnull, "w") as devnull:
    os.dup2(devnull.fileno(), 2)
  asyncio_logger.setLevel(logging.CRITICAL)
  unraisable_hook = sys.unraisablehook
  sys.unraisablehook = lambda unraisable: None  # how those threads' RuntimeErrors surface
  try:
    yield
  except BaseException:
    time.sleep(1.0)  # let the other reads or writes finish failing, still silenced
    gc.collect()  # the unawaited futures are logged when collected: now, while silenced
    raise
  finally:
    sys.stderr.flush()
    os.dup2(saved_fd, 2)
    os.close(saved_fd)
    asyncio_logger.setLevel(level)
    sys.unraisablehook = unraisable_hook


def one_line(error: Exception, limit: int = 300) -> str:
  """`error` as one line of at most `limit` characters: its type and message, whitespace
  collapsed, cut with "..." where longer."""
  text = " ".join(f"{type(error).__name__}: {error}".split())
  return text if len(text) <= limit else text[:limit - 3] + "..."
