"""The paper's Shapes experiment at full size, in one resumable command.

  python experiments/reproduce_shapes.py --workdir=workdirs/reproduce_shapes          # the paper's sizes
  python experiments/reproduce_shapes.py --workdir=/tmp/rs --variant=tiny --num_train_steps=100  # smoke run

Phases, each skipped when a rerun finds it finished (a training phase resumes from its checkpoint):
  1. train the model (experiments/configs/shapes.py: 20,000 steps of batch 32) in WORKDIR/model and
     the AE baseline (the same config with model.variational=False) in WORKDIR/ae: side by side on a
     GPU or TPU, sharing the accelerator; one after the other on a CPU;
  2. Fig. 5 and Table 1 (experiments/evaluate_shapes.py): the model, the AE sampled from its bank of
     training z_means and from the prior, the Flow baseline, and the metric's floor;
  3. the applications (experiments/evaluate_applications.py): analogies and best-of-N, for the model
     (with the AE and Flow baselines beside it) and for the AE.
After every phase WORKDIR/results.json and WORKDIR/results.md (the rows as they go in
docs/results.md, the paper's beside ours) are rewritten; results.json holds Fig. 5 as
fig5.<method>.<column>, method one of model, ae, ae_prior, flow, floor, and column one of circles,
squares, triangles, joint (circle dy against triangle dy), under the scene-fit motion measure, and the
same under the flow measure of earlier results as fig5_flow. `--variant=tiny` runs the same path on
the tiny config with small evaluation counts.

SIGTERM or Ctrl-C is passed on to the phase's processes (a training run saves the checkpoint of the step
it is on); the command then exits with status 75, and a rerun resumes.
"""

import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from absl import app, flags

from visual_dynamics import preemption

HERE = os.path.dirname(os.path.abspath(__file__))

flags.DEFINE_string("workdir", None, "Where the two runs, results.json and results.md go.", required=True)
flags.DEFINE_enum("variant", "paper", ["paper", "tiny"],
                  "paper: the paper's network and evaluation counts; tiny: the tiny config, small counts.")
flags.DEFINE_integer("num_train_steps", None, "Training steps of each run (default: the config's, "
                     "20,000 for the paper variant).")
flags.DEFINE_string("data_dir", None, "Where the Shapes dataset is (prepared there if missing).")
flags.DEFINE_enum("side_by_side", "auto", ["auto", "yes", "no"],
                  "Train the model and the AE at the same time (auto: on a GPU or TPU, not on a CPU).")
FLAGS = flags.FLAGS

# Evaluation counts: the paper's (Fig. 5: 50,000 samples and 50,000 true pairs) and the smoke run's.
COUNTS = {
    "paper": {"shapes": {}, "applications": {}},
    "tiny": {"shapes": {"num_test_images": 20, "samples_per_image": 10, "num_truth": 2000,
                        "num_check": 200, "num_flow_train": 100, "num_latent_pairs": 64},
             "applications": {"num_pairs": 10, "num_samples": 10, "num_analogies": 20,
                              "num_flow_train": 100}},
}
PAPER_FIG5 = {"flow": (6.77, 7.07, 6.07, 8.42), "ae": (8.76, 12.37, 10.36, 10.58),
              "ours": (1.70, 2.48, 1.14, 2.46)}
COLUMNS = ("circles", "squares", "triangles", "joint")  # joint: (circle dy, triangle dy)


def _config_flags(variational: bool) -> list[str]:
    config = os.path.join(HERE, "configs", "shapes.py") + (":tiny" if FLAGS.variant == "tiny" else "")
    args = [f"--config={config}"]
    if FLAGS.num_train_steps is not None:
        args.append(f"--config.num_train_steps={FLAGS.num_train_steps}")
    if FLAGS.data_dir:
        args.append(f"--config.data_dir={FLAGS.data_dir}")
    if not variational:
        args.append("--config.model.variational=False")
    return args


def _stream(process: subprocess.Popen, prefix: str) -> threading.Thread:
    def copy():
        for line in process.stdout:
            print(f"{prefix}{line}", end="", flush=True)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def run_all(commands: dict[str, list[str]], forwarded: preemption.Forwarded,
            env: Optional[dict] = None) -> None:
    """Runs the commands at the same time, each line of output prefixed with its name, passing them the
    signals `forwarded` receives; stops at the first failure with the name of the command that failed,
    and on a signal once they have stopped."""
    stop_if_signalled(forwarded, "between phases")
    processes = {name: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env, start_new_session=True)
                 for name, command in commands.items()}
    forwarded.processes[:] = processes.values()
    threads = [_stream(p, f"[{name}] " if len(commands) > 1 else "") for name, p in processes.items()]
    failed = [name for name, p in processes.items() if p.wait() != 0]
    for thread in threads:
        thread.join()
    stop_if_signalled(forwarded, f"{', '.join(commands)} stopped with it, a training run after saving "
                                 f"its checkpoint")
    if failed:
        sys.exit(f"error: {', '.join(failed)} failed (see its output above); rerun the same command to "
                 f"resume from what is finished")


def stop_if_signalled(forwarded: preemption.Forwarded, what: str) -> None:
    """Exits with `preemption.EXIT_STOPPED` and one line if a signal came."""
    if forwarded.signum:
        print(f"stopped by {signal.Signals(forwarded.signum).name} ({what}); rerun the same command to "
              f"resume", flush=True)
        sys.exit(preemption.EXIT_STOPPED)


def _read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


class Results:
    """WORKDIR/results.json, rewritten (with results.md) whenever a phase finishes."""

    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, "results.json")
        self.data = _read_json(self.path) if os.path.exists(self.path) else {"phases": {}}

    def done(self, phase: str) -> bool:
        return phase in self.data["phases"]

    def finish(self, phase: str, seconds: float, **values) -> None:
        self.data["phases"][phase] = {"seconds": round(seconds, 1)}
        self.data.update(values)
        self.data.update(command=" ".join(sys.argv), variant=FLAGS.variant,
                         machine=_machine(), date=datetime.date.today().isoformat())
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2)
        os.replace(tmp, self.path)
        with open(os.path.join(os.path.dirname(self.path), "results.md"), "w") as f:
            f.write(markdown(self.data))


def _machine() -> str:
    import jax

    device = jax.devices()[0]
    return f"{jax.device_count()} x {device.device_kind} ({device.platform}), {os.cpu_count()} CPU cores, " \
           f"{platform.machine()}, JAX {jax.__version__}"


def _training_summary(workdir: str) -> dict:
    """The last evaluation of a finished run: its step and test reconstruction error."""
    last = {}
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if "eval/recon" in record:
                last = {"step": record["step"], "test_recon": record["eval/recon"]}
    return last


def fig5_rows(evaluation: dict, measure: str = "scene_fit") -> dict:
    """evaluate_shapes.py's results.json -> {method: {column: KL}} under this command's method names,
    for one motion measure ('scene_fit' or 'flow')."""
    table, check = ("fig5_kl", "scene_fit") if measure == "scene_fit" else ("fig5_kl_flow", "flow_median")
    kl = dict(evaluation[table], floor=evaluation["metric_check"][check]["kl_measured_truth"])
    names = {"model": "ours", "ae": "ae", "ae_prior": "ae_prior", "flow": "flow", "floor": "floor"}
    return {ours: {column: kl[theirs][column if column != "joint" else "circles_triangles"]
                   for column in COLUMNS}
            for ours, theirs in names.items() if theirs in kl}


def markdown(data: dict) -> str:
    """The results as the tables of docs/results.md."""
    lines = [f"# Shapes at `{data['variant']}` size: `{data['command']}`", "",
             f"{data['machine']}, {data['date']}.", ""]
    if "training" in data:
        lines += ["| run | steps | test reconstruction error |", "|---|---|---|"]
        lines += [f"| {name} | {t.get('step', '—')} | {t.get('test_recon', float('nan')):.2f} |"
                  for name, t in data["training"].items()] + [""]
    measures = (("fig5", "the scene-fit measure"), ("fig5_flow", "the flow measure of earlier results"))
    for key, measure in measures:
        if key not in data:
            continue
        lines += [f"Fig. 5, KL(p_gt ‖ p_pred) under {measure} (lower is better):", "",
                  "| method | circles | squares | triangles | circles–triangles |", "|---|---|---|---|---|"]
        for name, values in PAPER_FIG5.items():
            lines.append(f"| paper: {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
        labels = {"model": "ours: the model", "ae": "ours: AE, z from its bank",
                  "ae_prior": "ours: AE, z ~ N(0, I)", "flow": "ours: Flow baseline",
                  "floor": "metric floor (true pairs through the same measure)"}
        for name, label in labels.items():
            if name in data[key]:
                values = " | ".join(f"{data[key][name][c]:.2f}" for c in COLUMNS)
                lines.append(f"| {label} | {values} |")
        lines.append("")
    if "table1" in data:
        t = data["table1"]
        lines += ["Table 1:", "", "| | non-zero dimensions of z_mean | PCA components covering 95 % |",
                  "|---|---|---|", "| paper (z of 3,200) | 299 | 5 |",
                  f"| ours (z of {t['dims']:,}) | {t['active_dims']} | {t['pca_components_95']} |", ""]
    if "applications" in data:
        lines += ["Applications:", "",
                  "| run | analogy MSE (ours / copy / Add) | PSNR best of 1 / 10 / 100 |", "|---|---|---|"]
        for name, result in data["applications"].items():
            mse = result["analogy"].get("mse", {})
            quality = result["sample_quality"]["ours"]
            psnr = " / ".join(f"{quality[k]:.2f}" for k in sorted(quality) if k.startswith("psnr@"))
            lines.append(f"| {name} | " + " / ".join(f"{v:.4f}" for v in mse.values()) + f" | {psnr} |")
        lines.append("")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import jax

    workdir = os.path.abspath(FLAGS.workdir)
    os.makedirs(workdir, exist_ok=True)
    results = Results(workdir)
    runs = {"model": os.path.join(workdir, "model"), "ae": os.path.join(workdir, "ae")}
    counts = COUNTS[FLAGS.variant]
    side_by_side = FLAGS.side_by_side == "yes" or (FLAGS.side_by_side == "auto"
                                                    and jax.default_backend() in ("gpu", "tpu"))
    phases = ["train", "fig5", "applications"]
    start_all = time.time()

    def header(index: int, text: str) -> float:
        elapsed = time.time() - start_all
        print(f"\n=== phase {index}/{len(phases)}: {text} (elapsed {elapsed / 60:.1f} min) ===", flush=True)
        return time.time()

    train = {name: [sys.executable, os.path.join(HERE, "train.py"), *_config_flags(name == "model"),
                    f"--workdir={path}"] for name, path in runs.items()}
    with preemption.forward_signals() as forwarded:
        if not results.done("train"):
            order = "side by side on the accelerator" if side_by_side else "one after the other"
            started = header(1, f"train the model and the AE baseline {order}; each run prints its steps/s "
                                f"and ETA")
            if side_by_side:  # two processes on one accelerator: neither may take most of its memory
                run_all(train, forwarded, env={**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
            else:
                for name, command in train.items():
                    run_all({name: command}, forwarded)
            results.finish("train", time.time() - started,
                           training={name: _training_summary(path) for name, path in runs.items()})
        if not results.done("fig5"):
            started = header(2, "Fig. 5 and Table 1 (evaluate_shapes.py; progress as it goes)")
            run_all({"fig5": [sys.executable, os.path.join(HERE, "evaluate_shapes.py"),
                              f"--workdir={runs['model']}", f"--ae_workdir={runs['ae']}",
                              *[f"--{k}={v}" for k, v in counts["shapes"].items()]]}, forwarded)
            evaluation = _read_json(os.path.join(runs["model"], "shapes_eval", "results.json"))
            results.finish("fig5", time.time() - started, fig5=fig5_rows(evaluation),
                           fig5_flow=fig5_rows(evaluation, "flow"), table1=evaluation["table1"],
                           fig5_metric_check=evaluation["metric_check"])
        if not results.done("applications"):
            started = header(3, "the applications (evaluate_applications.py) for the model and for the AE")
            outputs = {name: os.path.join(workdir, f"applications_{name}.json") for name in runs}
            flags_ = [f"--{k}={v}" for k, v in counts["applications"].items()]
            for name, path in runs.items():
                baseline = [f"--ae_workdir={runs['ae']}"] if name == "model" else []
                run_all({name: [sys.executable, os.path.join(HERE, "evaluate_applications.py"),
                                f"--workdir={path}", *baseline, *flags_, f"--output={outputs[name]}"]},
                        forwarded)
            results.finish("applications", time.time() - started,
                           applications={name: _read_json(path) for name, path in outputs.items()})
    print(f"\nAll phases done in {(time.time() - start_all) / 60:.1f} min this time: {results.path} and "
          f"{os.path.join(workdir, 'results.md')}", flush=True)


if __name__ == "__main__":
    app.run(main)
