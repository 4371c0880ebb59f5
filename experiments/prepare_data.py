"""Prepares a dataset (array_record files in the TFDS data folder); needs no TensorFlow.

  python experiments/prepare_data.py --dataset=shapes
  python experiments/prepare_data.py --dataset=shapes_texture --builder_config=size_128
  python experiments/prepare_data.py --dataset=penn_action --manual_dir=~/downloads
  python experiments/prepare_data.py --dataset=exercise --builder_config=videos_128 --manual_dir=~/my_videos

A failed preparation leaves nothing that loads as a dataset (TFDS writes to a temporary folder and
renames it when complete).
"""

import sys

from absl import app, flags

flags.DEFINE_string("dataset", "shapes", "A builder in tfds_builders/ (e.g. shapes).")
flags.DEFINE_string("builder_config", None, "Builder config, e.g. size_64 (default: the first).")
flags.DEFINE_string("data_dir", None, "Output folder (default: ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "Folder holding manually downloaded files.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from visual_dynamics.data import pipeline

    try:
        builder = pipeline.load_builder(FLAGS.dataset, FLAGS.builder_config, FLAGS.data_dir)
        pipeline.prepare(builder, FLAGS.manual_dir)
    except pipeline.PREPARATION_ERRORS as e:
        sys.exit(f"error: {e}")
    print(f"Prepared {builder.info.full_name} in {builder.data_dir}: "
          + ", ".join(f"{name} {split.num_examples}" for name, split in builder.info.splits.items()))


if __name__ == "__main__":
    app.run(main)
