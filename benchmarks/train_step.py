"""The full train step: samples/s, achieved FLOP/s against a dense matmul, peak memory.

  python benchmarks/train_step.py                       # Shapes tiny, small and paper-size configs
  python benchmarks/train_step.py --variants=small --dtypes=float32,bfloat16
  python benchmarks/train_step.py --impls=shift_add --compiler_options=default,ours

For each (config, compute dtype, cross_conv_impl, compiler options): the pmapped train step on a
fixed batch, compiled with XLA's default options or with ours (`visual_dynamics.compilation`: on CPU,
no YNNPACK convolution fusions), its FLOPs from XLA's cost analysis (`common.nominal_step_flops`), its
memory from the compiled executable's memory analysis (arguments + outputs + temporaries - aliased
buffers), and FLOP/s as a fraction of a float32 matmul's FLOP/s measured in the same run.
"""

import argparse

import jax
import numpy as np

from common import (device_description, matmul_flops_per_second, median_seconds, nominal_step_flops,
                    print_table)

from configs import shapes
from visual_dynamics import train
from visual_dynamics.train_state import create_train_state


def step_and_inputs(config):
    """The pmapped step and one replicated (state, batch, rng) for it."""
    devices = jax.local_device_count()
    state = train.replicate(create_train_state(config, jax.random.PRNGKey(0)))
    rng = np.random.default_rng(0)
    size = config.image_size
    batch = {k: rng.integers(0, 256, (config.batch_size, size, size, 3), dtype=np.uint8)
             for k in ("image", "next_image")}
    return (train.make_p_train_step(config, donate=False), state, train.shard(batch, devices),
            train.replicate(jax.random.PRNGKey(1)))


def measure(config, options: str, repeats: int):
    """(seconds per step, FLOPs per step, peak bytes) of one config, compiled with XLA's 'default'
    options or with 'ours'."""
    step, state, batch, rng = step_and_inputs(config)
    compiled = (step.compile(state, batch, rng) if options == "ours"
                else step.lower(state, batch, rng).compile())
    flops = nominal_step_flops(config, batch, rng)
    mem = compiled.memory_analysis()
    peak = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
            - mem.alias_size_in_bytes)
    seconds = median_seconds(lambda: compiled(state, batch, rng)[1], repeats=repeats, warmup=1)
    return seconds, flops, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="tiny,small,paper",
                        help="Shapes config variants ('paper' = the paper's sizes).")
    parser.add_argument("--impls", default="reference,shift_add")
    parser.add_argument("--dtypes", default="float32")
    parser.add_argument("--compiler_options", default="ours",
                        help="'default' (XLA's), 'ours' (visual_dynamics.compilation), or both.")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if set(args.compiler_options.split(",")) - {"default", "ours"}:
        parser.error(f"--compiler_options takes 'default' and 'ours', got {args.compiler_options!r}")
    matmul = matmul_flops_per_second()
    print(f"Train step on {device_description()}; float32 2048^3 matmul: {matmul / 1e9:.1f} GFLOP/s")
    rows, baseline = [], {}
    for variant in args.variants.split(","):
        for dtype in args.dtypes.split(","):
            for impl in args.impls.split(","):
                for options in args.compiler_options.split(","):
                    config = shapes.get_config("" if variant == "paper" else variant)
                    config.model.cross_conv_impl = impl
                    config.model.compute_dtype = dtype
                    seconds, flops, peak = measure(config, options, args.repeats)
                    key = (variant, dtype)
                    baseline.setdefault(key, seconds)
                    rows.append([variant, dtype, impl, options, config.batch_size,
                                 config.batch_size / seconds, baseline[key] / seconds,
                                 flops / seconds / 1e9, flops / seconds / matmul, peak / 2 ** 20])
                    print(f"  measured {variant} / {dtype} / {impl} / {options}", flush=True)
    print_table(["config", "dtype", "cross conv", "XLA options", "batch", "samples/s", "vs first row",
                 "GFLOP/s", "of matmul", "peak MiB"], rows)


if __name__ == "__main__":
    main()
