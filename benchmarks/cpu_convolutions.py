"""XLA's CPU convolutions with its default options and with ours (visual_dynamics.compilation).

  python benchmarks/cpu_convolutions.py

For the image encoder's largest layer (batch 32, 128 x 128, 64 -> 64 channels, 5 x 5, 'SAME'): the
forward convolution, the input gradient and the weight gradient; for the motion encoder's second
layer (batch 32, 30 x 30, 96 -> 96, 5 x 5, 'VALID'): the forward convolution. Each compiled with
XLA's default options and with `compilation.compiler_options()`, in GFLOP/s and as a fraction of a
float32 matmul's rate measured in the same run; the two compilations' results are checked equal.
"""

import jax
import jax.numpy as jnp
from jax import lax

from common import device_description, matmul_flops_per_second, median_seconds, print_table
from visual_dynamics import compilation

NHWC = ("NHWC", "HWIO", "NHWC")


def layer_computations(batch: int, side: int, channels: int, k: int, padding: str):
    """(name, function, arguments) of one layer's forward pass and, for 'SAME', its two gradients."""
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (batch, side, side, channels))
    w = jax.random.normal(keys[1], (k, k, channels, channels))

    def conv(x, w):
        return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=NHWC)

    computations = [(f"forward, {padding!r}", conv, (x, w))]
    if padding == "SAME":
        g = jax.random.normal(keys[2], x.shape)
        computations += [("input gradient", lambda w, g: jax.vjp(lambda x: conv(x, w), x)[1](g)[0], (w, g)),
                         ("weight gradient", lambda x, g: jax.vjp(lambda w: conv(x, w), w)[1](g)[0], (x, g))]
    out_size = jax.eval_shape(conv, x, w).size
    return [(name, fn, args, 2 * out_size * k * k * channels) for name, fn, args in computations]


def main():
    matmul = matmul_flops_per_second()
    rows, worst = [], 0.0
    layers = [("128^2, 64 -> 64", (32, 128, 64, 5, "SAME")), ("30^2, 96 -> 96", (32, 30, 96, 5, "VALID"))]
    for label, shape in layers:
        for name, fn, args, flops in layer_computations(*shape):
            default, ours = jax.jit(fn), compilation.jit(fn)
            a, b = default(*args), ours(*args)
            worst = max(worst, float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a))))
            rates = [flops / median_seconds(f, *args, repeats=3) for f in (default, ours)]
            rows.append([label, name, rates[0] / 1e9, rates[1] / 1e9, rates[1] / rates[0], rates[1] / matmul])
    print(f"5x5 convolutions, batch 32, on {device_description()}; float32 matmul {matmul / 1e9:.1f} "
          f"GFLOP/s; options {compilation.compiler_options()}; the two compilations agree to {worst:.1e} "
          f"(relative)")
    print_table(["layer", "computation", "GFLOP/s, XLA's defaults", "GFLOP/s, ours", "speed-up",
                 "ours, of matmul"], rows)


if __name__ == "__main__":
    main()
