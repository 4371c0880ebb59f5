"""experiments/reproduce_shapes.py's tiny path: both runs, Fig. 5, Table 1, applications, and a rerun
that skips what is finished."""

import json
import os
import subprocess
import sys

from conftest import ROOT

COMMAND = os.path.join(ROOT, "experiments", "reproduce_shapes.py")


def test_reproduce_shapes_tiny_writes_every_result_and_resumes(data_dir, tmp_path):
    command = [sys.executable, COMMAND, f"--workdir={tmp_path}", "--variant=tiny", "--num_train_steps=10",
               f"--data_dir={data_dir}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("=== phase") == 3
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    assert set(results["fig5"]) == set(results["fig5_flow"]) == {"model", "ae", "ae_prior", "flow", "floor"}
    for row in [*results["fig5"].values(), *results["fig5_flow"].values()]:
        assert set(row) == {"circles", "squares", "triangles", "joint"}
        assert all(value >= 0 for value in row.values())
    assert {t["step"] for t in results["training"].values()} == {10}
    assert results["table1"]["dims"] == 200  # the tiny config's z
    assert set(results["applications"]) == {"model", "ae"}
    assert "| paper: ours | 1.70 | 2.48 | 1.14 | 2.46 |" in (tmp_path / "results.md").read_text()

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "=== phase" not in again.stdout  # every phase was finished
    with open(tmp_path / "results.json") as f:
        assert json.load(f)["phases"] == results["phases"]
