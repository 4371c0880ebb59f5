"""The authors' Exercise release (`exercise_dataset.zip`, §5.3), read without extracting it.

No public code or description gives the archive's internal layout, so this reader states the layout
it expects and, for anything else, stops with a message that lists what the archive holds:

  exercise_dataset.zip
    [one top folder, optional]/
      train/<sequence>/<frame>.png|.jpg    the frames of one video sequence; names sort in time
      test/<sequence>/<frame>.png|.jpg     order (numbers compare as numbers: 2.png < 10.png)

Pairs are consecutive frames of a sequence; frames are cropped to their centred square and resized.
"""

import re
import zipfile
from typing import Iterator

from visual_dynamics.data import frames
from visual_dynamics.data.pairs_tfds import SourceDataError

ARCHIVE = "exercise_dataset.zip"
FRAME_PATTERN = re.compile(r"^(?:[^/]+/)?(train|test)/([^/]+)/([^/]+\.(?:png|jpe?g))$", re.IGNORECASE)
EXPECTED_LAYOUT = ("[top folder/]train/<sequence>/<frame>.png|jpg and "
                   "[top folder/]test/<sequence>/<frame>.png|jpg")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def open_archive(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError as e:
        raise SourceDataError(f"{path} not found. Download {ARCHIVE} (1.1 GB) from "
                              f"http://visualdynamics.csail.mit.edu and put it in --manual_dir.") from e
    except (zipfile.BadZipFile, OSError) as e:
        raise SourceDataError(f"{path} is not a readable zip archive ({e}); it is truncated or corrupt: "
                              f"download it again.") from e


def sequences(archive: zipfile.ZipFile) -> dict[str, dict[str, list[str]]]:
    """{'train': {sequence: [member names in time order]}, 'test': {...}}.

    Raises:
      SourceDataError: the archive is not laid out as EXPECTED_LAYOUT; the message lists what it holds.
    """
    found = {"train": {}, "test": {}}
    for name in archive.namelist():
        match = FRAME_PATTERN.match(name)
        if match:
            split, sequence, _ = match.groups()
            found[split.lower()].setdefault(sequence, []).append(name)
    if not found["train"] or not found["test"]:
        names = archive.namelist()
        tops = sorted({n.split("/")[0] + ("/" if "/" in n else "") for n in names})
        raise SourceDataError(
            f"{archive.filename} is not laid out as expected ({EXPECTED_LAYOUT}); found "
            f"{len(found['train'])} train and {len(found['test'])} test sequences. It holds "
            f"{len(names)} entries; top level: {', '.join(tops[:20])}; first entries: "
            f"{', '.join(names[:20])}. Please report this layout in an issue so the reader can learn it.")
    return {split: {seq: sorted(members, key=_natural_key) for seq, members in seqs.items()}
            for split, seqs in found.items()}


def _read(archive: zipfile.ZipFile, member: str):
    try:
        data = archive.read(member)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise SourceDataError(f"{archive.filename}: cannot read {member} ({e}); the archive is truncated "
                              f"or corrupt: download it again.") from e
    return frames.decode_image(data, f"{archive.filename}:{member}")


def generate_examples(path: str, split: str, image_size: int) -> Iterator:
    """(key, example) for every pair of consecutive frames of every sequence of `split`."""
    with open_archive(path) as archive:
        for sequence, members in sorted(sequences(archive)[split].items()):
            previous = None
            for t, member in enumerate(members):
                frame = frames.resize(frames.centre_square(_read(archive, member)), image_size)
                if previous is not None:
                    yield f"{sequence}/{t - 1}", {"image": previous, "next_image": frame,
                                                  "video": sequence, "frame": t - 1}
                previous = frame
