"""Sampling from a trained run: the z bank, `experiments/demo.py sample`'s files."""

import os
import subprocess
import sys

import jax
import numpy as np
from PIL import Image

from conftest import ROOT
from visual_dynamics import checkpointing
from visual_dynamics.inference import Inference
from visual_dynamics.train_state import create_train_state, variables_of
from visual_dynamics.z_bank import ZBank, compute_z_bank


def test_bank_draws_follow_the_stored_posteriors():
    z_mean = np.array([[5.0, -5.0], [-5.0, 5.0]], np.float32)
    z_logvar = np.log(np.array([[0.01, 0.01], [0.04, 0.04]], np.float32))
    z = np.asarray(ZBank(z_mean, z_logvar, step=0).draw(jax.random.PRNGKey(0), 20_000))
    first = z[:, 0] > 0
    assert 0.45 < first.mean() < 0.55                                      # pairs drawn uniformly
    np.testing.assert_allclose(z[first].mean(0), [5, -5], atol=0.01)
    np.testing.assert_allclose(z[first].std(0), [0.1, 0.1], rtol=0.05)
    np.testing.assert_allclose(z[~first].std(0), [0.2, 0.2], rtol=0.05)


def test_reconstruction_beats_samples_and_samples_differ(tiny_run, data_dir):
    """Decoding a test pair's own z gives its true next frame better than z from the bank,
    and different bank draws give different next frames."""
    from visual_dynamics.data import pipeline

    workdir, _ = tiny_run
    config, variables, _ = checkpointing.restore_variables(workdir)
    inference = Inference(config)
    test = pipeline.eval_batches(pipeline.load_builder("shapes", "tiny", data_dir)
                                 .as_data_source(split="test"), 64, 1)[0]
    images, truth = test["image"], test["next_image"] / 255.0
    z_own, _ = inference.encode(variables, images, test["next_image"])
    own = np.mean((np.asarray(inference.next_frames(variables, images, z_own)) - truth) ** 2)
    bank = ZBank.load(workdir)
    drawn = [np.asarray(inference.next_frames(variables, images, bank.draw(k, 64)))
             for k in jax.random.split(jax.random.PRNGKey(0), 2)]
    sampled = np.mean([(d - truth) ** 2 for d in drawn])
    assert own < 0.8 * sampled
    assert np.mean(np.abs(drawn[0] - drawn[1])) > 1e-3


def test_sample_command_writes_pngs_gifs_and_a_grid(tiny_run, tmp_path):
    workdir, _ = tiny_run
    rng = np.random.default_rng(0)
    paths = []
    for name, size in (("small", (20, 30)), ("large", (90, 70))):  # any size; resized to 32
        path = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "demo.py"), "sample", f"--workdir={workdir}",
         f"--image={paths[0]}", f"--image={paths[1]}", "--num_samples=3", f"--output_dir={out}"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ("small", "large"):
        files = sorted(os.listdir(out / name))
        assert files == ["input.png", "sample_01.gif", "sample_01.png", "sample_02.gif",
                         "sample_02.png", "sample_03.gif", "sample_03.png"]
        with Image.open(out / name / "sample_01.png") as im:
            assert im.size == (32, 32) and im.mode == "RGB"
        with Image.open(out / name / "sample_02.gif") as gif:
            assert gif.n_frames == 2
    with Image.open(out / "grid.png") as grid:  # 2 rows x (input + 3 samples), 2x upscaled
        assert grid.size == (2 * (4 * 34 + 2), 2 * (2 * 34 + 2))


def test_ae_baseline_bank_draws_its_stored_z_means():
    """Without the sampler (model.variational False) a bank draw is one stored z_mean, exactly."""
    from conftest import tiny_config
    from visual_dynamics.data import pipeline

    config = tiny_config("unused")
    config.model.variational = False
    inference = Inference(config)
    variables = variables_of(create_train_state(config, jax.random.PRNGKey(0)))
    rng = np.random.default_rng(0)
    source = [{k: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for k in ("image", "next_image")}
              for _ in range(config.batch_size)]
    batches = [pipeline.first_examples(source, len(source))]
    bank = compute_z_bank(inference, variables, batches, size=len(source), step=0)
    draws = np.asarray(bank.draw(jax.random.PRNGKey(1), 40))
    distances = np.abs(draws[:, None] - bank.z_mean[None]).max(axis=-1)  # [40, N]
    assert np.all(distances.min(axis=1) == 0)
    assert len(np.unique(distances.argmin(axis=1))) > 1
