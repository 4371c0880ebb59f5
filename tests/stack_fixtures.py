"""A tiny model's checkpoint and exported file, written by one release of the stack (JAX, Flax, Orbax)
for another to read: tests/test_light_install.py loads every folder tests/data/stack_jax-*/ holds.

  python tests/stack_fixtures.py        # writes tests/data/stack_jax-<this JAX's version>/

Each folder holds run/ (a training workdir: config.json, checkpoints/1/ with a tiny train state, z_bank.npz),
model.npz (the same model exported to one file), expected.npz (the variables written; an image, a z, and
the frames the checkpoint and the file give for them) and versions.json. Only the light install is needed.
"""

import importlib.metadata
import json
import os
import sys

import jax
import numpy as np
from flax import traverse_util

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "experiments"))

from configs import shapes  # noqa: E402
from visual_dynamics import checkpointing, pretrained  # noqa: E402
from visual_dynamics.model import latent_size, model_from_config  # noqa: E402
from visual_dynamics.predictor import Predictor  # noqa: E402
from visual_dynamics.train_state import create_train_state, variables_of  # noqa: E402
from visual_dynamics.z_bank import ZBank  # noqa: E402

STEP = 1


def flat(variables: dict) -> dict[str, np.ndarray]:
    """{'params/.../kernel': float32 array} of a variables tree."""
    return {k: np.asarray(v, np.float32) for k, v in traverse_util.flatten_dict(variables, sep="/").items()}


def probe(config) -> tuple[np.ndarray, np.ndarray]:
    """The fixed image (uint8 [S, S, 3]) and z ([Z]) the expected frames are computed for."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (config.image_size, config.image_size, 3), dtype=np.uint8)
    return image, rng.standard_normal(latent_size(model_from_config(config))).astype(np.float32)


def write(folder: str) -> None:
    config = shapes.get_config("tiny")
    state = create_train_state(config, jax.random.PRNGKey(0)).replace(step=STEP)
    run = os.path.join(folder, "run")
    manager = checkpointing.checkpoint_manager(run)
    checkpointing.save(manager, STEP, state)
    manager.wait_until_finished()
    checkpointing.save_config(config, run)
    variables = variables_of(state)
    rng, z_size = np.random.default_rng(1), latent_size(model_from_config(config))
    bank = ZBank(rng.standard_normal((8, z_size)).astype(np.float32),
                 rng.standard_normal((8, z_size)).astype(np.float32) - 2, STEP)
    bank.save(run)
    pretrained.export_file(config, variables, bank, os.path.join(folder, "model.npz"))

    image, z = probe(config)
    from_checkpoint = Predictor.from_checkpoint(run).transfer(z, image)
    from_file = Predictor.from_file(os.path.join(folder, "model.npz")).transfer(z, image)
    np.savez_compressed(os.path.join(folder, "expected.npz"), image=image, z=z,
                        from_checkpoint=from_checkpoint, from_file=from_file,
                        **{f"variables/{k}": v for k, v in flat(variables).items()})
    versions = {name: importlib.metadata.version(name)
                for name in ("jax", "jaxlib", "flax", "orbax-checkpoint", "optax", "numpy")}
    with open(os.path.join(folder, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2)


if __name__ == "__main__":
    out = os.path.join(HERE, "data", f"stack_jax-{jax.__version__}")
    write(out)
    print(f"wrote {out}")
