"""Why ordinary convolutions dominate the CPU step: the weight gradient of a 5x5 convolution.

  python benchmarks/conv_weight_grad.py

For the image encoder's largest layer (batch 32, 128 x 128, 64 -> 64 channels, 5 x 5) it measures,
in one run: the forward convolution, the input gradient and the weight gradient as XLA computes them,
a float32 matmul for reference, and the weight gradient written as 25 shifted matmuls
(dW[i, j] = X_shifted(i, j)^T G) as visual_dynamics/conv.py computes it (used on CPU).
"""

import jax
import jax.numpy as jnp
from jax import lax

from common import device_description, matmul_flops_per_second, median_seconds, print_table
from visual_dynamics.conv import conv_general_dilated

B, SIDE, CHANNELS, K = 32, 128, 64, 5
NHWC = ("NHWC", "HWIO", "NHWC")


def conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC)


def main():
    x = jax.random.normal(jax.random.PRNGKey(0), (B, SIDE, SIDE, CHANNELS))
    g = jax.random.normal(jax.random.PRNGKey(1), (B, SIDE, SIDE, CHANNELS))
    w = jax.random.normal(jax.random.PRNGKey(2), (K, K, CHANNELS, CHANNELS))
    xla_dw = jax.jit(lambda x, g: jax.vjp(lambda w: conv(x, w), w)[1](g)[0])
    xla_dx = jax.jit(lambda w, g: jax.vjp(lambda x: conv(x, w), x)[1](g)[0])
    matmul_dw = jax.jit(lambda x, g: jax.vjp(lambda w: conv_general_dilated(
        x, w, (1, 1), "SAME", dimension_numbers=NHWC), w)[1](g)[0])
    error = jnp.max(jnp.abs(xla_dw(x, g) - matmul_dw(x, g))) / jnp.max(jnp.abs(xla_dw(x, g)))
    flops = 2 * B * SIDE * SIDE * K * K * CHANNELS * CHANNELS
    matmul = matmul_flops_per_second()
    rows = [[name, flops / median_seconds(fn, *args, repeats=3) / 1e9]
            for name, fn, args in [("forward (XLA)", jax.jit(conv), (x, w)),
                                   ("input gradient (XLA)", xla_dx, (w, g)),
                                   ("weight gradient (XLA)", xla_dw, (x, g)),
                                   ("weight gradient, visual_dynamics.conv", matmul_dw, (x, g))]]
    print(f"5x5 convolution, batch {B}, {SIDE}^2 x {CHANNELS} -> {CHANNELS}, on "
          f"{device_description()}; float32 matmul {matmul / 1e9:.1f} GFLOP/s; the two weight "
          f"gradients agree to {float(error):.1e} (relative)")
    print_table(["computation", "GFLOP/s", "of matmul"], [[n, r, r * 1e9 / matmul] for n, r in rows])


if __name__ == "__main__":
    main()
