"""mnist_jax: JAX/Flax mirrors of five published PyTorch step-by-step MNIST experiments."""

__version__ = "0.1.0"
