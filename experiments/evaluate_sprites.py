"""The paper's Sprites results (§5.2, §6): Table 2, Table 1's Sprites column and the figures.

  python experiments/evaluate_sprites.py --workdir=workdirs/lpc_cpu_s0 --workdir=workdirs/lpc_cpu_s1
  python experiments/evaluate_sprites.py --pretrained=sprites_cpu

For each run (several: seeds of one config, reported as mean and spread), on the test characters:
- Table 2: Reed et al.'s analogy error per animation (source and target are two test characters in the
  same animation, viewpoint and frame; sum of squared errors per image in [0, 1] units, scaled from our
  64 x 64 frames to Reed's 60 x 60 by 3600 / 4096), of our transfer, of Reed's *Add* baseline
  (I_t + J_s - I_s) computed on the same analogies and of copying the target, beside the published rows;
- Table 1: the non-zero elements of z_mean and the PCA components covering 95 % of its variance, over
  the run's bank of training z.
Figures of the first run: fig6_samples.png (input, truth, reconstruction, samples, a 2x zoom of the
first sample's centre), fig8_layers.png (the image encoder's feature maps at each scale),
fig15a_analogies.png (source pair, target, ours, truth), fig16_extrapolation.png (rows: truth, then
our frames, each predicted from the last with the motion of the first pair) and traversals.png (one
row per most varying dimension of z).
Output: --output_dir (default: the first workdir's sprites_eval/, or workdirs/pretrained_NAME/
sprites_eval/): results.json, results.md (the rows of docs/results.md) and the PNGs.
"""

import json
import os
import sys
from collections import defaultdict

import numpy as np
from absl import app, flags

from visual_dynamics.errors import exit_on_one_line_errors

flags.DEFINE_multi_string("workdir", None, "A finished sprites run; repeat for other seeds.")
flags.DEFINE_string("pretrained", None, "A shipped model (e.g. sprites_cpu) instead of --workdir.")
flags.DEFINE_string("output_dir", None, "Default: the first workdir's sprites_eval/.")
flags.DEFINE_string("data_dir", None, "Where the dataset is (default: the run's own).")
flags.DEFINE_integer("num_rows", 6, "Rows of each figure.")
flags.DEFINE_integer("num_samples", 5, "Samples per row of fig6.")
flags.DEFINE_integer("seed", 0, "Seed of the samples and of the test pairs the figures show.")
FLAGS = flags.FLAGS

PAPER_TABLE2 = {  # Table 2 of the paper: Reed et al.'s three models and the paper's
    "Add": (41.0, 53.8, 55.7, 52.1, 77.6, 56.0), "Dis": (40.8, 55.8, 52.6, 53.5, 79.8, 56.5),
    "Dis+Cls": (13.3, 24.6, 17.2, 18.9, 40.8, 23.0), "Ours (paper)": (9.5, 11.5, 11.1, 28.2, 19.0, 15.9)}
PAPER_TABLE1 = {"active_dims": 54, "pca_components_95": 5}
COLUMNS = ("spellcast", "thrust", "walk", "slash", "shoot", "average")


def animations_of(examples: list[dict]) -> list[list[np.ndarray]]:
    """The frames of each (character, action, viewpoint) animation in the examples, in frame order."""
    pairs = defaultdict(dict)
    for e in examples:
        pairs[(int(e["character"]), int(e["action"]), int(e["viewpoint"]))][int(e["frame"])] = e
    frames = []
    for key in sorted(pairs):
        ordered = [pairs[key][t] for t in sorted(pairs[key])]
        frames.append([e["image"] for e in ordered] + [ordered[-1]["next_image"]])
    return frames


def mean_and_spread(values: list[float]) -> tuple[float, float]:
    """(mean, half the range) of a statistic over runs."""
    return float(np.mean(values)), float((np.max(values) - np.min(values)) / 2)


def table_markdown(runs: list[dict]) -> str:
    """Table 2 as docs/results.md shows it: the published rows, then ours, our Add, copying."""
    def row(name, values):
        return f"| {name} | " + " | ".join(values) + " |"

    lines = [row("Model", COLUMNS), row("---", ["---"] * len(COLUMNS))]
    lines += [row(name, [f"{v:.1f}" for v in values]) for name, values in PAPER_TABLE2.items()]
    for method, name in (("ours", "**Ours (this code)**"), ("add", "Add on our rendering"),
                         ("copy", "Copy the target")):
        cells = []
        for column in COLUMNS:
            mean, spread = mean_and_spread([r["table2"][method][column] for r in runs])
            cells.append(f"{mean:.1f}" + (f" ± {spread:.1f}" if len(runs) > 1 else ""))
        lines.append(row(name, cells))
    ratios = [np.mean([r["table2"]["ours"][c] / r["table2"]["add"][c] for r in runs]) for c in COLUMNS]
    lines.append(row("Ours ÷ Add (this code)", [f"{v:.3f}" for v in ratios]))
    paper = [o / a for o, a in zip(PAPER_TABLE2["Ours (paper)"], PAPER_TABLE2["Add"])]
    lines.append(row("Ours ÷ Add (paper)", [f"{v:.3f}" for v in paper]))
    return "\n".join(lines)


def figures(predictor, examples: list[dict], out: str) -> None:
    """Writes the figures of one model from the test examples (see the module's docstring)."""
    from visual_dynamics import visualization as vis
    from visual_dynamics.evaluation import analogy

    rng = np.random.default_rng(FLAGS.seed)
    n = FLAGS.num_rows
    picked = [examples[i] for i in rng.choice(len(examples), n, replace=False)]
    images = np.stack([e["image"] for e in picked])
    truths = np.stack([e["next_image"] for e in picked])
    reconstructions = predictor.transfer(predictor.encode(images, truths), images)
    samples = predictor.sample(images, FLAGS.num_samples, rng=FLAGS.seed)
    zooms = [s[0, 16:48, 16:48].repeat(2, 0).repeat(2, 1) for s in samples]
    vis.save_png(vis.image_grid([[i, t, r, *s, z] for i, t, r, s, z in
                                 zip(images, truths, reconstructions, samples, zooms)], upscale=2),
                 os.path.join(out, "fig6_samples.png"))

    maps = predictor.feature_maps(images[0])
    rows = [[vis.to_uint8(np.repeat(vis.unit_range(m[..., c])[..., None], 3, -1)
                          .repeat(64 // m.shape[0], 0).repeat(64 // m.shape[1], 1))
             for c in range(min(8, m.shape[-1]))] for m in maps]
    vis.save_png(vis.image_grid([[images[0], *rows[0]]] + [[np.full_like(images[0], 255), *r] for r in rows[1:]],
                                upscale=2), os.path.join(out, "fig8_layers.png"))

    items = analogy.sprites_analogies(examples)
    chosen = rng.choice(len(items["target"]), n, replace=False)
    ours = predictor.transfer(predictor.encode(items["source"][chosen], items["source_next"][chosen]),
                              items["target"][chosen])
    vis.save_png(vis.image_grid([[items[k][i] for k in analogy.ANALOGY_KEYS[:3]] + [o, items["target_next"][i]]
                                 for i, o in zip(chosen, ours)], upscale=2),
                 os.path.join(out, "fig15a_analogies.png"))

    long = [a for a in animations_of(examples) if len(a) >= 8]
    rows = []
    for i in rng.choice(len(long), min(n // 2, len(long)), replace=False):
        truth = long[i][:8]
        z = predictor.encode(truth[0], truth[1])
        rows += [truth, [truth[0], *predictor.extrapolate(truth[0], z, len(truth) - 1)]]
    vis.save_png(vis.image_grid(rows, upscale=2), os.path.join(out, "fig16_extrapolation.png"))

    dims = [int(d) for d in np.argsort(-predictor.z_bank.z_mean.var(axis=0))[:4]]
    spread = float(np.abs(predictor.z_bank.z_mean[:, dims]).max())
    swept = predictor.traverse(images[0], predictor.encode(images[0], truths[0]), dims,
                               np.linspace(-spread, spread, 7))
    vis.save_png(vis.image_grid([[images[0], *row] for row in swept], upscale=2),
                 os.path.join(out, "traversals.png"))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    from visual_dynamics.data import pipeline
    from visual_dynamics.evaluation import analogy, latent_stats
    from visual_dynamics.evaluation.runs import LOAD_ERRORS, load_run_and_dataset

    logging.set_verbosity(logging.WARNING)
    if bool(FLAGS.workdir) == bool(FLAGS.pretrained):
        sys.exit("error: give --workdir (a finished run; repeat for seeds) or --pretrained (a shipped model)")
    sources = FLAGS.workdir or [None]
    out = FLAGS.output_dir or os.path.join(sources[0] or f"workdirs/pretrained_{FLAGS.pretrained}",
                                           "sprites_eval")
    os.makedirs(out, exist_ok=True)
    runs, examples = [], None
    for workdir in sources:
        try:
            predictor, _, builder = load_run_and_dataset(workdir, pretrained=FLAGS.pretrained,
                                                         data_dir=FLAGS.data_dir)
            if predictor.config.dataset not in analogy.SPRITES_DATASETS:
                raise ValueError(f"{workdir or FLAGS.pretrained} is a {predictor.config.dataset!r} model, "
                                 f"not a sprites one")
        except LOAD_ERRORS as e:
            sys.exit(f"error: {e}")
        if examples is None:
            source = pipeline.SplitSource(builder, "test")
            examples = [source[i] for i in range(len(source))]
            print(f"{len(examples)} test pairs of {builder.info.full_name}", flush=True)
            figures(predictor, examples, out)
            print(f"Figures written to {out}", flush=True)
        run = {"run": workdir or FLAGS.pretrained, **analogy.sprites_results(predictor, examples),
               "table1": latent_stats.latent_statistics(predictor.z_bank.z_mean, predictor.z_bank.z_logvar)}
        print(json.dumps({k: run[k] for k in ("run", "table2", "table1")}, indent=1), flush=True)
        runs.append(run)
    table1 = {key: mean_and_spread([r["table1"][key] for r in runs]) for key in PAPER_TABLE1}
    results = {"runs": runs, "paper": {"table2": PAPER_TABLE2, "table1": PAPER_TABLE1},
               "table1_mean_and_spread": table1}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    markdown = (table_markdown(runs) + "\n\nTable 1 (Sprites): non-zero z_mean elements "
                + " ± ".join(f"{v:g}" for v in table1["active_dims"]) + f" (paper {PAPER_TABLE1['active_dims']}),"
                " PCA components for 95 % " + " ± ".join(f"{v:g}" for v in table1["pca_components_95"])
                + f" (paper {PAPER_TABLE1['pca_components_95']})\n")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown)
    print(markdown)


if __name__ == "__main__":
    app.run(exit_on_one_line_errors(main))
