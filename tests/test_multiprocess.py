"""Training across processes (jax.distributed on 127.0.0.1, CPU devices, Gloo collectives) equals one
process; each process reads only its share; one process writes the logs; a killed process stops the
others within a bounded time."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from conftest import ROOT
from visual_dynamics import checkpointing, workdir_lock
from visual_dynamics.data import pipeline

STEPS = 4
COMMON = ["--dataset=shapes:tiny", f"--config.num_train_steps={STEPS}", "--config.batch_size=8",
          "--config.log_every_steps=1", f"--config.eval_every_steps={STEPS}",
          f"--config.checkpoint_every_steps={STEPS}", "--config.z_bank_size=16"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(workdir: str, data_dir: str, processes: int, devices: int, *extra: str) -> list:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
    command = [sys.executable, os.path.join(ROOT, "experiments", "train.py"), *COMMON, f"--workdir={workdir}",
               f"--config.data_dir={data_dir}", *extra]
    if processes > 1:
        port = _free_port()
        command += [f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={processes}"]
    return [subprocess.Popen(command + ([f"--process_id={i}"] if processes > 1 else []), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(processes)]


def _finish(runs: list, timeout: float = 400) -> list:
    outputs = []
    for run in runs:
        try:
            out, err = run.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for r in runs:
                r.kill()
            raise
        outputs.append((run.returncode, out, err))
    return outputs


def _train(workdir, data_dir, processes, devices, *extra) -> list:
    outputs = _finish(_start(str(workdir), data_dir, processes, devices, *extra))
    for code, out, err in outputs:
        assert code == 0, err[-3000:]
    return outputs


def _params(workdir) -> dict:
    _, variables, step = checkpointing.restore_variables(str(workdir))
    assert step == STEPS
    return jax.tree.map(np.asarray, variables)


@pytest.fixture(scope="module")
def two_process_run(data_dir, tmp_path_factory):
    """(workdir, outputs) of the tiny config trained by 2 processes of 1 device each."""
    workdir = tmp_path_factory.mktemp("two_processes") / "run"
    return workdir, _train(workdir, data_dir, 2, 1)


@pytest.mark.parametrize("processes,devices", [(2, 1), (2, 2)], ids=["2x1_vs_1x2", "2x2_vs_1x4"])
def test_processes_train_as_one_process_and_write_each_file_once(data_dir, tmp_path, processes, devices,
                                                                 request):
    single = _train(tmp_path / "one", data_dir, 1, processes * devices)
    if (processes, devices) == (2, 1):
        many, several = request.getfixturevalue("two_process_run")
    else:
        many, several = tmp_path / "many", _train(tmp_path / "many", data_dir, processes, devices)
    # Float32 sums split differently over devices agree to ~1e-6; Adam's normalised step can turn that
    # into up to ~lr / 100 where a gradient is near zero, in a few elements. A wrong batch split or
    # unshared BatchNorm statistics would move most elements by ~lr (3e-3) a step.
    ours, theirs = jax.tree.leaves(_params(many)), jax.tree.leaves(_params(tmp_path / "one"))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    close = [np.isclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(ours, theirs)]
    assert sum(c.sum() for c in close) >= 0.999 * sum(c.size for c in close)

    with open(many / "metrics.jsonl") as f:
        steps = [json.loads(line)["step"] for line in f]
    assert steps == [0] + [s for s in range(1, STEPS + 1) for _ in range(2 if s == STEPS else 1)]  # + eval
    assert len(os.listdir(many / "tensorboard")) == 1
    assert os.listdir(many / "samples") == [f"step_{STEPS:07d}.png"]
    assert "Done at step" in several[0][1] and "Done at step" not in several[1][1]  # process 0 reports
    assert all("step 1/" not in out for _, out, _ in several[1:])
    assert "Done at step" in single[0][1]


def test_a_checkpoint_of_two_processes_resumes_in_one_and_back(two_process_run, data_dir, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(two_process_run[0], workdir)
    (code, out, err), = _train(workdir, data_dir, 1, 1, f"--config.num_train_steps={STEPS + 2}")
    assert f"resuming from step {STEPS}" in out and f"Done at step {STEPS + 2}" in out
    outputs = _train(workdir, data_dir, 2, 1, f"--config.num_train_steps={STEPS + 4}")
    assert f"resuming from step {STEPS + 2}" in outputs[0][1] and f"Done at step {STEPS + 4}" in outputs[0][1]


def test_a_held_workdir_stops_every_process_of_a_run_in_one_line(two_process_run, data_dir, tmp_path):
    """Process 0 holds the lock for the run; when another run holds it, all processes stop at once."""
    workdir = tmp_path / "run"
    shutil.copytree(two_process_run[0], workdir)
    holder = workdir_lock.acquire(str(workdir))
    try:
        outputs = _finish(_start(str(workdir), data_dir, 2, 1, f"--config.num_train_steps={STEPS + 2}"),
                          timeout=120)
    finally:
        workdir_lock.release(str(workdir), holder)
    for code, _, err in outputs:
        assert code == 1 and "Traceback" not in err, err[-3000:]
        assert err.strip().splitlines()[-1].startswith(f"error: {workdir} is in use by another training run")
    assert f"(PID {os.getpid()} on" in outputs[0][2]  # process 0 names the holder
    assert checkpointing.newest_complete_step(str(workdir)) == STEPS  # nothing trained


class CountingSource:
    """A data source that records which indices were read."""

    def __init__(self, source):
        self.source, self.read = source, []

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        self.read.append(int(index))
        return self.source[index]


def test_each_process_reads_only_its_share_of_every_global_batch(data_dir):
    """Global batches 3..7 of 8, read by 2 processes: process p reads the shuffled positions
    8 b + 4 p ... 8 b + 4 p + 3 of each batch b, and nothing of the other's share."""
    import grain

    source = pipeline.load_builder("shapes", "tiny", data_dir).as_data_source(split="train")
    order = grain.MapDataset.range(len(source)).shuffle(seed=0).repeat()  # the pipeline's shuffle
    whole = pipeline.train_batches(source, 8, seed=0, start_step=3, num_threads=1)
    global_batches = [next(whole)["image"] for _ in range(5)]
    for p in range(2):
        counting = CountingSource(source)
        batches = pipeline.train_batches(counting, 8, seed=0, start_step=3, num_threads=1,
                                         process_index=p, process_count=2)
        for b in range(5):
            np.testing.assert_array_equal(next(batches)["image"], global_batches[b][4 * p: 4 * p + 4])
        share = {order[8 * b + 4 * p + k] for b in range(3, 3 + 5 + 4) for k in range(4)}  # + prefetch
        delivered = {order[8 * b + 4 * p + k] for b in range(3, 3 + 5) for k in range(4)}
        assert delivered <= set(counting.read) <= share, "read outside its share"


def test_a_killed_process_stops_the_other_within_a_bounded_time(data_dir, tmp_path):
    runs = _start(str(tmp_path / "run"), data_dir, 2, 1, "--config.num_train_steps=100000",
                  "--heartbeat_timeout_seconds=10")
    deadline = time.time() + 300
    line = ""
    while "step 1/" not in line and time.time() < deadline:  # training has started
        line = runs[0].stdout.readline()
        assert line or runs[0].poll() is None, runs[0].stderr.read()[-3000:]
    runs[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    (code, _, err), _ = _finish(runs, timeout=120)
    assert code != 0 and time.time() - killed_at < 120
    # Our one-line error; if JAX's heartbeat check ends the process first, its coordination service speaks.
    assert "error: process 0 of 2 stopped" in err or "coordination service" in err.lower(), err[-2000:]


def test_sigterm_to_one_process_stops_both_at_the_same_saved_step(data_dir, tmp_path):
    runs = _start(str(tmp_path / "run"), data_dir, 2, 1, "--config.num_train_steps=100000",
                  "--config.checkpoint_every_steps=100000", "--heartbeat_timeout_seconds=30")
    deadline, line = time.time() + 300, ""
    while "step 3/" not in line and time.time() < deadline:  # training has started
        line = runs[0].stdout.readline()
        assert line or runs[0].poll() is None, runs[0].stderr.read()[-3000:]
    runs[1].send_signal(signal.SIGTERM)  # process 1 alone, as a preempted host
    outputs = _finish(runs, timeout=120)
    steps = set()
    for code, out, err in outputs:
        assert code == 75, err[-3000:]
        stops = [line for line in out.splitlines() if line.startswith("stopped by")]
        assert len(stops) == 1, out[-2000:]
        steps.add(int(stops[0].split(" at step ")[1].split(";")[0]))
        assert stops[0].endswith("; checkpoint saved; rerun the same command to resume")
    (step,) = steps  # the same step on both
    assert checkpointing.newest_complete_step(str(tmp_path / "run")) == step > 3
