import time, sys, jax, jax.numpy as jnp, numpy as np
from mnist_jax import models
name = sys.argv[1]
for fast in ("off", "on"):
  model = models.create(name, fast_path=fast)
  x = jnp.asarray(np.random.RandomState(0).rand(64, 28, 28, 1), jnp.float32)
  variables = model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}, x, train=False)
  def loss(params, batch_stats):
    out, _ = model.apply({"params": params, "batch_stats": batch_stats}, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)}, mutable=["batch_stats"])
    return out.sum()
  g = jax.jit(jax.grad(loss))
  r = g(variables["params"], variables["batch_stats"]); jax.block_until_ready(r)
  t = time.perf_counter()
  for _ in range(20): r = g(variables["params"], variables["batch_stats"])
  jax.block_until_ready(r)
  print(name, fast, f"{(time.perf_counter()-t)/20*1000:.1f} ms/step")
