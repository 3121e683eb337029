"""Defaults shared by every config, and the recipe pieces the references combine.

Each experiment file (ref1.py ... ref5.py) holds one recipe per published step, selected with
`--config=configs/ref3.py:step4`; `final.py` is the flagship. Recipes are written as the
write-ups state them; where a write-up is silent, the choice is named in that step's docstring,
and the runs that decided it are in docs/EXPERIMENTS.md.
"""

import copy
import importlib
import pathlib

import ml_collections


def get_config(**overrides) -> ml_collections.ConfigDict:
  """Default config; keyword arguments replace fields (schedule as a ConfigDict)."""
  config = ml_collections.ConfigDict()
  # The recipe's name (e.g. "ref3_step4", "final"); results are compared under it.
  config.name = "default"
  config.model = "ref1_code5"
  # None keeps the model's published dropout rate.
  config.dropout_rate = ml_collections.config_dict.placeholder(float)

  config.batch_size = 128
  config.eval_batch_size = 1000
  config.num_epochs = 15

  # torch.optim.SGD
  config.learning_rate = 0.01
  config.momentum = 0.9
  config.nesterov = False
  config.weight_decay = 0.0
  config.schedule = constant()

  # torchvision RandomRotation((-d, d), fill=rotation_fill); 0 disables it.
  config.rotation_degrees = 0.0
  config.rotation_fill = 0.0  # pixel value in [0, 1] before normalisation
  # torchvision RandomApply([RandomAffine((-d, d), translate=(t, t), scale=(1 - s, 1 + s),
  # fill=rotation_fill)], p) with d = rotation_degrees, t = translate (a fraction of the side),
  # s = scale, p = affine_probability; t = s = 0 and p = 1 is RandomRotation above.
  config.translate = 0.0
  config.scale = 0.0
  config.affine_probability = 1.0
  # torchvision ColorJitter(brightness=b, contrast=c) on [0, 1] pixels, brightness first
  # (mnist_jax.data.colour); 0 disables each.
  config.brightness = 0.0
  config.contrast = 0.0

  # torch nn.CrossEntropyLoss(label_smoothing=eps) on the training loss only (the reported
  # losses stay the NLL); 0 = plain NLL.
  config.label_smoothing = 0.0
  # torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay),
  # use_buffers=True), updated after every optimizer step; evaluation, the best checkpoint and
  # export use the averaged weights and BatchNorm statistics. 0 = off.
  config.ema_decay = 0.0

  config.seed = 0
  config.num_seeds = 1

  # "auto" | "on" | "off": the XLA:CPU fast path (mnist_jax.models.fast_cpu); "auto" = on
  # on the CPU. Both compute the same network, so this is not part of the recipe.
  config.fast_path = "auto"

  # "" = env MNIST_DIR, else the repository's data/mnist, else TFDS (mnist_jax.data.load)
  config.data_dir = ""
  config.data_source = "auto"  # "auto" | "idx" | "tfds"
  config.train_subset = 0  # first N training images; 0 = all 60,000
  config.test_subset = 0
  # The last N of the 60,000 training images, held out of training and evaluated each epoch:
  # what recipes are chosen on (never the test set). 0 = no validation split.
  config.validation_size = 0

  # A grid of recipe values trained as replicas of one program (mnist_jax.optim.sweep), nested like
  # the config, e.g. {"schedule": {"max_lr": [0.05, 0.1]}}; configs/sweeps.py has examples.
  config.sweep = ml_collections.ConfigDict()

  config.keep_checkpoints = 3
  config.progress_bar = True
  config.plots = True

  for key, value in overrides.items():
    # A copy: recipe tables hold one schedule ConfigDict that every config made from them
    # would otherwise share (and a change to one would change the others).
    config[key] = copy.deepcopy(value)
  return config


def constant() -> ml_collections.ConfigDict:
  """No schedule: the learning rate stays `config.learning_rate`."""
  return ml_collections.ConfigDict({"name": "constant"})


def step_lr(step_size: int, gamma: float = 0.1) -> ml_collections.ConfigDict:
  """torch StepLR: multiply the learning rate by `gamma` every `step_size` epochs."""
  return ml_collections.ConfigDict({"name": "step", "step_size": step_size, "gamma": gamma})


def one_cycle(max_lr: float, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4, anneal_strategy: str = "cos",
              three_phase: bool = False, cycle_momentum: bool = True,
              base_momentum: float = 0.85, max_momentum: float = 0.95) -> ml_collections.ConfigDict:
  """torch OneCycleLR stepped per batch (torch's defaults)."""
  return ml_collections.ConfigDict({
      "name": "one_cycle", "max_lr": max_lr, "pct_start": pct_start, "div_factor": div_factor,
      "final_div_factor": final_div_factor, "anneal_strategy": anneal_strategy,
      "three_phase": three_phase, "cycle_momentum": cycle_momentum,
      "base_momentum": base_momentum, "max_momentum": max_momentum})


def plateau(factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
            threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
            mode: str = "min") -> ml_collections.ConfigDict:
  """torch ReduceLROnPlateau stepped once per epoch on the test loss (torch's defaults)."""
  return ml_collections.ConfigDict({
      "name": "plateau", "mode": mode, "factor": factor, "patience": patience,
      "threshold": threshold, "threshold_mode": threshold_mode, "cooldown": cooldown,
      "min_lr": min_lr})


def recipe(experiment: str, step: str | None, recipes: dict[str, dict]) -> ml_collections.ConfigDict:
  """Config of `step` from an experiment's `recipes` (step -> field overrides).

  Raises:
    ValueError: no step, or an unknown one (the message lists the valid ones).
  """
  if step is None:
    raise ValueError(f"{experiment} needs a step; valid steps: {', '.join(recipes)}")
  if step not in recipes:
    raise ValueError(f"unknown step {step!r} for {experiment}; valid steps: {', '.join(recipes)}")
  name = f"{experiment}_{step}"
  return get_config(name=name, model=name, **recipes[step])


def experiments() -> dict[str, tuple[str, ...] | None]:
  """Each config file of this package (its stem, e.g. "ref3") -> the steps it selects after
  the colon (its `STEPS`), or None for a file without steps (final.py); base.py left out."""
  listing = {}
  for path in sorted(pathlib.Path(__file__).parent.glob("*.py")):
    if path.stem not in ("__init__", "base"):
      module = importlib.import_module(f"{__package__}.{path.stem}")
      listing[path.stem] = getattr(module, "STEPS", None)
  return listing
