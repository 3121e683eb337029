"""Writes notebooks/step_by_step.ipynb: ref3's Steps 1-4 in JAX, one section per step.

The notebook's cells are written here, as Python strings, so that they can be reviewed as
source; the .ipynb is what users open, committed with the outputs of a full run.
tests/test_notebook.py checks that its cells are the ones built here and runs it at its small
size.

  python notebooks/build_step_by_step.py             # rewrite the notebook (no outputs)
  python notebooks/build_step_by_step.py --execute   # rewrite it, then run it in place

`--execute` runs the full size (all 60,000 training images, 15 epochs per step; about a
quarter of an hour on a laptop CPU) unless MNIST_JAX_NOTEBOOK_SMALL=1 is set.
"""

import argparse
import pathlib
import textwrap

import nbformat
from nbformat import v4

NOTEBOOK = pathlib.Path(__file__).resolve().parent / "step_by_step.ipynb"
REPO_ROOT = NOTEBOOK.parents[1]
STEPS = ("step1", "step2", "step3", "step4")


def _text(source: str) -> str:
  return textwrap.dedent(source).strip("\n")


INTRO = """
# ref3, step by step, in JAX

One of the five PyTorch write-ups that `mnist_jax` mirrors: **ref3**, *"MNIST Classification
using Target, Results and Analysis Strategy"*. In four steps a network of fewer than 10,000
parameters goes from 98.76 % to 99.53 % test accuracy in 15 epochs. Each step below shows

* what the step changes, and the model's torchsummary-style table with its receptive field;
* training with the step's recipe (`configs/ref3.py`), printing the write-up's
  `Test set: Average loss: ..., Accuracy: ...` line after every epoch;
* the loss and accuracy curves, our test accuracy and loss beside the write-up's (its
  per-epoch log where it prints one), and a grid of misclassified test digits;

and the last section puts our numbers beside the published ones.

**Where it runs.** In a checkout of the repository (`pip install -e .`, then open this
notebook in Jupyter): on a laptop CPU the full run takes about a quarter of an hour
(docs/RESULTS.md: 2 to 5 minutes per step on a CPU). Set `MNIST_JAX_NOTEBOOK_SMALL=1` before
starting Jupyter for a smoke run of a couple of minutes (2,048 training images, 2 epochs; its
numbers mean nothing). On Colab choose a GPU or TPU runtime; the setup cell clones and installs the
repository first.
"""

SETUP_MARKDOWN = """
## Setup

In a checkout this cell only finds the repository's folder. Anywhere else (Colab) it clones the
repository and installs it with its dependencies: the package alone is not enough, since the
recipes (`configs/`) and the MNIST copy (`data/mnist/`) live beside it.
**`REPO_URL` is a placeholder**: this notebook does not know where the repository is hosted,
so replace it with the repository's address before running on Colab (or clone it yourself and
start the notebook inside the clone). Colab's own JAX already drives its GPU or TPU; the cell
after the next one prints which device JAX found.
"""

SETUP = """
import os
import pathlib
import subprocess
import sys

REPO_URL = "https://github.com/<owner>/mnist_jax"  # placeholder: the repository's address


def find_checkout() -> pathlib.Path | None:
  \"\"\"The repository folder that holds the working directory, or None.\"\"\"
  for folder in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents):
    if (folder / "configs" / "ref3.py").is_file() and (folder / "mnist_jax" / "training" / "train.py").is_file():
      return folder
  return None


ROOT = find_checkout()
if ROOT is None:  # Colab, or a folder outside the repository: clone and install it.
  ROOT = pathlib.Path("mnist_jax").resolve()
  if not ROOT.exists():
    subprocess.run(["git", "clone", "--depth=1", REPO_URL, str(ROOT)], check=True)
  subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--editable", str(ROOT)],
                 check=True)
os.chdir(ROOT)  # configs/ and data/mnist/ are found from here
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))
"""

PARAMETERS_MARKDOWN = """
## Parameters

`SMALL` comes from the environment variable `MNIST_JAX_NOTEBOOK_SMALL` (CI sets it to 1):

* **full size** (the default): all 60,000 training and 10,000 test images, 15 epochs, one seed.
  The published numbers are single runs, so one seed here too; docs/RESULTS.md has three seeds
  per step, with their spread.
* **small**: the first 2,048 training and 1,000 test images, 2 epochs: it shows that every cell
  runs, in a couple of minutes on a CPU; its accuracies are not comparable.

Each step trains in its own workdir (metrics, checkpoints, plots), by default under a new
temporary folder. Set `MNIST_JAX_NOTEBOOK_WORKDIR` to keep them: rerunning the notebook then
resumes each step from its last checkpoint.
"""

PARAMETERS = """
import tempfile

SMALL = int(os.environ.get("MNIST_JAX_NOTEBOOK_SMALL", "0"))
if SMALL:
  RUN = dict(train_subset=2048, test_subset=1000, num_epochs=2, num_seeds=1)
else:
  RUN = dict(train_subset=0, test_subset=0, num_epochs=15, num_seeds=1)  # 0: the whole split
STEPS = ("step1", "step2", "step3", "step4")
WORKDIRS = pathlib.Path(os.environ.get("MNIST_JAX_NOTEBOOK_WORKDIR")
                        or tempfile.mkdtemp(prefix="mnist_jax_step_by_step_"))
WORKDIRS = WORKDIRS / ("small" if SMALL else "full")
print("small run:" if SMALL else "full run:", RUN)
"""

IMPORTS = """
from absl import logging

from mnist_jax import runtime

# Before JAX's first computation: XLA:CPU flags, JAX's persistent compilation cache and a quiet
# TensorFlow (it writes the TensorBoard events), as scripts/train.py does.
runtime.configure()
logging.set_verbosity(logging.WARNING)

import jax
from IPython.display import Image, Markdown, display

from configs import ref3
from mnist_jax import published
from mnist_jax.models import table as model_table
from mnist_jax.published import logs as published_logs
from mnist_jax.training import metrics, train

device = jax.devices()[0]
print(f"JAX {jax.__version__}: {jax.device_count()} x {device.platform} ({device.device_kind})")

HISTORY = {}  # step -> the per-epoch records of its metrics.jsonl


def step_config(step: str):
  \"\"\"configs/ref3.py's recipe for `step`, at this notebook's size, without a progress bar.\"\"\"
  config = ref3.get_config(step)
  config.update(RUN)
  config.progress_bar = False
  return config


def recipe(config) -> str:
  \"\"\"The recipe in one line.\"\"\"
  schedule = {k: v for k, v in config.schedule.items() if k in ("max_lr", "pct_start", "step_size")}
  rotation = f"±{config.rotation_degrees:g}° rotation" if config.rotation_degrees else "no augmentation"
  return (f"{config.model}: batch {config.batch_size}, {config.num_epochs} epochs, "
          f"SGD lr {config.learning_rate:g} momentum {config.momentum:g}, {rotation}, "
          f"schedule {config.schedule.name} {schedule or ''}".rstrip())


def against_published(step: str) -> None:
  \"\"\"Our test accuracy and loss per epoch beside the write-up's: its per-epoch log where ref3.md
  prints one (Step 4), else its best test accuracy as a line.\"\"\"
  import matplotlib.pyplot as plt

  name, history = f"ref3_{step}", HISTORY[step]
  epochs = [record["epoch"] + 1 for record in history]
  log = published_logs.LOGS.get(name)
  figure, panels = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
  for axes, key in zip(panels, ("test_accuracy", "test_loss")):
    axes.plot(epochs, [record[key][0] for record in history], "k-", linewidth=2, label="ours")
    if log:
      axes.plot([e.epoch + 1 for e in log], [getattr(e, key) for e in log], "--o", markersize=3,
                label="published log (ref3.md)")
    elif key == "test_accuracy":
      axes.axhline(published.record(name).best_test_accuracy, linestyle="--",
                   label="published best (ref3.md prints no log for this step)")
    axes.set_xlabel("epoch")
    axes.set_ylabel(key.replace("_", " ") + (" (%)" if "accuracy" in key else ""))
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
  figure.suptitle(f"{name}: ours beside the write-up")
  plt.show()


def show(step: str, image: str) -> None:
  \"\"\"Displays a plot that training wrote into the step's workdir.\"\"\"
  display(Image(filename=str(WORKDIRS / f"ref3_{step}" / image), width=800))
"""

# What each step changes: ref3.md's step titles, our network (mnist_jax/models/ref3.py) and
# recipe (configs/ref3.py, whose docstring names the choices ref3.md leaves open).
STEP_MARKDOWN = {
    "step1": """
        ## Step 1: the skeleton

        ref3.md, *"Skeleton Model"* (9,264 parameters). Bias-free convolutions: two 3×3 (12 and
        14 channels), a 2×2 max-pool, a 1×1 transition to 10 channels, four 3×3 (14, 14, 16, 16),
        a 4×4 average pool over what is left of the image and a 1×1 head to the 10 classes;
        ReLU after each 3×3, no BatchNorm, no dropout. It is the final network of ref3's table
        without its six BatchNorm layers (9,436 − 9,264 = 172 = their scales and offsets).

        Recipe: batch 256 (the published log's 235 batches per epoch), 15 epochs, SGD with
        lr 0.01 and momentum 0.9 (not stated in ref3.md, chosen here), no schedule, no
        augmentation.
        """,
    "step2": """
        ## Step 2: BatchNorm and dropout

        ref3.md, *"Regularization and BatchNormalization"* (9,436 parameters): a BatchNorm after
        the ReLU of each of the six 3×3 convolutions, and dropout after five of them (rate 0.1:
        ref3.md names none). The recipe is Step 1's; the network changed.
        """,
    "step3": """
        ## Step 3: image augmentation

        ref3.md, *"Image Augmentations"*: Step 2's network and recipe, with training images
        augmented. ref3.md does not say how; here each training image is rotated by a random
        angle in ±7° (torchvision's `RandomRotation`), on the device, inside the compiled epoch.
        """,
    "step4": """
        ## Step 4: a learning-rate schedule

        ref3.md, *"LR Scheduler"*: Step 3 with a scheduler that ref3.md does not name. Here
        OneCycleLR(max_lr=0.1, pct_start=0.2), stepped every batch, as the flagship
        (`configs/final.py`): a StepLR from lr 0.01 under-fits and stays short of the published
        99.53 % (docs/EXPERIMENTS.md, "ref3 Step 4"). The learning rate it follows is plotted
        after the curves.
        """,
}

RESULTS_MARKDOWN = """
## Our results beside the published ones

Per step: our trained parameters, best train and test accuracy over the epochs, and the mean
test accuracy of the last 3 epochs (less flattering than the best, which picks one epoch after
looking at the test set); then the write-up's parameters and best accuracies
(`mnist_jax.published`), and the gap between the two best test accuracies.
"""

RESULTS = """
lines = [
    "| Step | Model | Params | Best train % | Best test % | Last-3 mean test % "
    "| Published params | Published best train % | Published best test % | Gap, best test (pp) |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
]
for step in STEPS:
  config = step_config(step)
  record = published.record(config.name)
  history = HISTORY[step]
  stats = metrics.seed_statistics([r["test_accuracy"] for r in history])
  best_train = max(r["train_accuracy"][0] for r in history)
  best_test, last3 = stats["best"][0], stats["last3_mean"][0]
  lines.append(
      f"| {record.step} | `{config.name}` | {model_table.count_params(config.model):,} "
      f"| {best_train:.2f} | {best_test:.2f} | {last3:.2f} | {record.params:,} "
      f"| {record.best_train_accuracy:.2f} | {record.best_test_accuracy:.2f} "
      f"| {best_test - record.best_test_accuracy:+.2f} |")
if SMALL:
  note = (f"*Small run ({RUN['train_subset']:,} training and {RUN['test_subset']:,} test images, "
          f"{RUN['num_epochs']} epochs): it shows that the notebook runs; the accuracies are not "
          "comparable to the published ones.*")
else:
  note = (f"*One seed, {RUN['num_epochs']} epochs on all 60,000 training images, like the "
          "published single runs; docs/RESULTS.md has three seeds per step.*")
display(Markdown("\\n".join(lines) + "\\n\\n" + note))
"""

CLOSING = """
## Further

* `configs/ref3.py` and docs/EXPERIMENTS.md: the recipes, and the runs that chose what ref3.md
  leaves open.
* docs/RESULTS.md: three seeds per step, with spread, epochs to the target and train time.
* The same runs from the command line: `python scripts/train.py --config configs/ref3.py:step4`
  (add `--config.num_seeds=3` for three seeds as one compiled program).
"""


def build() -> nbformat.NotebookNode:
  """The notebook, without outputs. Cell ids are fixed, so rebuilding changes nothing."""
  cells = [
      v4.new_markdown_cell(_text(INTRO), id="intro"),
      v4.new_markdown_cell(_text(SETUP_MARKDOWN), id="setup-notes"),
      v4.new_code_cell(_text(SETUP), id="setup"),
      v4.new_markdown_cell(_text(PARAMETERS_MARKDOWN), id="parameters-notes"),
      v4.new_code_cell(_text(PARAMETERS), id="parameters"),
      v4.new_code_cell(_text(IMPORTS), id="imports"),
  ]
  for step in STEPS:
    model = f"ref3_{step}"
    cells += [
        v4.new_markdown_cell(_text(STEP_MARKDOWN[step]), id=f"about-{step}"),
        v4.new_code_cell(_text(f"""
            print(model_table.table("{model}"))
            print(f"Receptive field of the output: {{model_table.receptive_field('{model}')}} pixels "
                  "of the 28x28 input")
            """), id=f"summary-{step}"),
        v4.new_code_cell(_text(f"""
            config = step_config("{step}")
            print(recipe(config))
            HISTORY["{step}"] = train.train_and_evaluate(config, str(WORKDIRS / config.name))
            """), id=f"train-{step}"),
        v4.new_code_cell(_text(f'show("{step}", "curves.png")'), id=f"curves-{step}"),
        v4.new_code_cell(_text(f'against_published("{step}")'), id=f"published-{step}"),
    ]
    if step == "step4":
      cells.append(v4.new_code_cell(_text(f'show("{step}", "learning_rate.png")'),
                                    id=f"learning-rate-{step}"))
    cells.append(v4.new_code_cell(_text(f'show("{step}", "misclassified.png")'),
                                  id=f"misclassified-{step}"))
  cells += [
      v4.new_markdown_cell(_text(RESULTS_MARKDOWN), id="results-notes"),
      v4.new_code_cell(_text(RESULTS), id="results"),
      v4.new_markdown_cell(_text(CLOSING), id="further"),
  ]
  notebook = v4.new_notebook(cells=cells, metadata={
      "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
      "language_info": {"name": "python"},
  })
  nbformat.validate(notebook)
  return notebook


def execute(path: pathlib.Path = NOTEBOOK) -> None:
  """Runs the notebook at `path` top to bottom in a python3 kernel and saves its outputs."""
  import nbclient  # pylint: disable=import-outside-toplevel  (only needed to execute)
  notebook = nbformat.read(path, as_version=4)
  nbclient.NotebookClient(notebook, timeout=None, kernel_name="python3",
                          resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
  nbformat.write(notebook, path)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--execute", action="store_true",
                      help="then run the notebook in place, saving its outputs "
                           "(full size unless MNIST_JAX_NOTEBOOK_SMALL=1)")
  args = parser.parse_args()
  nbformat.write(build(), NOTEBOOK)
  print(f"wrote {NOTEBOOK.relative_to(REPO_ROOT)}")
  if args.execute:
    execute(NOTEBOOK)
    print(f"executed {NOTEBOOK.relative_to(REPO_ROOT)} in place")


if __name__ == "__main__":
  main()
