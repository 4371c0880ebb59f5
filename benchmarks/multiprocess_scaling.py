"""The cost of JAX's multi-process runtime: the pmapped train step in P processes x D devices each.

  python benchmarks/multiprocess_scaling.py                       # 1 x 2 vs 2 x 1 simulated CPU devices
  python benchmarks/multiprocess_scaling.py --variant=paper --layouts=1x1,1x8   # a machine of 8 GPUs

Each layout PxD runs P processes (jax.distributed on 127.0.0.1, Gloo collectives on CPU) of D devices;
every device takes the config's batch (so the global batch is P * D times it). Samples/s is the global
rate of process 0, the median of 5 timed steps after 2 warm-up steps (compilation). On one machine the
layouts share its cores: the ratio shows the runtime's overhead, not the scaling real hosts would give.
The first layout is the baseline of the ratio.
"""

import argparse
import os
import socket
import subprocess
import sys


def worker(args) -> None:
    """One process of a layout: joins the others, times the step, process 0 prints the result."""
    import jax

    if args.processes > 1:
        from visual_dynamics import distributed

        distributed.initialize(f"127.0.0.1:{args.port}", args.processes, args.process_id)
    from common import pmapped_step_seconds
    from configs import shapes

    config = shapes.get_config("" if args.variant == "paper" else args.variant)
    seconds = pmapped_step_seconds(config, jax.local_devices(), config.batch_size, seed=args.process_id)
    if jax.process_index() == 0:
        rate = jax.device_count() * config.batch_size / seconds
        print(f"RESULT {rate} {jax.devices()[0].device_kind}", flush=True)


def run_layout(args, processes: int, devices: int) -> tuple[float, str]:
    env = dict(os.environ)
    if "cpu" in env.get("JAX_PLATFORMS", "cpu"):
        flag = f"--xla_force_host_platform_device_count={devices}"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runs = []
    for i in range(processes):
        # On a GPU machine process i takes GPUs i*D ... i*D + D - 1 (ignored where there are none).
        gpus = {"CUDA_VISIBLE_DEVICES": ",".join(str(i * devices + d) for d in range(devices))}
        runs.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", f"--variant={args.variant}", f"--processes={processes}",
             f"--process_id={i}", f"--port={port}"], env={**env, **gpus}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    outputs = [r.communicate(timeout=1200) for r in runs]
    for r, (_, err) in zip(runs, outputs):
        if r.returncode:
            raise RuntimeError(f"layout {processes}x{devices} failed:\n{err[-3000:]}")
    line = next(line for line in outputs[0][0].splitlines() if line.startswith("RESULT"))
    _, rate, kind = line.split(" ", 2)
    return float(rate), kind


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="small", help="Shapes config variant: tiny, small or paper.")
    parser.add_argument("--layouts", default="1x2,2x1", help="PROCESSESxDEVICES, comma-separated.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--process_id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    from common import print_table

    rows, baseline = [], None
    for layout in args.layouts.split(","):
        processes, devices = (int(n) for n in layout.split("x"))
        rate, kind = run_layout(args, processes, devices)
        baseline = baseline or rate
        rows.append([layout, processes * devices, rate, rate / baseline, kind])
        print(f"  measured {layout}", flush=True)
    print(f"Multi-process scaling, Shapes {args.variant} (its batch on every device)")
    print_table(["processes x devices", "devices", "samples/s", "vs first", "device"], rows)


if __name__ == "__main__":
    main()
