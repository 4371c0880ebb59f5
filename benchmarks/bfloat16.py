"""bfloat16 compute vs float32: wall time and test reconstruction error after the same steps.

  python benchmarks/bfloat16.py                       # Shapes :tiny, its 300 steps
  python benchmarks/bfloat16.py --variant=small --steps=500

Both runs train from the same seed on the same data in fresh temporary workdirs; parameters and
optimizer state are float32 in both (config.model.compute_dtype only changes the arithmetic).
"""

import argparse
import contextlib
import io
import tempfile
import time

from common import device_description, print_table

from configs import shapes
from visual_dynamics import train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="tiny")
    parser.add_argument("--steps", type=int, default=None, help="Default: the config's.")
    args = parser.parse_args()
    rows = []
    for dtype in ("float32", "bfloat16"):
        config = shapes.get_config("" if args.variant == "paper" else args.variant)
        config.model.compute_dtype = dtype
        config.num_train_steps = args.steps or config.num_train_steps
        config.eval_every_steps = config.checkpoint_every_steps = config.num_train_steps
        with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(io.StringIO()):
            start = time.perf_counter()
            results = train.train_and_evaluate(config, workdir)
            seconds = time.perf_counter() - start
        rows.append([dtype, config.num_train_steps, seconds, rows[0][2] / seconds if rows else 1.0,
                     results.first_eval_recon, results.recon])
    print(f"bfloat16 vs float32 ({args.variant}) on {device_description()}")
    print_table(["compute dtype", "steps", "wall s", "speed vs float32", "test recon at 0",
                 "test recon at end"], rows)


if __name__ == "__main__":
    main()
