"""Why ordinary convolutions dominate the CPU step: the weight gradient of a 5x5 convolution.

  python benchmarks/conv_weight_grad.py

For the image encoder's largest layer (batch 32, 128 x 128, 64 -> 64 channels, 5 x 5) it measures,
in one run: the forward convolution, the input gradient and the weight gradient as XLA computes them,
a float32 matmul for reference, and the weight gradient written as 25 shifted matmuls
(dW[i, j] = X_shifted(i, j)^T G), a candidate for a custom VJP (not used by the library yet).
"""

import jax
import jax.numpy as jnp
from jax import lax

from common import device_description, matmul_flops_per_second, median_seconds, print_table

B, SIDE, CHANNELS, K = 32, 128, 64, 5


def conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def weight_grad_as_matmuls(x, g):
    """dW [K, K, C, C] of a 'SAME' stride-1 convolution: one [C, N] x [N, C] matmul per tap."""
    pad = K // 2
    padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    n = B * SIDE * SIDE
    g = g.reshape(n, -1)
    return jnp.stack([jnp.stack([padded[:, i:i + SIDE, j:j + SIDE].reshape(n, -1).T @ g
                                 for j in range(K)]) for i in range(K)])


def main():
    x = jax.random.normal(jax.random.PRNGKey(0), (B, SIDE, SIDE, CHANNELS))
    g = jax.random.normal(jax.random.PRNGKey(1), (B, SIDE, SIDE, CHANNELS))
    w = jax.random.normal(jax.random.PRNGKey(2), (K, K, CHANNELS, CHANNELS))
    xla_dw = jax.jit(lambda x, g: jax.vjp(lambda w: conv(x, w), w)[1](g)[0])
    xla_dx = jax.jit(lambda w, g: jax.vjp(lambda x: conv(x, w), x)[1](g)[0])
    matmul_dw = jax.jit(weight_grad_as_matmuls)
    error = jnp.max(jnp.abs(xla_dw(x, g) - matmul_dw(x, g))) / jnp.max(jnp.abs(xla_dw(x, g)))
    flops = 2 * B * SIDE * SIDE * K * K * CHANNELS * CHANNELS
    matmul = matmul_flops_per_second()
    rows = [[name, flops / median_seconds(fn, *args, repeats=3) / 1e9]
            for name, fn, args in [("forward (XLA)", jax.jit(conv), (x, w)),
                                   ("input gradient (XLA)", xla_dx, (w, g)),
                                   ("weight gradient (XLA)", xla_dw, (x, g)),
                                   ("weight gradient as 25 matmuls", matmul_dw, (x, g))]]
    print(f"5x5 convolution, batch {B}, {SIDE}^2 x {CHANNELS} -> {CHANNELS}, on "
          f"{device_description()}; float32 matmul {matmul / 1e9:.1f} GFLOP/s; the two weight "
          f"gradients agree to {float(error):.1e} (relative)")
    print_table(["computation", "GFLOP/s", "of matmul"], [[n, r, r * 1e9 / matmul] for n, r in rows])


if __name__ == "__main__":
    main()
