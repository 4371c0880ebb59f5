"""Training end to end on the tiny config: it learns, pmap changes nothing (that a resumed run equals an
unbroken one: tests/test_preemption.py)."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import ROOT, tiny_config
from visual_dynamics import checkpointing, train
from visual_dynamics.metrics_log import METRICS_FILE, MetricsLog, read_metrics
from visual_dynamics.train_state import create_train_state
from visual_dynamics.z_bank import ZBank


def test_a_few_hundred_steps_lower_the_test_reconstruction_error(tiny_run):
    workdir, results = tiny_run
    print(f"tiny: test recon {results.first_eval_recon:.2f} at step 0 -> "
          f"{results.recon:.2f} at step {results.step} (copying the input: "
          f"{results.recon_zero_motion:.2f})")
    assert results.step == 300
    assert results.recon < 0.7 * results.first_eval_recon
    assert results.recon < 0.7 * results.recon_zero_motion


def test_run_leaves_checkpoints_events_grids_and_z_bank(tiny_run):
    workdir, results = tiny_run
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["100", "200", "300"]
    assert any(f.startswith("events.out.tfevents")
               for f in os.listdir(os.path.join(workdir, "tensorboard")))
    assert sorted(os.listdir(os.path.join(workdir, "samples"))) == [
        "step_0000100.png", "step_0000200.png", "step_0000300.png"]
    bank = ZBank.load(workdir)
    assert bank.z_mean.shape == bank.z_logvar.shape == (64, 200) and bank.step == 300
    config, variables, step = checkpointing.restore_variables(workdir)
    assert step == 300 and config.image_size == 32
    for a, b in zip(jax.tree.leaves(variables["params"]), jax.tree.leaves(results.state.params)):
        np.testing.assert_array_equal(a, b)


def test_metrics_log_resumes_at_the_checkpoint_and_skips_a_torn_line(tmp_path):
    log = MetricsLog(str(tmp_path), resume_step=0)
    for step in (1, 2, 3):
        log.write(step, {"loss": step / 2})
    with open(tmp_path / METRICS_FILE, "a") as f:
        f.write('{"step": 4, "lo')  # killed mid-line
    assert [r["step"] for r in read_metrics(str(tmp_path))] == [1, 2, 3]
    MetricsLog(str(tmp_path), resume_step=2).write(3, {"loss": 9.0})
    assert read_metrics(str(tmp_path)) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 1.0},
                                           {"step": 3, "loss": 9.0}]


def test_pmap_on_two_devices_equals_one_device(data_dir):
    """Runs tests/pmap_equivalence.py with 2 simulated CPU devices (XLA reads the flag at start)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "pmap_equivalence.py"),
                           data_dir], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "max relative difference" in done.stdout


def test_train_step_compiles_once(data_dir):
    """After the first call, new batches and states reuse the compiled step: no recompilation."""

    from visual_dynamics.data import pipeline

    config = tiny_config(data_dir)
    source = pipeline.load_builder("shapes", "tiny", data_dir).as_data_source(split="train")
    batches = pipeline.train_batches(source, config.batch_size, seed=0)
    step = train.make_p_train_step(config)
    state = train.replicate(create_train_state(config, jax.random.PRNGKey(0)))
    rng = train.replicate(jax.random.PRNGKey(1))
    state, _ = step(state, train.shard(next(batches), 1), rng)
    compiles = []

    def listener(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        for _ in range(3):
            state, metrics = step(state, train.shard(next(batches), 1), rng)
        jax.block_until_ready(metrics)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles == []


def test_a_run_records_the_fingerprint_of_its_data_and_says_when_it_changed(tiny_run, data_dir, tmp_path,
                                                                           capsys):
    from visual_dynamics.data import fingerprint, pipeline

    builder = pipeline.load_builder("shapes", "tiny", data_dir)
    stored = fingerprint.stored(builder)
    assert checkpointing.load_config(tiny_run[0]).data_fingerprint == stored
    config = tiny_config(data_dir)
    checkpointing.save_config(config, str(tmp_path), data_fingerprint="0" * 64)  # a run on other data
    assert train._data_fingerprint(builder, str(tmp_path), start_step=0) == stored  # a new run: no note
    assert "changed" not in capsys.readouterr().out
    assert train._data_fingerprint(builder, str(tmp_path), start_step=100) == stored
    out = capsys.readouterr().out
    assert f"fingerprint {stored}" in out
    assert [line for line in out.splitlines() if "the data changed" in line] == [
        f"Note: the data changed since this run's checkpoints were written (fingerprint {'0' * 64} then); "
        f"training goes on with the data above."]


def test_kl_warmup_rises_linearly_to_one_and_is_off_by_default():
    import jax.numpy as jnp

    from visual_dynamics.train import kl_weight

    config = tiny_config("unused")
    assert float(kl_weight(jnp.int32(0), config)) == 1.0
    config.kl_warmup_steps = 4
    assert [float(kl_weight(jnp.int32(s), config)) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_schedule_decays_the_learning_rate_to_zero():
    import math

    from visual_dynamics.train_state import learning_rate_schedule

    config = tiny_config("unused")
    assert learning_rate_schedule(config) == config.learning_rate  # a number: old runs' state unchanged
    config.lr_schedule, config.num_train_steps = "cosine", 100
    schedule = learning_rate_schedule(config)
    for step in (0, 25, 50, 100):
        expected = config.learning_rate * 0.5 * (1 + math.cos(math.pi * step / 100))
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-9)
    config.lr_schedule = "linear"
    with pytest.raises(ValueError, match="config.lr_schedule must be"):
        learning_rate_schedule(config)
