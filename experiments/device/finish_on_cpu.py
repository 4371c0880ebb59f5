"""Back on the CPU: ships the model of a GPU run's returned folder, re-checks it, writes the docs' rows.

  python experiments/device/finish_on_cpu.py --returned=RETURNED      # the $OUT of shapes_on_gpu.sh

RETURNED holds what `bash experiments/device/shapes_on_gpu.sh "$OUT"` left in $OUT (results.json,
model.npz, ...). This command
1. ships RETURNED/model.npz as visual_dynamics/pretrained/NAME/ (or --output_dir): config.json, the
   float16 variables in files under 5 MiB, the z bank, README.md with the run's numbers and
   example_input.png, each file under 5 MiB and 16 MiB in all (`Predictor.from_pretrained(NAME)`);
2. re-checks the shipped model: its samples of the first test images that the GPU run scored on their
   own (results.json's fig5_subset), measured the same way on this machine, must give Fig. 5's
   scene-fit KLs within --tolerance of the GPU run's;
3. rewrites the blocks between `<!-- gpu_run:results -->` and `<!-- /gpu_run:results -->` in
   DOCS/results.md and `<!-- gpu_run:performance -->` in DOCS/performance.md with the run's tables, its
   machine and date.
A failed re-check stops before the docs are written (the shipped folder stays, to be looked at).
"""

import json
import os
import re
import sys
import zipfile

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_FILE_BYTES, MAX_TOTAL_BYTES = 5 * 2 ** 20, 16 * 2 ** 20

flags.DEFINE_string("returned", None, "The folder that came back from the GPU run ($OUT).", required=True)
flags.DEFINE_string("name", "shapes_paper", "Name of the shipped model.")
flags.DEFINE_string("output_dir", None, "Default: visual_dynamics/pretrained/NAME.")
flags.DEFINE_string("docs_dir", os.path.join(ROOT, "docs"), "Where results.md and performance.md are.")
flags.DEFINE_float("tolerance", 0.25, "Largest difference of a re-checked KL from the GPU run's.")
FLAGS = flags.FLAGS


def read_returned(returned: str) -> tuple[dict, str]:
    """RETURNED/results.json, checked to hold a finished Fig. 5 and its model, and the tables of
    RETURNED/results.md (without its title and machine line).

    Raises:
      ValueError: a file or a phase is missing, naming it.
    """
    paths = [os.path.join(returned, name) for name in ("results.json", "results.md")]
    for path in paths:
        if not os.path.exists(path):
            raise ValueError(f"{path} is missing: --returned must be the $OUT folder of shapes_on_gpu.sh")
    with open(paths[0]) as f:
        results = json.load(f)
    with open(paths[1]) as f:
        tables = f.read().split("\n", 3)[3].lstrip("\n")
    if "fig5_subset" not in results:
        why = results.get("skipped", {}).get("fig5", "it did not run")
        raise ValueError(f"the GPU run has no Fig. 5 ({why}); rerun shapes_on_gpu.sh there, it resumes")
    if not os.path.exists(os.path.join(returned, "model.npz")):
        raise ValueError(f"{returned}/model.npz is missing: the model did not come back")
    return results, tables


def generated_test_pairs(config, count: int) -> dict:
    """The first `count` pairs of the model's Shapes test split, regenerated (no dataset needed)."""
    from tfds_builders.shapes.shapes_dataset_builder import standard_configs
    from visual_dynamics.data import shapes
    from visual_dynamics.evaluation import shapes_motion

    builder_config = {c.name: c for c in standard_configs()}[config.builder_config]
    spec = shapes.ShapesSpec(image_size=builder_config.image_size)
    return shapes_motion.generated_pairs(spec, builder_config.seed, "test", count)


def recheck(predictor, subset: dict) -> dict:
    """Fig. 5's scene-fit KLs of `predictor` on the GPU run's subset, sampled and scored as there."""
    from visual_dynamics.data import shapes
    from visual_dynamics.evaluation import motion_metric, shapes_motion

    pairs = generated_test_pairs(predictor.config, subset["num_images"])
    rng = np.random.default_rng(subset["seed"])  # evaluate_shapes.py's first draws: the truth
    truth = shapes_motion.truth_motions(subset["num_truth"], shapes.ShapesSpec().max_displacement, rng)
    scenes = {key: pairs[key] for key in shapes_motion.SCENE_KEYS}
    motions = shapes_motion.model_motions(predictor, pairs["image"], scenes, subset["samples_per_image"],
                                          subset["seed"], measures=("scene_fit",))["scene_fit"]
    return motion_metric.kl_table(truth, motions)


def speed_table(speed: dict) -> str:
    """benchmarks/vs_pytorch.py's JSON as a table: samples/s, ours / this, fraction of the matmul rate."""
    ours = {(r["case"], r["dtype"], r["batch_size"]): r for r in speed["rows"] if r["framework"] == "jax"}
    lines = ["| case | framework | dtype | batch | samples/s | ours / this | of matmul | peak MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in speed["rows"]:
        base = ours.get((r["case"], r["dtype"], r["batch_size"]))
        ratio = f"{base['samples_per_s'] / r['samples_per_s']:.2f}" if base else "—"
        tflops = base["flops_per_sample"] * r["samples_per_s"] / 1e12 if base else None
        fraction = f"{tflops / speed['matmul_tflops'][r['dtype']]:.1%}" if base else "—"
        lines.append(f"| {r['case']} | {r['framework']} | {r['dtype']} | {r['batch_size']} | "
                     f"{r['samples_per_s']:,.0f} | {ratio} | {fraction} | {r['peak_mib']:,.0f} |")
    rates = ", ".join(f"{d} {t:.1f} TFLOP/s" for d, t in speed["matmul_tflops"].items())
    return "\n".join(lines) + f"\n\nDense 4096³ matmul on the same device: {rates}.\n"


def replace_block(path: str, name: str, text: str) -> None:
    """Replaces what stands between `<!-- gpu_run:NAME -->` and `<!-- /gpu_run:NAME -->` in `path`.

    Raises:
      ValueError: the markers are not there.
    """
    with open(path) as f:
        page = f.read()
    pattern = re.compile(rf"(<!-- gpu_run:{name} -->\n).*?(<!-- /gpu_run:{name} -->)", re.S)
    if not pattern.search(page):
        raise ValueError(f"{path} has no <!-- gpu_run:{name} --> ... <!-- /gpu_run:{name} --> block")
    with open(path, "w") as f:
        f.write(pattern.sub(lambda m: m.group(1) + text + m.group(2), page))


def results_block(results: dict, markdown_tables: str, name: str, checked: dict, pairs: int) -> str:
    subset = results["fig5_subset"]
    gpu = subset["kl"]["ours"]
    columns = ("circles", "squares", "triangles", "circles_triangles")
    return (f"Measured by `bash experiments/device/shapes_on_gpu.sh \"$OUT\"` on {results['machine']}, "
            f"{results['date']}, and shipped as `{name}` by `python experiments/device/finish_on_cpu.py "
            f"--returned=OUT`:\n\n{markdown_tables}\n"
            f"Re-checked on the CPU: the shipped model (float16 variables, a z bank of {pairs} pairs) on the "
            f"first {subset['num_images']} test images, {subset['samples_per_image']} samples each, scores "
            + " / ".join(f"{checked[c]:.2f}" for c in columns) + " against the GPU run's "
            + " / ".join(f"{gpu[c]:.2f}" for c in columns) + " on the same images.\n")


def performance_block(results: dict) -> str:
    train, steps = results["phases"].get("train", {}), results.get("training", {}).get("model", {})
    lines = [f"Measured by `bash experiments/device/shapes_on_gpu.sh \"$OUT\"` on {results['machine']}, "
             f"{results['date']}."]
    if train:
        lines += ["", f"Both trainings ({steps.get('step', '?')} steps of the model, side by side with the "
                      f"AE, evaluations and checkpoints included): {train['seconds'] / 60:.1f} min. "
                      f"Fig. 5 at the paper's counts: {results['phases']['fig5']['seconds'] / 60:.1f} min."]
    if "speed" in results:
        lines += ["", "`python benchmarks/vs_pytorch.py` (the speed phase):", "",
                  speed_table(results["speed"])]
    return "\n".join(lines) + "\n"


def model_readme(results: dict, name: str, markdown_tables: str, pairs: int, parameters: int) -> str:
    steps = results.get("training", {}).get("model", {}).get("step", "?")
    return (f"# `{name}`: the paper's network trained on Shapes on one GPU\n\n"
            f"```python\nfrom visual_dynamics.predictor import Predictor\n"
            f"predictor = Predictor.from_pretrained(\"{name}\")\n```\n\n"
            f"**What it is.** The `shapes` config at the `{results['variant']}` size "
            f"({parameters:,} parameters), trained for {steps} steps on the generated Shapes dataset of §5.1 "
            f"by `bash experiments/device/shapes_on_gpu.sh \"$OUT\"` on {results['machine']}, "
            f"{results['date']}; shipped by `python experiments/device/finish_on_cpu.py --returned=OUT`. "
            f"The files: `config.json` (the run's config), `variables*.npz` (parameters and BatchNorm "
            f"statistics, float16, in files under 5 MiB), `z_bank.npz` (the first {pairs} pairs of the run's "
            f"bank, float16), `example_input.png` (a generated test image).\n\n"
            f"**What it scores** (the run's own results; Fig. 5 used the run's whole bank):\n\n"
            f"{markdown_tables}")


def write_example_input(config, directory: str) -> None:
    from PIL import Image

    image = generated_test_pairs(config, 1)["image"][0]
    Image.fromarray(image).save(os.path.join(directory, "example_input.png"))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import jax
    from absl import logging

    from visual_dynamics import pretrained
    from visual_dynamics.predictor import Predictor

    logging.set_verbosity(logging.WARNING)
    try:
        results, tables = read_returned(FLAGS.returned)
        config, variables, bank = pretrained.load_file(os.path.join(FLAGS.returned, "model.npz"))
        out = FLAGS.output_dir or os.path.join(pretrained.ROOT, FLAGS.name)
        pretrained.export(config, variables, bank, out, dtype=np.float16)
    except zipfile.BadZipFile as e:
        sys.exit(f"error: {FLAGS.returned}/model.npz is not a complete export ({e}); copy it back again")
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    parameters = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(variables["params"]))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(model_readme(results, FLAGS.name, tables, len(bank.z_mean), parameters))
    write_example_input(config, out)
    sizes = {n: os.path.getsize(os.path.join(out, n)) for n in os.listdir(out)}
    too_big = [n for n, size in sizes.items() if size >= MAX_FILE_BYTES]
    if too_big or sum(sizes.values()) > MAX_TOTAL_BYTES:
        sys.exit(f"error: {out} holds {sum(sizes.values()) / 2 ** 20:.1f} MiB, files over 5 MiB: {too_big}; "
                 f"a shipped model stays under 5 MiB a file and 16 MiB in all")
    print(f"Shipped {out}: {', '.join(sorted(sizes))} ({sum(sizes.values()) / 2 ** 20:.1f} MiB)", flush=True)

    subset = results["fig5_subset"]
    print(f"Re-check: {subset['samples_per_image']} samples for each of the first {subset['num_images']} "
          f"test images", flush=True)
    checked = recheck(Predictor(*pretrained.load_folder(out)), subset)
    differences = {c: abs(checked[c] - subset["kl"]["ours"][c]) for c in checked}
    print("  here / GPU run: " + ", ".join(f"{c} {checked[c]:.3f} / {subset['kl']['ours'][c]:.3f}"
                                            for c in checked), flush=True)
    if max(differences.values()) > FLAGS.tolerance:
        sys.exit(f"error: the shipped model's KLs differ from the GPU run's by up to "
                 f"{max(differences.values()):.2f} (more than --tolerance={FLAGS.tolerance:g}); the docs are "
                 f"left as they were")
    try:
        replace_block(os.path.join(FLAGS.docs_dir, "results.md"), "results",
                      results_block(results, tables, FLAGS.name, checked, len(bank.z_mean)))
        replace_block(os.path.join(FLAGS.docs_dir, "performance.md"), "performance",
                      performance_block(results))
    except (ValueError, OSError) as e:
        sys.exit(f"error: {e}")
    print(f"Wrote the GPU run's rows into {FLAGS.docs_dir}/results.md and performance.md")


if __name__ == "__main__":
    app.run(main)
