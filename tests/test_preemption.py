"""A run stopped by SIGTERM or SIGINT saves the step it is on and resumes with nothing lost: the final
parameters equal an unbroken run's, no step trained twice or skipped."""

import os
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from conftest import ROOT, tiny_config
from visual_dynamics import checkpointing, preemption, train
from visual_dynamics.metrics_log import curve, read_metrics

SETTINGS = dict(num_train_steps=6, eval_every_steps=2, checkpoint_every_steps=3, log_every_steps=1,
                num_eval_batches=1, z_bank_size=16)


@pytest.fixture(scope="module")
def unbroken(data_dir, tmp_path_factory):
    """(workdir, result) of the 6-step run, never stopped."""
    workdir = str(tmp_path_factory.mktemp("unbroken"))
    return workdir, train.train_and_evaluate(tiny_config(data_dir, **SETTINGS), workdir)


def _without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "train/steps_per_sec"} for r in records]


def _terminate_self():
    os.kill(os.getpid(), signal.SIGTERM)


def _record_steps(monkeypatch, trained: list):
    """Makes every train step record the step of the state it is given, into `trained`."""
    make = train.make_p_train_step

    def recording(config):
        step = make(config)

        def run(state, batch, rng):
            trained.append(int(state.step[0]))
            return step(state, batch, rng)
        return run

    monkeypatch.setattr(train, "make_p_train_step", recording)


def _signal_during_step(monkeypatch, at: int):
    """SIGTERM while train step `at` (1-based) computes: sent right after it is dispatched."""
    make = train.make_p_train_step

    def signalling(config):
        step = make(config)

        def run(state, batch, rng):
            number = int(state.step[0]) + 1  # before the call, which donates the state's buffers
            out = step(state, batch, rng)
            if number == at:
                _terminate_self()
            return out
        return run

    monkeypatch.setattr(train, "make_p_train_step", signalling)


def _signal_during_evaluation(monkeypatch, at: int):
    evaluate = train._evaluate_and_draw

    def signalling(inference, state, step, *args):
        if step == at:
            _terminate_self()
        return evaluate(inference, state, step, *args)

    monkeypatch.setattr(train, "_evaluate_and_draw", signalling)


def _signal_during_checkpoint(monkeypatch, at: int):
    """SIGTERM while the (asynchronous) save of checkpoint `at` is being written."""
    save = checkpointing.save

    def signalling(manager, step, state):
        save(manager, step, state)
        if step == at:
            _terminate_self()

    monkeypatch.setattr(checkpointing, "save", signalling)


# (where the signal comes, at which step, the step the run stops after): the step's or evaluation's own,
# the next one for a checkpoint write, whose step was settled before the save began.
POINTS = [("step", 4, 4), ("evaluation", 2, 2), ("checkpoint", 3, 4)]


@pytest.mark.parametrize("point,at,stop", POINTS, ids=[p[0] for p in POINTS])
def test_sigterm_saves_the_step_it_came_in_and_a_rerun_ends_as_an_unbroken_run(
        point, at, stop, unbroken, data_dir, tmp_path, monkeypatch):
    workdir, config, trained = str(tmp_path), tiny_config(data_dir, **SETTINGS), []
    handler = signal.getsignal(signal.SIGTERM)
    with monkeypatch.context() as patch:
        {"step": _signal_during_step, "evaluation": _signal_during_evaluation,
         "checkpoint": _signal_during_checkpoint}[point](patch, at)
        _record_steps(patch, trained)
        with pytest.raises(preemption.TrainingStopped) as stopped:
            train.train_and_evaluate(config, workdir)
        assert str(stopped.value) == (f"stopped by SIGTERM at step {stop}; checkpoint saved; rerun the "
                                      f"same command to resume")
        assert checkpointing.newest_complete_step(workdir) == stop
        assert signal.getsignal(signal.SIGTERM) is handler  # the run's own handler is gone
        resumed = train.train_and_evaluate(config, workdir)
    assert trained == list(range(SETTINGS["num_train_steps"]))  # each step once
    for name in ("params", "batch_stats", "opt_state"):
        for a, b in zip(jax.tree.leaves(getattr(unbroken[1].state, name)),
                        jax.tree.leaves(getattr(resumed.state, name))):
            np.testing.assert_array_equal(a, b)
    assert _without_timing(read_metrics(workdir)) == _without_timing(read_metrics(unbroken[0]))
    assert curve(read_metrics(workdir), "eval/recon")[0] == [0, 2, 4, 6]


def test_train_py_exits_75_with_one_line_and_a_second_signal_stops_at_once(data_dir, tmp_path):
    def command(steps: int) -> list[str]:
        return [sys.executable, os.path.join(ROOT, "experiments", "train.py"), "--dataset=shapes:tiny",
                f"--workdir={tmp_path}", f"--config.data_dir={data_dir}", f"--config.num_train_steps={steps}",
                "--config.checkpoint_every_steps=50", "--config.eval_every_steps=100000",
                "--config.log_every_steps=10", "--config.z_bank_size=16"]

    def start_then(*signals) -> tuple[int, str, str]:
        """Runs the command, sends `signals` at once after its first logged step; (status, out, err)."""
        process = subprocess.Popen(command(100000), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline, lines = time.time() + 300, []
        while not (lines and lines[-1].startswith("step ")) and time.time() < deadline:
            lines.append(process.stdout.readline())
            assert lines[-1] or process.poll() is None, process.stderr.read()[-3000:]
        for s in signals:
            process.send_signal(s)
        out, err = process.communicate(timeout=120)
        return process.returncode, "".join(lines) + out, err

    code, out, err = start_then(signal.SIGTERM)
    assert code == preemption.EXIT_STOPPED, err[-3000:]
    stops = [line for line in out.splitlines() if line.startswith("stopped by")]
    assert len(stops) == 1, out[-3000:]
    step = int(re.fullmatch(r"stopped by SIGTERM at step (\d+); checkpoint saved; rerun the same command "
                            r"to resume", stops[0]).group(1))
    assert checkpointing.newest_complete_step(str(tmp_path)) == step

    # Ctrl-C, and a second signal before the first is done with (both pending: they are handled in turn).
    code, out, err = start_then(signal.SIGINT, signal.SIGTERM)
    assert f"resuming from step {step}" in out
    assert code == preemption.EXIT_STOPPED_AT_ONCE, err[-3000:]
    kept = int(re.search(r"stopped at once by a second signal \(SIGTERM\); the checkpoint of step (\d+) "
                         r"is the one kept; rerun the same command to resume", err).group(1))
    assert kept == checkpointing.newest_complete_step(str(tmp_path)) and kept >= step
    done = subprocess.run(command(kept + 20), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from step {kept}" in done.stdout and f"Done at step {kept + 20}" in done.stdout
