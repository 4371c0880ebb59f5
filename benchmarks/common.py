"""Timing helpers shared by the benchmarks: compile once, then the median of repeated runs.

Importing this module also makes experiments/configs importable as `configs`.
"""

import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "experiments"))


def median_seconds(fn, *args, repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of fn(*args) (outputs awaited), after `warmup` calls (compilation)."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
    """Achieved FLOP/s of a dense float32 [n, n] x [n, n] matmul: the machine's reference rate."""
    a = jnp.ones((n, n), jnp.float32)
    seconds = median_seconds(jax.jit(jnp.matmul), a, a, repeats=repeats)
    return 2 * n ** 3 / seconds


def print_table(header: list[str], rows: list[list]) -> None:
    """A plain aligned text table."""
    cells = [header] + [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def device_description() -> str:
    d = jax.devices()[0]
    return f"{jax.device_count()} x {d.platform} ({d.device_kind}), JAX {jax.__version__}"


def nominal_step_flops(config, batch, rng) -> float:
    """FLOPs of one train step of `config` on this (sharded) batch, all devices together, as XLA counts
    them."""
    from visual_dynamics import train
    from visual_dynamics.train_state import abstract_train_state

    devices = jax.local_device_count()
    state = jax.tree.map(lambda x: jax.ShapeDtypeStruct((devices, *x.shape), x.dtype),
                         abstract_train_state(config))  # shapes only: nothing initialised
    compiled = train.make_p_train_step(config, donate=False).lower(state, batch, rng).compile()
    return compiled.cost_analysis()["flops"] * devices


def pmapped_step_seconds(config, devices, per_device_batch: int, seed: int = 0) -> float:
    """Median seconds of the pmapped train step of `config` on `devices`, `per_device_batch` random
    pairs on each (the configs module must be importable: import this module first)."""
    import numpy as np

    from visual_dynamics import train
    from visual_dynamics.train_state import create_train_state

    state = train.replicate(create_train_state(config, jax.random.PRNGKey(0)), devices)
    size = config.image_size
    rng = np.random.default_rng(seed)
    batch = {k: rng.integers(0, 256, (len(devices), per_device_batch, size, size, 3), np.uint8)
             for k in ("image", "next_image")}
    step = train.make_p_train_step(config, devices, donate=False)
    key = train.replicate(jax.random.PRNGKey(1), devices)
    return median_seconds(lambda: step(state, batch, key)[1], repeats=5)
