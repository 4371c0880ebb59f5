"""Our train step against the same network in PyTorch (benchmarks/torch_network.py), side by side.

  python benchmarks/vs_pytorch.py                          # CPU: paper 64 px b32, paper 128 px b8, small
  python benchmarks/vs_pytorch.py --cases=tiny --steps=1   # smoke run (the test)
  python benchmarks/vs_pytorch.py --cases=paper64 --frameworks=jax,torch,torch_compile \
      --dtypes=float32,bfloat16 --batch_sizes=32,64,128,256,512   # GPU

Both sides: the same layers and parameter count (checked and printed), Adam after clipping the
global gradient norm to 10, the loss of Eq. 5 with fresh sampler noise each step, one fixed random
uint8 batch already on the device, the train-mode BatchNorm. Each (case, framework, dtype) runs in its
own subprocess, so that threads, caches and peak memory of one do not reach another. Samples/s is
the median over --repeats segments of --steps steps each, after --warmup steps (compilation).
Peak memory: on GPU the framework's own allocator peak (JAX `peak_bytes_in_use`, PyTorch
`max_memory_allocated`); on CPU the growth of the process's peak resident memory over what it held
after its imports. bfloat16: our `compute_dtype='bfloat16'`, PyTorch's autocast; both keep float32
parameters. On GPU both use TF32 for float32 matrix work (JAX's default; set for PyTorch here).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from common import nominal_step_flops, print_table

CASES = {  # name -> (config module, variant, default batch size)
    "paper64": ("shapes", "", 32),      # the paper's network on 64 px (Shapes)
    "paper128": ("exercise", "", 8),    # the paper's network on 128 px (Exercise)
    "small": ("shapes", "small", 16),
    "tiny": ("shapes", "tiny", 16),
}


def case_config(case: str, batch_size: int, dtype: str):
    import importlib

    module, variant, _ = CASES[case]
    config = importlib.import_module(f"configs.{module}").get_config(variant)
    config.batch_size = batch_size
    config.model.compute_dtype = dtype
    return config


def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def peak_resident_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed_rates(step, batch_size: int, steps: int, repeats: int, warmup: int, sync) -> float:
    """Median samples/s over `repeats` segments of `steps` calls of step() after `warmup` calls."""
    for _ in range(warmup):
        step()
    sync()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rates.append(steps * batch_size / (time.perf_counter() - start))
    return statistics.median(rates)


def run_jax(args, batch_size: int, baseline_mib: float) -> dict:
    import jax
    import numpy as np

    from visual_dynamics import train
    from visual_dynamics.train_state import create_train_state

    config = case_config(args.case, batch_size, args.dtype)
    devices = jax.local_device_count()
    state = train.replicate(create_train_state(config, jax.random.PRNGKey(0)))
    rng = np.random.default_rng(0)
    size = config.image_size
    batch = train.shard({k: rng.integers(0, 256, (batch_size, size, size, 3), dtype=np.uint8)
                         for k in ("image", "next_image")}, devices)
    batch = jax.pmap(lambda x: x)(batch)  # on the devices once, outside the timed loop
    noise_rng = train.replicate(jax.random.PRNGKey(1))
    p_step = train.make_p_train_step(config)
    compiled = p_step.compile(state, batch, noise_rng)
    flops = nominal_step_flops(config, batch, noise_rng)
    holder = {"state": state, "metrics": None}

    def step():
        holder["state"], holder["metrics"] = compiled(holder["state"], batch, noise_rng)

    rate = timed_rates(step, batch_size, args.steps, args.repeats, args.warmup,
                       lambda: jax.block_until_ready(holder["metrics"]))
    params = sum(x.size for x in jax.tree.leaves(holder["state"].params)) // devices
    device = jax.devices()[0]
    if device.platform == "cpu":
        peak = peak_resident_mib() - baseline_mib
    else:
        peak = device.memory_stats()["peak_bytes_in_use"] / 2 ** 20
    return dict(samples_per_s=rate, peak_mib=peak, params=int(params), flops_per_sample=flops / batch_size,
                device=f"{device.platform} ({device.device_kind}), JAX {jax.__version__}")


def run_torch(args, batch_size: int, baseline_mib: float) -> dict:
    import numpy as np
    import torch

    import torch_network

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    config = case_config(args.case, batch_size, "float32")
    model = torch_network.CrossConvNet(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(0)
    size = config.image_size
    image, next_image = (torch.from_numpy(rng.integers(0, 256, (batch_size, size, size, 3),
                                                       dtype=np.uint8)).to(device) for _ in range(2))
    loss_fn = torch_network.loss_fn
    if args.framework == "torch_compile":
        loss_fn = torch.compile(loss_fn)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bfloat16")

    def step():
        noise = torch.randn(batch_size, model.latent_size, device=device)
        with autocast:
            loss = loss_fn(model, image, next_image, noise, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip_norm)
        optimizer.step()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    rate = timed_rates(step, batch_size, args.steps, args.repeats, args.warmup,
                       torch.cuda.synchronize if cuda else (lambda: None))
    peak = (torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else peak_resident_mib() - baseline_mib)
    name = torch.cuda.get_device_name() if cuda else "cpu"
    return dict(samples_per_s=rate, peak_mib=peak, params=torch_network.parameter_count(model),
                device=f"{name}, PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")


def worker(args) -> None:
    """Measures one (case, framework, dtype) at each batch size; prints one JSON line per size."""
    if args.framework == "jax":
        import jax  # noqa: F401  (imported before the baseline, as torch is below)
        from visual_dynamics import train  # noqa: F401
    else:
        import torch  # noqa: F401
    baseline = resident_mib()
    run = run_jax if args.framework == "jax" else run_torch
    for batch_size in args.batch_sizes:
        result = run(args, batch_size, baseline)
        print("RESULT " + json.dumps(dict(result, batch_size=batch_size)), flush=True)


def measure(args, case: str, framework: str, dtype: str, batch_sizes: list[int]) -> list[dict]:
    """Runs a worker subprocess; its results, or one {'error'} entry if it failed."""
    command = [sys.executable, __file__, "--worker", f"--case={case}", f"--framework={framework}",
               f"--dtype={dtype}", f"--batch_sizes={','.join(map(str, batch_sizes))}",
               f"--steps={args.steps}", f"--repeats={args.repeats}", f"--warmup={args.warmup}"]
    done = subprocess.run(command, capture_output=True, text=True)
    results = [json.loads(line[len("RESULT "):]) for line in done.stdout.splitlines()
               if line.startswith("RESULT ")]
    if done.returncode:
        print(f"  {case} / {framework} / {dtype} failed:\n{done.stderr[-3000:]}", flush=True)
        results.append({"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"})
    return results


def matmul_tflops(dtype: str) -> float:
    """The device's dense matmul rate (JAX, 4096^3, default precision) in a subprocess."""
    code = ("import sys; sys.path.insert(0, %r); import jax, jax.numpy as jnp; from common import "
            "median_seconds; a = jnp.ones((4096, 4096), %r); "
            "print(2 * 4096 ** 3 / median_seconds(jax.jit(jnp.matmul), a, a) / 1e12)"
            % (os.path.dirname(os.path.abspath(__file__)), dtype))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="paper64,paper128,small", help=f"Of {', '.join(CASES)}.")
    parser.add_argument("--frameworks", default="jax,torch", help="jax, torch, torch_compile.")
    parser.add_argument("--dtypes", default="float32", help="float32, bfloat16.")
    parser.add_argument("--batch_sizes", default="",
                        help="Comma-separated; default: each case's own (paper64 32, paper128 8, small 16).")
    parser.add_argument("--steps", type=int, default=3, help="Steps per timed segment.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed segments (the median is kept).")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed steps first (compilation).")
    parser.add_argument("--json", help="Also write the rows to this JSON file.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--framework", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
        return worker(args)

    for case in args.cases.split(","):
        if case not in CASES:
            parser.error(f"unknown case {case!r}; choose from {', '.join(CASES)}")
    frameworks, dtypes = args.frameworks.split(","), args.dtypes.split(",")
    matmul = {d: matmul_tflops(d) for d in dtypes}
    print("Dense 4096^3 matmul (JAX): " + ", ".join(f"{d} {t:.2f} TFLOP/s" for d, t in matmul.items()),
          flush=True)
    rows, records = [], []
    for case in args.cases.split(","):
        batch_sizes = ([int(b) for b in args.batch_sizes.split(",")] if args.batch_sizes
                       else [CASES[case][2]])
        for dtype in dtypes:
            measured = {f: measure(args, case, f, dtype, batch_sizes) for f in frameworks}
            for f, results in measured.items():
                for r in results:
                    print(f"  {case} / {f} / {dtype}: {r}", flush=True)
            ours = {r["batch_size"]: r for r in measured.get("jax", []) if "error" not in r}
            for f, results in measured.items():
                for r in results:
                    if "error" in r:
                        rows.append([case, f, dtype, "-", "failed", "-", "-", "-", "-"])
                        continue
                    base = ours.get(r["batch_size"])
                    flops = base["flops_per_sample"] if base else float("nan")
                    rows.append([case, f, dtype, r["batch_size"], r["params"], r["samples_per_s"],
                                 base["samples_per_s"] / r["samples_per_s"] if base else float("nan"),
                                 flops * r["samples_per_s"] / 1e12 / matmul[dtype], r["peak_mib"]])
                    records.append(dict(r, case=case, framework=f, dtype=dtype))
            counts = {r["params"] for rs in measured.values() for r in rs if "params" in r}
            if len(counts) > 1 and (max(counts) - min(counts)) > 0.001 * max(counts):
                print(f"WARNING: {case}: parameter counts differ by more than 0.1 %: {sorted(counts)}")
    devices = sorted({r["device"] for r in records})
    print("\n" + "\n".join(devices))
    print_table(["case", "framework", "dtype", "batch", "parameters", "samples/s", "ours / this",
                 "of matmul", "peak MiB"], rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(matmul_tflops=matmul, rows=records), f, indent=2)


if __name__ == "__main__":
    main()
