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


SHIPPED = {"shapes_small": "small", "shapes_cpu": "cpu"}  # each shipped model and its config variant


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def shipped(request):
    return request.param, Predictor.from_pretrained(request.param)


def test_shipped_model_loads_with_its_sizes(shipped):
    from configs import shapes as shapes_config

    name, predictor = shipped
    assert name in pretrained.available()
    def plain(config):  # tuples and lists compare equal
        return json.loads(json.dumps(config.to_dict()))

    assert plain(predictor.config.model) == plain(shapes_config.get_config(SHIPPED[name]).model)
    assert predictor.config.data_dir is None
    assert predictor.latent_size == 800 and predictor.z_bank.z_mean.shape == (1000, 800)
    assert predictor.z_bank.step == 20_000
    folder = pretrained.folder(name)
    assert sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) < 5 * 2 ** 20


def test_shipped_samples_move_circles_vertically_and_squares_horizontally(shipped):
    """§5.1: circles move along y only, squares along x only. Motions measured by the Fig. 5 flow
    metric in 20 samples of each of 12 generated test images."""
    _, predictor = shipped
    spec = shapes.ShapesSpec(image_size=predictor.image_size)
    motions = []
    for i in range(12):
        pair = shapes.generate_pair(spec, shapes.example_rng(123, "test", i))
        for frame in predictor.sample(pair["image"], 20, rng=i):
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


def _variables(rng, sizes) -> dict:
    return {"params": {f"layer{i}": {"kernel": rng.normal(size=n).astype(np.float32)}
                       for i, n in enumerate(sizes)}, "batch_stats": {"mean": np.ones(3, np.float32)}}


def test_variables_over_one_file_split_into_shards_and_read_back(tmp_path):
    variables = _variables(np.random.default_rng(0), (100_000, 100_000, 100_000))  # 200 kB each in float16
    paths = pretrained.save_variables(variables, str(tmp_path), np.float16, max_file_bytes=450_000)
    assert [os.path.basename(p) for p in paths] == ["variables-00000-of-00002.npz",
                                                    "variables-00001-of-00002.npz"]
    assert all(os.path.getsize(p) < 450_000 for p in paths)
    as_float16 = jax.tree.map(lambda x: x.astype(np.float16).astype(np.float32), variables)
    jax.tree.map(np.testing.assert_array_equal, pretrained.load_variables(str(tmp_path)), as_float16)
    pretrained.save_variables(variables, str(tmp_path))  # one float32 file: no shard left behind
    assert sorted(os.listdir(tmp_path)) == ["variables.npz"]
    jax.tree.map(np.testing.assert_array_equal, pretrained.load_variables(str(tmp_path)), variables)
    with pytest.raises(ValueError, match="variable params/layer0/kernel holds"):
        pretrained.save_variables(variables, str(tmp_path), max_file_bytes=300_000)


def test_travel_file_keeps_the_bank_pairs_that_fit_beside_the_variables(tmp_path):
    rng = np.random.default_rng(0)
    variables = _variables(rng, (50_000,))
    bank = ZBank(*rng.normal(size=(2, 50, 40)).astype(np.float32), 3)
    config = checkpointing.load_config(pretrained.folder("shapes_small"))
    text_bytes = len(config.to_json().encode())  # data_dir is None there already
    # Room for the float16 variables, the config and exactly 10 pairs (each 40 x 2 arrays x 2 bytes).
    budget = 2 * (50_000 + 3) + text_bytes + 10 * 160 + 159
    path = str(tmp_path / "model.npz")
    assert pretrained.export_file(config, variables, bank, path, max_bytes=budget) == 10
    assert os.path.getsize(path) <= budget
    _, loaded, loaded_bank = pretrained.load_file(path)
    np.testing.assert_array_equal(loaded_bank.z_mean, bank.z_mean[:10].astype(np.float16))
    assert loaded["params"]["layer0"]["kernel"].dtype == np.float32
    with pytest.raises(ValueError, match="no room for a z bank"):
        pretrained.export_file(config, variables, bank, path, max_bytes=2 * 50_000)


def test_the_paper_size_model_travels_and_ships_within_the_limits(tmp_path):
    """The paper's network in float16 (12.6 MiB) leaves room for 110 bank pairs in a 14 MiB travel file,
    and ships from it in files under 5 MiB, 16 MiB in all (random values: incompressible, as trained
    weights nearly are)."""
    from configs import shapes as shapes_config
    from visual_dynamics import train_state

    config = shapes_config.get_config("")
    rng = np.random.default_rng(0)
    shapes_ = train_state.variables_of(train_state.abstract_train_state(config))
    variables = jax.tree.map(lambda x: rng.normal(size=x.shape).astype(np.float32), shapes_)
    bank = ZBank(*rng.normal(size=(2, 200, 3200)).astype(np.float32), 20_000)  # more pairs than fit
    path = str(tmp_path / "model.npz")
    assert pretrained.export_file(config, variables, bank, path) == 110
    assert os.path.getsize(path) < 14 * 2 ** 20
    pretrained.export(*pretrained.load_file(path), str(tmp_path / "shipped"), dtype=np.float16)
    sizes = {n: os.path.getsize(tmp_path / "shipped" / n) for n in os.listdir(tmp_path / "shipped")}
    assert max(sizes.values()) < 5 * 2 ** 20 and sum(sizes.values()) < 16 * 2 ** 20, sizes
    assert len([n for n in sizes if n.startswith("variables-")]) > 1
    _, shipped_variables, shipped_bank = pretrained.load_folder(str(tmp_path / "shipped"))
    assert len(shipped_bank.z_mean) == 110
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b.astype(np.float16).astype(np.float32)),
                 shipped_variables, variables)


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


def test_shipped_sprites_model_has_its_configs_sizes_and_moves_its_example_pairs():
    """sprites_cpu: the lpc_sprites:cpu network, files within git's and the issue's bounds, and on the
    test pairs it ships the motion it encodes from (I, J) rebuilds J better than copying I."""
    from configs import lpc_sprites

    predictor = Predictor.from_pretrained("sprites_cpu")
    config = lpc_sprites.get_config("cpu")
    assert json.loads(predictor.config.model.to_json()) == json.loads(config.model.to_json())
    assert predictor.config.builder_config == "size_64" and predictor.config.data_dir is None
    assert predictor.z_bank.step == config.num_train_steps
    folder = pretrained.folder("sprites_cpu")
    sizes = [os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)]
    assert max(sizes) < 5 * 2 ** 20 and sum(sizes) < 16 * 2 ** 20
    pairs = pretrained.example_pairs("sprites_cpu")
    assert pairs["image"].shape == pairs["next_image"].shape == (len(pairs["image"]), 64, 64, 3)
    rebuilt = predictor.transfer(predictor.encode(pairs["image"], pairs["next_image"]), pairs["image"])

    def error(images):
        return np.mean((images / 255.0 - pairs["next_image"] / 255.0) ** 2)

    assert error(rebuilt) < 0.5 * error(pairs["image"])
    with pytest.raises(FileNotFoundError, match="shapes_cpu ships no example_pairs.npz"):
        pretrained.example_pairs("shapes_cpu")
