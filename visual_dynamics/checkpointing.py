"""Orbax checkpoints of the train state, and the config that made them, in a workdir.

Layout: workdir/config.json, workdir/checkpoints/<step>/ (written atomically by Orbax: into a
temporary folder, renamed when complete), workdir/z_bank.npz.

Restoring needs the model and the train state only: no training loop, logging or dataset code.
"""

import json
import os
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from visual_dynamics.atomic import atomic_path
from visual_dynamics.train_state import abstract_train_state, variables_of

CONFIG_FILE = "config.json"
# config.model entries of earlier versions, dropped when a saved config is read: none of them changed
# the network's parameters or outputs (conv_weight_grad chose how CPU weight gradients were computed).
RETIRED_MODEL_KEYS = ("conv_weight_grad",)


class NoCheckpointError(FileNotFoundError):
    """A directory that should hold a checkpoint holds none."""


def checkpoint_manager(workdir: str, max_to_keep: int = 3) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        os.path.abspath(os.path.join(workdir, "checkpoints")),
        # A save cut short (the process killed mid-write) leaves a temporary folder, never a step folder:
        # Orbax lists and restores step folders only.
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))


def newest_complete_step(workdir: str) -> Optional[int]:
    """The step of the newest finished checkpoint in workdir/checkpoints (None: none), read from the
    folder names alone: Orbax renames a checkpoint's temporary folder to its step when it is complete."""
    folder = os.path.join(workdir, "checkpoints")
    steps = [int(name) for name in os.listdir(folder) if name.isdigit()] if os.path.isdir(folder) else []
    return max(steps, default=None)


def save_config(config: ml_collections.ConfigDict, workdir: str, **facts) -> None:
    """Writes workdir/config.json atomically: the config, plus top-level `facts` about the run (e.g.
    the fingerprint of the data it trained on)."""
    with atomic_path(os.path.join(workdir, CONFIG_FILE)) as tmp, open(tmp, "w") as f:
        json.dump({**json.loads(config.to_json()), **facts}, f, indent=2)


def load_config(workdir: str) -> ml_collections.ConfigDict:
    """The config saved by training in `workdir`."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        raise NoCheckpointError(
            f"{workdir} holds no training run ({CONFIG_FILE} is missing). Pass the --workdir "
            f"that experiments/train.py wrote.")
    with open(path) as f:
        saved = json.load(f)
    for key in RETIRED_MODEL_KEYS:
        saved.get("model", {}).pop(key, None)
    return ml_collections.ConfigDict(saved)


def _replicated_sharding() -> jax.sharding.NamedSharding:
    """Every device of every process holds the whole array."""
    return jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(jax.devices()), ("devices",)),
                                      jax.sharding.PartitionSpec())


def save(manager: ocp.CheckpointManager, step: int, state) -> None:
    """Starts an (asynchronous, atomic) save of an unreplicated train state.

    Every process calls it with the same state: the leaves become arrays replicated over all devices of
    all processes, which Orbax writes once, whatever the process count.
    """
    sharding = _replicated_sharding()
    replicated = jax.tree.map(
        lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda _, x=x: np.asarray(x)), state)
    manager.save(step, args=ocp.args.StandardSave(replicated))


def restore(manager: ocp.CheckpointManager, step: int, abstract_state):
    """The state saved at `step`, shaped like `abstract_state` (arrays or ShapeDtypeStructs), its leaves
    on this process's first device; any process count can restore what any other saved."""
    sharding = _replicated_sharding()
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x), sharding=sharding),
                          abstract_state)  # result_type: a fresh state's step is a Python int
    restored = manager.restore(step, args=ocp.args.StandardRestore(target))
    return jax.tree.map(lambda x: x.addressable_data(0), restored)


def restore_latest(manager: ocp.CheckpointManager, abstract_state):
    """(state, step) of the newest checkpoint, or (None, 0) when there is none."""
    step = manager.latest_step()
    if step is None:
        return None, 0
    return restore(manager, step, abstract_state), step


def restore_variables(workdir: str,
                      step: Optional[int] = None) -> tuple[ml_collections.ConfigDict, dict, int]:
    """(config, variables {'params', 'batch_stats'}, step) of a training run's checkpoint (default: the
    newest).

    Raises:
      NoCheckpointError: `workdir` holds no config or no checkpoint.
    """
    config = load_config(workdir)
    manager = checkpoint_manager(workdir)
    step = manager.latest_step() if step is None else step
    if step is None:
        raise NoCheckpointError(
            f"{workdir}/checkpoints holds no checkpoint; train first (experiments/train.py "
            f"--workdir={workdir}), or pass the workdir of a finished run.")
    state = restore(manager, step, abstract_train_state(config))
    return config, variables_of(state), step


def config_differences(saved: ml_collections.ConfigDict, given: ml_collections.ConfigDict,
                       keys: Sequence[str]) -> list[str]:
    """'key: saved vs given' for each of `keys` (nested keys flattened, e.g. 'model.z_size') whose
    values differ; tuples and lists compare equal."""
    def flat(config) -> dict:
        plain = json.loads(json.dumps(config.to_dict()))
        out = {}

        def walk(value, prefix):
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, f"{prefix}.{k}")
            else:
                out[prefix] = value

        for key in keys:
            walk(plain.get(key), key)
        return out

    a, b = flat(saved), flat(given)
    return [f"{k}: {a.get(k)!r} in the checkpoint vs {b.get(k)!r}" for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]


def check_resumable(saved: ml_collections.ConfigDict, config: ml_collections.ConfigDict) -> None:
    """Raises ValueError if the checkpoints of `saved` cannot load into the state of `config`."""
    def shapes(c):
        state = abstract_train_state(c)
        return jax.tree.map(lambda x: x.shape, (state.params, state.batch_stats))

    if shapes(saved) != shapes(config):
        raise ValueError(
            f"the workdir holds checkpoints of a model of other shapes (config entries that differ: "
            f"{'; '.join(config_differences(saved, config, ('model', 'image_size')))}). Use a new "
            f"--workdir, or the saved config.json.")
