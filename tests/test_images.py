"""User images: every kind a user will try becomes 8-bit RGB (or one clear error), through the
Predictor API, `preprocessing.read_image` and `demo.py sample`."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from visual_dynamics import preprocessing
from visual_dynamics.predictor import Predictor

GRAY = np.array([[0, 64], [128, 255]], np.uint8)
RGB = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], np.uint8)
ALPHA = np.array([[255, 0], [128, 255]], np.uint8)
# RGB composited on white by ALPHA: a * rgb + (1 - a) * 255, rounded.
OPACITY = ALPHA[..., None] / 255.0
RGB_ON_WHITE = np.round(RGB * OPACITY + 255.0 * (1.0 - OPACITY)).astype(np.uint8)


@pytest.mark.parametrize("image,expected,note", [
    (RGB, RGB, None),
    (GRAY, np.repeat(GRAY[..., None], 3, -1), "grayscale to RGB"),
    (GRAY[..., None], np.repeat(GRAY[..., None], 3, -1), "grayscale to RGB"),
    (np.concatenate([RGB, ALPHA[..., None]], -1), RGB_ON_WHITE, "alpha composited on white"),
    (RGB.astype(np.uint16) * 257, RGB, "16-bit to 8-bit"),
    (RGB / 255.0, RGB, "float64 to 8-bit"),
    ((RGB / 255.0).astype(np.float32), RGB, "float32 to 8-bit"),
], ids=["rgb", "gray", "gray1", "rgba", "uint16", "float64", "float32"])
def test_arrays_become_8_bit_rgb(image, expected, note):
    rgb, converted = preprocessing.as_rgb_uint8(image)
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, expected)
    assert converted == note


@pytest.mark.parametrize("image,match", [
    (np.zeros((4, 4, 2), np.uint8), r"C = 1 \(gray\), 3 \(RGB\) or 4"),
    (np.zeros((4,), np.uint8), "got shape"),
    (np.zeros((4, 4, 3), np.int32), "dtype uint8, uint16 or float"),
    (np.full((4, 4, 3), 2.0), r"values in \[0, 1\]; got values in \[2, 2\]"),
    (np.full((4, 4, 3), np.nan), "NaN or inf"),
])
def test_arrays_that_are_not_images(image, match):
    with pytest.raises(ValueError, match=match):
        preprocessing.as_rgb_uint8(image)


def _files(folder) -> dict:
    """One file per kind a user may try: name -> (path, the uint8 RGB it must read as)."""
    files = {}

    def save(name, image, expected, **kwargs):
        path = os.path.join(folder, name)
        image.save(path, **kwargs)
        files[name] = (path, expected)

    save("rgb.png", Image.fromarray(RGB), RGB)
    save("gray.png", Image.fromarray(GRAY), np.repeat(GRAY[..., None], 3, -1))
    save("rgba.png", Image.fromarray(np.concatenate([RGB, ALPHA[..., None]], -1)), RGB_ON_WHITE)
    gray16 = GRAY.astype(np.uint16) * 257
    save("gray16.png", Image.fromarray(gray16), np.repeat(GRAY[..., None], 3, -1))
    palette = Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    save("palette.png", palette, np.asarray(palette.convert("RGB")))
    return files


def _bad_files(folder) -> dict:
    """name -> (path, what the error must say)."""
    paths = {}
    for name, content in (("empty.png", b""), ("text.png", b"not an image at all\n")):
        paths[name] = os.path.join(folder, name)
        with open(paths[name], "wb") as f:
            f.write(content)
    whole = os.path.join(folder, "whole.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 4), dtype=np.uint8)).save(whole)
    paths["truncated.png"] = os.path.join(folder, "truncated.png")
    with open(whole, "rb") as f, open(paths["truncated.png"], "wb") as out:
        out.write(f.read()[:200])
    return {"empty.png": (paths["empty.png"], "the file is empty"),
            "text.png": (paths["text.png"], "not an image file"),
            "truncated.png": (paths["truncated.png"], "damaged or truncated"),
            "missing.png": (os.path.join(folder, "missing.png"), "no such file")}


def test_image_files_of_every_kind_read_as_8_bit_rgb(tmp_path):
    for name, (path, expected) in _files(str(tmp_path)).items():
        rgb, converted = preprocessing.read_image(path)
        np.testing.assert_array_equal(rgb, expected, err_msg=name)
        assert (converted is None) == (name == "rgb.png"), (name, converted)


def test_damaged_image_files_raise_one_clear_error(tmp_path):
    for name, (path, message) in _bad_files(str(tmp_path)).items():
        with pytest.raises(preprocessing.ImageFileError, match=message) as error:
            preprocessing.read_image(path)
        assert path in str(error.value) and "\n" not in str(error.value)


def test_predictor_converts_arrays_like_files(tiny_run):
    predictor = Predictor.from_checkpoint(tiny_run[0])
    rgba = np.concatenate([RGB, ALPHA[..., None]], -1)
    z = np.zeros(predictor.latent_size, np.float32)
    for image, same in ((GRAY, np.repeat(GRAY[..., None], 3, -1)), (rgba, RGB_ON_WHITE),
                        (RGB.astype(np.uint16) * 257, RGB), (RGB / 255.0, RGB)):
        np.testing.assert_array_equal(predictor.transfer(z, image), predictor.transfer(z, same))
    assert predictor.transfer(z, np.stack([GRAY[..., None]] * 2)).shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        predictor.sample(RGB * 2.0, 1)


def _demo(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "demo.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_demo_converts_images_and_refuses_damaged_ones_in_one_line(tiny_run, tmp_path):
    files = _files(str(tmp_path))
    done = _demo("sample", f"--workdir={tiny_run[0]}", f"--output_dir={tmp_path / 'out'}", "--num_samples=2",
                 *[f"--image={path}" for path, _ in files.values()])
    assert done.returncode == 0, done.stderr
    for name in ("gray.png", "rgba.png", "gray16.png", "palette.png"):
        assert f"{files[name][0]}: a " in done.stdout and "converted to 8-bit RGB" in done.stdout, name
    assert f"{files['rgb.png'][0]}:" not in done.stdout
    assert (tmp_path / "out" / "grid.png").exists()
    for name, (path, message) in _bad_files(str(tmp_path)).items():
        done = _demo("sample", f"--workdir={tiny_run[0]}", f"--output_dir={tmp_path / 'bad'}",
                     f"--image={path}")
        assert done.returncode == 2, (name, done.stderr)
        assert done.stderr.strip() == done.stderr.strip().splitlines()[0], done.stderr  # one line
        assert path in done.stderr and message in done.stderr and "Traceback" not in done.stderr


def _test_images() -> list[np.ndarray]:
    """Noise and smooth images of square, wide, tall, odd and tiny shapes (uint8 [H, W, 3])."""
    rng = np.random.default_rng(0)
    images = []
    for shape in [(128, 128), (97, 131), (60, 60), (40, 40), (240, 320), (480, 640), (33, 200), (64, 63),
                  (2, 300), (1, 1)]:
        noise = rng.integers(0, 256, (*shape, 3)).astype(np.float64)
        smooth = noise
        for axis in (0, 1):  # a 5-tap box blur along each axis: texture at the scale of a few pixels
            smooth = sum(np.roll(smooth, k, axis) for k in range(-2, 3)) / 5
        images += [noise.astype(np.uint8), np.round(smooth).astype(np.uint8)]
    return images


@pytest.mark.parametrize("size", [32, 64, 128])
def test_resize_matches_opencv_within_one_level(size):
    # The resize that the light install does without OpenCV, against OpenCV's own (the train extra
    # has it): area averaging when shrinking, bilinear when growing.
    cv2 = pytest.importorskip("cv2")
    for image in _test_images():
        shrinking = size < min(image.shape[:2])
        method = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        expected = cv2.resize(image, (size, size), interpolation=method)
        resized = preprocessing.resize_image(image, size)
        difference = np.abs(resized.astype(int) - expected)
        assert resized.shape == (size, size, 3) and resized.dtype == np.uint8
        assert difference.mean() < 1.0 and difference.max() <= 1, (image.shape, size)


def test_shrinking_by_a_whole_factor_is_the_block_mean():
    image = _test_images()[0]                                       # 128 x 128 noise
    blocks = image.reshape(32, 4, 32, 4, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_array_equal(preprocessing.resize_image(image, 32), np.round(blocks))


def test_area_weights_are_each_output_pixels_share_of_the_input():
    taps, weights = preprocessing.resampling_taps(3, 2, area=True)  # footprints [0, 1.5) and [1.5, 3)
    dense = np.zeros((2, 3))
    np.add.at(dense, (np.arange(2)[:, None], taps), weights)
    np.testing.assert_allclose(dense, [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]], rtol=1e-6)
