"""Trained models shipped inside the package, loaded without network access.

    predictor = Predictor.from_pretrained("shapes_small")

Each model is a folder visual_dynamics/pretrained/<name>/ holding config.json (the run's config),
variables.npz (parameters and BatchNorm statistics, float32, one array per '/'-joined variable path),
z_bank.npz (the run's empirical z distribution, float16) and README.md (how it was trained and what it
scores). `export` writes such a folder from a training workdir:

    python experiments/export_pretrained.py --workdir=workdirs/shapes_small --name=shapes_small

`export_file` packs the same content into one file (variables in float16, for a run's results to travel
light, e.g. back from a lent GPU machine), `load_file` reads it: `Predictor.from_file(path)`.
"""

import json
import os

import ml_collections
import numpy as np
from flax import traverse_util

from visual_dynamics import checkpointing
from visual_dynamics.atomic import atomic_path
from visual_dynamics.z_bank import ZBank

VARIABLES_FILE = "variables.npz"
ROOT = os.path.dirname(os.path.abspath(__file__))


def available() -> list[str]:
    """Names of the models shipped with the package."""
    return sorted(name for name in os.listdir(ROOT)
                  if os.path.exists(os.path.join(ROOT, name, checkpointing.CONFIG_FILE)))


def folder(name: str) -> str:
    """The folder of the shipped model `name`.

    Raises:
      ValueError: no shipped model has that name.
    """
    if name not in available():
        raise ValueError(f"no pretrained model named {name!r}; the package ships: "
                         f"{', '.join(available()) or 'none'}")
    return os.path.join(ROOT, name)


def save_variables(variables: dict, directory: str) -> str:
    """Writes {'params', 'batch_stats'} to directory/variables.npz atomically, as float32."""
    flat = traverse_util.flatten_dict(variables, sep="/")
    path = os.path.join(directory, VARIABLES_FILE)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **{k: np.asarray(v, np.float32) for k, v in flat.items()})
    return path


def load_variables(directory: str) -> dict:
    """The variables written by `save_variables`."""
    with np.load(os.path.join(directory, VARIABLES_FILE)) as f:
        return traverse_util.unflatten_dict({k: f[k] for k in f.files}, sep="/")


def export(config: ml_collections.ConfigDict, variables: dict, bank: ZBank, directory: str) -> None:
    """Writes a run's config, variables and z bank (float16) into `directory` (created). The config's
    data_dir, a path on the training machine, is dropped."""
    os.makedirs(directory, exist_ok=True)
    config = ml_collections.ConfigDict(config.to_dict())
    config.data_dir = None
    checkpointing.save_config(config, directory)
    save_variables(variables, directory)
    bank.save(directory, dtype=np.float16)


def export_file(config: ml_collections.ConfigDict, variables: dict, bank: ZBank, path: str) -> None:
    """Writes a run's config, variables and z bank, all but the config in float16, into the one
    compressed file `path` (atomically). The config's data_dir is dropped."""
    config = ml_collections.ConfigDict(config.to_dict())
    config.data_dir = None
    arrays = {f"variables/{k}": np.asarray(v, np.float16)
              for k, v in traverse_util.flatten_dict(variables, sep="/").items()}
    arrays.update({"z_bank/z_mean": bank.z_mean.astype(np.float16),
                   "z_bank/z_logvar": bank.z_logvar.astype(np.float16), "z_bank/step": np.int64(bank.step),
                   "config": np.frombuffer(config.to_json().encode(), np.uint8)})
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)


def load_file(path: str) -> tuple[ml_collections.ConfigDict, dict, ZBank]:
    """(config, variables as float32, z bank as float32) of a file written by `export_file`."""
    with np.load(path) as f:
        config = ml_collections.ConfigDict(json.loads(f["config"].tobytes().decode()))
        variables = traverse_util.unflatten_dict(
            {k[len("variables/"):]: f[k].astype(np.float32) for k in f.files if k.startswith("variables/")},
            sep="/")
        bank = ZBank(f["z_bank/z_mean"].astype(np.float32), f["z_bank/z_logvar"].astype(np.float32),
                     int(f["z_bank/step"]))
    return config, variables, bank


def load(name: str) -> tuple[ml_collections.ConfigDict, dict, ZBank]:
    """(config, variables, z bank) of the shipped model `name`."""
    directory = folder(name)
    return checkpointing.load_config(directory), load_variables(directory), ZBank.load(directory)
