"""The toy example of §3.2 (Fig. 2): deterministic regression, prior VAE and conditional VAE.

  python experiments/toy_example.py --output_dir=workdirs/toy

Trains the three models on --num_train toy samples (the paper: 160,000), writes toy.json (each model's
KL to the true motion distribution of circles and squares, 41 x 41 bins over [-5, 5]^2) and fig2.png
(samples of the truth and of each model, circles red, squares green).
"""

import json
import os
import time

import numpy as np
from absl import app, flags

from visual_dynamics.evaluation import toy

flags.DEFINE_string("output_dir", "workdirs/toy", "Where toy.json and fig2.png go.")
flags.DEFINE_integer("num_train", 160_000, "Training samples.")
flags.DEFINE_integer("steps", 4000, "Adam steps per model (batch 256).")
flags.DEFINE_integer("num_eval", 50_000, "Samples per label for the KL.")
flags.DEFINE_integer("seed", 0, "Seed of the data, initialisation and sampling.")
FLAGS = flags.FLAGS


def plot(samples: dict, path: str, shown: int = 1500) -> None:
    from visual_dynamics import visualization

    fig, axes = visualization.subplots(1, len(samples), figsize=(3 * len(samples), 3.1))
    for ax, (name, per_label) in zip(axes, samples.items()):
        for points, colour in zip(per_label, ("tab:red", "tab:green")):
            ax.scatter(points[:shown, 0], points[:shown, 1], s=2, alpha=0.4, color=colour)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-4, 4)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("v_x")
    axes[0].set_ylabel("v_y")
    visualization.save_figure(fig, path)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    rng = np.random.default_rng(FLAGS.seed)
    labels, motions = toy.toy_data(FLAGS.num_train, rng)
    results, samples = {}, {"truth": [rng.normal(size=(1500, 2)) * np.sqrt(v) for v in toy.VARIANCES]}
    for kind in toy.MODELS:
        start = time.time()
        params = toy.train(kind, labels, motions, steps=FLAGS.steps, seed=FLAGS.seed)
        results[kind] = toy.kl_to_truth(kind, params, FLAGS.num_eval, FLAGS.seed)
        samples[kind] = [toy.sample(kind, params, label, 1500, FLAGS.seed) for label in (0, 1)]
        print(f"{kind}: trained in {time.time() - start:.0f} s; KL to the truth {results[kind]}", flush=True)
    with open(os.path.join(FLAGS.output_dir, "toy.json"), "w") as f:
        json.dump({"kl": results, "settings": {k: getattr(FLAGS, k) for k in
                                               ("num_train", "steps", "num_eval", "seed")}}, f, indent=2)
    plot(samples, os.path.join(FLAGS.output_dir, "fig2.png"))
    print(f"Wrote {FLAGS.output_dir}/toy.json and fig2.png")


if __name__ == "__main__":
    app.run(main)
