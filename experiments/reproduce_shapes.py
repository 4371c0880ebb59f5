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
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from absl import app, flags

from visual_dynamics import preemption
from visual_dynamics.atomic import atomic_path

HERE = os.path.dirname(os.path.abspath(__file__))

flags.DEFINE_string("workdir", None, "Where the two runs, results.json and results.md go.", required=True)
flags.DEFINE_enum("variant", "paper", ["paper", "tiny"],
                  "paper: the paper's network and evaluation counts; tiny: the tiny config, small counts.")
flags.DEFINE_integer("num_train_steps", None, "Training steps of each run (default: the config's, "
                     "20,000 for the paper variant).")
flags.DEFINE_string("data_dir", None, "Where the Shapes dataset is (prepared there if missing).")
flags.DEFINE_enum("side_by_side", "auto", ["auto", "yes", "no"],
                  "Train the model and the AE at the same time (auto: on a GPU or TPU, not on a CPU).")
flags.DEFINE_float("deadline_minutes", None, "Stop within this many minutes of the start: the trainings "
                   "are stopped (checkpoint saved) early enough for Fig. 5, and a later phase that cannot "
                   "finish in the time left is skipped, saying so in results.json.")
flags.DEFINE_string("out_dir", None, "Also keep every result here the moment it exists: results.json and "
                    "results.md, each model in one file (model.npz, ae.npz: float16, `Predictor.from_file`), "
                    "fig5_histograms.png, speed.json (a lent GPU machine's $OUT).")
flags.DEFINE_bool("speed", False, "Last, if time is left: the speed table (benchmarks/vs_pytorch.py, "
                  "ours, PyTorch eager and torch.compile, float32 and bfloat16, batch 32 to 512).")
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
# Minutes each later phase is given under --deadline_minutes (a phase with less time left is skipped; the
# trainings stop early enough to leave export's and Fig. 5's). The paper variant's are for one H200 and
# none is measured yet: Fig. 5's is the target of 2 minutes, the others guesses, to be replaced by the
# timings of the first GPU run.
PHASE_MINUTES = {"paper": {"export": 0.5, "fig5": 2.0, "applications": 1.0, "speed": 1.5},
                 "tiny": {"export": 0.05, "fig5": 0.3, "applications": 0.2, "speed": 0.3}}
SPEED_FLAGS = {"paper": ["--cases=paper64", "--frameworks=jax,torch,torch_compile",
                         "--dtypes=float32,bfloat16", "--batch_sizes=32,64,128,256,512"],
               "tiny": ["--cases=tiny", "--steps=1", "--repeats=1", "--warmup=1"]}


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
            env: Optional[dict] = None, stop_at: Optional[float] = None) -> bool:
    """Runs the commands at the same time, each line of output prefixed with its name, passing them the
    signals `forwarded` receives; stops at the first failure with the name of the command that failed,
    and on a signal once they have stopped. At `stop_at` (a time.time()) the commands still running get
    SIGTERM (a training run saves its checkpoint and exits with `preemption.EXIT_STOPPED`); returns
    whether that happened."""
    stop_if_signalled(forwarded, "between phases")
    processes = {name: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env, start_new_session=True)
                 for name, command in commands.items()}
    forwarded.processes[:] = processes.values()
    threads = [_stream(p, f"[{name}] " if len(commands) > 1 else "") for name, p in processes.items()]
    finished, stopped = threading.Event(), threading.Event()  # stopped: by the deadline

    def stop_at_deadline():
        if finished.wait(max(0.0, stop_at - time.time())):
            return
        for process in processes.values():
            if process.poll() is None:
                stopped.set()
                process.send_signal(signal.SIGTERM)

    if stop_at is not None:
        threading.Thread(target=stop_at_deadline, daemon=True).start()
    codes = {name: p.wait() for name, p in processes.items()}
    finished.set()
    # A run stopped by the deadline exits with EXIT_STOPPED, or dies of the signal if it came before
    # training began (nothing lost: no step had run since its last checkpoint).
    failed = [name for name, code in codes.items() if code != 0 and not (
        stopped.is_set() and code in (preemption.EXIT_STOPPED, -signal.SIGTERM))]
    for thread in threads:
        thread.join()
    stop_if_signalled(forwarded, f"{', '.join(commands)} stopped with it, a training run after saving "
                                 f"its checkpoint")
    if failed:
        sys.exit(f"error: {', '.join(failed)} failed (see its output above); rerun the same command to "
                 f"resume from what is finished")
    return stopped.is_set()


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
    """WORKDIR/results.json and results.md, rewritten whenever a phase finishes or is skipped, and copied
    into `out_dir` (if given) with every file `keep` names."""

    def __init__(self, workdir: str, out_dir: Optional[str] = None):
        self.path, self.out_dir = os.path.join(workdir, "results.json"), out_dir
        self.data = _read_json(self.path) if os.path.exists(self.path) else {"phases": {}}
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)

    def done(self, phase: str) -> bool:
        return phase in self.data["phases"]

    def finish(self, phase: str, seconds: float, final: bool = True, **values) -> None:
        """Records a phase's results; not `final` (the runs stopped before their last step): kept under
        'partial', and a rerun does the phase again."""
        self.data.setdefault("skipped", {}).pop(phase, None)
        if final:
            self.data["phases"][phase] = {"seconds": round(seconds, 1)}
            self.data.setdefault("partial", {}).pop(phase, None)
        else:
            self.data.setdefault("partial", {})[phase] = {
                "seconds": round(seconds, 1), "why": "the trainings were stopped by --deadline_minutes"}
        self.data.update(values)
        self._write()

    def skip(self, phase: str, reason: str) -> None:
        self.data.setdefault("skipped", {})[phase] = reason
        self._write()

    def keep(self, path: str) -> None:
        """Copies a result file into out_dir."""
        if self.out_dir:
            shutil.copy(path, self.out_dir)

    def _write(self) -> None:
        self.data.update(command=" ".join(sys.argv), variant=FLAGS.variant,
                         machine=_machine(), date=datetime.date.today().isoformat())
        with atomic_path(self.path) as tmp, open(tmp, "w") as f:
            json.dump(self.data, f, indent=2)
        markdown_path = os.path.join(os.path.dirname(self.path), "results.md")
        with atomic_path(markdown_path) as tmp, open(tmp, "w") as f:
            f.write(markdown(self.data))
        self.keep(self.path)
        self.keep(markdown_path)


def _machine() -> str:
    import jax

    device = jax.devices()[0]
    return f"{jax.device_count()} x {device.device_kind} ({device.platform}), {os.cpu_count()} CPU cores, " \
           f"{platform.machine()}, JAX {jax.__version__}"


def _training_summary(workdir: str) -> dict:
    """A run's newest checkpoint step and its last evaluation's step and test reconstruction error
    ({} for a run not started)."""
    from visual_dynamics import checkpointing

    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    summary = {"step": checkpointing.newest_complete_step(workdir)}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if "eval/recon" in record:
                summary.update(eval_step=record["step"], test_recon=record["eval/recon"])
    return summary


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
    lines += [f"- {phase}: skipped ({why})" for phase, why in data.get("skipped", {}).items()]
    lines += [f"- {phase}: on runs stopped before their last step ({entry['why']})"
              for phase, entry in data.get("partial", {}).items()]
    lines += [""] if data.get("skipped") or data.get("partial") else []
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


class Clock:
    """Time left before --deadline_minutes (infinite without one)."""

    def __init__(self, minutes: Optional[float]):
        self.start = time.time()
        self.end = None if minutes is None else self.start + 60 * minutes

    def left(self) -> float:
        """Minutes left."""
        return float("inf") if self.end is None else (self.end - time.time()) / 60

    def stop_at(self, reserve_minutes: float) -> Optional[float]:
        """The time.time() that leaves `reserve_minutes` before the deadline (None: no deadline)."""
        return None if self.end is None else self.end - 60 * reserve_minutes


def _finished_runs(runs: dict[str, str]) -> dict[str, str]:
    """The runs that hold a z bank of their newest checkpoint (finished, or stopped and finished
    at that step)."""
    from visual_dynamics import checkpointing
    from visual_dynamics.z_bank import Z_BANK_FILE, ZBank

    done = {}
    for name, path in runs.items():
        step = checkpointing.newest_complete_step(path)
        if step is not None and os.path.exists(os.path.join(path, Z_BANK_FILE)) \
                and ZBank.load(path).step == step:
            done[name] = path
    return done


def train_phase(train: dict[str, list[str]], runs: dict[str, str], side_by_side: bool,
                forwarded: preemption.Forwarded, stop_at: Optional[float]) -> bool:
    """Trains the runs; at `stop_at` they save their step and stop, and each is finished at the step it
    reached (its z bank written). Returns whether every run reached its last step."""
    from visual_dynamics import checkpointing

    if side_by_side:  # two processes on one accelerator: neither may take most of its memory
        stopped = run_all(train, forwarded, env={**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"},
                          stop_at=stop_at)
    else:
        stopped = False
        for name, command in train.items():
            if stop_at is not None and time.time() >= stop_at:
                print(f"{name}: not started, the time for training is over", flush=True)
                stopped = True
                continue
            stopped = run_all({name: command}, forwarded, stop_at=stop_at) or stopped
    if stopped:  # finish each stopped run at its saved step: nothing more trained, its z bank written
        finished = _finished_runs(runs)
        for name, path in runs.items():
            step = checkpointing.newest_complete_step(path)
            if step is not None and name not in finished:
                run_all({name: train[name] + [f"--config.num_train_steps={step}"]}, forwarded)
    return not stopped


def export_runs(runs: dict[str, str], out_dir: str) -> None:
    """Each finished run into out_dir/<name>.npz (one file, float16)."""
    for name, path in runs.items():
        subprocess.run([sys.executable, os.path.join(HERE, "export_pretrained.py"), f"--workdir={path}",
                        f"--file={os.path.join(out_dir, name + '.npz')}"], check=True)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import jax

    workdir = os.path.abspath(FLAGS.workdir)
    os.makedirs(workdir, exist_ok=True)
    results = Results(workdir, FLAGS.out_dir)
    runs = {"model": os.path.join(workdir, "model"), "ae": os.path.join(workdir, "ae")}
    counts, minutes = COUNTS[FLAGS.variant], PHASE_MINUTES[FLAGS.variant]
    clock = Clock(FLAGS.deadline_minutes)
    side_by_side = FLAGS.side_by_side == "yes" or (FLAGS.side_by_side == "auto"
                                                    and jax.default_backend() in ("gpu", "tpu"))
    phases = ["train", "fig5", "applications"] + (["speed"] if FLAGS.speed else [])

    def start(phase: str, text: str) -> Optional[float]:
        """The phase's start time, or None when it is done or cannot finish in the time left."""
        if results.done(phase):
            return None
        if clock.left() < minutes.get(phase, 0.0):
            results.skip(phase, f"{clock.left():.1f} min left of --deadline_minutes="
                                f"{FLAGS.deadline_minutes:g}, {minutes[phase]:g} needed")
            print(f"\n=== phase {phase}: skipped, {clock.left():.1f} min left ===", flush=True)
            return None
        print(f"\n=== phase {phases.index(phase) + 1}/{len(phases)}: {text} (elapsed "
              f"{(time.time() - clock.start) / 60:.1f} min) ===", flush=True)
        return time.time()

    train = {name: [sys.executable, os.path.join(HERE, "train.py"), *_config_flags(name == "model"),
                    f"--workdir={path}"] for name, path in runs.items()}
    with preemption.forward_signals() as forwarded:
        trained = results.done("train")
        started = start("train", "train the model and the AE baseline " + (
            "side by side on the accelerator" if side_by_side else "one after the other")
            + "; each run prints its steps/s and ETA")
        if started is not None:
            reserve = minutes["export"] + minutes["fig5"]  # stop training early enough for Fig. 5
            trained = train_phase(train, runs, side_by_side, forwarded, clock.stop_at(reserve))
            results.finish("train", time.time() - started, final=trained,
                           training={name: summary for name, path in runs.items()
                                     if (summary := _training_summary(path))})
        finished = _finished_runs(runs)
        if FLAGS.out_dir:
            export_runs(finished, FLAGS.out_dir)
        if "model" not in finished:
            print("The model has no finished run to evaluate; rerun to go on training.", flush=True)
            return
        started = start("fig5", "Fig. 5 and Table 1 (evaluate_shapes.py; progress as it goes)")
        if started is not None:
            baseline = [f"--ae_workdir={runs['ae']}"] if "ae" in finished else []
            run_all({"fig5": [sys.executable, os.path.join(HERE, "evaluate_shapes.py"),
                              f"--workdir={runs['model']}", *baseline,
                              *[f"--{k}={v}" for k, v in counts["shapes"].items()]]}, forwarded)
            evaluation_dir = os.path.join(runs["model"], "shapes_eval")
            evaluation = _read_json(os.path.join(evaluation_dir, "results.json"))
            results.keep(os.path.join(evaluation_dir, "fig5_histograms.png"))
            results.finish("fig5", time.time() - started, final=trained, fig5=fig5_rows(evaluation),
                           fig5_flow=fig5_rows(evaluation, "flow"), table1=evaluation["table1"],
                           fig5_subset=evaluation["fig5_kl_subset"],
                           fig5_metric_check=evaluation["metric_check"])
        started = start("applications", "the applications (evaluate_applications.py) for the model and "
                                         "for the AE")
        if started is not None:
            outputs = {name: os.path.join(workdir, f"applications_{name}.json") for name in finished}
            flags_ = [f"--{k}={v}" for k, v in counts["applications"].items()]
            for name, path in finished.items():
                baseline = [f"--ae_workdir={runs['ae']}"] if name == "model" and "ae" in finished else []
                run_all({name: [sys.executable, os.path.join(HERE, "evaluate_applications.py"),
                                f"--workdir={path}", *baseline, *flags_, f"--output={outputs[name]}"]},
                        forwarded)
            results.finish("applications", time.time() - started, final=trained,
                           applications={name: _read_json(path) for name, path in outputs.items()})
        started = start("speed", "the speed table (benchmarks/vs_pytorch.py)") if FLAGS.speed else None
        if started is not None:
            speed = os.path.join(workdir, "speed.json")
            benchmark = os.path.join(os.path.dirname(HERE), "benchmarks", "vs_pytorch.py")
            run_all({"speed": [sys.executable, benchmark, *SPEED_FLAGS[FLAGS.variant], f"--json={speed}"]},
                    forwarded)
            results.keep(speed)
            results.finish("speed", time.time() - started, speed=_read_json(speed))
    print(f"\nAll phases done in {(time.time() - clock.start) / 60:.1f} min this time: {results.path} and "
          f"{os.path.join(workdir, 'results.md')}", flush=True)


if __name__ == "__main__":
    app.run(main)
