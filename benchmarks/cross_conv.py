"""Cross convolution: reference (vmapped lax conv) vs shift-and-add, forward and forward+backward.

  python benchmarks/cross_conv.py

Shapes: every pyramid scale of the paper's network at batch 32, for 64 px inputs (maps of 32, 16,
8, 4 px) and 128 px inputs (64, 32, 16, 8 px), 32 maps, 5x5 kernels; plus the issue's probe shape
(batch 16, 64 x 64). Speed-ups are ratios of times measured in this run, on this machine.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from common import device_description, median_seconds, print_table
from visual_dynamics import compilation
from visual_dynamics.cross_conv import IMPLEMENTATIONS

CASES = [  # (name, batch, side, channels)
    ("64px input, scale 1", 32, 32, 32), ("64px input, scale 2", 32, 16, 32),
    ("64px input, scale 3", 32, 8, 32), ("64px input, scale 4", 32, 4, 32),
    ("128px input, scale 1", 32, 64, 32), ("128px input, scale 2", 32, 32, 32),
    ("128px input, scale 3", 32, 16, 32), ("128px input, scale 4", 32, 8, 32),
    ("probe: B16 64x64", 16, 64, 32),
]


def timings(fn, maps, kernels, repeats):
    forward = compilation.jit(fn)
    cotangent = jnp.ones_like(maps)
    backward = compilation.jit(jax.grad(lambda m, k: jnp.sum(fn(m, k) * cotangent), argnums=(0, 1)))
    return (median_seconds(forward, maps, kernels, repeats=repeats),
            median_seconds(backward, maps, kernels, repeats=repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    print(f"Cross convolution on {device_description()}; times in ms (median of {args.repeats})")
    rows, totals = [], np.zeros(4)
    for name, batch, side, channels in CASES:
        rng = np.random.default_rng(0)
        maps = jnp.asarray(rng.normal(size=(batch, side, side, channels)), jnp.float32)
        kernels = jnp.asarray(rng.normal(size=(batch, 5, 5, channels)), jnp.float32)
        ref = timings(IMPLEMENTATIONS["reference"], maps, kernels, args.repeats)
        fast = timings(IMPLEMENTATIONS["shift_add"], maps, kernels, args.repeats)
        if not name.startswith("probe"):
            totals += [*ref, *fast]
        rows.append([name, 1e3 * ref[0], 1e3 * fast[0], ref[0] / fast[0],
                     1e3 * ref[1], 1e3 * fast[1], ref[1] / fast[1]])
    rows.append(["all scales, both sizes", 1e3 * totals[0], 1e3 * totals[2], totals[0] / totals[2],
                 1e3 * totals[1], 1e3 * totals[3], totals[1] / totals[3]])
    print_table(["shape", "fwd ref", "fwd shift_add", "speed-up", "fwd+bwd ref",
                 "fwd+bwd shift_add", "speed-up"], rows)


if __name__ == "__main__":
    main()
