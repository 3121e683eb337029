"""XLA's cost analysis of one inference pass (batch 128) of three reproduction networks.

Used to extrapolate a sweep's time on the CPU from another network's measured epochs.
Run: python docs/measurements/session_2026-11-29b/flops.py
"""
import jax
import jax.numpy as jnp

from mnist_jax import models

for name in ("ref1_code4", "ref5_step3", "ref4_step4"):
  model = models.create(name, fast_path="off")
  images = jnp.zeros((128, 28, 28, 1))
  variables = model.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, images,
                         train=False)
  compiled = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(variables, images).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  print(f"{name}: {cost['flops'] / 128 / 1e6:.2f} MFLOP an image")
