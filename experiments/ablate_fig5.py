"""The Fig. 5 ablation: which change to `shapes:small` moves the triangles and the circle-triangle column.

  python experiments/ablate_fig5.py --workdir=workdirs/fig5_ablation --data_dir=DATA
  python experiments/ablate_fig5.py --rows=base,decoder_64 --config.num_train_steps=4000

Each training row is one change against the base config (`shapes:small`, its 2,000 steps unless
--config.num_train_steps says otherwise), trained into WORKDIR/ROW/ (a rerun resumes or reuses it). Each
sampling row scores the shipped `shapes_small` (the base config at 20,000 steps) with another z source.
Every row is scored with the scene-fit measure on the generator's validation pairs (neither training nor
test pairs: configs are chosen here, the test images score the final one), --samples_per_image sampled
frames for each of --num_images images. Writes WORKDIR/fig5_ablation.json, fig5_ablation.md (the
table), fig5_ablation_histograms.png and the rows' motions (fig5_ablation_motions.npz); rows an earlier
call scored with the same settings and base config stay in them, so rows can be run a few at a time.
"""

import json
import os
import sys
import time

import numpy as np
from absl import app, flags

from visual_dynamics.atomic import atomic_path
from visual_dynamics.config import PAPER_ENCODER_64, define_config_flag, parse_flags
from visual_dynamics.errors import exit_on_one_line_errors

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
SMALL_ENCODER = tuple((ch // 4, pad, pool) for ch, pad, pool in PAPER_ENCODER_64)
# 64 -> 60 -> 30 -> 26 -> 13 -> 9 -> 9 -> 9: the fourth layer padded, so the grid (and kernels) are 9 x 9.
ENCODER_GRID_9 = SMALL_ENCODER[:3] + ((SMALL_ENCODER[3][0], "SAME", False),) + SMALL_ENCODER[4:]

# name -> (what changes, {dotted config key: value}) against `shapes:small`.
TRAINING_ROWS = {
    "base": ("shapes:small as shipped", {}),
    "pyramid_paper": ("pyramid 2, 1, 1/2, 1/4 (the paper's) instead of 1, 1/2, 1/4, 1/8",
                      {"model.pyramid_scales": (2.0, 1.0, 0.5, 0.25)}),
    "decoder_64": ("motion decoder at 64 px (the input's side) instead of 32",
                   {"model.decoder_size": 64}),
    "channels_x2": ("twice the channels in every part",
                    {"model.motion_encoder_layers": tuple((2 * ch, pad, pool)
                                                          for ch, pad, pool in SMALL_ENCODER),
                     "model.kernel_decoder_channels": 64, "model.image_encoder_channels": (32, 32, 32, 32),
                     "model.decoder_channels": (64, 64)}),
    "kernel_9": ("9 x 9 kernels (encoder grid 9 x 9, z of 2,592) instead of 5 x 5",
                 {"model.motion_encoder_layers": ENCODER_GRID_9, "model.kernel_size": 9}),
    "z_128": ("z of 128 (linear layers to and from the grid) instead of the 800-d grid",
              {"model.z_size": 128}),
    "lambda_10": ("λ = 10 (KL weighted 10x more)", {"recon_weight": 10.0}),
    "lambda_1000": ("λ = 1,000 (KL weighted 10x less)", {"recon_weight": 1000.0}),
}
# name -> (what changes, z source) for the shipped shapes_small; None: its own bank of 1,000.
SAMPLING_ROWS = {
    "steps_20000": ("20,000 steps (the shipped shapes_small), its bank of 1,000", None),
    "prior": ("the shipped model, z from the prior N(0, I)", "prior"),
    "bank_100": ("the shipped model, a bank of 100 training pairs", 100),
    "bank_10000": ("the shipped model, a bank of 10,000 training pairs", 10_000),
}
COST_FILE = "training_cost.json"
MOTIONS_FILE = "fig5_ablation_motions.npz"

flags.DEFINE_string("workdir", "workdirs/fig5_ablation", "Root of the runs and the results.")
flags.DEFINE_list("rows", list(TRAINING_ROWS) + list(SAMPLING_ROWS),
                  "Rows to train (if needed) and score; the other rows already in WORKDIR's table stay.")
flags.DEFINE_string("data_dir", None, "Where the Shapes dataset is (prepared here if missing).")
flags.DEFINE_integer("num_images", 100, "Validation images to sample from.")
flags.DEFINE_integer("samples_per_image", 100, "Sampled next frames per image.")
flags.DEFINE_integer("num_truth", 50_000, "Exact draws of the generator's motion distribution.")
flags.DEFINE_integer("seed", 0, "Seed of the validation pairs' sampling and of the truth's draws.")
define_config_flag(os.path.join(CONFIG_DIR, "shapes.py:small"),
                   "Base config of every training row; --config.KEY=VALUE overrides.")
flags.register_validator("rows", lambda rows: all(r in TRAINING_ROWS or r in SAMPLING_ROWS for r in rows),
                         f"--rows takes names from {', '.join(list(TRAINING_ROWS) + list(SAMPLING_ROWS))}")
FLAGS = flags.FLAGS


def row_config(base, overrides: dict):
    """A copy of `base` with {dotted key: value} set."""
    config = base.copy_and_resolve_references()
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return config


def trained_row(config, workdir: str) -> dict:
    """Trains (or resumes) the run; its test reconstruction error, parameter count and training cost."""
    import jax

    from visual_dynamics import train

    started = time.time()
    result = train.train_and_evaluate(config, workdir)
    cost_path = os.path.join(workdir, COST_FILE)
    if result.first_eval_recon is not None:  # trained from step 0 in this call: its cost is this call's
        with open(cost_path, "w") as f:
            json.dump({"train_seconds": time.time() - started, "steps": result.step}, f)
    cost = {"steps": result.step}  # resumed from a stopped run without a cost file: its time is unknown
    if os.path.exists(cost_path):
        with open(cost_path) as f:
            cost = json.load(f)
    params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(result.state.params))
    return {"test_recon": result.recon, "parameters": params, **cost}


def sampling_predictor(source, data_dir: str):
    """The shipped shapes_small with the z source of a sampling row."""
    from visual_dynamics.data import pipeline
    from visual_dynamics.predictor import Predictor
    from visual_dynamics.z_bank import ZBank, compute_z_bank

    shipped = Predictor.from_pretrained("shapes_small")
    bank = shipped.z_bank
    if source == "prior":
        bank = None
    elif isinstance(source, int) and source <= len(bank.z_mean):
        bank = ZBank(bank.z_mean[:source], bank.z_logvar[:source], bank.step)
    elif isinstance(source, int):
        config = shipped.config
        builder = pipeline.prepared_builder(config.dataset, config.builder_config, data_dir)
        batches = pipeline.first_batches(pipeline.SplitSource(builder, "train"), source, config.batch_size)
        bank = compute_z_bank(shipped.inference, shipped.variables, batches, source, step=bank.step)
    return Predictor(shipped.config, shipped.variables, bank)


def earlier_rows(workdir: str, scored_with: dict) -> tuple[dict, dict]:
    """The rows and {row: motions [N, 3, 2]} an earlier call wrote to `workdir`, if it scored them with
    the same settings and base config (`scored_with`); else none."""
    results, motions_path = os.path.join(workdir, "fig5_ablation.json"), os.path.join(workdir, MOTIONS_FILE)
    if not (os.path.exists(results) and os.path.exists(motions_path)):
        return {}, {}
    with open(results) as f:
        earlier = json.load(f)
    if {key: earlier.get(key) for key in scored_with} != json.loads(json.dumps(scored_with, default=str)):
        print(f"Replacing the rows in {results}: they were scored with other settings or base config")
        return {}, {}
    with np.load(motions_path) as stored:
        motions = {name: stored[name] for name in stored.files}
    rows = {name: row for name, row in earlier["rows"].items()
            if name in motions and (name in TRAINING_ROWS or name in SAMPLING_ROWS)}
    return rows, {name: motions[name] for name in rows}


def markdown_table(rows: dict) -> str:
    lines = ["| row | change | circles | squares | triangles | circles–triangles | test recon | parameters "
             "| training (2-core CPU) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        kl = row["fig5_kl"]
        cost = f"{row['train_seconds'] / 60:.1f} min, {row['steps']} steps" if "train_seconds" in row else "—"
        recon = f"{row['test_recon']:.2f}" if row.get("test_recon") is not None else "—"
        params = f"{row['parameters']:,}" if "parameters" in row else "—"
        lines.append(f"| `{name}` | {row['change']} | " + " | ".join(f"{kl[c]:.2f}" for c in (
            "circles", "squares", "triangles", "circles_triangles")) + f" | {recon} | {params} | {cost} |")
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    from visual_dynamics.data import shapes
    from visual_dynamics.data.pipeline import DatasetNotPreparedError
    from visual_dynamics.evaluation import motion_metric, shapes_motion
    from visual_dynamics.predictor import Predictor

    logging.set_verbosity(logging.WARNING)
    base = FLAGS.config
    if FLAGS.data_dir:
        base.unlock()
        base.data_dir = FLAGS.data_dir
        base.lock()
    sampling = [row for row in FLAGS.rows if row in SAMPLING_ROWS]
    if sampling and base.image_size != Predictor.from_pretrained("shapes_small").image_size:
        sys.exit(f"error: the sampling rows ({', '.join(sampling)}) score the shipped shapes_small, of 64 px "
                 f"pairs; the base config's are {base.image_size} px: leave them out of --rows")
    spec = shapes.ShapesSpec(image_size=base.image_size)
    rng = np.random.default_rng(FLAGS.seed)
    truth = shapes_motion.truth_motions(FLAGS.num_truth, spec.max_displacement, rng)
    pairs = shapes_motion.generated_pairs(spec, FLAGS.seed, "validation", FLAGS.num_images)
    scenes = {key: pairs[key] for key in shapes_motion.SCENE_KEYS}
    os.makedirs(FLAGS.workdir, exist_ok=True)
    out = os.path.join(FLAGS.workdir, "fig5_ablation.json")
    scored_with = {"settings": {k: getattr(FLAGS, k) for k in ("num_images", "samples_per_image", "num_truth",
                                                               "seed")},
                   "base_config": base.to_dict() | {"data_dir": None}}
    rows, motions = earlier_rows(FLAGS.workdir, scored_with)
    order = list(TRAINING_ROWS) + list(SAMPLING_ROWS)
    for i, name in enumerate(FLAGS.rows):
        print(f"[{i + 1}/{len(FLAGS.rows)}] {name}", flush=True)
        try:
            if name in TRAINING_ROWS:
                change, overrides = TRAINING_ROWS[name]
                workdir = os.path.join(FLAGS.workdir, name)
                row = {"change": change, "overrides": {k: str(v) for k, v in overrides.items()},
                       **trained_row(row_config(base, overrides), workdir)}
                predictor = Predictor.from_checkpoint(workdir)
            else:
                change, source = SAMPLING_ROWS[name]
                row = {"change": change, "z_source": source or "bank of 1,000"}
                predictor = sampling_predictor(source, base.data_dir)
        except DatasetNotPreparedError as e:
            sys.exit(f"error: {e}")
        started = time.time()
        measured = shapes_motion.model_motions(predictor, pairs["image"], scenes, FLAGS.samples_per_image,
                                               FLAGS.seed, measures=("scene_fit",))["scene_fit"]
        row["fig5_kl"] = motion_metric.kl_table(truth, measured)
        row["score_seconds"] = time.time() - started
        rows[name], motions[name] = row, measured
        rows = {n: rows[n] for n in sorted(rows, key=order.index)}
        print(f"  {name}: " + " / ".join(f"{v:.2f}" for v in row["fig5_kl"].values())
              + f" ({row['score_seconds']:.0f} s)", flush=True)
        # After every row, so that a stopped ablation keeps what it scored.
        with atomic_path(os.path.join(FLAGS.workdir, MOTIONS_FILE)) as tmp:
            np.savez(tmp, **motions)
        with atomic_path(out) as tmp, open(tmp, "w") as f:
            json.dump(scored_with | {"rows": rows}, f, indent=2, default=str)
    with open(os.path.join(FLAGS.workdir, "fig5_ablation.md"), "w") as f:
        f.write(markdown_table(rows))
    shapes_motion.plot_histograms({"truth": truth} | {n: motions[n] for n in rows},
                                  os.path.join(FLAGS.workdir, "fig5_ablation_histograms.png"))
    print(markdown_table(rows))
    print(f"Wrote {out}, fig5_ablation.md, fig5_ablation_histograms.png")


if __name__ == "__main__":
    app.run(exit_on_one_line_errors(main), flags_parser=parse_flags)
