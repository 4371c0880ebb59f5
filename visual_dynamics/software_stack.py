"""The software stack a checkpoint is written and read with (JAX, Orbax, Flax, ...), and its mismatches.

Training records the installed versions in workdir/config.json; a checkpoint that the installed stack
cannot read because of the stack itself (a function or module that a release added or removed, a changed
signature) is then reported as a version mismatch naming both stacks, never as a damaged file.
"""

import importlib.metadata
from typing import Optional

from visual_dynamics.errors import OneLineError, short_reason

# The distributions whose releases decide whether a checkpoint can be restored, in the order named.
PACKAGES = ("jax", "jaxlib", "orbax-checkpoint", "flax", "optax", "numpy")
# Where the recorded versions sit in config.json.
CONFIG_KEY = "software_stack"


class StackMismatchError(OneLineError):
    """The installed JAX / Orbax / Flax cannot read a checkpoint that is itself intact."""


def installed_versions() -> dict[str, str]:
    """{distribution: version} of PACKAGES as installed ('not installed' for a missing one)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _says_stack_changed(error: BaseException) -> bool:
    if isinstance(error, ImportError):
        return True
    message = str(error)
    if isinstance(error, AttributeError):  # a module or class lacks a name a release added or removed
        return message.startswith(("module ", "type object "))
    if isinstance(error, TypeError):       # a function's signature changed between releases
        return any(s in message for s in ("unexpected keyword argument", "required positional argument",
                                          "positional argument but", "positional arguments but"))
    return False


def stack_error_in(error: BaseException) -> Optional[BaseException]:
    """The error in `error`'s chain (itself, or what it was raised from) that the software stack raised
    against itself, or None: a damaged file raises other errors (decoding, missing files, bad values)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if _says_stack_changed(error):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _describe(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {versions[name]}" for name in PACKAGES if name in versions)


def mismatch(what: str, cause: BaseException, written_with: Optional[dict]) -> StackMismatchError:
    """The one-line report that the installed stack cannot read `what`: the cause, both stacks, the fix."""
    installed = installed_versions()
    if written_with:
        pins = " ".join(f"'{name}=={written_with[name]}'" for name in PACKAGES
                        if written_with.get(name, "not installed") != "not installed")
        fix = f"install the stack it was written with: pip install {pins}"
        written = f"it was written with {_describe(written_with)}"
    else:
        fix = ("install the newest releases: pip install -U jax jaxlib orbax-checkpoint flax, or the "
               "ones the run was trained with")
        written = "the versions that wrote it were not recorded"
    return StackMismatchError(
        f"{what} cannot be read with the installed {_describe(installed)} ({type(cause).__name__}: "
        f"{short_reason(cause, 120)}): a version mismatch of the software, not damaged files, and nothing "
        f"was moved; {written}. To read it, {fix}")
