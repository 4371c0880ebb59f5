"""The model shipped in the package (visual_dynamics/pretrained/) and the export that makes one."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import ROOT
from visual_dynamics import checkpointing, pretrained
from visual_dynamics.data import shapes
from visual_dynamics.evaluation import motion_metric
from visual_dynamics.predictor import Predictor
from visual_dynamics.z_bank import ZBank


@pytest.fixture(scope="module")
def shipped():
    return Predictor.from_pretrained("shapes_small")


def test_shipped_model_loads_with_its_sizes(shipped):
    from configs import shapes as shapes_config

    assert "shapes_small" in pretrained.available()
    def plain(config):  # tuples and lists compare equal
        return json.loads(json.dumps(config.to_dict()))

    assert plain(shipped.config.model) == plain(shapes_config.get_config("small").model)
    assert shipped.config.data_dir is None
    assert shipped.latent_size == 800 and shipped.z_bank.z_mean.shape == (1000, 800)
    assert shipped.z_bank.step == 20_000
    folder = pretrained.folder("shapes_small")
    assert sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) < 5 * 2 ** 20


def test_shipped_samples_move_circles_vertically_and_squares_horizontally(shipped):
    """§5.1: circles move along y only, squares along x only. Motions measured by the Fig. 5 flow
    metric in 20 samples of each of 12 generated test images."""
    spec = shapes.ShapesSpec(image_size=shipped.image_size)
    motions = []
    for i in range(12):
        pair = shapes.generate_pair(spec, shapes.example_rng(123, "test", i))
        for frame in shipped.sample(pair["image"], 20, rng=i):
            motions.append(motion_metric.object_motions(pair["image"], frame, pair["visible_mask"]))
    motions = np.abs(np.stack(motions))  # [N, object, (dx, dy)]
    circle_dx, circle_dy = np.nanmedian(motions[:, shapes.CIRCLE], axis=0)
    square_dx, square_dy = np.nanmedian(motions[:, shapes.SQUARE], axis=0)
    assert circle_dy > 0.5 and square_dx > 0.5  # they do move (displacements span +-4 px)
    assert circle_dx < 0.3 * circle_dy and square_dy < 0.3 * square_dx


def test_unknown_name_lists_the_shipped_models():
    with pytest.raises(ValueError, match="the package ships: .*shapes_small"):
        Predictor.from_pretrained("shapes_huge")


def test_float16_bank_draws_the_same_z(tmp_path):
    rng = np.random.default_rng(0)
    bank = ZBank(rng.normal(0, 3, (50, 40)).astype(np.float32),
                 rng.normal(-2, 1, (50, 40)).astype(np.float32), 7)
    bank.save(str(tmp_path), dtype=np.float16)
    loaded = ZBank.load(str(tmp_path))
    assert loaded.z_mean.dtype == np.float32 and loaded.step == 7
    key = jax.random.PRNGKey(3)
    np.testing.assert_allclose(loaded.draw(key, 200), bank.draw(key, 200), rtol=2e-3, atol=2e-3)


def test_export_round_trip_and_the_same_samples(tiny_run, tmp_path):
    workdir = tiny_run[0]
    out = tmp_path / "tiny_model"
    done = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "export_pretrained.py"),
                           f"--workdir={workdir}", "--name=tiny", f"--output_dir={out}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["config.json", "variables.npz", "z_bank.npz"]
    config, variables, _ = checkpointing.restore_variables(workdir)
    jax.tree.map(np.testing.assert_array_equal, pretrained.load_variables(str(out)), variables)
    exported = checkpointing.load_config(str(out))
    assert exported.data_dir is None and exported.model.to_dict() == config.model.to_dict()
    from_run = Predictor.from_checkpoint(workdir)
    from_export = Predictor(exported, pretrained.load_variables(str(out)), ZBank.load(str(out)))
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    difference = np.abs(from_run.sample(image, 16, rng=5).astype(int) - from_export.sample(image, 16, rng=5))
    assert difference.max() <= 2  # float16 bank: z within ~1e-3, frames within 2 levels of 255


def test_demo_runs_on_the_shipped_model(tmp_path):
    from PIL import Image

    image = tmp_path / "a.png"
    pair = shapes.generate_pair(shapes.ShapesSpec(image_size=64), shapes.example_rng(0, "test", 0))
    Image.fromarray(pair["image"]).save(image)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "demo.py"), "sample",
                           "--pretrained=shapes_small", f"--image={image}", "--num_samples=3",
                           f"--output_dir={tmp_path / 'out'}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path / "out" / "a"))[:3] == ["input.png", "sample_01.gif", "sample_01.png"]


def test_one_file_export_holds_the_run_in_float16(tiny_run, tmp_path):
    workdir, path = tiny_run[0], str(tmp_path / "tiny.npz")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "export_pretrained.py"),
                           f"--workdir={workdir}", f"--file={path}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    config, variables, step = checkpointing.restore_variables(workdir)
    loaded_config, loaded, bank = pretrained.load_file(path)
    assert loaded_config.data_dir is None and loaded_config.model.to_dict() == config.model.to_dict()
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, np.asarray(b, np.float16).astype(np.float32)),
                 loaded, variables)
    run_bank = ZBank.load(workdir)
    assert bank.step == step and bank.z_mean.shape == run_bank.z_mean.shape
    np.testing.assert_array_equal(bank.z_mean, run_bank.z_mean.astype(np.float16).astype(np.float32))
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    frames = Predictor.from_file(path).sample(image, 8, rng=5)
    assert frames.shape == (8, 32, 32, 3) and frames.dtype == np.uint8
