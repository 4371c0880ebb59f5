"""experiments/app.py, the web demo: its functions called directly (against the Predictor they wrap),
bad input as a message, and one end-to-end run in a real headless Chromium that uploads an image and
samples. Skips without the demo extra (gradio), and the browser test without Chromium and its driver
(Debian's chromium, chromium-driver: .ci/run installs them and sets VD_REQUIRE_BROWSER, which turns that
skip into a failure) or selenium. VD_APP_SCREENSHOTS=DIR keeps a screenshot of each tab there:

  VD_APP_SCREENSHOTS=docs/figures python -m pytest -q tests/test_app.py -k browser   # the docs' pictures
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT

gr = pytest.importorskip("gradio")
import app  # noqa: E402  (experiments/, on the path from conftest)

from visual_dynamics import pretrained  # noqa: E402
from visual_dynamics.predictor import Predictor  # noqa: E402

MODEL = "shapes_cpu"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[str, str]:
    """The shipped model's example input and a sampled next frame, as PNG files."""
    folder = tmp_path_factory.mktemp("example")
    paths = app._example_files(MODEL, "")
    copies = [str(folder / os.path.basename(p)) for p in paths[:2]]
    for path, copy in zip(paths, copies):
        shutil.copy(path, copy)
    return copies[0], copies[1]


def _png(array: np.ndarray, path) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def test_sample_gives_n_differing_frames_a_moving_grid_and_a_gif_each(example):
    image_path, _ = example
    moving, frames, gifs = app.sample(MODEL, "", image_path, 6, False, 3)
    predictor = Predictor.from_pretrained(MODEL)
    image = app.read_upload(image_path, predictor.image_size)
    np.testing.assert_array_equal(np.stack(frames), predictor.sample(image, 6, rng=3))
    assert len({f.tobytes() for f in frames}) > 1
    assert len(gifs) == 6 and all(Image.open(g).n_frames == 2 for g in gifs)
    with Image.open(moving) as grid:
        assert grid.n_frames == 2
    prior = app.sample(MODEL, "", image_path, 6, True, 3)[1]
    np.testing.assert_array_equal(np.stack(prior), predictor.sample(image, 6, rng=3, from_prior=True))


def test_transfer_extrapolate_traverse_and_layers_are_the_predictors(example, tmp_path):
    image_path, next_path = example
    predictor = Predictor.from_pretrained(MODEL)
    image, next_image = (app.read_upload(p, predictor.image_size) for p in example)
    target = _png(np.ascontiguousarray(image[::-1]), tmp_path / "target.png")
    z = predictor.encode(image, next_image)

    _, moved = app.transfer(MODEL, "", image_path, next_path, [target, None])
    np.testing.assert_array_equal(moved[0], predictor.transfer(z, image[::-1]))
    _, frames = app.extrapolate(MODEL, "", image_path, next_path, 3)
    np.testing.assert_array_equal(np.stack(frames), predictor.extrapolate(image, z, 3))
    np.testing.assert_array_equal(app.traverse(MODEL, "", image_path, next_path, 5, 2.5),
                                  predictor.traverse(image, z, [5], [2.5])[0, 0])
    grids = app.layers(MODEL, "", image_path)
    assert len(grids) == len(predictor.feature_maps(image)) and all(g.dtype == np.uint8 for g in grids)


def test_bad_input_is_a_message_in_the_page(tmp_path, monkeypatch):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not pixels")
    cases = [((None,), "upload an image first"),
             ((str(not_an_image),), "not an image file"),
             ((str(tmp_path / "empty.png"),), "not an image file")]
    (tmp_path / "empty.png").write_bytes(b"")
    sample = app._in_page(app.sample)
    for (path,), message in cases:
        with pytest.raises(gr.Error, match=message):
            sample(MODEL, "", path, 2, False, 0)
    monkeypatch.setattr(app, "MAX_PIXELS", 100)
    with pytest.raises(gr.Error, match="is 20 x 20 pixels; upload one under"):
        sample(MODEL, "", _png(np.zeros((20, 20, 3), np.uint8), tmp_path / "big.png"), 2, False, 0)
    with pytest.raises(gr.Error, match="holds no training run"):
        sample(app.WORKDIR_CHOICE, str(tmp_path), _png(np.zeros((8, 8, 3), np.uint8), tmp_path / "a.png"),
               2, False, 0)
    with pytest.raises(gr.Error, match="type the path of a training workdir"):
        sample(app.WORKDIR_CHOICE, " ", None, 2, False, 0)


def test_a_training_run_is_a_model_too(tmp_path):
    workdir = os.path.join(ROOT, "tests", "data", "stack_jax-0.10.2", "run")  # a tiny run's checkpoint
    image = _png(np.full((40, 40, 3), 90, np.uint8), tmp_path / "a.png")
    _, frames, _ = app.sample(app.WORKDIR_CHOICE, workdir, image, 3, False, 0)
    np.testing.assert_array_equal(np.stack(frames), Predictor.from_checkpoint(workdir).sample(
        app.read_upload(image, 32), 3, rng=0))


def test_every_shipped_model_has_example_images():
    for name in pretrained.available():
        images = app.example_images(name)
        side = Predictor.from_pretrained(name).image_size
        assert [i.shape for i in images] == [(side, side, 3)] * 3


# --- the browser ------------------------------------------------------------------------------------

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served():
    """The app on a free port of 127.0.0.1: its URL; stopped afterwards."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "experiments", "app.py"), f"--port={port}"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 180  # generous: a loaded machine starts it slowly
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the app did not start: {server.stdout.read()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        missing = "no Chromium and ChromeDriver (apt-get install chromium chromium-driver)"
        if os.environ.get("VD_REQUIRE_BROWSER"):  # .ci/run installed them: their absence is a failure
            pytest.fail(missing)
        pytest.skip(missing)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))


def _wait(driver, condition, seconds: float = 120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.25).until(condition)


def test_in_a_browser_an_uploaded_image_gets_n_differing_samples(served, example, tmp_path):
    from selenium.webdriver.common.by import By

    shots = os.environ.get("VD_APP_SCREENSHOTS") or str(tmp_path)
    driver = _browser()
    try:
        driver.get(served)
        upload = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#sample_image input[type=file]"))
        upload.send_keys(os.path.abspath(example[0]))
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#sample_image img"))
        driver.find_element(By.ID, "sample_button").click()
        images = _wait(driver, lambda d: (lambda found: found if len(found) == 8 else None)(
            d.find_elements(By.CSS_SELECTOR, "#sample_gallery img")))
        frames = [np.asarray(Image.open(urllib.request.urlopen(i.get_attribute("src"), timeout=10)))
                  for i in images]
        assert len(frames) == 8 and all(f.shape[:2] == (64, 64) for f in frames)
        assert len({f.tobytes() for f in frames}) > 1  # samples differ
        driver.save_screenshot(os.path.join(shots, "app_sample.png"))
        for tab in ("transfer", "extrapolate", "traverse", "layers"):
            driver.find_element(By.XPATH, f"//button[@role='tab' and normalize-space()='{tab}']").click()
            panel = _wait(driver, lambda d: d.find_element(By.ID, f"tab_{tab}"))
            panel.find_element(By.XPATH, ".//button[normalize-space()='example']").click()
            _wait(driver, lambda d: panel.find_elements(By.CSS_SELECTOR, "img"))
            primary = panel.find_elements(By.CSS_SELECTOR, "button.primary")
            if primary:  # traverse has none: its frame follows the inputs
                primary[0].click()
            _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{tab}_output img"))
            time.sleep(1)  # the page's "processing" shade fades
            driver.save_screenshot(os.path.join(shots, f"app_{tab}.png"))
    finally:
        driver.quit()
