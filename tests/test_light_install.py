"""The light install (setup.cfg's install_requires, no training stack): what using a trained model needs,
and nothing more, on every shipped model; checkpoints and exported models written by one release of the
stack load with another (tests/data/stack_jax-*/, written by tests/stack_fixtures.py). .ci/run runs this
file in environments of the oldest and the newest releases setup.cfg allows."""

import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from stack_fixtures import flat
from visual_dynamics import checkpointing, pretrained
from visual_dynamics.errors import TRAINING_MODULES
from visual_dynamics.predictor import Predictor
from visual_dynamics.train_state import abstract_train_state

STACK_FIXTURES = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "stack_jax-*")))


def test_using_a_model_imports_no_training_package():
    code = ("import sys, numpy as np; from visual_dynamics.predictor import Predictor; "
            "p = Predictor.from_pretrained('shapes_small'); p.sample(np.zeros((64, 64, 3), np.uint8), n=1); "
            f"print(sorted(m for m in {TRAINING_MODULES + ('tensorflow',)!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name", pretrained.available())
def test_every_shipped_model_does_all_a_predictor_offers(name):
    predictor = Predictor.from_pretrained(name)
    side = predictor.image_size
    image = np.zeros((side, side, 3), np.uint8)
    image[side // 4: side // 2, side // 4: side // 2] = 255
    samples = predictor.sample(image, n=3, rng=0)
    assert samples.shape == (3, side, side, 3) and samples.dtype == np.uint8
    np.testing.assert_array_equal(samples, predictor.sample(image, n=3, rng=0))  # seeded
    z = predictor.encode(image, samples[0])
    assert z.shape == (predictor.latent_size,)
    assert predictor.transfer(z, image).shape == (side, side, 3)
    assert predictor.extrapolate(image, z, steps=3).shape == (3, side, side, 3)
    assert predictor.traverse(image, z, dims=[0, 1], values=[-1.0, 1.0]).shape[:2] == (2, 2)
    maps = predictor.feature_maps(image)
    assert maps and all(m.ndim == 3 for m in maps)


@pytest.mark.skipif(all(importlib.util.find_spec(m) for m in TRAINING_MODULES),
                    reason="the training extra is installed")
@pytest.mark.parametrize("script", ["train.py", "prepare_data.py"])
def test_training_commands_name_the_extra_to_install(script):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", script)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {script} needs the training extra (")
    assert "pip install 'visual-dynamics[train]'" in done.stderr


@pytest.mark.parametrize("folder", STACK_FIXTURES, ids=os.path.basename)
def test_a_checkpoint_and_a_model_file_of_another_release_load_and_predict_the_same(folder, tmp_path):
    expected = np.load(os.path.join(folder, "expected.npz"))
    workdir = str(tmp_path / "run")
    shutil.copytree(os.path.join(folder, "run"), workdir)
    _, variables, step = checkpointing.restore_variables(workdir)
    assert step == 1
    restored = flat(variables)
    written = {k[len("variables/"):] for k in expected.files if k.startswith("variables/")}
    assert set(restored) == written
    for key, value in restored.items():
        np.testing.assert_array_equal(value, expected[f"variables/{key}"], err_msg=key)  # bit for bit
    model_file = os.path.join(folder, "model.npz")
    for predictor, frames in ((Predictor.from_checkpoint(workdir), expected["from_checkpoint"]),
                              (Predictor.from_file(model_file), expected["from_file"])):
        moved = predictor.transfer(expected["z"], expected["image"])
        assert np.abs(moved.astype(int) - frames).max() <= 1  # float rounding of another XLA


def test_the_lowest_jax_setup_cfg_allows_wrote_a_fixture_and_so_did_a_newer_one():
    import configparser

    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, "setup.cfg"))
    floor = [r.split(">=")[1] for r in setup["options"]["install_requires"].split() if r.startswith("jax>=")]
    versions = {os.path.basename(f)[len("stack_jax-"):] for f in STACK_FIXTURES}
    assert floor and floor[0] in versions, (floor, versions)
    assert len(versions) >= 2, versions


def test_the_notebook_installs_the_light_form_and_keeps_the_runtimes_jax():
    import json

    with open(os.path.join(ROOT, "notebooks", "visual_dynamics_colab.ipynb")) as f:
        cells = ["".join(c["source"]) for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    install = [line for cell in cells for line in cell.splitlines() if '"pip", "install"' in line]
    assert install == ['    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", SOURCE, '
                       '"matplotlib"])']  # no extra, no --upgrade: a JAX in range stays


def _copied_run(tmp_path, record_stack: bool) -> str:
    """A copy of a fixture training run (one checkpoint), its config.json rewritten by `save_config`
    (which records the installed stack), or without that record (as runs before it was kept)."""
    workdir = str(tmp_path / "run")
    shutil.copytree(os.path.join(STACK_FIXTURES[-1], "run"), workdir)
    checkpointing.save_config(checkpointing.load_config(workdir), workdir)
    if not record_stack:
        path = os.path.join(workdir, "config.json")
        with open(path) as f:
            saved = json.load(f)
        del saved["software_stack"]
        with open(path, "w") as f:
            json.dump(saved, f)
    return workdir


def _break_the_stack(monkeypatch, how: str) -> None:
    """What a release of the stack that does not fit another looks like while restoring."""
    if how == "a function the installed JAX lacks":  # the reported case: Orbax 0.11.24 with JAX 0.5.0
        import jax.monitoring
        if not hasattr(jax.monitoring, "record_scalar"):
            pytest.skip("this JAX has no jax.monitoring.record_scalar to take away")
        monkeypatch.delattr(jax.monitoring, "record_scalar")
    else:  # Orbax's restore arguments with another signature
        import orbax.checkpoint as ocp

        monkeypatch.setattr(ocp.args, "StandardRestore", lambda: None)


@pytest.mark.parametrize("how", ["a function the installed JAX lacks", "a changed signature"])
def test_a_checkpoint_the_stack_cannot_read_is_a_version_mismatch_and_stays(how, tmp_path, monkeypatch):
    import jax

    from visual_dynamics import software_stack

    workdir = _copied_run(tmp_path, record_stack=True)
    with open(os.path.join(workdir, "config.json")) as f:
        recorded = json.load(f)["software_stack"]
    assert recorded["jax"] == jax.__version__ and set(recorded) == set(software_stack.PACKAGES)
    before = sorted(os.listdir(os.path.join(workdir, "checkpoints")))
    _break_the_stack(monkeypatch, how)
    for restore in (lambda: checkpointing.restore_variables(workdir),          # a reader (Predictor)
                    lambda: checkpointing.restore_variables(workdir, step=1),
                    lambda: checkpointing.restore_newest_readable(              # training resuming
                        workdir, abstract_train_state(checkpointing.load_config(workdir)),
                        set_aside=True)):
        try:
            restore()
        except software_stack.StackMismatchError as e:
            message = str(e)
        else:
            pytest.skip(f"this Orbax restores without what {how} takes away")
        assert "version mismatch" in message and "damaged" not in message.replace("not damaged", "")
        assert f"installed jax {jax.__version__}" in message
        assert f"written with jax {recorded['jax']}" in message
        assert f"pip install 'jax=={recorded['jax']}' 'jaxlib=={recorded['jaxlib']}'" in message
        assert "\n" not in message
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == before
    assert not os.path.exists(os.path.join(workdir, checkpointing.DAMAGED_FOLDER))


def test_a_mismatch_without_recorded_versions_says_so(tmp_path, monkeypatch):
    from visual_dynamics import software_stack

    workdir = _copied_run(tmp_path, record_stack=False)  # written before versions were recorded
    _break_the_stack(monkeypatch, "a changed signature")
    with pytest.raises(software_stack.StackMismatchError, match="the versions that wrote it were not "
                       "recorded. To read it, install the newest releases: pip install -U jax jaxlib"):
        Predictor.from_checkpoint(workdir)


def test_a_damaged_checkpoint_is_still_called_damaged_not_a_mismatch(tmp_path):
    workdir = _copied_run(tmp_path, record_stack=True)
    metadata = glob.glob(os.path.join(workdir, "checkpoints", "1", "*", "_METADATA"))[0]
    with open(metadata, "r+b") as f:
        f.truncate(os.path.getsize(metadata) // 2)
    with pytest.raises(checkpointing.NoCheckpointError, match="can be read .*restore them from a copy"):
        checkpointing.restore_variables(workdir)
