"""The errors that end a run which cannot go on; the scripts print each as one line."""


class TrainingError(RuntimeError):
  """A run that cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""


class Interrupted(TrainingError):
  """SIGINT or SIGTERM stopped the run between two segments of an epoch; the message names the
  last checkpoint, from which the same command resumes."""
