"""Shapes ablations: the λ sweep (Fig. 11) and the size of z (Fig. 12).

  python experiments/ablate_shapes.py --workdir=workdirs/shapes_ablations
  python experiments/ablate_shapes.py --study=z_size --config.num_train_steps=20000

Trains one run per setting into WORKDIR/z<Z>_lambda<λ>/ (a rerun resumes each; a run shared by both
studies is trained once), then writes WORKDIR/ablations.json and the figures:
- fig11_lambda.png: z_mean and z_logvar per dimension over the z bank's training pairs, one column per
  λ. Our λ weights the reconstruction term of Eq. 5; the paper's Fig. 11 calls its λ "the weight of the
  KL term", i.e. our 1/λ (Adam normalises the scale of the whole loss away), so the paper's
  "larger λ" is our smaller one.
- fig12_z_size.png: convergence curves (test reconstruction error and the smoothed training one) per
  size of z, labelled with the PCA components covering 95 % of z_mean's variance.
Sizes other than 'grid' (z is the motion encoder's k x k grid, as in the paper) use config.model.z_size:
linear layers map the encoder's grid to z and z to the kernel decoder's grid.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

from visual_dynamics.config import define_config_flag, parse_flags

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
GRID = "grid"
PAPER = {"fig12_pca_components_95": {"8": 3, "32": 3, "128": 3, "3200": 5}}

def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


flags.DEFINE_string("workdir", "workdirs/shapes_ablations", "Root of the runs and the results.")
flags.DEFINE_enum("study", "both", ["lambda", "z_size", "both"], "Which ablation to run.")
flags.DEFINE_list("lambdas", ["10", "100", "1000"], "λ (config.recon_weight) of the Fig. 11 runs; "
                  "they use the config's z.")
flags.DEFINE_list("z_sizes", ["8", "32", "128", GRID], "Sizes of z of the Fig. 12 runs ('grid': the "
                  "encoder's k x k grid); they use the config's λ.")
define_config_flag(os.path.join(CONFIG_DIR, "shapes.py:small"),
                   "Base config of every run; --config.KEY=VALUE overrides.")
flags.register_validator("lambdas", lambda v: all(_is_number(x) and float(x) > 0 for x in v),
                         "--lambdas takes positive numbers, e.g. 10,100,1000")
flags.register_validator("z_sizes", lambda v: all(x == GRID or (x.isdigit() and int(x) > 0) for x in v),
                         f"--z_sizes takes positive whole numbers or '{GRID}', e.g. 8,32,128,{GRID}")
FLAGS = flags.FLAGS


def run_name(z_size, recon_weight: float) -> str:
    return f"z{z_size or GRID}_lambda{recon_weight:g}"


def settings(study: str, base, lambdas: list[str], z_sizes: list[str]) -> dict[str, list]:
    """{study: [(z_size or None, λ), ...]} for the chosen studies; each varies one entry of `base`."""
    out = {}
    if study in ("lambda", "both"):
        out["lambda"] = [(base.model.z_size, float(lam)) for lam in lambdas]
    if study in ("z_size", "both"):
        out["z_size"] = [(None if z == GRID else int(z), base.recon_weight) for z in z_sizes]
    return out


def smooth(values: list[float], window: int = 10) -> np.ndarray:
    """Moving average over `window` points (shorter at the start)."""
    values = np.asarray(values, np.float64)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def plot_convergence(runs: dict[str, dict], path: str) -> None:
    """Fig. 12: test and smoothed training reconstruction error against the step, one colour per run."""
    from visual_dynamics import visualization
    from visual_dynamics.metrics_log import curve

    fig, (train_ax, test_ax) = visualization.subplots(1, 2, figsize=(11, 4))
    for label, run in runs.items():
        steps, values = curve(run["curves"], "train/recon")
        line, = train_ax.plot(steps, smooth(values), linewidth=1, label=label)
        steps, values = curve(run["curves"], "eval/recon")
        test_ax.plot(steps, values, "o-", color=line.get_color(), markersize=3, label=label)
    for ax, title in ((train_ax, "training reconstruction error (moving average)"),
                      (test_ax, "test reconstruction error")):
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.legend(fontsize=8)
    visualization.save_figure(fig, path)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from absl import logging

    from visual_dynamics import train
    from visual_dynamics.data.pipeline import DatasetNotPreparedError
    from visual_dynamics.evaluation import latent_stats
    from visual_dynamics.metrics_log import read_metrics
    from visual_dynamics.z_bank import ZBank

    logging.set_verbosity(logging.WARNING)
    base = FLAGS.config
    studies = settings(FLAGS.study, base, FLAGS.lambdas, FLAGS.z_sizes)
    todo = list(dict.fromkeys(s for runs in studies.values() for s in runs))
    runs = {}
    for i, (z_size, recon_weight) in enumerate(todo):
        name = run_name(z_size, recon_weight)
        print(f"[{i + 1}/{len(todo)}] {name}: z_size={z_size or GRID}, λ={recon_weight:g}", flush=True)
        config = base.copy_and_resolve_references()
        config.model.z_size, config.recon_weight = z_size, recon_weight
        workdir = os.path.join(FLAGS.workdir, name)
        try:
            trained = train.train_and_evaluate(config, workdir)
        except DatasetNotPreparedError as e:
            sys.exit(f"error: {e}")
        bank = ZBank.load(workdir)
        runs[(z_size, recon_weight)] = {
            "workdir": workdir, "step": trained.step, "test_recon": trained.recon,
            "test_recon_copy_input": trained.recon_zero_motion,
            "latents": latent_stats.latent_statistics(bank.z_mean, bank.z_logvar),
            "bank": bank, "curves": read_metrics(workdir)}

    results = {"paper": PAPER, "active_threshold": latent_stats.ACTIVE_THRESHOLD}
    for study, keys in studies.items():
        results[study] = [{"z_size": runs[k]["latents"]["dims"], "lambda": k[1],
                           **{f: runs[k][f] for f in ("workdir", "step", "test_recon",
                                                       "test_recon_copy_input", "latents")}}
                          for k in keys]
    if "lambda" in studies:
        latent_stats.plot_latents(
            {f"λ = {k[1]:g}: {runs[k]['latents']['active_dims']} non-zero dims, "
             f"{runs[k]['latents']['pca_components_95']} PCA comps": (runs[k]["bank"].z_mean,
                                                                    runs[k]["bank"].z_logvar)
             for k in studies["lambda"]}, os.path.join(FLAGS.workdir, "fig11_lambda.png"))
    if "z_size" in studies:
        plot_convergence(
            {f"z of {runs[k]['latents']['dims']}: {runs[k]['latents']['pca_components_95']} PCA comps":
             runs[k] for k in studies["z_size"]}, os.path.join(FLAGS.workdir, "fig12_z_size.png"))
    with open(os.path.join(FLAGS.workdir, "ablations.json"), "w") as f:
        json.dump(results, f, indent=2)
    for study in studies:
        for row in results[study]:
            print(f"{study}: z {row['z_size']}, λ {row['lambda']:g}: test recon {row['test_recon']:.4g}, "
                  f"{row['latents']['active_dims']} non-zero dims, "
                  f"{row['latents']['pca_components_95']} PCA components (95 %)")
    print(f"Wrote {FLAGS.workdir}/ablations.json, "
          + ", ".join(f for f, s in (("fig11_lambda.png", "lambda"), ("fig12_z_size.png", "z_size"))
                      if s in studies))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
