"""Packs a finished run into a shipped model: visual_dynamics/pretrained/<name>/ (or --output_dir).

  python experiments/export_pretrained.py --workdir=workdirs/shapes_small --name=shapes_small
  python experiments/export_pretrained.py --workdir=workdirs/shapes --file=shapes.npz   # one file, float16

Writes config.json, variables.npz (parameters and BatchNorm statistics of the newest checkpoint, or
--step, as --dtype; in several files where one would pass 5 MiB) and z_bank.npz (float16, the first
--bank_pairs of the run's bank); then `Predictor.from_pretrained(name)` loads it. The folder's README.md
(how the model was trained and what it scores) is written by hand. With --file, one file under 14 MiB
holds all of it, the variables in float16 and as many bank pairs as fit (`Predictor.from_file` loads it).
With --example_pairs=N the folder also gets N test pairs of the run's prepared dataset (example_pairs.npz:
a model of a downloaded dataset can then be tried without it, `pretrained.example_pairs(name)`).
"""

import os
import sys

import numpy as np
from absl import app, flags

from visual_dynamics.errors import exit_on_one_line_errors

flags.DEFINE_string("workdir", None, "A finished training run.", required=True)
flags.DEFINE_string("name", None, "Name of the shipped model (or give --file).")
flags.DEFINE_string("file", None, "Write one file (float16 variables, z bank, config) instead of a folder.")
flags.DEFINE_string("output_dir", None, "Default: visual_dynamics/pretrained/NAME.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: the newest).")
flags.DEFINE_enum("dtype", "float32", ["float32", "float16"], "The folder's variables.")
flags.DEFINE_integer("example_pairs", 0, "Also ship this many test pairs of the run's dataset, spread "
                     "over its test split (example_pairs.npz; for a downloaded dataset).", lower_bound=0)
flags.DEFINE_integer("bank_pairs", None, "Ship the first this many pairs of the z bank (default: all).",
                     lower_bound=1)
FLAGS = flags.FLAGS


def spread_test_pairs(config, count: int) -> dict:
    """{'image', 'next_image'} of `count` test pairs of the run's prepared dataset, evenly spaced."""
    from visual_dynamics.data import pipeline

    source = pipeline.SplitSource(pipeline.prepared_builder(config.dataset, config.get("builder_config"),
                                                            config.get("data_dir")), "test")
    picked = [source[i] for i in np.linspace(0, len(source) - 1, count).astype(int)]
    return {key: np.stack([e[key] for e in picked]) for key in ("image", "next_image")}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    from visual_dynamics import checkpointing, pretrained
    from visual_dynamics.z_bank import ZBank

    logging.set_verbosity(logging.WARNING)
    if bool(FLAGS.name) == bool(FLAGS.file):
        raise app.UsageError("give one of --name (a shipped model's folder) and --file")

    try:
        config, variables, step = checkpointing.restore_variables(FLAGS.workdir, FLAGS.step)
        bank = ZBank.load(FLAGS.workdir)
    except (checkpointing.NoCheckpointError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    if bank.step != step:
        sys.exit(f"error: {FLAGS.workdir}/z_bank.npz was computed at step {bank.step}, not at the "
                 f"checkpoint's step {step}; finish the run (rerun its training command) first")
    run_pairs = len(bank.z_mean)
    if FLAGS.bank_pairs:
        bank = ZBank(bank.z_mean[:FLAGS.bank_pairs], bank.z_logvar[:FLAGS.bank_pairs], bank.step)
    try:
        if FLAGS.file:
            pairs = pretrained.export_file(config, variables, bank, FLAGS.file)
            out, size = FLAGS.file, os.path.getsize(FLAGS.file)
        else:
            out = FLAGS.output_dir or os.path.join(pretrained.ROOT, FLAGS.name)
            pretrained.export(config, variables, bank, out, dtype=np.dtype(FLAGS.dtype))
            if FLAGS.example_pairs:
                pretrained.save_example_pairs(spread_test_pairs(config, FLAGS.example_pairs), out)
            pairs = len(bank.z_mean)
            size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(f"Wrote {out} (step {step}, a z bank of {pairs} of the run's {run_pairs} pairs, "
          f"{size / 2 ** 20:.2f} MiB)")


if __name__ == "__main__":
    app.run(exit_on_one_line_errors(main))
