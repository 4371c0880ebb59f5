"""Where XLA's CPU convolutions are slow, and visual_dynamics.conv's answer, one layer at a time.

  python benchmarks/conv_weight_grad.py

For the image encoder's largest layer (batch 32, 128 x 128, 64 -> 64 channels, 5 x 5, 'SAME') it
measures, in one run: the forward convolution, the input gradient and the weight gradient as XLA
computes them, and the weight gradient as chunked im2col products (visual_dynamics.conv). For the
motion encoder's second layer (batch 32, 30 x 30, 96 -> 96, 5 x 5, 'VALID') it measures XLA's forward
convolution without padding and visual_dynamics.conv's, through one padded row and column. A float32
matmul gives the reference rate; each pair of formulations is checked equal.
"""

import jax
import jax.numpy as jnp
from jax import lax

from common import device_description, matmul_flops_per_second, median_seconds, print_table
from visual_dynamics.conv import conv_general_dilated, im2col_weight_grad

NHWC = ("NHWC", "HWIO", "NHWC")


def layer(batch: int, side: int, channels: int, out_channels: int, k: int):
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    return (jax.random.normal(keys[0], (batch, side, side, channels)),
            jax.random.normal(keys[1], (k, k, channels, out_channels)))


def relative_error(a, b) -> float:
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


def main():
    rows, errors = [], []
    x, w = layer(32, 128, 64, 64, 5)
    conv = jax.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=NHWC))
    g = jax.random.normal(jax.random.PRNGKey(1), conv(x, w).shape)
    xla_dx = jax.jit(lambda w, g: jax.vjp(lambda x: conv(x, w), x)[1](g)[0])
    xla_dw = jax.jit(lambda x, g: jax.vjp(lambda w: conv(x, w), w)[1](g)[0])
    im2col_dw = jax.jit(lambda x, g: im2col_weight_grad(x, g, (5, 5), "SAME"))
    errors.append(("weight gradients", relative_error(im2col_dw(x, g), xla_dw(x, g))))
    flops = 2 * g.size * 5 * 5 * 64
    for name, fn, args in [("forward, 'SAME' (XLA)", conv, (x, w)), ("input gradient (XLA)", xla_dx, (w, g)),
                           ("weight gradient (XLA)", xla_dw, (x, g)),
                           ("weight gradient, im2col (visual_dynamics.conv)", im2col_dw, (x, g))]:
        rows.append(["128^2, 64 -> 64", name, flops / median_seconds(fn, *args, repeats=3) / 1e9])

    x, w = layer(32, 30, 96, 96, 5)
    valid = jax.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=NHWC))
    ours = jax.jit(lambda x, w: conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=NHWC))
    errors.append(("'VALID' forwards", relative_error(ours(x, w), valid(x, w))))
    flops = 2 * valid(x, w).size * 5 * 5 * 96
    for name, fn in [("forward, 'VALID' (XLA)", valid), ("forward, 'VALID' (visual_dynamics.conv)", ours)]:
        rows.append(["30^2, 96 -> 96", name, flops / median_seconds(fn, x, w, repeats=5) / 1e9])

    matmul = matmul_flops_per_second()
    print(f"5x5 convolutions, batch 32, on {device_description()}; float32 matmul {matmul / 1e9:.1f} "
          f"GFLOP/s; " + "; ".join(f"{what} agree to {e:.1e} (relative)" for what, e in errors))
    print_table(["layer", "computation", "GFLOP/s", "of matmul"], [r + [r[2] * 1e9 / matmul] for r in rows])


if __name__ == "__main__":
    main()
