"""Fig. 5 and Table 1 on Shapes: motion-distribution KL of a run and its baselines, latent statistics.

  python experiments/evaluate_shapes.py --workdir=workdirs/shapes_small --ae_workdir=workdirs/shapes_small_ae
  python experiments/evaluate_shapes.py --pretrained=shapes_small      # the shipped model

Writes WORKDIR/shapes_eval/: results.json (the KL table of ours, AE and Flow beside the paper's numbers
under each motion measure, the measures' own validation, Table 1's latent statistics),
fig5_histograms.png (the motion histograms of the ground truth and of each method, scene-fit measure)
and fig10_latents.png.
- Motion measures: 'scene_fit' (fig5_kl; each object's translation fitted by re-rendering the test
  image's scene, visual_dynamics/evaluation/scene_fit.py) and 'flow' (fig5_kl_flow; the median optical
  flow inside each object's visible mask, the measure of earlier results, kept for comparison).
- Ground truth: the generator's motion distribution (--num_truth exact draws).
- Metric check: --num_check ground-truth pairs of the test generator through each measure: their
  error against the stored displacements and their KL to the ground truth (the measure's floor), beside
  the KL of as many exact draws (the floor that the sample count alone sets).
- Ours / AE: --samples_per_image next frames sampled for each of --num_test_images test images; the AE
  twice: z from its bank of training z_means ('ae') and from the prior N(0, I) ('ae_prior'), as the
  paper does not say how its AE was sampled.
- Flow: for each test image, the flow of one of its 10 nearest training images (of the first
  --num_flow_train), chosen at random per sample.
- fig5_kl_subset: the scene-fit KLs of the samples of the first --num_subset_images test images alone.
"""

import json
import os
import sys
import time

import numpy as np
from absl import app, flags

from visual_dynamics.data import shapes
from visual_dynamics.errors import exit_on_one_line_errors
from visual_dynamics.evaluation import flow_baseline, latent_stats, motion_metric, shapes_motion

flags.DEFINE_string("workdir", None, "A finished Shapes run (or --pretrained).")
flags.DEFINE_string("pretrained", None, "A shipped model (visual_dynamics/pretrained/NAME) instead of "
                    "--workdir, e.g. shapes_small.")
flags.DEFINE_string("output_dir", None,
                    "Default: WORKDIR/shapes_eval, or workdirs/pretrained_NAME/shapes_eval.")
flags.DEFINE_string("data_dir", None, "Where the Shapes dataset is (default: the run's own).")
flags.DEFINE_string("ae_workdir", None, "The same config trained with --config.model.variational=False.")
flags.DEFINE_integer("num_test_images", 500, "Test images to sample from (the paper: 50,000 samples).")
flags.DEFINE_integer("samples_per_image", 100, "Sampled next frames per test image.")
flags.DEFINE_integer("num_truth", 50_000, "Exact draws of the generator's motion distribution.")
flags.DEFINE_integer("num_check", 50_000, "Generated pairs that validate the flow pipeline.")
flags.DEFINE_integer("num_flow_train", 10_000, "Training pairs the Flow baseline retrieves from.")
flags.DEFINE_integer("num_latent_pairs", 1_000, "Training pairs for Table 1 / Fig. 10.")
flags.DEFINE_integer("num_subset_images", 50, "Also score each method on its samples of the first this "
                     "many test images (fig5_kl_subset: what a re-check of an exported model compares).")
flags.DEFINE_integer("seed", 0, "Seed of every random choice.")
FLAGS = flags.FLAGS

PAPER_FIG5 = {"flow": {"circles": 6.77, "squares": 7.07, "triangles": 6.07, "circles_triangles": 8.42},
              "ae": {"circles": 8.76, "squares": 12.37, "triangles": 10.36, "circles_triangles": 10.58},
              "ours": {"circles": 1.70, "squares": 2.48, "triangles": 1.14, "circles_triangles": 2.46}}
PAPER_TABLE1 = {"active_dims": 299, "pca_components_95": 5}


class Progress:
    """Prints `what: i/n (elapsed, ETA)` about every 10 % and at the end."""

    def __init__(self, what: str):
        self.what, self.start, self.shown = what, time.time(), -1

    def __call__(self, done: int, total: int) -> None:
        tenth = 10 * done // total
        if tenth != self.shown or done == total:
            self.shown = tenth
            elapsed = time.time() - self.start
            eta = f", ETA {elapsed * (total - done) / done:.0f} s" if 0 < done < total else ""
            print(f"  {self.what}: {done}/{total} ({elapsed:.0f} s{eta})", flush=True)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    from visual_dynamics.data import pipeline
    from visual_dynamics.evaluation.runs import LOAD_ERRORS, load_run_and_dataset
    from visual_dynamics.predictor import Predictor
    from visual_dynamics.z_bank import compute_z_bank

    logging.set_verbosity(logging.WARNING)
    try:
        if bool(FLAGS.workdir) == bool(FLAGS.pretrained):
            raise ValueError("give one of --workdir (a finished run) and --pretrained (a shipped model)")
        predictor, ae, builder = load_run_and_dataset(FLAGS.workdir, FLAGS.ae_workdir, "shapes",
                                                      FLAGS.pretrained, FLAGS.data_dir)
    except LOAD_ERRORS as e:
        sys.exit(f"error: {e}")
    out = FLAGS.output_dir or os.path.join(FLAGS.workdir or f"workdirs/pretrained_{FLAGS.pretrained}",
                                           "shapes_eval")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(FLAGS.seed)
    spec = shapes.ShapesSpec(image_size=builder.builder_config.image_size)
    test = pipeline.first_examples(pipeline.SplitSource(builder, "test"), FLAGS.num_test_images,
                                   keys=("image",) + shapes_motion.SCENE_KEYS)
    results = {"workdir": FLAGS.workdir, "pretrained": FLAGS.pretrained,
               "paper": {"fig5": PAPER_FIG5, "table1": PAPER_TABLE1},
               "settings": {k: getattr(FLAGS, k) for k in ("num_test_images", "samples_per_image",
                                                           "num_truth", "num_check", "num_flow_train",
                                                           "num_latent_pairs", "seed")},
               "smoothing_counts_per_bin": motion_metric.SMOOTHING}

    truth = shapes_motion.truth_motions(FLAGS.num_truth, spec.max_displacement, rng)
    print(f"Metric check: each motion measure on {FLAGS.num_check} generated ground-truth pairs", flush=True)
    check = shapes_motion.generated_pairs(spec, builder.builder_config.seed, "test", FLAGS.num_check,
                                          Progress("generate"))
    results["metric_check"] = {
        "pairs": FLAGS.num_check,
        "kl_exact_truth_same_count": motion_metric.kl_table(truth, check["displacement"])}
    scenes = {key: check[key] for key in shapes_motion.SCENE_KEYS}
    fitted = shapes_motion.measured_motions(check["image"], check["next_image"], scenes, "scene_fit",
                                            Progress("scene_fit"))
    flows = shapes_motion.measured_motions(check["image"], check["next_image"], scenes, "flow",
                                           Progress("flow"), (np.median, np.mean))  # the flow measure: median
    for name, checked in (("scene_fit", fitted), ("flow_median", flows[:, 0]), ("flow_mean", flows[:, 1])):
        error = np.abs(checked - check["displacement"])
        results["metric_check"][name] = {
            "mean_abs_error_px": float(np.nanmean(error)), "median_abs_error_px": float(np.nanmedian(error)),
            "kl_measured_truth": motion_metric.kl_table(truth, checked)}
    print(json.dumps(results["metric_check"], indent=2), flush=True)

    images = test["image"][:FLAGS.num_test_images]
    scenes = {key: test[key][:FLAGS.num_test_images] for key in shapes_motion.SCENE_KEYS}
    motions = {}  # method -> {measure: [N, 3, 2]}
    ae_prior = None if ae is None else Predictor(ae.config, ae.variables)  # no z bank: z ~ N(0, I)
    for name, model in (("ours", predictor), ("ae", ae), ("ae_prior", ae_prior)):
        if model is not None:
            print(f"{name}: {FLAGS.samples_per_image} samples for each of {len(images)} test images",
                  flush=True)
            motions[name] = shapes_motion.model_motions(model, images, scenes, FLAGS.samples_per_image,
                                                        FLAGS.seed, Progress(name))
    print(f"Flow baseline: flows of {FLAGS.num_flow_train} training pairs", flush=True)
    train_pairs = pipeline.first_examples(pipeline.SplitSource(builder, "train"), FLAGS.num_flow_train)
    baseline = flow_baseline.FlowBaseline(train_pairs["image"], train_pairs["next_image"],
                                       progress=Progress("training flows"))
    motions["flow"] = shapes_motion.flow_baseline_motions(baseline, images, scenes, FLAGS.samples_per_image,
                                                          rng)
    for key, measure in (("fig5_kl", "scene_fit"), ("fig5_kl_flow", "flow")):
        results[key] = {name: motion_metric.kl_table(truth, m[measure]) for name, m in motions.items()}
    # The samples are image-major: the first images' are the first rows.
    subset = min(FLAGS.num_subset_images, len(images)) * FLAGS.samples_per_image
    results["fig5_kl_subset"] = {
        "num_images": subset // FLAGS.samples_per_image, "samples_per_image": FLAGS.samples_per_image,
        "num_truth": FLAGS.num_truth, "seed": FLAGS.seed,
        "kl": {name: motion_metric.kl_table(truth, m["scene_fit"][:subset]) for name, m in motions.items()}}

    print(f"Latent statistics over {FLAGS.num_latent_pairs} training pairs", flush=True)
    batches = pipeline.first_batches(pipeline.SplitSource(builder, "train"), FLAGS.num_latent_pairs,
                                     predictor.config.batch_size)
    bank = compute_z_bank(predictor.inference, predictor.variables, batches, FLAGS.num_latent_pairs, step=0)
    results["table1"] = latent_stats.latent_statistics(bank.z_mean, bank.z_logvar)
    latent_stats.plot_latents({f"z over {len(bank.z_mean)} training pairs": (bank.z_mean, bank.z_logvar)},
                              os.path.join(out, "fig10_latents.png"))
    shapes_motion.plot_histograms({"truth": truth, **{name: m["scene_fit"] for name, m in motions.items()}},
                                  os.path.join(out, "fig5_histograms.png"))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps({k: results[k] for k in ("fig5_kl", "fig5_kl_flow", "table1")}, indent=2))
    print(f"Wrote {out}/results.json, fig5_histograms.png, fig10_latents.png")


if __name__ == "__main__":
    app.run(exit_on_one_line_errors(main))
