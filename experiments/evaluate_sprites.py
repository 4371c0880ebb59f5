"""The paper's Sprites results (§5.2, §6): Table 2, Table 1's Sprites column and the figures.

  python experiments/evaluate_sprites.py --workdir=workdirs/lpc_cpu_s0 --workdir=workdirs/lpc_cpu_s1
  python experiments/evaluate_sprites.py --pretrained=sprites_cpu

For each run (several: seeds of one config, reported as mean and spread), on the test characters
(--split=validation: the validation characters, to choose a config on):
- Table 2: Reed et al.'s analogy error per animation (source and target are two test characters in the
  same animation, viewpoint and frame; sum of squared errors per image in [0, 1] units, scaled from our
  64 x 64 frames to Reed's 60 x 60 by 3600 / 4096), of our transfer, of Reed's *Add* baseline
  (I_t + J_s - I_s) computed on the same analogies and of copying the target, beside the published rows.
  Characters are paired at random (--sources_per_target sources for each target, drawn with
  --pairing_seed); a second table pairs each with the next in id order (a near-twin in lpc_sprites);
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

from absl import app, flags

from visual_dynamics.errors import exit_on_one_line_errors

flags.DEFINE_multi_string("workdir", None, "A finished sprites run; repeat for other seeds.")
flags.DEFINE_string("pretrained", None, "A shipped model (e.g. sprites_cpu) instead of --workdir.")
flags.DEFINE_string("output_dir", None, "Default: the first workdir's sprites_eval/.")
flags.DEFINE_string("data_dir", None, "Where the dataset is (default: the run's own).")
flags.DEFINE_enum("split", "test", ["test", "validation"], "Characters to score: validation ones to choose a "
                  "config on, the test ones once for the chosen config.")
flags.DEFINE_integer("num_rows", 6, "Rows of each figure.")
flags.DEFINE_integer("num_samples", 5, "Samples per row of fig6.")
flags.DEFINE_integer("seed", 0, "Seed of the samples and of the test pairs the figures show.")
flags.DEFINE_integer("pairing_seed", 0, "Seed of the random pairing of source and target characters.")
flags.DEFINE_integer("sources_per_target", 3, "Source characters drawn for each target (random pairing).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    from visual_dynamics.data import pipeline
    from visual_dynamics.evaluation import analogy, latent_stats
    from visual_dynamics.evaluation.sprites_results import (PAPER_TABLE1, PAPER_TABLE2, mean_and_spread,
                                                            table_markdown, write_figures)
    from visual_dynamics.evaluation.runs import LOAD_ERRORS, load_run_and_dataset

    logging.set_verbosity(logging.WARNING)
    if bool(FLAGS.workdir) == bool(FLAGS.pretrained):
        sys.exit("error: give --workdir (a finished run; repeat for seeds) or --pretrained (a shipped model)")
    sources = FLAGS.workdir or [None]
    out = FLAGS.output_dir or os.path.join(sources[0] or f"workdirs/pretrained_{FLAGS.pretrained}",
                                           "sprites_eval")
    runs, examples = [], None
    for workdir in sources:
        try:
            predictor, _, builder = load_run_and_dataset(workdir, pretrained=FLAGS.pretrained,
                                                         data_dir=FLAGS.data_dir)
            if predictor.config.dataset not in analogy.SPRITES_DATASETS:
                raise ValueError(f"{workdir or FLAGS.pretrained} is a {predictor.config.dataset!r} model, "
                                 f"not a sprites one")
            if predictor.z_bank is None:
                raise ValueError(f"{workdir} has no z_bank.npz yet: finish its training (rerun its "
                                 f"train.py command) first")
        except LOAD_ERRORS as e:
            sys.exit(f"error: {e}")
        if examples is None:
            source = pipeline.SplitSource(builder, FLAGS.split)
            examples = [source[i] for i in range(len(source))]
            print(f"{len(examples)} {FLAGS.split} pairs of {builder.info.full_name}", flush=True)
            os.makedirs(out, exist_ok=True)
            write_figures(predictor, examples, out, FLAGS.num_rows, FLAGS.num_samples, FLAGS.seed)
            print(f"Figures written to {out}", flush=True)
        run = {"run": workdir or FLAGS.pretrained,
               **analogy.sprites_results(predictor, examples, "random", FLAGS.pairing_seed,
                                         FLAGS.sources_per_target),
               "id_order": analogy.sprites_results(predictor, examples, "id_order"),
               "table1": latent_stats.latent_statistics(predictor.z_bank.z_mean, predictor.z_bank.z_logvar)}
        print(json.dumps({k: run[k] for k in ("run", "table2", "count", "table1")}, indent=1), flush=True)
        runs.append(run)
    table1 = {key: mean_and_spread([r["table1"][key] for r in runs]) for key in PAPER_TABLE1}
    results = {"split": FLAGS.split, "runs": runs, "paper": {"table2": PAPER_TABLE2, "table1": PAPER_TABLE1},
               "table1_mean_and_spread": table1}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    active, components = (" ± ".join(f"{v:g}" for v in table1[key]) for key in PAPER_TABLE1)
    pairing = (f"{runs[0]['count']:,} analogies: each {FLAGS.split} character a target of "
               f"{FLAGS.sources_per_target} source characters drawn at random (seed {FLAGS.pairing_seed}) "
               f"in the same animation, viewpoint and frame; {len(runs)} run(s), mean ± half-range")
    id_order = table_markdown([r["id_order"] for r in runs], published=False)
    markdown = (f"Characters paired at random ({pairing}):\n\n{table_markdown(runs)}\n\n"
                f"Characters paired in id order ({runs[0]['id_order']['count']:,} analogies):\n\n"
                f"{id_order}\n\nTable 1 (Sprites): non-zero z_mean elements {active} (paper "
                f"{PAPER_TABLE1['active_dims']}), PCA components for 95 % {components} (paper "
                f"{PAPER_TABLE1['pca_components_95']})\n")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown)
    print(markdown)


if __name__ == "__main__":
    app.run(exit_on_one_line_errors(main))
