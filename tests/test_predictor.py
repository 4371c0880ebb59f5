"""The Predictor API and experiments/demo.py on the tiny trained run."""

import numpy as np
import pytest

import demo
from conftest import tiny_config
from visual_dynamics import checkpointing
from visual_dynamics.data import pipeline
from visual_dynamics.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return Predictor.from_checkpoint(tiny_run[0])


@pytest.fixture(scope="module")
def shapes_test_pairs(data_dir):
    source = pipeline.load_builder("shapes", "tiny", data_dir).as_data_source(split="test")
    batch = pipeline.eval_batches(source, 48, 1)[0]
    return batch["image"], batch["next_image"]


def mse(a, b):
    return float(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2))


def test_transfer_of_own_motion_beats_samples(predictor, shapes_test_pairs):
    images, next_images = shapes_test_pairs
    z = predictor.encode(images, next_images)
    assert z.shape == (48, predictor.latent_size)
    reconstruction = predictor.transfer(z, images)
    assert reconstruction.shape == images.shape and reconstruction.dtype == np.uint8
    sampled = np.stack([predictor.sample(image, 4, rng=i) for i, image in enumerate(images)])
    assert sampled.shape == (48, 4, 32, 32, 3)
    sample_error = np.mean([mse(sampled[:, k], next_images) for k in range(4)])
    assert mse(reconstruction, next_images) < 0.8 * sample_error


def test_extrapolation_starts_with_transfer_and_repeats_z(predictor, shapes_test_pairs):
    images, next_images = shapes_test_pairs
    z = predictor.encode(images[0], next_images[0])
    frames = predictor.extrapolate(images[0], z, steps=4)
    assert frames.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(frames[0], predictor.transfer(z, images[0]))
    np.testing.assert_array_equal(frames[1], predictor.transfer(z, frames[0]))
    batched = predictor.extrapolate(images[:3], z, steps=2)
    assert batched.shape == (3, 2, 32, 32, 3)


def test_traversal_at_the_original_value_is_the_reconstruction(predictor, shapes_test_pairs):
    images, next_images = shapes_test_pairs
    z = predictor.encode(images[1], next_images[1])
    dims = [0, predictor.latent_size - 1]
    values = [-10.0, float(z[0]), 10.0]
    frames = predictor.traverse(images[1], z, dims, values)
    assert frames.shape == (2, 3, 32, 32, 3)
    np.testing.assert_array_equal(frames[0, 1], predictor.transfer(z, images[1]))
    z_last = z.copy()
    z_last[-1] = -10.0
    np.testing.assert_array_equal(frames[1, 0], predictor.transfer(z_last, images[1]))


def test_images_of_any_size_and_feature_maps(predictor, shapes_test_pairs):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
    assert predictor.sample(big, 2, rng=0).shape == (2, 32, 32, 3)
    maps = predictor.feature_maps(shapes_test_pairs[0][0])
    sizes = [m.shape[0] for m in maps]
    assert len(maps) == len(predictor.config.model.pyramid_scales)
    assert sizes == sorted(sizes, reverse=True) and all(m.shape[-1] == maps[0].shape[-1] for m in maps)


def test_bad_inputs_get_clear_errors(predictor, tiny_run, shapes_test_pairs):
    image = shapes_test_pairs[0][0]
    with pytest.raises(ValueError, match="C = 1, 3 or 4"):
        predictor.sample(np.zeros((32, 32, 2), np.uint8), 2)
    with pytest.raises(ValueError, match=f"this model's z has {predictor.latent_size} dimensions"):
        predictor.transfer(np.zeros(predictor.latent_size + 1), image)
    with pytest.raises(ValueError, match=r"dimension\(s\) \[-1, 99999\] out of range"):
        predictor.traverse(image, np.zeros(predictor.latent_size), [-1, 99999], [0.0])
    other = tiny_config("unused")
    other.model.image_encoder_channels = (4, 4)
    with pytest.raises(ValueError, match="model.image_encoder_channels"):
        Predictor.from_checkpoint(tiny_run[0], config=other)
    same = tiny_config("elsewhere")  # data_dir and other run settings may differ
    assert Predictor.from_checkpoint(tiny_run[0], config=same).latent_size == predictor.latent_size


def test_from_an_empty_workdir(tmp_path):
    with pytest.raises(checkpointing.NoCheckpointError):
        Predictor.from_checkpoint(str(tmp_path))


@pytest.mark.parametrize("command,extra,expected", [
    ("transfer", ["--source={a}", "--source_next={b}", "--image={c}", "--image={a}"],
     ["c.png", "c.gif", "a.png", "grid.png"]),
    ("extrapolate", ["--image={a}", "--next_image={b}", "--steps=3"],
     ["frame_01.png", "frame_03.png", "extrapolation.gif", "grid.png"]),
    ("traverse", ["--image={a}", "--next_image={b}", "--dims=0,5", "--values=-5:5:3"],
     ["dim_0.png", "dim_0.gif", "dim_5.png", "grid.png"]),
    ("traverse", ["--image={a}"], ["grid.png"]),  # default dims: the bank's most varying
    ("layers", ["--image={a}"], ["scale_0.png", "scale_1.png"]),
])
def test_demo_subcommands_write_their_files(tiny_run, shapes_test_pairs, tmp_path, command, extra, expected):
    from PIL import Image
    paths = {}
    images, next_images = shapes_test_pairs
    for name, image in zip("abc", (images[0], next_images[0], images[5])):
        paths[name] = str(tmp_path / f"{name}.png")
        Image.fromarray(image).save(paths[name])
    out = tmp_path / "out"
    demo.main([command, f"--workdir={tiny_run[0]}", f"--output_dir={out}",
               *[e.format(**paths) for e in extra]])
    written = set(p.name for p in out.iterdir())
    assert set(expected) <= written, written


def test_demo_help_explains_each_subcommand(capsys):
    with pytest.raises(SystemExit):
        demo.main(["traverse", "--help"])
    assert "linspace(-10, 10, 21)" in " ".join(capsys.readouterr().out.split())
