"""The device script (experiments/device/shapes_on_gpu.sh, which runs experiments/reproduce_shapes.py)
rehearsed on the CPU with the tiny variant: stopped by SIGTERM and resumed, every phase's results in a
fake $OUT within the limits of what comes back from a lent machine, and a deadline hit mid-run that
still leaves every finished phase's files there."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from visual_dynamics import checkpointing, preemption, pretrained
from visual_dynamics.predictor import Predictor

SCRIPT = os.path.join(ROOT, "experiments", "device", "shapes_on_gpu.sh")
FINISH = os.path.join(ROOT, "experiments", "device", "finish_on_cpu.py")
PHASES = {"train", "fig5", "applications", "speed"}
# What comes back from $OUT: at most 8 files of at most 16 MiB, named of letters, digits, '.', '_', '-'.
MAX_FILES, MAX_BYTES, NAME = 8, 16 * 2 ** 20, re.compile(r"^[A-Za-z0-9._-]+$")


def _command(out, workdir, data_dir, *flags) -> list[str]:
    return ["bash", SCRIPT, str(out), "--variant=tiny", f"--workdir={workdir}", f"--data_dir={data_dir}",
            *flags]


def _env(tmp_path) -> dict:
    os.makedirs(tmp_path / "no_wheels", exist_ok=True)
    return dict(os.environ, PYTHON=sys.executable, WHEELS_DIR=str(tmp_path / "no_wheels"))


def _check_out(out) -> dict:
    """The files of `out` within the limits; its results.json."""
    names = os.listdir(out)
    assert len(names) <= MAX_FILES, names
    for name in names:
        assert NAME.match(name) and os.path.isfile(out / name) and os.path.getsize(out / name) <= MAX_BYTES
    with open(out / "results.json") as f:
        return json.load(f)


def _check_finish_on_cpu(out, results: dict, tmp_path) -> None:
    """finish_on_cpu.py on the returned folder: the shipped model, its re-check and the docs' rows."""
    docs, shipped = tmp_path / "docs", tmp_path / "shipped"
    os.makedirs(docs)
    for page in ("results.md", "performance.md"):
        shutil.copy(os.path.join(ROOT, "docs", page), docs)
    finish = [sys.executable, FINISH, f"--output_dir={shipped}", f"--docs_dir={docs}"]
    done = subprocess.run(finish + [f"--returned={out}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"config.json", "variables.npz", "z_bank.npz", "README.md", "example_input.png"} == set(
        os.listdir(shipped))
    assert all(os.path.getsize(shipped / name) < 5 * 2 ** 20 for name in os.listdir(shipped))
    predictor = Predictor(*pretrained.load_folder(str(shipped)))
    image = np.asarray(Image.open(shipped / "example_input.png"))
    assert predictor.sample(image, 2, rng=0).shape == (2, 32, 32, 3)
    page = (docs / "results.md").read_text()
    model = results["fig5"]["model"]
    assert "| ours: the model | " + " | ".join(f"{model[c]:.2f}" for c in model) + " |" in page
    assert "Re-checked on the CPU: the shipped model" in page and results["date"] in page
    assert "No GPU run has come back yet" not in page
    assert results["machine"] in (docs / "performance.md").read_text()
    # A folder that lacks the model: one line naming it, and the docs as they were.
    os.remove(out / "model.npz")
    before = (docs / "results.md").read_text()
    failed = subprocess.run(finish + [f"--returned={out}"], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and failed.stderr.strip().splitlines()[-1] == (
        f"error: {out}/model.npz is missing: the model did not come back")
    assert (docs / "results.md").read_text() == before  # the rerun below exports model.npz again


@pytest.mark.torch
def test_device_script_stopped_by_sigterm_resumes_and_leaves_every_result_in_out(data_dir, tmp_path):
    pytest.importorskip("torch")  # the speed table's PyTorch half
    out, workdir, env = tmp_path / "out", tmp_path / "run", _env(tmp_path)
    # SIGTERM once the model's run trains (on a CPU the runs go one after the other, the model first):
    # the run saves its step, the command says so in one line, and the rerun resumes and finishes.
    stopped = subprocess.Popen(_command(out, workdir, data_dir, "--num_train_steps=100000"), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    while not lines or not lines[-1].startswith("step 25/"):
        lines.append(stopped.stdout.readline())
        assert lines[-1], "".join(lines)[-3000:]
    stopped.send_signal(signal.SIGTERM)
    text = "".join(lines) + stopped.communicate(timeout=120)[0]
    assert stopped.returncode == preemption.EXIT_STOPPED, text[-3000:]
    assert "jax " in text and "devices: [" in text  # the preflight's versions and devices
    step = checkpointing.newest_complete_step(str(workdir / "model"))
    assert f"stopped by SIGTERM at step {step}; checkpoint saved;" in text
    assert text.splitlines()[-1] == ("stopped by SIGTERM (model stopped with it, a training run after saving "
                                     "its checkpoint); rerun the same command to resume")
    assert not os.path.exists(workdir / "ae")  # the AE run never started

    steps = step + 5
    done = subprocess.run(_command(out, workdir, data_dir, f"--num_train_steps={steps}"), env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"resuming from step {step}" in done.stdout
    results = _check_out(out)
    assert set(results["phases"]) == PHASES and not results.get("skipped") and not results.get("partial")
    assert set(results["fig5"]) == set(results["fig5_flow"]) == {"model", "ae", "ae_prior", "flow", "floor"}
    for row in [*results["fig5"].values(), *results["fig5_flow"].values()]:
        assert set(row) == {"circles", "squares", "triangles", "joint"}
        assert all(value >= 0 for value in row.values())
    assert {t["step"] for t in results["training"].values()} == {steps}
    assert results["table1"]["dims"] == 200  # the tiny config's z
    assert set(results["applications"]) == {"model", "ae"}
    # The speed phase is benchmarks/vs_pytorch.py's smoke run: one step of each framework, one network.
    rows = results["speed"]["rows"]
    assert sorted(r["framework"] for r in rows) == ["jax", "torch"] and len({r["params"] for r in rows}) == 1
    assert all(r["samples_per_s"] > 0 and r["peak_mib"] > 0 for r in rows)
    assert "ours / this" in (out / "log.txt").read_text()
    assert set(os.listdir(out)) == {"results.json", "results.md", "model.npz", "ae.npz",
                                    "fig5_histograms.png", "speed.json", "log.txt"}
    assert "| paper: ours | 1.70 | 2.48 | 1.14 | 2.46 |" in (out / "results.md").read_text()
    for name in ("model", "ae"):
        predictor = Predictor.from_file(str(out / f"{name}.npz"))
        assert predictor.z_bank.step == steps and predictor.config.model.variational == (name == "model")

    _check_finish_on_cpu(out, results, tmp_path)

    again = subprocess.run(_command(out, workdir, data_dir, f"--num_train_steps={steps}"), env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "=== phase" not in again.stdout  # every phase was finished
    assert os.path.exists(out / "model.npz")
    assert _check_out(out)["phases"] == results["phases"]


@pytest.mark.torch
def test_a_deadline_mid_training_leaves_the_stopped_model_and_says_what_was_skipped(data_dir, tmp_path):
    pytest.importorskip("torch")  # the device script's preflight imports it (the speed table)
    out, workdir = tmp_path / "out", tmp_path / "run"
    done = subprocess.run(_command(out, workdir, data_dir, "--num_train_steps=100000", "--nospeed",
                                   "--deadline_minutes=0.75"),
                          env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = _check_out(out)
    assert "train" not in results["phases"] and "train" in results["partial"]  # stopped by the deadline
    step = results["training"]["model"]["step"]
    assert 0 < step < 100000 and Predictor.from_file(str(out / "model.npz")).z_bank.step == step
    later = {"fig5", "applications"}
    assert later <= set(results["skipped"]) | set(results["partial"]), results
    for phase in set(results["skipped"]):
        assert "min left of --deadline_minutes=0.75" in results["skipped"][phase]
    assert {"results.json", "results.md", "model.npz", "log.txt"} <= set(os.listdir(out))
