"""Errors and file checks shared by the readers of downloaded releases (sprites, exercise, Penn Action,
the user's videos). Plain Python: the readers need no TFDS."""

import os
from typing import Optional

from absl import logging

# A real release may hold a few bad records (a missing or undecodable image, a video without boxes):
# they are skipped and reported. More than this fraction of a split means a damaged download.
MAX_SKIPPED_FRACTION = 0.01


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


def report_skipped(source: str, split: str, skipped: list[str], total: int,
                   limit: Optional[float] = MAX_SKIPPED_FRACTION) -> None:
    """Says how many of a split's `total` records were skipped, and why (the first 20); stops the build
    when more than the fraction `limit` (None: no limit) were.

    Raises:
      SourceDataError: more than `limit` of the records were skipped.
    """
    if not skipped:
        return
    message = (f"{source}: skipped {len(skipped)} of {total} {split} records: "
               + "; ".join(skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    if limit is not None and len(skipped) > limit * total:
        raise SourceDataError(f"{message}. More than {limit:.0%}: the source is damaged; "
                              f"download it again.")
    logging.warning(message)
    print(message, flush=True)
