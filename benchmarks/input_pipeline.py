"""Input pipeline: examples/s that grain delivers vs examples/s the train step consumes.

  python benchmarks/input_pipeline.py                 # Shapes 64 px, the :small config's step
  python benchmarks/input_pipeline.py --variant=paper

Both rates are measured in this run: the pipeline alone (reading array_record through
tfds.data_source, shuffling, batching), then the train step alone on one fixed batch.
"""

import argparse
import time

from common import device_description, median_seconds, print_table

from configs import shapes
from train_step import step_and_inputs
from visual_dynamics.data import pipeline


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="small",
                        help="Shapes config variant ('paper', 'small', 'tiny').")
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    config = shapes.get_config("" if args.variant == "paper" else args.variant)
    builder = pipeline.prepared_builder(config.dataset, config.builder_config, config.data_dir)
    batches = pipeline.train_batches(pipeline.SplitSource(builder, "train"), config.batch_size, seed=0)
    next(batches)  # start the reader threads
    start = time.perf_counter()
    for _ in range(args.batches):
        next(batches)
    delivered = args.batches * config.batch_size / (time.perf_counter() - start)

    step, state, batch, rng = step_and_inputs(config)
    consumed = config.batch_size / median_seconds(lambda: step(state, batch, rng)[1], repeats=5)
    print(f"Input pipeline vs train step ({args.variant}) on {device_description()}")
    print_table(["pipeline examples/s", "train step examples/s", "ratio"],
                [[delivered, consumed, delivered / consumed]])


if __name__ == "__main__":
    main()
