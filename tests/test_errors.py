"""Bad input gets one clear error that names the problem and the fix."""

import os
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT, tiny_config
from visual_dynamics import checkpointing, train
from visual_dynamics.data import pipeline


def _run(script, *args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(ROOT, "experiments", script), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_missing_prepared_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "GENERATED_DATASETS", ())  # as if shapes needed a download
    with pytest.raises(pipeline.DatasetNotPreparedError,
                       match="(?s)not prepared.*experiments/prepare_data.py --dataset=shapes"):
        pipeline.prepared_builder("shapes", "tiny", str(tmp_path))
    assert not os.listdir(tmp_path)  # nothing half-written


def test_unprepared_real_dataset_stops_training_with_the_command_to_prepare_it(tmp_path):
    done = _run("train.py", "--dataset=exercise", f"--workdir={tmp_path}",
                f"--config.data_dir={tmp_path}")
    assert done.returncode != 0
    assert "error: dataset 'exercise' (size_128) is not prepared" in done.stderr
    assert ("python experiments/prepare_data.py --dataset=exercise --builder_config=size_128 "
            "--manual_dir=") in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("script,override,message", [
    ("train.py", "--config.nonexistent_key=1", "unknown config key nonexistent_key"),
    ("train.py", "--config.model.kernel_sise=3", 'Did you mean "kernel_size"'),
    ("train.py", "--config.batch_size=abc", "error: --config.batch_size=abc: config.batch_size takes int"),
    ("train.py", "--config.model.variational=maybe", "config.model.variational takes bool, e.g. True"),
    ("train.py", "--config.model.pyramid_scales=(1,'a')",
     "error: --config.model.pyramid_scales=(1, 'a'): config.model.pyramid_scales takes a tuple of float, "
     "e.g. (1.0, 0.5, 0.25, 0.125)"),
    ("train.py", "--config.model.motion_encoder_layers=((8,'VALID',1),)",
     "config.model.motion_encoder_layers takes a tuple of (int, str, bool)"),
    ("ablate_shapes.py", "--config.modle.z_size=3", 'Did you mean "model"'),
    ("ablate_shapes.py", "--config.model.z_size=x", "config.model.z_size takes int or None"),
    ("ablate_shapes.py", "--z_sizes=8,big", "--z_sizes takes positive whole numbers or 'grid'"),
    ("ablate_shapes.py", "--lambdas=10,-1", "--lambdas takes positive numbers"),
])
def test_config_typos(script, override, message):
    done = _run(script, override, *(["--dataset=shapes:tiny"] if script == "train.py" else []))
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_dataset_is_the_short_form_of_config(tmp_path):
    """--dataset=NAME:VARIANT and --config=experiments/configs/NAME.py:VARIANT give the same config, with
    the same overrides applied (the run then stops: the dataset is not prepared)."""
    import json

    overrides = [f"--workdir={tmp_path}", f"--config.data_dir={tmp_path}", "--config.batch_size=8"]
    configs = []
    for form in ("--dataset=exercise:small", f"--config={ROOT}/experiments/configs/exercise.py:small"):
        done = _run("train.py", form, *overrides)
        assert "is not prepared" in done.stderr, done.stderr
        configs.append(json.loads(done.stdout[:done.stdout.rindex("}") + 1]))
    assert configs[0] == configs[1]
    assert configs[0]["batch_size"] == 8 and configs[0]["data_dir"] == str(tmp_path)
    assert configs[0]["model"]["decoder_size"] == 32  # the small variant's
    both = _run("train.py", "--dataset=exercise", f"--config={ROOT}/experiments/configs/exercise.py")
    assert both.returncode != 0 and "give --dataset or --config, not both" in both.stderr


def test_unknown_dataset_or_variant():
    for arg in ("--dataset=shapez", "--dataset=shapes:huge"):
        done = _run("train.py", arg)
        assert done.returncode != 0 and "choose one of: exercise" in done.stderr


def test_workdir_without_checkpoint(tmp_path):
    with pytest.raises(checkpointing.NoCheckpointError, match="config.json is missing"):
        checkpointing.restore_variables(str(tmp_path))
    checkpointing.save_config(tiny_config(str(tmp_path)), str(tmp_path))
    with pytest.raises(checkpointing.NoCheckpointError, match="holds no checkpoint"):
        checkpointing.restore_variables(str(tmp_path))
    image = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(image)
    done = _run("demo.py", "sample", f"--workdir={tmp_path}", f"--image={image}")
    assert done.returncode != 0 and "holds no checkpoint" in done.stderr
    assert "Traceback" not in done.stderr


def test_resuming_with_another_model_is_refused(tiny_run):
    workdir, _ = tiny_run
    config = tiny_config("unused")
    config.model.image_encoder_channels = (4, 4)
    with pytest.raises(ValueError, match="model.image_encoder_channels"):
        train.train_and_evaluate(config, workdir)
