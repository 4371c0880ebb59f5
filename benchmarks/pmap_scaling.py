"""Data parallelism: the pmapped train step on 2 devices vs 1, at the same per-device batch.

  python benchmarks/pmap_scaling.py                   # 2 simulated CPU devices (re-executes itself)
  python benchmarks/pmap_scaling.py --variant=paper

On a machine with several accelerators it uses the real ones. Throughput is global samples/s;
the ratio is 2-device throughput over 1-device throughput, both measured in this run.
"""

import argparse
import os
import sys

FLAG = "--xla_force_host_platform_device_count=2"
if FLAG not in os.environ.get("XLA_FLAGS", "") and "--no-reexec" not in sys.argv:
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FLAG}".strip()
    os.execv(sys.executable, [sys.executable, *sys.argv, "--no-reexec"])

import jax  # noqa: E402

from common import device_description, pmapped_step_seconds, print_table  # noqa: E402

from configs import shapes  # noqa: E402


def samples_per_second(config, devices, per_device_batch):
    return len(devices) * per_device_batch / pmapped_step_seconds(config, devices, per_device_batch)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="small")
    parser.add_argument("--no-reexec", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = shapes.get_config("" if args.variant == "paper" else args.variant)
    per_device = config.batch_size
    devices = jax.local_devices()[:2]
    one = samples_per_second(config, devices[:1], per_device)
    two = samples_per_second(config, devices, per_device)
    print(f"pmap scaling ({args.variant}, {per_device} samples per device) on {device_description()}")
    print_table(["devices", "samples/s", "vs 1 device"], [[1, one, 1.0], [2, two, two / one]])


if __name__ == "__main__":
    main()
