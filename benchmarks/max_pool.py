"""2x2 max pooling forward+backward: flax's `nn.max_pool` (reduce-window, select-and-scatter gradient)
against `visual_dynamics.model.max_pool_2x2` (a reshape and a max, its gradient sent to the argmax the
forward pass saved), on the image encoder's largest pooled tensor (batch 32, 128 x 128 x 64).

  python benchmarks/max_pool.py
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from common import device_description, median_seconds, print_table
from visual_dynamics import compilation
from visual_dynamics.model import max_pool_2x2


def main():
    x = jax.random.normal(jax.random.PRNGKey(0), (32, 128, 128, 64))
    pools = {"nn.max_pool": lambda x: nn.max_pool(x, (2, 2), strides=(2, 2)), "max_pool_2x2": max_pool_2x2}
    grads = {name: compilation.jit(jax.grad(lambda x, pool=pool: jnp.sum(pool(x) ** 2)))
             for name, pool in pools.items()}
    seconds = {name: median_seconds(grad, x, repeats=5) for name, grad in grads.items()}
    base = seconds["nn.max_pool"]
    print(f"2x2 max pooling, forward+backward of [32, 128, 128, 64], on {device_description()}")
    print_table(["pooling", "ms", "speed-up"], [[n, s * 1e3, base / s] for n, s in seconds.items()])


if __name__ == "__main__":
    main()
