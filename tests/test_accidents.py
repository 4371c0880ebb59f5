"""Accidents lose nothing and say what happened in one line: a second run on a workdir, a damaged
checkpoint, a full disk, a damaged prepared shard (docs/training.md, "What happens when ...")."""

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import orbax.checkpoint as ocp
import pytest

from conftest import ROOT, tiny_config
from visual_dynamics import checkpointing, train, workdir_lock
from visual_dynamics.data import pipeline
from visual_dynamics.predictor import Predictor


def _command(workdir, data_dir, *extra) -> list[str]:
    return [sys.executable, os.path.join(ROOT, "experiments", "train.py"), "--dataset=shapes:tiny",
            f"--workdir={workdir}", f"--config.data_dir={data_dir}", *extra]


def _train(workdir, data_dir, *extra, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(_command(workdir, data_dir, *extra), capture_output=True, text=True,
                          timeout=timeout)


def _error_line(done: subprocess.CompletedProcess) -> str:
    """The run's one error line, after checking it is the only thing it said about the failure."""
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-3000:]
    return errors[0]


def _files(folder) -> dict:
    """{relative path: bytes} of every file under `folder`."""
    return {os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(folder) for name in names}


@pytest.fixture
def workdir(tiny_run, tmp_path) -> str:
    """A copy of the tiny run (checkpoints 100, 200 and 300 of its 300 steps)."""
    copy = str(tmp_path / "run")
    shutil.copytree(tiny_run[0], copy)
    return copy


# --- One run per workdir ---------------------------------------------------------------------------

def test_a_second_run_on_a_held_workdir_stops_at_once_naming_the_holder(workdir, data_dir):
    before = _files(os.path.join(workdir, "checkpoints"))
    holder = workdir_lock.acquire(workdir)  # a live run: this process
    try:
        done = _train(workdir, data_dir, "--config.num_train_steps=400")
        line = _error_line(done)
        holder_text = f"(PID {os.getpid()} on {socket.gethostname()}, started {holder['started']})"
        assert f"{workdir} is in use by another training run {holder_text}" in line
        assert "pass another --workdir" in line
        assert _files(os.path.join(workdir, "checkpoints")) == before
        # Readers ignore the lock.
        assert Predictor.from_checkpoint(workdir).config.num_train_steps == 300
    finally:
        workdir_lock.release(workdir, holder)
    assert not os.path.exists(os.path.join(workdir, workdir_lock.LOCK_FILE))


def test_two_runs_started_together_one_trains_the_other_stops(workdir, data_dir):
    command = _command(workdir, data_dir, "--config.num_train_steps=350")
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [subprocess.CompletedProcess(run.args, run.wait(timeout=300), *run.communicate())
               for run in runs]
    assert sorted(r.returncode for r in results) == [0, 1]
    stopped = next(r for r in results if r.returncode == 1)
    assert "is in use by another training run" in _error_line(stopped)
    assert "resuming from step 300" in next(r for r in results if r.returncode == 0).stdout


def test_a_lock_left_by_a_dead_process_is_taken_over_with_one_line(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True)
    stale = {"host": socket.gethostname(), "pid": int(dead.stdout), "started": "2026-01-01T00:00:00+00:00"}
    (tmp_path / workdir_lock.LOCK_FILE).write_text(json.dumps(stale))
    me = workdir_lock.acquire(str(tmp_path))
    assert me["pid"] == os.getpid()
    assert json.loads((tmp_path / workdir_lock.LOCK_FILE).read_text()) == me
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"Taking over {tmp_path / workdir_lock.LOCK_FILE} from a run that is gone (PID "
                   f"{stale['pid']} on {stale['host']}, started {stale['started']}: its process no longer "
                   f"runs)."]
    workdir_lock.release(str(tmp_path), me)
    assert not os.listdir(tmp_path)


def test_a_lock_of_another_host_is_held_until_it_is_not_refreshed(tmp_path):
    path = tmp_path / workdir_lock.LOCK_FILE
    path.write_text(json.dumps({"host": "another-host", "pid": 1, "started": "2026-01-01T00:00:00+00:00"}))
    with pytest.raises(workdir_lock.WorkdirHeldError, match="PID 1 on another-host"):
        workdir_lock.acquire(str(tmp_path))
    old = time.time() - workdir_lock.STALE_SECONDS - 60
    os.utime(path, (old, old))
    me = workdir_lock.acquire(str(tmp_path))
    assert json.loads(path.read_text()) == me


def test_a_finished_run_leaves_no_lock(tiny_run):
    assert not os.path.exists(os.path.join(tiny_run[0], workdir_lock.LOCK_FILE))


# --- A damaged checkpoint --------------------------------------------------------------------------

def _truncate(path: str, size: int = 100) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def test_a_damaged_newest_checkpoint_is_set_aside_and_the_run_resumes_from_the_one_before(
        workdir, data_dir, capsys):
    damaged = os.path.join(workdir, "checkpoints", "300")
    _truncate(os.path.join(damaged, "default", "_METADATA"))
    kept = _files(damaged)
    # A reader skips it, and leaves the workdir as it is.
    predictor_step = checkpointing.restore_variables(workdir)[2]
    assert predictor_step == 200 and os.path.isdir(damaged)
    assert "Checkpoint 300 cannot be read" in capsys.readouterr().out

    result = train.train_and_evaluate(tiny_config(data_dir, num_train_steps=300), workdir)
    out = capsys.readouterr().out
    aside = os.path.join(workdir, checkpointing.DAMAGED_FOLDER, "300")
    assert re.search(rf"^Checkpoint 300 cannot be read \(.+\): moved to {re.escape(aside)}; resuming from "
                     rf"step 200\.$", out, re.MULTILINE), out
    assert "Model: 31,459 parameters, z of 200; resuming from step 200" in out and result.step == 300
    assert _files(aside) == kept  # kept for inspection, byte for byte
    assert checkpointing.newest_complete_step(workdir) == 300  # trained again


def test_no_readable_checkpoint_is_one_line_and_moves_nothing(workdir, data_dir):
    for step in ("100", "200", "300"):
        _truncate(os.path.join(workdir, "checkpoints", step, "default", "_METADATA"))
    before = _files(workdir)
    line = _error_line(_train(workdir, data_dir))
    assert line.startswith(f"error: none of the 3 checkpoints in {workdir}/checkpoints can be read "
                           f"(step 300: ")
    assert _files(workdir) == before


# --- A full disk ----------------------------------------------------------------------------------

def _fail_saves_with_a_full_disk(monkeypatch):
    """Makes every checkpoint save leave a partial folder and fail as TensorStore does on a full disk."""
    def full(manager, step, args):
        os.makedirs(os.path.join(manager.directory, f"{step}.orbax-checkpoint-tmp-1", "default"))
        raise ValueError('RESOURCE_EXHAUSTED: Error writing "params" in OCDBT database: Failed to write '
                         "60602 bytes to file 8: No space left on device [os_error_code='28']")

    monkeypatch.setattr(ocp.CheckpointManager, "save", full)


def test_a_save_that_meets_a_full_disk_removes_its_partial_folder_and_keeps_every_checkpoint(
        workdir, data_dir, monkeypatch):
    before = _files(os.path.join(workdir, "checkpoints"))
    _fail_saves_with_a_full_disk(monkeypatch)
    with pytest.raises(checkpointing.DiskFullError) as error:
        train.train_and_evaluate(tiny_config(data_dir, num_train_steps=400), workdir)
    assert str(error.value).startswith(f"the disk is full: saving the checkpoint of step 400 in "
                                       f"{os.path.abspath(workdir)}/checkpoints needs about ")
    assert "rerun the same command to resume from step 300" in str(error.value)
    assert _files(os.path.join(workdir, "checkpoints")) == before  # no partial folder, nothing lost
    assert not os.path.exists(os.path.join(workdir, workdir_lock.LOCK_FILE))


@contextlib.contextmanager
def _small_filesystem(path, size_kib: int):
    """A tmpfs of `size_kib` at `path` (root only: skipped elsewhere)."""
    os.makedirs(path)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small filesystem needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_a_full_disk_stops_the_run_in_one_line_and_the_rerun_resumes_once_there_is_room(
        workdir, data_dir, tmp_path):
    small = tmp_path / "small"
    checkpoint_bytes = sum(len(b) for b in _files(os.path.join(workdir, "checkpoints", "300")).values())
    checkpoint_kib = round(checkpoint_bytes / 1024)
    for step in ("100", "200"):  # keep one checkpoint, so that the disk holds the workdir and little more
        shutil.rmtree(os.path.join(workdir, "checkpoints", step))
    used_kib = sum(len(b) + 4096 for b in _files(workdir).values()) // 1024
    with _small_filesystem(small, used_kib + checkpoint_kib // 2):
        shutil.copytree(workdir, small / "run")
        before = _files(small / "run" / "checkpoints")
        line = _error_line(_train(small / "run", data_dir, "--config.num_train_steps=400"))
        assert line.startswith(f"error: the disk is full: saving the checkpoint of step 400 in "
                               f"{small}/run/checkpoints needs about {checkpoint_kib} KiB and ")
        assert line.endswith("rerun the same command to resume from step 300.")
        assert _files(small / "run" / "checkpoints") == before
        subprocess.run(["mount", "-o", f"remount,size={used_kib + 4 * checkpoint_kib}k", str(small)],
                       check=True)
        again = _train(small / "run", data_dir, "--config.num_train_steps=400")
        assert again.returncode == 0, again.stderr[-3000:]
        assert "resuming from step 300" in again.stdout
        assert checkpointing.newest_complete_step(str(small / "run")) == 400


# --- Damaged prepared data ------------------------------------------------------------------------

def test_a_damaged_shard_stops_training_in_one_line_naming_it_and_the_command_to_prepare_it(
        workdir, data_dir, tmp_path):
    damaged_dir = tmp_path / "data"
    shutil.copytree(data_dir, damaged_dir)
    builder = pipeline.load_builder("shapes", "tiny", str(damaged_dir))
    shard = os.path.join(builder.data_dir, builder.info.splits["train"].filenames[0])
    data = bytearray(open(shard, "rb").read())
    for position in range(1000, len(data), 20_000):  # a flipped byte in every chunk
        data[position] ^= 0xFF
    open(shard, "wb").write(data)
    before = _files(workdir)

    line = _error_line(_train(workdir, str(damaged_dir), "--config.num_train_steps=400"))
    assert line.startswith(f"error: {shard} is damaged (")
    assert line.endswith(f"delete {builder.data_dir} and prepare the dataset again: python "
                         f"experiments/prepare_data.py --dataset=shapes --builder_config=tiny")
    after = _files(workdir)
    assert {k: v for k, v in after.items() if k.startswith("checkpoints")} == \
        {k: v for k, v in before.items() if k.startswith("checkpoints")}
    with pytest.raises(pipeline.DamagedDataError, match="is damaged"):  # evaluation reads it the same way
        pipeline.first_examples(pipeline.SplitSource(builder, "train"), 2000)
