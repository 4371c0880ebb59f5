"""Where a Sprites model's error comes from, on validation (or training) characters, never the test ones.

  python experiments/diagnose_sprites.py --pretrained=sprites_cpu           # the shipped model
  python experiments/diagnose_sprites.py --workdir=W                        # validation characters
  python experiments/diagnose_sprites.py --workdir=W --split=train          # under- or over-fitting?
  python experiments/diagnose_sprites.py --workdir=W --step=12000           # an earlier checkpoint

Per animation, Table 2's error (sum of squared errors per image, [0, 1] units, scaled to 60 x 60) of:
reconstruction (z from the target's own pair), transfer (z from another character's pair, characters
paired at random as evaluate_sprites.py does), Reed et al.'s Add and copying the target; each split into
the pixels that change between the target's frames and those that do not. Then how far the art moves
between neighbouring frames (3 x 3 patch matching, sprites_diagnosis.motion_reach) against the reach of
the kernels at each pyramid scale, and the run's validation learning curve (metrics.jsonl).
Output (--output_dir, default W/sprites_diagnosis/<split>_step<N>/, or
workdirs/pretrained_NAME/sprites_diagnosis/<split>/): diagnosis.json, diagnosis.md,
error_maps.png (mean squared error per pixel: a row per method, a column per animation) and
learning_curve.png (for a run).
"""

import json
import os
import sys

from absl import app, flags

from visual_dynamics.errors import exit_on_one_line_errors

flags.DEFINE_string("workdir", None, "A sprites training run.")
flags.DEFINE_string("pretrained", None, "A shipped sprites model (e.g. sprites_cpu) instead of --workdir.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: the newest).")
flags.DEFINE_enum("split", "validation", ["validation", "train"], "Characters to diagnose on.")
flags.DEFINE_integer("max_characters", 72, "Use N characters of the split, drawn at random (--pairing_seed).")
flags.DEFINE_integer("pairing_seed", 0, "Seed of the random pairing of source and target characters.")
flags.DEFINE_integer("sources_per_target", 3, "Source characters drawn for each target.")
flags.DEFINE_string("output_dir", None, "Default: W/sprites_diagnosis/<split>_step<N>/.")
flags.DEFINE_string("data_dir", None, "Where the dataset is (default: the run's own).")
FLAGS = flags.FLAGS

METHODS = ("reconstruction", "transfer", "add", "copy")


def split_examples(builder, split: str, max_characters: int, seed: int) -> list[dict]:
    """The split's pairs of `max_characters` of its characters drawn at random (seeded): ids count the
    attributes, so the first ids alone would be near-twins (and flatter Add)."""
    import numpy as np

    from visual_dynamics.data import pipeline

    source = pipeline.SplitSource(builder, split)
    examples = [source[i] for i in range(len(source))]
    characters = sorted({int(e["character"]) for e in examples})
    kept = set(np.random.default_rng(seed).permutation(characters)[:max_characters].tolist())
    return [e for e in examples if int(e["character"]) in kept]


def measure(predictor, examples: list[dict]) -> dict:
    """Table 2 per method, its moving / static split, and the error maps (see the module's doc)."""
    from visual_dynamics.evaluation import analogy, sprites_diagnosis

    results = {"table2": {}, "regions": {}, "maps": {}, "counts": {}}
    for pairing, names in (("self", {"ours": "reconstruction"}),
                           ("random", {"ours": "transfer", "add": "add", "copy": "copy"})):
        items = analogy.sprites_analogies(examples, pairing, FLAGS.pairing_seed, FLAGS.sources_per_target)
        predicted = analogy.predictions(predictor, items)  # 'copy' is the target at the model's size
        renamed = {names[k]: v for k, v in predicted.items() if k in names}
        renamed["truth"] = predicted["truth"]
        regions = sprites_diagnosis.error_by_region(renamed, predicted["copy"], items["action"])
        results["table2"].update(analogy.sprites_table(renamed, items["action"]))
        results["regions"].update(regions)
        results["maps"].update(sprites_diagnosis.error_maps(renamed, items["action"]))
        results["counts"][pairing] = len(items["target"])
    return results


def kernel_reach(config) -> list[float]:
    """The reach in input pixels of the kernels at each pyramid scale: (kernel_size // 2) / scale."""
    return [(config.model.kernel_size // 2) / s for s in config.model.pyramid_scales]


def learning_curve(workdir: str) -> list[dict]:
    """[{'step', 'eval/recon'}] of the run's periodic evaluations (metrics.jsonl)."""
    from visual_dynamics.metrics_log import read_metrics

    return [{"step": r["step"], "eval/recon": r["eval/recon"]} for r in read_metrics(workdir)
            if "eval/recon" in r]


def draw(results: dict, curve: list[dict], out: str) -> None:
    """error_maps.png (a row per method, a column per animation, one colour scale) and, for a run,
    learning_curve.png."""
    from visual_dynamics import visualization as vis

    animations = list(results["maps"]["transfer"])
    high = max(m.max() for per in results["maps"].values() for m in per.values())
    fig, axes = vis.subplots(len(METHODS), len(animations),
                             figsize=(2.2 * len(animations), 2.2 * len(METHODS)))
    for i, method in enumerate(METHODS):
        for j, name in enumerate(animations):
            axes[i, j].imshow(results["maps"][method][name], cmap="magma", vmin=0, vmax=high)
            axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
            axes[0, j].set_title(name)
        axes[i, 0].set_ylabel(method)
    fig.suptitle(f"mean squared error per pixel (RGB summed, [0, 1] units): black 0, white {high:.3f}")
    vis.save_figure(fig, os.path.join(out, "error_maps.png"))
    if not curve:
        return
    fig, ax = vis.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in curve], [r["eval/recon"] for r in curve], marker=".")
    ax.set_xlabel("training step"), ax.set_ylabel("validation reconstruction loss (eval/recon)")
    vis.save_figure(fig, os.path.join(out, "learning_curve.png"))


def markdown(results: dict, motion: dict, reach: list[float], motion_cap: int) -> str:
    """The tables of docs/results.md: Table 2 per method with its moving / static split, and motion."""
    animations = list(results["table2"]["transfer"])[:-1]  # without 'average'
    lines = ["| method | " + " | ".join(animations) + " | average |", "|---" * (len(animations) + 2) + "|"]
    for method in METHODS:
        row = results["table2"][method]
        cells = [f"{row[a]:.1f} ({results['regions'][method][a]['moving']:.1f} + "
                 f"{results['regions'][method][a]['static']:.1f})" for a in animations]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {row['average']:.1f} |")
    share = results["regions"]["moving_share"]
    lines.append("| changed pixels | " + " | ".join(f"{100 * share[a]:.1f} %" for a in animations) + " | |")
    lines += ["", f"Displacement of changed pixels in input pixels (matched up to {motion_cap} px: a value "
              f"there is {motion_cap} or more, or no match):", "",
              "| animation | changed pixels measured | median | 90th pct | 99th pct | "
              + " | ".join(f"within {r:g} px" for r in reach) + " |", "|---" * (5 + len(reach)) + "|"]
    for name, m in motion.items():
        lines.append(f"| {name} | {m['changed_pixels']:,} | {m['median']:g} | {m['p90']:g} | {m['p99']:g} | "
                     + " | ".join(f"{100 * w:.1f} %" for w in m["within"]) + " |")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    from visual_dynamics import checkpointing
    from visual_dynamics.data import pipeline
    from visual_dynamics.evaluation import analogy, sprites_diagnosis
    from visual_dynamics.predictor import Predictor

    logging.set_verbosity(logging.WARNING)
    if bool(FLAGS.workdir) == bool(FLAGS.pretrained):
        sys.exit("error: give --workdir (a sprites run) or --pretrained (a shipped model)")
    try:
        predictor = (Predictor.from_checkpoint(FLAGS.workdir, FLAGS.step) if FLAGS.workdir
                     else Predictor.from_pretrained(FLAGS.pretrained))
        config = predictor.config
        if config.dataset not in analogy.SPRITES_DATASETS:
            raise ValueError(f"{FLAGS.workdir or FLAGS.pretrained} is a {config.dataset!r} model, not a "
                             f"sprites one")
        builder = pipeline.prepared_builder(config.dataset, config.get("builder_config"),
                                            FLAGS.data_dir or config.get("data_dir"))
    except (checkpointing.NoCheckpointError, ValueError, pipeline.DatasetNotPreparedError) as e:
        sys.exit(f"error: {e}")
    if FLAGS.workdir:
        step = FLAGS.step or checkpointing.newest_complete_step(FLAGS.workdir)
        default_out = os.path.join(FLAGS.workdir, "sprites_diagnosis", f"{FLAGS.split}_step{step}")
    else:
        step = config.num_train_steps
        default_out = os.path.join("workdirs", f"pretrained_{FLAGS.pretrained}", "sprites_diagnosis",
                                   FLAGS.split)
    out = FLAGS.output_dir or default_out
    os.makedirs(out, exist_ok=True)
    examples = split_examples(builder, FLAGS.split, FLAGS.max_characters, FLAGS.pairing_seed)
    characters = len({int(e["character"]) for e in examples})
    print(f"{len(examples):,} {FLAGS.split} pairs of {characters} characters; checkpoint step {step}",
          flush=True)
    results = measure(predictor, examples)
    reach = kernel_reach(config)
    motion_cap = int(max(reach)) + 4  # beyond the largest reach, so that "within" it is measured
    motion = sprites_diagnosis.motion_reach(examples, reach, max_shift=motion_cap)
    curve = learning_curve(FLAGS.workdir) if FLAGS.workdir else []
    draw(results, curve, out)
    model = FLAGS.workdir or FLAGS.pretrained
    text = (f"{model}, step {step}, {FLAGS.split} split, {characters} characters, "
            f"{results['counts']['random']:,} random analogies (seed {FLAGS.pairing_seed}, "
            f"{FLAGS.sources_per_target} sources per target), {results['counts']['self']:,} "
            f"reconstructions. Each cell: Table 2's error (moving + static pixels).\n\n"
            + markdown(results, motion, reach, motion_cap))
    with open(os.path.join(out, "diagnosis.json"), "w") as f:
        json.dump({"model": model, "step": step, "split": FLAGS.split, "characters": characters,
                   "table2": results["table2"], "regions": results["regions"], "counts": results["counts"],
                   "motion": motion, "kernel_reach": reach, "learning_curve": curve}, f, indent=1)
    with open(os.path.join(out, "diagnosis.md"), "w") as f:
        f.write(text)
    print(text, f"\nWritten to {out}", sep="")


if __name__ == "__main__":
    app.run(exit_on_one_line_errors(main))
