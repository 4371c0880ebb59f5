"""Prepares a dataset (array_record files in the TFDS data folder); needs no TensorFlow.

  python experiments/prepare_data.py --dataset=shapes
  python experiments/prepare_data.py --dataset=shapes_texture --builder_config=size_128
  python experiments/prepare_data.py --dataset=penn_action --manual_dir=~/downloads
  python experiments/prepare_data.py --dataset=exercise --builder_config=videos_128 --manual_dir=~/my_videos
  python experiments/prepare_data.py --dataset=exercise --manual_dir=~/my_videos --frame_gap=2 \
      --pair_every=5 --test_fraction=0.25 --image_size=128   # your videos, other values: videos_128_gap2_...
  python experiments/prepare_data.py --dataset=exercise --builder_config=videos_128 --manual_dir=~/my_videos \
      --beam_pipeline_options=direct_num_workers=2,direct_running_mode=multi_processing   # on Beam

Preparing the same data twice gives byte-identical files; the fingerprint printed at the end (the
sha256 of the examples, also stored as fingerprint.json beside them) is what train.py records.

A failed preparation leaves nothing that loads as a dataset (TFDS writes to a temporary folder and
renames it when complete).
"""

import sys

from absl import app, flags

flags.DEFINE_string("dataset", "shapes", "A builder in tfds_builders/ (e.g. shapes).")
flags.DEFINE_string("builder_config", None, "Builder config, e.g. size_64 (default: the first).")
flags.DEFINE_string("data_dir", None, "Output folder (default: ~/tensorflow_datasets).")
flags.DEFINE_string("manual_dir", None, "Folder holding manually downloaded files.")
flags.DEFINE_string("beam_pipeline_options", None,
                    "Prepare on Apache Beam with these comma-separated pipeline options, as `tfds build "
                    "--beam_pipeline_options`: e.g. "
                    "direct_num_workers=2,direct_running_mode=multi_processing "
                    "(see docs/datasets.md for Dataflow, Flink and Spark).")
flags.DEFINE_integer("frame_gap", None, "Exercise from your videos: pairs (t, t + frame_gap) (default 1).")
flags.DEFINE_integer("pair_every", None, "Exercise from your videos: a pair every N frames (default 30).")
flags.DEFINE_float("test_fraction", None, "Exercise from your videos: fraction of the videos to test "
                   "(default 0.1, at least one video).")
flags.DEFINE_integer("image_size", None, "Exercise from your videos: stored side in pixels (default 128).")
FLAGS = flags.FLAGS
VIDEO_FLAGS = ("frame_gap", "pair_every", "test_fraction", "image_size")


def videos_builder_config() -> str:
    """The name of the videos config that --frame_gap, --pair_every, --test_fraction, --image_size set."""
    from tfds_builders.exercise import exercise_dataset_builder as exercise

    own_videos = not FLAGS.builder_config or FLAGS.builder_config.startswith("videos_")
    if FLAGS.dataset != "exercise" or not own_videos:
        raise ValueError(f"--{', --'.join(VIDEO_FLAGS)} apply to --dataset=exercise from your own videos "
                         f"(a videos_* config), not to {FLAGS.dataset} {FLAGS.builder_config or ''}".rstrip())
    name = FLAGS.builder_config or "videos_128"
    base = exercise.Builder.builder_configs.get(name) or exercise.config_from_name(name)
    if base is None:
        raise ValueError(f"--builder_config={name} is not a videos config (videos_64, videos_128, ...)")
    values = {k: getattr(base, k) if getattr(FLAGS, k) is None else getattr(FLAGS, k) for k in VIDEO_FLAGS}
    return exercise.videos_config(**values).name


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from visual_dynamics.errors import require_training_extra

    require_training_extra("prepare_data.py")
    from visual_dynamics.data import pipeline

    try:
        config = FLAGS.builder_config
        if any(getattr(FLAGS, k) is not None for k in VIDEO_FLAGS):
            config = videos_builder_config()
        builder = pipeline.load_builder(FLAGS.dataset, config, FLAGS.data_dir)
        data_fingerprint = pipeline.prepare(builder, FLAGS.manual_dir, FLAGS.beam_pipeline_options)
    except pipeline.PREPARATION_ERRORS as e:
        sys.exit(f"error: {e}")
    print(f"Prepared {builder.info.full_name} in {builder.data_dir}: "
          + ", ".join(f"{name} {split.num_examples}" for name, split in builder.info.splits.items()))
    print(f"Fingerprint (sha256 of the examples): {data_fingerprint}")
    if builder.builder_config and builder.builder_config.name.startswith("videos_"):
        print(f"Train on it with: python experiments/train.py --dataset={FLAGS.dataset} "
              f"--config.builder_config={builder.builder_config.name}")


if __name__ == "__main__":
    app.run(main)
