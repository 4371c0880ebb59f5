"""The authors' Exercise release (`exercise_dataset.zip`, §5.3), read in place: the zip without extracting
it, or the tree a user unpacked from it (`UnpackedRelease`, with the zip's interface).

No listing of the archive is public. The authors' lab stored frame pairs as `<prefix>_im1.png` (I) and
`<prefix>_im2.png` (J) with split lists of prefixes (the MIT PyTorch port of the paper reads them so, and
the Torch release's demo frames are named so), so the reader accepts three layouts, told apart by the
archive's names (an optional top folder is allowed in each; `val` is the validation split in each):

  (a) pair lists    train.txt, test.txt (and val.txt), one prefix a line, relative to the list's folder (or
                    a path from the authors' machines, matched by its trailing components); the pair is
                    <prefix>_im1.<ext>, <prefix>_im2.<ext>
  (b) pair folders  train/**/<name>_im1.<ext> with <name>_im2.<ext>, at any depth; the same under test/
                    (and val/)
  (c) sequences     train/<sequence>/<frame>.<ext> and test/... (and val/...): consecutive frames make pairs
                    (names sort in time order; numbers compare as numbers: 2.png < 10.png)

<ext> is any image extension, in any case (png, jpg, jpeg, bmp, ...). A file named as half of a pair
(`_im1` / `_im2`) is never read as a sequence's frame. An archive that fits two layouts (split lists beside
sequence frames; pair files beside sequence frames), or none, stops with one line listing what it holds:
nothing is guessed. A listed pair whose image is missing, or an image that does not decode, is skipped,
counted and reported at the end of its split; more than 1 % of a split skipped means a damaged archive,
and the build stops. Operating systems' bookkeeping entries (`__MACOSX/`, `._<name>`, `.DS_Store`,
`Thumbs.db`, `desktop.ini`: an archive zipped on macOS or Windows) are dropped before anything is
counted. Frames are cropped to their centred square and resized. Each example's `video` names its files
relative to the layout's root (without the top folder, so that the zip and every unpacked copy of it give
the same examples): the prefix (a, b) or the sequence (c); `frame` is the pair's index in its list (a),
folder order (b) or sequence (c).
"""

import dataclasses
import functools
import os
import posixpath
import re
import zipfile
from typing import Optional

from visual_dynamics import preprocessing
from visual_dynamics.data import frames, releases
from visual_dynamics.data.source_files import (MAX_SKIPPED_FRACTION, SkippedRecord, SourceDataError,
                                               is_os_metadata)
from visual_dynamics.errors import short_reason

ARCHIVE = "exercise_dataset.zip"
SPLITS = {"train": "train", "test": "test", "val": "validation"}  # name in the archive -> TFDS split
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp")
_SPLIT = r"^(?:[^/]+/)?(train|test|val)"  # a split folder or list, below an optional top folder
_IMAGE = rf"\.(?:{'|'.join(IMAGE_EXTENSIONS)})$"
LIST_PATTERN = re.compile(rf"{_SPLIT}\.txt$", re.IGNORECASE)
PAIR_PATTERN = re.compile(rf"{_SPLIT}/(.+)_im([12]){_IMAGE}", re.IGNORECASE)  # (split, prefix, 1 or 2)
FRAME_PATTERN = re.compile(rf"{_SPLIT}/([^/]+)/([^/]+{_IMAGE})", re.IGNORECASE)
HALF_PAIR_PATTERN = re.compile(rf"_im[12]{_IMAGE}", re.IGNORECASE)
EXPECTED_LAYOUT = ("(a) [top/]train.txt and test.txt listing prefixes of <prefix>_im1.png / _im2.png; "
                   "(b) [top/]train/**/<name>_im1.png and _im2.png, the same under test/; or "
                   "(c) [top/]train/<sequence>/<frame>.png|jpg and test/<sequence>/...; any image "
                   "extension, val/ or val.txt for validation")


@dataclasses.dataclass(frozen=True)
class Pair:
    """One example's source: member names of I and J, and the labels that name them."""

    video: str
    frame: int
    image: Optional[str]       # None: listed, but the archive lacks the file
    next_image: Optional[str]


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def is_root(path: str) -> bool:
    """Whether `path` is the root of an unpacked release: it holds train.txt and test.txt, or the
    folders train/ and test/."""
    return ({"train.txt", "test.txt"} <= releases.files_inside(path)
            or {"train", "test"} <= releases.folders_inside(path))


class UnpackedRelease:
    """An unpacked release, read in place through the part of `zipfile.ZipFile`'s interface the reader
    uses: `filename`, `namelist()` (paths relative to the root, '/'-separated) and `read(name)`."""

    def __init__(self, root: str):
        self.filename = root

    def namelist(self) -> list[str]:
        names = []
        for folder, subfolders, files in os.walk(self.filename):
            subfolders.sort()
            relative = os.path.relpath(folder, self.filename).replace(os.sep, "/")
            names += [name if relative == "." else f"{relative}/{name}" for name in sorted(files)]
        return names

    def read(self, name: str) -> bytes:
        with open(os.path.join(self.filename, *name.split("/")), "rb") as f:
            return f.read()

    def __enter__(self) -> "UnpackedRelease":
        return self

    def __exit__(self, *exc_info) -> None:
        pass


def open_release(path: str):
    """The release at `path`: an unpacked tree's root folder, or a zip archive."""
    return UnpackedRelease(path) if os.path.isdir(path) else open_archive(path)


def open_archive(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError as e:
        raise SourceDataError(f"{path} not found. Download {ARCHIVE} (1.1 GB) from "
                              f"http://visualdynamics.csail.mit.edu and put it in --manual_dir.") from e
    except (zipfile.BadZipFile, OSError) as e:
        raise SourceDataError(f"{path} is not a readable zip archive ({e}); it is truncated or corrupt: "
                              f"download it again.") from e


def _pair_halves(members: set[str]) -> dict[str, str]:
    """{'<prefix>_im1' or '<prefix>_im2' (the suffix in lower case): member} of the files named as halves
    of a pair, whatever their image extension and case."""
    halves = {}
    for name in sorted(members):
        match = HALF_PAIR_PATTERN.search(name)
        if match:
            halves.setdefault(name[:match.start()] + match.group(0)[:4].lower(), name)
    return halves


def _resolve(prefix: str, folder: str, halves: dict[str, str], half: str) -> Optional[str]:
    """The member holding `half` ('_im1', '_im2') of the pair `prefix` relative to `folder`, or matched by
    the prefix's trailing path components when the list holds paths of another machine; None when the
    archive lacks it."""
    parts = [p for p in prefix.replace("\\", "/").split("/") if p not in ("", ".")]
    for start in range(len(parts)):
        name = halves.get(posixpath.normpath(posixpath.join(folder, *parts[start:])) + half)
        if name:
            return name
    return None


def _pair_lists(archive: zipfile.ZipFile, members: set[str]) -> dict[str, list[Pair]]:
    """Layout (a): {split: pairs} from the split lists, or {} when there are none."""
    lists = {}
    for name in sorted(members):
        match = LIST_PATTERN.match(name)
        if match:
            lists.setdefault(SPLITS[match.group(1).lower()], name)
    if "train" not in lists or "test" not in lists:
        return {}
    halves, splits = _pair_halves(members), {}
    for split, list_name in lists.items():
        folder = posixpath.dirname(list_name)
        lines = archive.read(list_name).decode("utf-8", errors="replace").splitlines()
        prefixes = [re.sub(rf"_im[12]{_IMAGE}", "", line.strip(), flags=re.IGNORECASE) for line in lines]
        splits[split] = []
        for index, prefix in enumerate(p for p in prefixes if p and not p.startswith("#")):
            image, next_image = (_resolve(prefix, folder, halves, half) for half in ("_im1", "_im2"))
            # The files' own name where found, relative to the list's folder (the layout's root).
            video = HALF_PAIR_PATTERN.sub("", posixpath.relpath(image, folder or ".")) if image else prefix
            splits[split].append(Pair(video, index, image, next_image))
    return splits


def _pair_folders(members: set[str]) -> dict[str, list[Pair]]:
    """Layout (b): {split: pairs} of the <name>_im1.<ext> files under train/, test/ (val/), or {}."""
    found, halves = {}, _pair_halves(members)
    for name in members:
        match = PAIR_PATTERN.match(name)
        if match and match.group(3) == "1":  # (the name, where the part under the top folder starts)
            found.setdefault(SPLITS[match.group(1).lower()], []).append((name, match.start(1)))
    if "train" not in found or "test" not in found:
        return {}
    splits = {}
    for split, names in found.items():
        names = sorted(names, key=lambda entry: _natural_key(entry[0][entry[1]:]))
        splits[split] = []
        for index, (first, root) in enumerate(names):
            prefix = HALF_PAIR_PATTERN.sub("", first)
            splits[split].append(Pair(prefix[root:], index, first, halves.get(prefix + "_im2")))
    return splits


def _sequences(members: set[str]) -> dict[str, list[Pair]]:
    """Layout (c): {split: pairs of consecutive frames}, or {}. Files named as halves of a pair are not
    frames."""
    found = {}
    for name in members:
        match = FRAME_PATTERN.match(name)
        if match and not HALF_PAIR_PATTERN.search(name):
            split, sequence, _ = match.groups()
            found.setdefault(SPLITS[split.lower()], {}).setdefault(sequence, []).append(name)
    if "train" not in found or "test" not in found:
        return {}
    splits = {}
    for split, sequences in found.items():
        splits[split] = []
        for sequence, names in sorted(sequences.items()):
            ordered = sorted(names, key=_natural_key)
            splits[split] += [Pair(sequence, t, a, b) for t, (a, b) in enumerate(zip(ordered, ordered[1:]))]
    return splits


def read_layout(archive: zipfile.ZipFile) -> dict[str, list[Pair]]:
    """The pairs of each TFDS split, from the one layout the archive has (said in one line).

    Raises:
      SourceDataError: no known layout or two of them (the message lists what the archive holds), or
        more than 1 % of a split's listed pairs lack an image (a damaged archive).
    """
    members = {name for name in archive.namelist() if not name.endswith("/") and not is_os_metadata(name)}
    found = {"pair lists": _pair_lists(archive, members), "pair folders": _pair_folders(members),
             "sequences": _sequences(members)}
    if found["pair lists"]:  # the lists name the pair files: those are one layout
        found["pair folders"] = {}
    layouts = [layout for layout, splits in found.items() if splits]
    if len(layouts) != 1:
        names = sorted(members)
        tops = sorted({n.split("/")[0] + ("/" if "/" in n else "") for n in names})
        what = (f"fits two layouts ({' and '.join(layouts)}), so it is not read" if layouts else
                f"is not laid out as expected ({EXPECTED_LAYOUT})")
        raise SourceDataError(
            f"{archive.filename} {what}. It holds {len(names)} files; top level: {', '.join(tops[:20])}; "
            f"first files: {', '.join(names[:20])}. Please report this layout in an issue so the reader can "
            f"learn it.")
    layout = layouts[0]
    splits = found[layout]
    for split, pairs in splits.items():
        missing = [p for p in pairs if p.image is None or p.next_image is None]
        if len(missing) > MAX_SKIPPED_FRACTION * len(pairs):
            raise SourceDataError(
                f"{archive.filename}: {len(missing)} of the {len(pairs)} {split} pairs lack an image "
                f"(first: {missing[0].video}_im1 / _im2): more than {MAX_SKIPPED_FRACTION:.0%}, so the "
                f"archive is damaged or incomplete; download it again.")
    print(f"{archive.filename}: {layout}; " + ", ".join(f"{split} {len(pairs)} pairs"
                                                   for split, pairs in splits.items()), flush=True)
    return splits


def _frame(archive: zipfile.ZipFile, member: str, image_size: int):
    image = frames.decode_image(archive.read(member), f"{archive.filename}:{member}")
    return preprocessing.resize_image(frames.centre_square(image), image_size)


@functools.lru_cache(maxsize=2)
def _archive(path: str, mtime_ns: int, size: int) -> zipfile.ZipFile:
    """The archive opened once per process (reading its directory of ~10^5 names takes a while); the
    modification time and size make a rewritten file a new entry."""
    return open_archive(path)


def read_pair(path: str, image_size: int, pair: Pair) -> list[tuple[str, dict]]:
    """The example of one pair of the release at `path` (a zip, or an unpacked tree's root), as
    [(key, example)].

    Raises:
      SkippedRecord: an image of the pair is missing or does not decode.
    """
    if pair.image is None or pair.next_image is None:
        raise SkippedRecord(f"{pair.video} (missing image)")
    if os.path.isdir(path):
        archive = UnpackedRelease(path)
    else:
        stat = os.stat(path)
        archive = _archive(path, stat.st_mtime_ns, stat.st_size)
    try:
        image, next_image = (_frame(archive, m, image_size) for m in (pair.image, pair.next_image))
    except ValueError as e:  # frames.decode_image's: the bytes are not an image
        raise SkippedRecord(f"{pair.video} (an image does not decode)") from e
    except (zipfile.BadZipFile, OSError, EOFError) as e:  # a damaged member
        raise SkippedRecord(f"{pair.video} ({short_reason(e)})") from e
    return [(f"{pair.video}/{pair.frame}", {"image": image, "next_image": next_image,
                                            "video": pair.video, "frame": pair.frame})]
