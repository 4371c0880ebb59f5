"""Samples possible next frames of input images from a trained model.

  python experiments/sample.py --workdir=workdirs/shapes_small --image=a.png --image=b.jpg

For each input (any size, 8-bit RGB; resized to the model's input size) it writes
OUT/<name>/sample_NN.png, a 2-frame GIF OUT/<name>/sample_NN.gif (input, then sample), and
one OUT/grid.png with a row per input: the input, then its samples. z is drawn from the
empirical bank of training z (workdir/z_bank.npz), or from N(0, I) with --from_prior.
"""

import os
import sys

from absl import app, flags

flags.DEFINE_string("workdir", None, "A training workdir (holds config.json, checkpoints/, "
                    "z_bank.npz).", required=True)
flags.DEFINE_multi_string("image", None, "Input image file; repeat for several.", required=True)
flags.DEFINE_integer("num_samples", 8, "Next frames to sample per input.")
flags.DEFINE_string("output_dir", None, "Default: WORKDIR/sampled.")
flags.DEFINE_integer("seed", 0, "Seed of the z draws.")
flags.DEFINE_bool("from_prior", False, "Draw z from N(0, I) instead of the empirical bank.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import jax
    import numpy as np
    from absl import logging

    from visual_dynamics import checkpointing, sampling, train, visualization
    from visual_dynamics.model import latent_size
    from visual_dynamics.z_bank import ZBank

    logging.set_verbosity(logging.WARNING)
    try:
        config, variables, step = train.restore_variables(FLAGS.workdir)
        bank = None if FLAGS.from_prior else ZBank.load(FLAGS.workdir)
        images = np.stack([sampling.load_image(p, config.image_size) for p in FLAGS.image])
    except (checkpointing.NoCheckpointError, FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"Loaded step {step} of {FLAGS.workdir}; sampling {FLAGS.num_samples} next frames "
          f"for {len(images)} image(s), z from {'N(0, I)' if bank is None else 'the z bank'}")

    inference = sampling.Inference(config)
    out_dir = FLAGS.output_dir or os.path.join(FLAGS.workdir, "sampled")
    keys = jax.random.split(jax.random.PRNGKey(FLAGS.seed), FLAGS.num_samples)
    samples = []  # [num_samples][B, S, S, 3]
    for key in keys:
        z = (jax.random.normal(key, (len(images), latent_size(inference.model))) if bank is None
             else bank.draw(key, len(images)))
        samples.append(np.asarray(inference.next_frames(variables, images, z)))
    rows = []
    for i, path in enumerate(FLAGS.image):
        name = os.path.splitext(os.path.basename(path))[0]
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        visualization.save_png(images[i], os.path.join(folder, "input.png"))
        for j, frames in enumerate(samples, start=1):
            visualization.save_png(frames[i], os.path.join(folder, f"sample_{j:02d}.png"))
            visualization.save_gif([images[i], frames[i]], os.path.join(folder, f"sample_{j:02d}.gif"))
        rows.append([images[i]] + [frames[i] for frames in samples])
    grid_path = os.path.join(out_dir, "grid.png")
    visualization.save_png(visualization.image_grid(rows, upscale=2), grid_path)
    print(f"Wrote {len(images) * FLAGS.num_samples} samples to {out_dir}; overview: {grid_path}")


if __name__ == "__main__":
    app.run(main)
