"""Atomic file writes: a file is either absent, the old one, or complete, even if a run is killed."""

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path beside `path` (same extension) to write; renames it to `path` when the
    block completes, removes it when the block fails."""
    root, extension = os.path.splitext(path)
    tmp = f"{root}.tmp{os.getpid()}{extension}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
