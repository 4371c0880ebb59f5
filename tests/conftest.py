"""Shared fixtures: a prepared tiny Shapes dataset and one tiny training run per session."""

import os
import sys

import jax
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))  # the config files import nothing from it


def float64():
    """A context in which JAX computes in float64 (`jax.enable_x64` from JAX 0.7 on, `jax.experimental`'s
    before it)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64
    return enable_x64()


def tiny_config(data_dir: str, **overrides):
    """experiments/configs/shapes.py's tiny variant reading from `data_dir`."""
    from configs import shapes

    config = shapes.get_config("tiny")
    config.data_dir = data_dir
    for key, value in overrides.items():
        config[key] = value
    return config


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
    from visual_dynamics.data import pipeline

    path = str(tmp_path_factory.mktemp("tensorflow_datasets"))
    pipeline.prepare(pipeline.load_builder("shapes", "tiny", path))
    return path


@pytest.fixture(scope="session")
def tiny_run(data_dir, tmp_path_factory):
    """(workdir, results) of the tiny config trained for its 300 steps."""
    from visual_dynamics import train

    workdir = str(tmp_path_factory.mktemp("tiny_run"))
    results = train.train_and_evaluate(tiny_config(data_dir), workdir)
    return workdir, results
