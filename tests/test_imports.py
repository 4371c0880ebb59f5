"""The layering: inference imports no training or dataset stack; the data readers import no TFDS."""

import subprocess
import sys

import pytest


def _imported(module: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of `candidates` a fresh interpreter has in sys.modules after importing `module`."""
    code = f"import sys, {module}; print(' '.join(m for m in {candidates!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_predictor_imports_no_training_or_dataset_code():
    heavy = ("visual_dynamics.train", "tensorboardX", "grain", "tensorflow_datasets")
    assert _imported("visual_dynamics.predictor", heavy + ("visual_dynamics.predictor",)) == [
        "visual_dynamics.predictor"]  # the check sees what it imported


@pytest.mark.parametrize("reader", ["exercise", "penn_action", "sprites", "lpc", "videos"])
def test_the_data_readers_import_no_tfds(reader):
    module = f"visual_dynamics.data.{reader}"
    assert _imported(module, ("tensorflow_datasets", "grain", module)) == [module]
