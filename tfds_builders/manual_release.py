"""The release a builder reads from the manual folder: an archive (extracted by TFDS) or an unpacked
tree read in place (`visual_dynamics.data.releases` finds it)."""

import os
from typing import Callable, Optional

import tensorflow_datasets as tfds

from visual_dynamics.data import releases
from visual_dynamics.data.source_files import SourceDataError, listing


def given_manual_dir(dl_manager: tfds.download.DownloadManager) -> Optional[str]:
    """The manual folder, even an empty one (TFDS's `manual_dir` raises for that), or None when there is
    no such folder (TFDS's default `downloads/manual` is used when none was given)."""
    try:
        return os.fspath(dl_manager.manual_dir)  # also what TFDS's test case substitutes
    except AssertionError:  # none given, or an empty or missing folder
        path = getattr(dl_manager, "_manual_dir", None)
        return os.fspath(path) if path and os.path.isdir(path) else None


def release_root(builder: tfds.core.DatasetBuilder, dl_manager: tfds.download.DownloadManager,
                 archive_name: str, is_root: Callable[[str], bool], what: str,
                 read_zip: bool = False) -> str:
    """The root folder of the release in the manual folder: the unpacked tree itself, or the root inside
    an archive that TFDS extracts (once: into its `downloads/extracted/`). With `read_zip`, a zip is
    returned as it is, for a reader that reads zips in place.

    Raises:
      SourceDataError: no release, several candidates, or an archive that does not hold one.
    """
    release = releases.find_release(given_manual_dir(dl_manager), archive_name, is_root, what,
                                    builder.MANUAL_DOWNLOAD_INSTRUCTIONS, builder.chosen_archive)
    if not release.is_archive or (read_zip and release.path.lower().endswith(".zip")):
        return release.path
    extracted = os.fspath(dl_manager.extract(release.path))
    root = releases.find_root(extracted, is_root)
    if root is None:
        raise SourceDataError(f"{release.path} does not hold {what}: {listing(extracted)}")
    return root
