"""Errors and file checks shared by the readers of downloaded releases (sprites, exercise, Penn Action,
the user's videos). Plain Python: the readers need no TFDS."""

import os
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from absl import logging

# A real release may hold a few bad records (a missing or undecodable image, a video without boxes):
# they are skipped and reported. More than this fraction of a split means a damaged download.
MAX_SKIPPED_FRACTION = 0.01
# File names (lower case) that operating systems leave in folders and archives: see is_os_metadata.
OS_METADATA_FILES = (".ds_store", "thumbs.db", "desktop.ini")


class SourceDataError(ValueError):
    """A downloaded file is missing, truncated, corrupt or laid out differently than expected."""


def require_path(path: os.PathLike, what: str, fix: str) -> None:
    """Raises SourceDataError naming `path` when it does not exist."""
    if not os.path.exists(path):
        raise SourceDataError(f"{what} not found: {path}. {fix}")


def listing(folder: os.PathLike, limit: int = 20) -> str:
    """A short description of what a folder holds, for error messages."""
    if not os.path.isdir(folder):
        return f"{folder} does not exist"
    names = sorted(os.listdir(folder))
    shown = ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")
    return f"{folder} holds: {shown or 'nothing'}"


def is_os_metadata(name: str) -> bool:
    """Whether a file or archive member is an operating system's bookkeeping, never data: macOS's
    `__MACOSX/` folder, AppleDouble `._<name>` files and `.DS_Store`, Windows's `Thumbs.db` and
    `desktop.ini`. Every reader drops these before it counts or pairs anything."""
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    if not parts:
        return False
    return ("__MACOSX" in parts or parts[-1].startswith("._")
            or parts[-1].lower() in OS_METADATA_FILES)


class SkippedRecord(Exception):
    """One record of a release cannot be read (a missing or undecodable image, a video without boxes);
    the message is the reason. The record is skipped and reported, the build goes on."""


def read_records(units: Sequence, read_unit: Callable[[Any], Iterable[tuple[str, dict]]], source: str,
                 split: str, limit: Optional[float] = MAX_SKIPPED_FRACTION) -> Iterator[tuple[str, dict]]:
    """(key, example) of every unit of a split, in order; a unit whose reading raises SkippedRecord is
    skipped, and the skipped ones are reported at the end (`report_skipped`).

    Args:
      units: the split's records (pairs, videos, characters): picklable, so that Beam can ship them.
      read_unit: unit -> its (key, example) pairs; raises SkippedRecord for a record that cannot be read.
      source: the file or folder the report names.
    """
    skipped = []
    for unit in units:
        examples, reason = read_or_skip(read_unit, unit)
        if reason is not None:
            skipped.append(reason)
        yield from examples
    report_skipped(source, split, skipped, len(units), limit)


def read_or_skip(read_unit: Callable[[Any], Iterable[tuple[str, dict]]],
                 unit) -> tuple[list[tuple[str, dict]], Optional[str]]:
    """(the unit's (key, example) pairs, None), or ([], the reason) when it raises SkippedRecord."""
    try:
        return list(read_unit(unit)), None
    except SkippedRecord as e:
        return [], str(e)


def report_skipped(source: str, split: str, skipped: list[str], total: int,
                   limit: Optional[float] = MAX_SKIPPED_FRACTION, shown: int = 3) -> None:
    """Says in one short line how many of a split's `total` records were skipped, naming the first
    `shown` with one reason each; stops the build when more than the fraction `limit` (None: no limit)
    were.

    Raises:
      SourceDataError: more than `limit` of the records were skipped.
    """
    if not skipped:
        return
    skipped = sorted(skipped)  # the same line whatever order the records were read in (Beam)
    message = (f"{source}: skipped {len(skipped)} of {total} {split} records: "
               + "; ".join(skipped[:shown]) + (f"; ... ({len(skipped) - shown} more)"
                                               if len(skipped) > shown else ""))
    if limit is not None and len(skipped) > limit * total:
        raise SourceDataError(f"{message}. More than {limit:.0%}: the source is damaged; "
                              f"download it again.")
    logging.warning(message)
    print(message, flush=True)
