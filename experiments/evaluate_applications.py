"""Analogy accuracy and sample quality of a trained run, against baselines; writes a JSON.

  python experiments/evaluate_applications.py --workdir=workdirs/shapes_small
  python experiments/evaluate_applications.py --workdir=workdirs/shapes_small --ae_workdir=workdirs/shapes_ae

- Analogies with ground truth (§6.4): Shapes (the generator applies the source's motion to a target
  scene) and Sprites (Reed et al.'s Table 2 protocol); MSE of our transfer vs copying the target and
  Reed et al.'s Add baseline. Other datasets have no analogy ground truth and skip this part.
- Best-of-N PSNR / SSIM (N = 1, 10, 100) and diversity of samples for the first --num_pairs test pairs,
  for the run, for copying the input, for the Flow baseline of Fig. 5 (the flow of one of the 10
  nearest of --num_flow_train training images transferred to the input), and for the AE baseline
  (`--config.model.variational=False` trained in --ae_workdir) when given.
Output: WORKDIR/applications.json (or --output) and a table on stdout.
"""

import json
import os
import sys

from absl import app, flags

from visual_dynamics.errors import exit_on_one_line_errors

flags.DEFINE_string("workdir", None, "A finished training run.", required=True)
flags.DEFINE_string("ae_workdir", None, "A finished run of the same config with "
                    "--config.model.variational=False (the paper's AE baseline).")
flags.DEFINE_integer("num_pairs", 200, "Test pairs for the sample-quality scores.")
flags.DEFINE_integer("num_samples", 100, "Samples per test pair (best-of-N needs N <= this).")
flags.DEFINE_integer("num_analogies", 500, "Shapes analogies to score (Sprites: all test ones).")
flags.DEFINE_integer("num_flow_train", 10_000, "Training pairs the Flow baseline retrieves from "
                     "(0: no Flow baseline).")
flags.DEFINE_string("output", None, "Default: WORKDIR/applications.json.")
FLAGS = flags.FLAGS


def analogy_results(predictor, builder) -> dict:
    from visual_dynamics.data import pipeline, shapes
    from visual_dynamics.evaluation import analogy

    dataset = predictor.config.dataset
    if dataset in ("shapes", "shapes_texture"):
        config = builder.builder_config
        spec = shapes.ShapesSpec(image_size=config.image_size, textured=dataset == "shapes_texture")
        predicted = analogy.predictions(predictor, analogy.shapes_analogies(spec, config.seed,
                                                                           FLAGS.num_analogies))
        return {"mse": analogy.mean_squared_errors(predicted), "count": len(predicted["truth"])}
    if dataset in analogy.SPRITES_DATASETS:
        source = pipeline.SplitSource(builder, "test")
        return analogy.sprites_results(predictor, (source[i] for i in range(len(source))))
    return {"skipped": f"no analogy ground truth for dataset {dataset!r}"}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import numpy as np
    from absl import logging

    from visual_dynamics.data import pipeline
    from visual_dynamics.evaluation import flow_baseline, sample_quality
    from visual_dynamics.evaluation.runs import LOAD_ERRORS, load_run_and_dataset

    logging.set_verbosity(logging.WARNING)
    try:
        predictor, ae, builder = load_run_and_dataset(FLAGS.workdir, FLAGS.ae_workdir)
    except LOAD_ERRORS as e:
        sys.exit(f"error: {e}")

    results = {"workdir": FLAGS.workdir, "dataset": predictor.config.dataset}
    print("Analogies ...", flush=True)
    results["analogy"] = analogy_results(predictor, builder)
    pairs = pipeline.first_examples(pipeline.SplitSource(builder, "test"), FLAGS.num_pairs)
    images, next_images = pairs["image"], pairs["next_image"]
    scores = {}
    for name, model in (("ours", predictor), ("ae", ae)):
        if model is not None:
            print(f"Sampling {FLAGS.num_samples} next frames for {len(images)} test pairs ({name}) ...",
                  flush=True)
            scores[name] = sample_quality.model_scores(model, images, next_images, FLAGS.num_samples,
                                                       ns=_ns())
    if FLAGS.num_flow_train:
        print(f"Flow baseline: flows of {FLAGS.num_flow_train} training pairs ...", flush=True)
        train_pairs = pipeline.first_examples(pipeline.SplitSource(builder, "train"), FLAGS.num_flow_train)
        baseline = flow_baseline.FlowBaseline(train_pairs["image"], train_pairs["next_image"])
        frames = baseline.sample(images, FLAGS.num_samples, np.random.default_rng(0))
        scores["flow"] = sample_quality.frame_scores(frames, next_images, predictor.image_size, ns=_ns())
    scores["copy"] = sample_quality.copy_scores(images, next_images, predictor.image_size, ns=_ns())
    results["sample_quality"] = dict(scores, num_pairs=len(images), num_samples=FLAGS.num_samples)

    output = FLAGS.output or os.path.join(FLAGS.workdir, "applications.json")
    with open(output, "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    print(f"Wrote {output}")


def _ns() -> tuple:
    """The N of best-of-N that --num_samples allows."""
    from visual_dynamics.evaluation.sample_quality import NS
    return tuple(n for n in NS if n <= FLAGS.num_samples)


if __name__ == "__main__":
    app.run(exit_on_one_line_errors(main))
