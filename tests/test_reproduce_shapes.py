"""experiments/reproduce_shapes.py's tiny path: stopped by SIGTERM, then both runs, Fig. 5, Table 1,
applications, and a rerun that skips what is finished."""

import json
import os
import signal
import subprocess
import sys

from conftest import ROOT
from visual_dynamics import checkpointing, preemption

COMMAND = os.path.join(ROOT, "experiments", "reproduce_shapes.py")


def test_reproduce_shapes_tiny_writes_every_result_and_resumes(data_dir, tmp_path):
    def command(steps: int) -> list[str]:
        return [sys.executable, COMMAND, f"--workdir={tmp_path}", "--variant=tiny",
                f"--num_train_steps={steps}", f"--data_dir={data_dir}"]

    # SIGTERM once the model's run trains (on a CPU the runs go one after the other, the model first):
    # the run saves its step, the command says so in one line, and the rerun resumes and finishes.
    stopped = subprocess.Popen(command(100000), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    while not lines or not lines[-1].startswith("step 25/"):
        lines.append(stopped.stdout.readline())
        assert lines[-1], "".join(lines)[-3000:]
    stopped.send_signal(signal.SIGTERM)
    out = "".join(lines) + stopped.communicate(timeout=120)[0]
    assert stopped.returncode == preemption.EXIT_STOPPED, out[-3000:]
    step = checkpointing.newest_complete_step(str(tmp_path / "model"))
    assert f"stopped by SIGTERM at step {step}; checkpoint saved;" in out
    assert out.splitlines()[-1] == ("stopped by SIGTERM (model stopped with it, a training run after saving "
                                    "its checkpoint); rerun the same command to resume")
    assert not os.path.exists(tmp_path / "ae")  # the AE run never started

    steps = step + 5
    done = subprocess.run(command(steps), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("=== phase") == 3
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    assert set(results["fig5"]) == set(results["fig5_flow"]) == {"model", "ae", "ae_prior", "flow", "floor"}
    for row in [*results["fig5"].values(), *results["fig5_flow"].values()]:
        assert set(row) == {"circles", "squares", "triangles", "joint"}
        assert all(value >= 0 for value in row.values())
    assert {t["step"] for t in results["training"].values()} == {steps}
    assert f"resuming from step {step}" in done.stdout
    assert results["table1"]["dims"] == 200  # the tiny config's z
    assert set(results["applications"]) == {"model", "ae"}
    assert "| paper: ours | 1.70 | 2.48 | 1.14 | 2.46 |" in (tmp_path / "results.md").read_text()

    again = subprocess.run(command(steps), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "=== phase" not in again.stdout  # every phase was finished
    with open(tmp_path / "results.json") as f:
        assert json.load(f)["phases"] == results["phases"]
