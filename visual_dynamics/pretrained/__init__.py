"""Trained models shipped inside the package, loaded without network access.

    predictor = Predictor.from_pretrained("shapes_small")

Each model is a folder visual_dynamics/pretrained/<name>/ holding config.json (the run's config),
variables.npz (parameters and BatchNorm statistics, float32 or float16, one array per '/'-joined variable
path; split into variables-K-of-N.npz where one file would pass 5 MiB), z_bank.npz (the run's empirical
z distribution, float16), README.md (how it was trained and what it scores) and, for a model of a
downloaded dataset, example_pairs.npz (a few test pairs to try it on without the dataset). `export`
writes such a folder from a training workdir:

    python experiments/export_pretrained.py --workdir=workdirs/shapes_small --name=shapes_small

`export_file` packs the same content into one file under 14 MiB (variables in float16, the z bank cut to
what fits beside them: a run's results travel light, e.g. back from a lent GPU machine), `load_file`
reads it: `Predictor.from_file(path)`.
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
VARIABLES_SHARD = "variables-{:05d}-of-{:05d}.npz"  # the folder's variables in several files
EXAMPLE_PAIRS_FILE = "example_pairs.npz"
ROOT = os.path.dirname(os.path.abspath(__file__))
# Every file of a shipped folder stays under 5 MiB (git), a travel file well under the 16 MiB that comes
# back from a lent machine. Bounds on the arrays' raw bytes: compression only shrinks them, but for a
# few bytes of zip header per array.
SHIPPED_FILE_BYTES = 9 * 2 ** 19    # 4.5 MiB
TRAVEL_FILE_BYTES = 14 * 2 ** 20


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


def example_pairs(name: str) -> dict[str, np.ndarray]:
    """{'image', 'next_image'}: uint8 [N, S, S, 3], test pairs shipped with the model `name`.

    Raises:
      ValueError: no shipped model has that name.
      FileNotFoundError: the model ships none (a Shapes model: generate pairs with `data.shapes`).
    """
    path = os.path.join(folder(name), EXAMPLE_PAIRS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name} ships no {EXAMPLE_PAIRS_FILE}")
    with np.load(path) as f:
        return {key: f[key] for key in ("image", "next_image")}


def save_example_pairs(pairs: dict[str, np.ndarray], directory: str) -> None:
    """Writes {'image', 'next_image'} uint8 [N, S, S, 3] as directory/example_pairs.npz, atomically."""
    with atomic_path(os.path.join(directory, EXAMPLE_PAIRS_FILE)) as tmp:
        np.savez_compressed(tmp, image=pairs["image"], next_image=pairs["next_image"])


def _shards(arrays: dict[str, np.ndarray], max_bytes: int) -> list[dict[str, np.ndarray]]:
    """`arrays` in order, split into consecutive groups of at most `max_bytes` raw bytes each.

    Raises:
      ValueError: one array alone is larger.
    """
    shards, size = [{}], 0
    for key, value in arrays.items():
        if value.nbytes > max_bytes:
            raise ValueError(f"variable {key} holds {value.nbytes / 2 ** 20:.1f} MiB, more than the "
                             f"{max_bytes / 2 ** 20:.1f} MiB of one file")
        if size + value.nbytes > max_bytes:
            shards, size = shards + [{}], 0
        shards[-1][key], size = value, size + value.nbytes
    return shards


def _is_variables_file(name: str) -> bool:
    return name == VARIABLES_FILE or (name.startswith("variables-") and name.endswith(".npz"))


def save_variables(variables: dict, directory: str, dtype=np.float32,
                   max_file_bytes: int = SHIPPED_FILE_BYTES) -> list[str]:
    """Writes {'params', 'batch_stats'} as `dtype` into directory/variables.npz, or into as many
    variables-K-of-N.npz files as keep each under `max_file_bytes`, atomically; returns their paths."""
    flat = {k: np.asarray(v, dtype) for k, v in traverse_util.flatten_dict(variables, sep="/").items()}
    shards = _shards(flat, max_file_bytes)
    names = [VARIABLES_FILE] if len(shards) == 1 else [VARIABLES_SHARD.format(i, len(shards))
                                                       for i in range(len(shards))]
    for name in filter(_is_variables_file, os.listdir(directory)):  # no stale shard of another split
        os.remove(os.path.join(directory, name))
    paths = []
    for name, shard in zip(names, shards):
        paths.append(os.path.join(directory, name))
        with atomic_path(paths[-1]) as tmp:
            np.savez_compressed(tmp, **shard)
    return paths


def load_variables(directory: str) -> dict:
    """The variables written by `save_variables` (one file or its shards), as float32."""
    names = sorted(filter(_is_variables_file, os.listdir(directory)))
    flat = {}
    for name in names:
        with np.load(os.path.join(directory, name)) as f:
            flat.update({k: f[k].astype(np.float32) for k in f.files})
    return traverse_util.unflatten_dict(flat, sep="/")


def _shippable(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """A copy of the config without data_dir, a path on the training machine."""
    config = ml_collections.ConfigDict(config.to_dict())
    config.data_dir = None
    return config


def export(config: ml_collections.ConfigDict, variables: dict, bank: ZBank, directory: str,
           dtype=np.float32) -> None:
    """Writes a run's config, variables (as `dtype`, in files under SHIPPED_FILE_BYTES) and z bank
    (float16) into `directory` (created).

    Raises:
      ValueError: the z bank alone is over SHIPPED_FILE_BYTES.
    """
    if bank.z_mean.size * 4 > SHIPPED_FILE_BYTES:  # z_mean and z_logvar, float16
        raise ValueError(f"a z bank of {len(bank.z_mean)} pairs of {bank.z_mean.shape[1]} is over "
                         f"{SHIPPED_FILE_BYTES / 2 ** 20:.1f} MiB; ship fewer pairs")
    os.makedirs(directory, exist_ok=True)
    checkpointing.save_config(_shippable(config), directory)
    save_variables(variables, directory, dtype)
    bank.save(directory, dtype=np.float16)


def export_file(config: ml_collections.ConfigDict, variables: dict, bank: ZBank, path: str,
                max_bytes: int = TRAVEL_FILE_BYTES) -> int:
    """Writes a run's config, variables and z bank, all but the config in float16, into the one
    compressed file `path` (atomically), under `max_bytes`: the bank's first pairs, as many as fit
    beside the variables. Returns how many pairs it kept.

    Raises:
      ValueError: the variables alone, or with one bank pair, are over `max_bytes`.
    """
    config = _shippable(config)
    arrays = {f"variables/{k}": np.asarray(v, np.float16)
              for k, v in traverse_util.flatten_dict(variables, sep="/").items()}
    text = np.frombuffer(config.to_json().encode(), np.uint8)
    room = max_bytes - sum(a.nbytes for a in arrays.values()) - text.nbytes
    pairs = min(len(bank.z_mean), room // (4 * bank.z_mean.shape[1]))  # z_mean and z_logvar, float16
    if pairs < 1:
        raise ValueError(f"the variables in float16 leave no room for a z bank in "
                         f"{max_bytes / 2 ** 20:.1f} MiB")
    arrays.update({"z_bank/z_mean": bank.z_mean[:pairs].astype(np.float16),
                   "z_bank/z_logvar": bank.z_logvar[:pairs].astype(np.float16),
                   "z_bank/step": np.int64(bank.step), "config": text})
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **arrays)
    return int(pairs)


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


def load_folder(directory: str) -> tuple[ml_collections.ConfigDict, dict, ZBank]:
    """(config, variables, z bank) of a folder written by `export`."""
    return checkpointing.load_config(directory), load_variables(directory), ZBank.load(directory)


def load(name: str) -> tuple[ml_collections.ConfigDict, dict, ZBank]:
    """(config, variables, z bank) of the shipped model `name`."""
    return load_folder(folder(name))
