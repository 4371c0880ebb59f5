"""Orbax checkpoints of the train state, and the config that made them, in a workdir.

Layout: workdir/config.json, workdir/checkpoints/<step>/ (written atomically by Orbax: into a
temporary folder, renamed when complete), workdir/z_bank.npz.

Accidents lose nothing: a checkpoint that cannot be read is skipped for the newest readable one, and set
aside by training in workdir/damaged_checkpoints/<step>/ (never deleted); a save that finds the disk full
stops with one line, its partial folder removed and every earlier checkpoint kept. A checkpoint that the
installed JAX / Orbax / Flax cannot read because of the stack itself is a version mismatch, said in one
line with the versions config.json recorded (software_stack.py); nothing is moved.

Restoring needs the model and the train state only: no training loop, logging or dataset code.
"""

import contextlib
import errno
import json
import logging
import os
import shutil
import sys
from typing import Iterator, Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from visual_dynamics import software_stack
from visual_dynamics.atomic import atomic_path
from visual_dynamics.errors import OneLineError, short_reason
from visual_dynamics.train_state import abstract_train_state, variables_of

CONFIG_FILE = "config.json"
DAMAGED_FOLDER = "damaged_checkpoints"
PARTIAL_SAVE_MARK = ".orbax-checkpoint-tmp"  # in the name of a save Orbax has not finished
# config.model entries of earlier versions, dropped when a saved config is read: none of them changed
# the network's parameters or outputs (conv_weight_grad chose how CPU weight gradients were computed).
RETIRED_MODEL_KEYS = ("conv_weight_grad",)


class NoCheckpointError(OneLineError, FileNotFoundError):
    """A directory that should hold a checkpoint holds none, or none that can be read."""


class DiskFullError(OneLineError):
    """The disk filled while a checkpoint was saved; earlier checkpoints are intact."""


class _DiskFullReports(logging.Filter):
    """Silences the reports of a full disk by Orbax's writer threads, since `save` and `wait_for_save`
    raise `DiskFullError`, which says it in one line: their error logs (absl's and asyncio's, with
    tracebacks) and, once one was seen, the 'Exception ignored' report of each TensorStore write still in
    flight to Orbax's closed event loop (only those)."""

    def __init__(self):
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not ("No space left on device" in record.getMessage() or _is_disk_full(error)):
            return True
        if not self.seen:
            self.seen, previous = True, sys.unraisablehook

            def hook(unraisable) -> None:
                if not (isinstance(unraisable.exc_value, RuntimeError)
                        and str(unraisable.exc_value) == "Event loop is closed"):
                    previous(unraisable)

            sys.unraisablehook = hook
        return False


_DISK_FULL_REPORTS = _DiskFullReports()
for _logger in ("absl", "asyncio"):
    logging.getLogger(_logger).addFilter(_DISK_FULL_REPORTS)


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
    the fingerprint of the data it trained on) and the installed stack that writes its checkpoints."""
    facts[software_stack.CONFIG_KEY] = software_stack.installed_versions()
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
    """Starts an (asynchronous, atomic) save of an unreplicated train state, after checking that the
    disk has room for it.

    Every process calls it with the same state: the leaves become arrays replicated over all devices of
    all processes, which Orbax writes once, whatever the process count.

    Raises:
      DiskFullError: the disk has less room than a checkpoint needs, or filled during this save or the
        previous one (whose partial folder is then removed).
    """
    folder = str(manager.directory)
    needed = _save_size(folder, state)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise _disk_full(folder, step, free, needed, "nothing written")
    sharding = _replicated_sharding()
    replicated = jax.tree.map(
        lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda _, x=x: np.asarray(x)), state)
    with _disk_full_as_error(folder, step, needed):
        manager.save(step, args=ocp.args.StandardSave(replicated))


def wait_for_save(manager: ocp.CheckpointManager, step: int, state) -> None:
    """Waits until the save of `state` at `step`, started by `save`, is complete.

    Raises:
      DiskFullError: the disk filled during it (its partial folder is then removed).
    """
    folder = str(manager.directory)
    with _disk_full_as_error(folder, step, _save_size(folder, state)):
        manager.wait_until_finished()


def _save_size(folder: str, state) -> int:
    """Bytes a save of `state` takes: what the newest complete checkpoint took, or the state's arrays."""
    step = newest_complete_step(os.path.dirname(folder))
    if step is None:
        return sum(np.asarray(x).nbytes for x in jax.tree.leaves(state))
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(os.path.join(folder, str(step))) for name in names)


def _is_disk_full(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, says the disk is full (an OSError's ENOSPC, or
    TensorStore's text of it)."""
    while error is not None:
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _disk_full(folder: str, step: int, free: int, needed: int, done: str) -> DiskFullError:
    """The one-line error for a save of `step` that finds `free` bytes where it needs `needed`, after
    removing the partial save folders; `done` says what became of the save."""
    for name in os.listdir(folder):
        if PARTIAL_SAVE_MARK in name:
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
    kept = newest_complete_step(os.path.dirname(folder))
    resume = f"resume from step {kept}" if kept is not None else "start again from step 0"
    return DiskFullError(
        f"the disk is full: saving the checkpoint of step {step} in {folder} needs about "
        f"{_size_text(needed)} and {_size_text(free)} are free. No earlier checkpoint was touched ({done}); "
        f"free some space, then rerun the same command to {resume}.")


def _size_text(size: int) -> str:
    """A byte count to read: '504 KiB', '3.2 MiB', '1.2 GiB'."""
    if size < 2**20:
        return f"{size / 2**10:.0f} KiB"
    return f"{size / 2**20:.1f} MiB" if size < 2**30 else f"{size / 2**30:.1f} GiB"


@contextlib.contextmanager
def _disk_full_as_error(folder: str, step: int, needed: int) -> Iterator[None]:
    """Turns a full disk met while saving into `DiskFullError` (partial save removed)."""
    try:
        yield
    except Exception as e:  # pylint: disable=broad-except  (Orbax wraps the OSError in its own errors)
        if not _is_disk_full(e):
            raise
        free = shutil.disk_usage(folder).free
        raise _disk_full(folder, step, free, needed, "partial save removed") from None


def restore(manager: ocp.CheckpointManager, step: int, abstract_state):
    """The state saved at `step`, shaped like `abstract_state` (arrays or ShapeDtypeStructs), its leaves
    on this process's first device; any process count can restore what any other saved."""
    sharding = _replicated_sharding()
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x), sharding=sharding),
                          abstract_state)  # result_type: a fresh state's step is a Python int
    restored = manager.restore(step, args=ocp.args.StandardRestore(target))
    return jax.tree.map(lambda x: x.addressable_data(0), restored)


@contextlib.contextmanager
def _stack_mismatch_said(workdir: str) -> Iterator[None]:
    """Turns an error that the software stack raised against itself while restoring into a
    `software_stack.StackMismatchError` naming the installed versions and those config.json recorded."""
    try:
        yield
    except Exception as e:  # pylint: disable=broad-except  (only the stack's own errors are turned)
        cause = software_stack.stack_error_in(e)
        if cause is None:
            raise
        raise software_stack.mismatch(f"the checkpoints in {os.path.join(workdir, 'checkpoints')}", cause,
                                      _recorded_stack(workdir)) from None


def _recorded_stack(workdir: str) -> Optional[dict]:
    """The versions config.json says the run's checkpoints were written with (None: not recorded)."""
    try:
        with open(os.path.join(workdir, CONFIG_FILE)) as f:
            return json.load(f).get(software_stack.CONFIG_KEY)
    except (OSError, ValueError):
        return None


def restore_newest_readable(workdir: str, abstract_state, set_aside: bool):
    """(state, step) of the newest checkpoint in workdir that can be read, or (None, 0) when there is
    none. Each newer one that cannot be read (truncated, partly copied) is said in one line and, if
    `set_aside`, moved to workdir/damaged_checkpoints/ so that training never meets it again (a reader
    leaves the workdir as it is).

    Raises:
      NoCheckpointError: there are checkpoints but none can be read (then nothing is moved).
      software_stack.StackMismatchError: the installed stack cannot read them (nothing is moved).
    """
    unreadable = []
    with _stack_mismatch_said(workdir):
        manager = checkpoint_manager(workdir)
        for step in sorted(manager.all_steps(), reverse=True):
            try:
                state = restore(manager, step, abstract_state)
            except Exception as e:  # pylint: disable=broad-except  (whatever reading a damaged file raises)
                if software_stack.stack_error_in(e):
                    raise
                unreadable.append((step, short_reason(e, 160)))
                continue
            for bad, reason in unreadable:
                if set_aside:
                    aside = _set_aside(workdir, bad)
                    print(f"Checkpoint {bad} cannot be read ({reason}): moved to {aside}; resuming from "
                          f"step {step}.", flush=True)
                else:
                    print(f"Checkpoint {bad} cannot be read ({reason}); using step {step}.", flush=True)
            return state, step
    if unreadable:
        raise NoCheckpointError(
            f"none of the {len(unreadable)} checkpoints in {manager.directory} can be read (step "
            f"{unreadable[0][0]}: {unreadable[0][1]}); restore them from a copy, or pass a new --workdir.")
    return None, 0


def _set_aside(workdir: str, step: int) -> str:
    """Moves checkpoints/<step> to damaged_checkpoints/<step>[.N] (a free name); returns where."""
    folder = os.path.join(workdir, DAMAGED_FOLDER)
    os.makedirs(folder, exist_ok=True)
    aside, copies = os.path.join(folder, str(step)), 0
    while os.path.exists(aside):
        copies += 1
        aside = os.path.join(folder, f"{step}.{copies}")
    os.rename(os.path.join(workdir, "checkpoints", str(step)), aside)
    return aside


def restore_variables(workdir: str,
                      step: Optional[int] = None) -> tuple[ml_collections.ConfigDict, dict, int]:
    """(config, variables {'params', 'batch_stats'}, step) of a training run's checkpoint (default: the
    newest that can be read).

    Raises:
      NoCheckpointError: `workdir` holds no config or no checkpoint.
    """
    config = load_config(workdir)
    if step is None:
        state, step = restore_newest_readable(workdir, abstract_train_state(config), set_aside=False)
        if state is None:
            raise NoCheckpointError(
                f"{workdir}/checkpoints holds no checkpoint; train first (experiments/train.py "
                f"--workdir={workdir}), or pass the workdir of a finished run.")
    else:
        with _stack_mismatch_said(workdir):
            state = restore(checkpoint_manager(workdir), step, abstract_train_state(config))
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
