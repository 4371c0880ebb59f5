"""Finding a downloaded release in the manual folder, in whatever form the user holds it.

Every real builder (Exercise, Sprites, Penn Action) takes, in `--manual_dir`:
  - the release archive under its own name (read whatever lies beside it: an unpacked copy next to the
    archive is the usual case, and it may be a partial extraction);
  - without it, the same content as .zip, .tar, .tar.gz or .tgz under another name, when it is the only
    archive there;
  - or the unpacked tree, with or without its top folder, `--manual_dir` naming the folder above it or
    the tree itself. The tree's root (the folder holding what the reader needs) is found at most
    `MAX_DEPTH` folders down, and read in place.
Several candidates without the archive under its own name (two archives, or an archive beside an
unpacked tree) stop with one line that names them: nothing is guessed. `--manual_dir=DIR/NAME` picks
one.
"""

import dataclasses
import os
from typing import Callable, Optional

from visual_dynamics.data.source_files import SourceDataError, is_os_metadata, listing

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
MAX_DEPTH = 3  # e.g. DIR/nips2015-analogy-data/data/sprites/


@dataclasses.dataclass(frozen=True)
class Release:
    """What to read: an archive file, or the root folder of an unpacked tree (`is_archive` False)."""

    path: str
    is_archive: bool


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES) and not is_os_metadata(name)


def find_root(folder: str, is_root: Callable[[str], bool], max_depth: int = MAX_DEPTH) -> Optional[str]:
    """The shallowest folder under `folder` (itself included, at most `max_depth` levels down) for which
    `is_root` holds, or None.

    Raises:
      SourceDataError: two folders at that depth qualify.
    """
    level = [folder]
    for _ in range(max_depth + 1):
        roots = [path for path in level if is_root(path)]
        if len(roots) > 1:
            raise SourceDataError(f"{folder} holds several unpacked copies of the release: "
                                  f"{', '.join(roots)}; pass --manual_dir=ONE_OF_THEM")
        if roots:
            return roots[0]
        level = [os.path.join(path, name) for path in level for name in sorted(os.listdir(path))
                 if not is_os_metadata(name) and os.path.isdir(os.path.join(path, name))]
    return None


def find_release(manual_dir: str, archive_name: str, is_root: Callable[[str], bool], what: str,
                 instructions: str, chosen_archive: Optional[str] = None) -> Release:
    """The release to read from `manual_dir`, by the rules of this module's docstring.

    Args:
      archive_name: the release archive's own name (e.g. exercise_dataset.zip).
      is_root: whether a folder is the root of an unpacked release.
      what: the release's name in messages, with what its tree holds.
      instructions: how to get the release, for the message when nothing is there.
      chosen_archive: an archive the user named (`--manual_dir=DIR/NAME`): read, whatever lies beside.
    Raises:
      SourceDataError: no candidate, or several (the message names them and the flag that picks one).
    """
    if chosen_archive:
        return Release(chosen_archive, True)
    own = os.path.join(manual_dir, archive_name)
    if os.path.isfile(own):
        return Release(own, True)
    archives = [name for name in sorted(os.listdir(manual_dir))
                if is_archive(name) and os.path.isfile(os.path.join(manual_dir, name))]
    root = find_root(manual_dir, is_root)
    candidates = [Release(os.path.join(manual_dir, name), True) for name in archives]
    candidates += [Release(root, False)] if root else []
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise SourceDataError(f"{what} not found in {manual_dir}: expected {archive_name}, the same as "
                              f"{', '.join(ARCHIVE_SUFFIXES)} under another name, or its unpacked folder "
                              f"({listing(manual_dir)}).\n{instructions}")
    names = ", ".join(os.path.relpath(c.path, manual_dir) + ("" if c.is_archive else "/") for c in candidates)
    raise SourceDataError(f"{manual_dir} holds several candidates for {what} and no {archive_name}: {names}; "
                          f"pick one with --manual_dir={os.path.join(manual_dir, 'NAME')}")


def folders_inside(path: str) -> set[str]:
    """The lower-case names of the folders directly inside `path`."""
    return {name.lower() for name in os.listdir(path) if os.path.isdir(os.path.join(path, name))}


def files_inside(path: str) -> set[str]:
    """The lower-case names of the files directly inside `path`."""
    return {name.lower() for name in os.listdir(path) if os.path.isfile(os.path.join(path, name))}
