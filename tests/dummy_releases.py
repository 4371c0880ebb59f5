"""Small fake copies of the real dataset releases, laid out and encoded as the releases are.

Each writer is deterministic and returns the frames it wrote, so tests compare builder output with
the truth. `python tests/dummy_releases.py` rewrites every builder's `dummy_data/` folder.
"""

import functools
import io
import os
import tarfile
import zipfile

import cv2
import h5py
import numpy as np
import scipy.io
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAT73_HEADER = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2015 "
                b"HDF5 schema 1.00 .")


# --- Sprites: data/sprites/sprites_<k>.mat (MATLAB v7.3) and sprites_splits.mat (MATLAB v5) ---------

SPRITES_SPLITS = {"trainidx": [1, 2, 4], "validx": [3], "testidx": [5, 6]}  # 1-based, as released


def sprite_frames(character: int, animation: int) -> np.ndarray:
    """uint8 [T, 60, 60, 3]: T = 2 + (animation % 3) frames of a square moving right, on a colour
    that names the character; an asymmetric mark at the top left catches transposed reads."""
    rng = np.random.default_rng([character, animation])
    count = 2 + animation % 3
    clip = np.empty((count, 60, 60, 3), np.uint8)
    clip[:] = rng.integers(0, 256, 3, dtype=np.uint8)
    for t in range(count):
        clip[t, 20:36, 10 + 4 * t: 26 + 4 * t] = (255, 255 - 10 * animation, 40 * character % 256)
    clip[:, 2:4, 2:12] = 0  # a horizontal bar: wide, not tall
    return clip


def _write_mat73(path: str, cells: dict, arrays: dict) -> None:
    """A MATLAB v7.3 file: HDF5 with a 512-byte user block; cells as object references into #refs#."""
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        for name, matrices in cells.items():
            cell = f.create_dataset(name, (len(matrices), 1), dtype=h5py.ref_dtype, track_times=False)
            cell.attrs["MATLAB_class"] = np.bytes_("cell")
            for i, matrix in enumerate(matrices):
                # MATLAB stores column-major: h5py sees the transpose of the MATLAB matrix.
                data = refs.create_dataset(f"{name}_{i}", data=matrix.T, compression="gzip",
                                            track_times=False)
                data.attrs["MATLAB_class"] = np.bytes_("double")
                cell[i, 0] = data.ref
        for name, matrix in arrays.items():
            array = f.create_dataset(name, data=matrix.T, track_times=False)
            array.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as f:
        f.write(MAT73_HEADER.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM")


def write_sprites(root: str, num_characters: int = 6) -> dict:
    """root/data/sprites/...; returns {(character, animation): frames} for all 21 animations."""
    folder = os.path.join(root, "data", "sprites")
    os.makedirs(folder, exist_ok=True)
    truth = {}
    for k in range(num_characters):
        clips = [sprite_frames(k, a) for a in range(21)]
        truth.update({(k, a): clip for a, clip in enumerate(clips)})
        # MATLAB 10800 x T with column t = frame t flattened column-major, values in [0, 1].
        matrices = [np.stack([f.flatten(order="F") for f in clip], axis=1) / 255.0 for clip in clips]
        masks = [np.stack([(f.sum(-1) > 0).flatten(order="F") for f in clip], 1).astype(float)
                 for clip in clips]
        _write_mat73(os.path.join(folder, f"sprites_{k}.mat"), {"sprites": matrices, "masks": masks},
                     {"labels": np.arange(7, dtype=float)[:, None]})
    scipy.io.savemat(os.path.join(folder, "sprites_splits.mat"),
                     {name: np.array([ids], dtype=float) for name, ids in SPRITES_SPLITS.items()})
    return truth


# --- Penn Action: Penn_Action/frames/NNNN/NNNNNN.jpg and Penn_Action/labels/NNNN.mat (MATLAB v5) ---

PENN_VIDEOS = {  # video: (nframes, bbox rows stored, train flag, action)
    "0001": (5, 5, 1, "baseball_pitch"),
    "0002": (6, 4, 1, "squat"),  # fewer bbox rows than frames, as some real files have
    "0003": (4, 4, -1, "pullup"),
    "0004": (7, 7, -1, "bowl"),
    "0005": (6, 0, 1, "pushup"),  # an empty bbox (as videos 1154 and 1865): boxes from the joints
    "0006": (5, 2, -1, "situp"),  # 2 bbox rows for 5 frames, visible joints in every frame
}
PENN_JOINT_VIDEOS = ("0005", "0006")  # the others' joints are all invisible
PENN_SIZE = (72, 96)  # frame height, width
PENN_BOX = (20, 30)  # the person's box: width, height
PENN_COLOUR = (250, 20, 20)


def penn_box(video: str, t: int) -> np.ndarray:
    """[x0, y0, x1, y1] of the person in frame t: moving 3 px right a frame, from a per-video start."""
    x0 = 10 + 5 * int(video) + 3 * t
    y0 = 15 + 3 * int(video)
    return np.array([x0, y0, x0 + PENN_BOX[0], y0 + PENN_BOX[1]], float)


def penn_frame(video: str, t: int) -> np.ndarray:
    yy, xx = np.mgrid[: PENN_SIZE[0], : PENN_SIZE[1]]
    frame = np.stack([xx * 2, yy * 3, np.full_like(xx, 60 * int(video))], -1).astype(np.uint8)
    x0, y0, x1, y1 = penn_box(video, t).astype(int)
    frame[y0:y1, x0:x1] = PENN_COLOUR
    return frame


def penn_joints(video: str, nframes: int, padding: float = 0.15):
    """x, y, visibility [nframes, 13]: for PENN_JOINT_VIDEOS, joints spanning the person's box shrunk so
    that the reader's padding (15 % a side) gives the box back; for the others, none visible."""
    if video not in PENN_JOINT_VIDEOS:
        return np.zeros((nframes, 13)), np.zeros((nframes, 13)), np.zeros((nframes, 13))
    spread = np.linspace(0.0, 1.0, 13)
    x, y = [], []
    for t in range(nframes):
        x0, y0, x1, y1 = penn_box(video, t)
        inset_x, inset_y = (x1 - x0) * padding / (1 + 2 * padding), (y1 - y0) * padding / (1 + 2 * padding)
        x.append(x0 + inset_x + spread * (x1 - x0 - 2 * inset_x))
        y.append(y0 + inset_y + spread[::-1] * (y1 - y0 - 2 * inset_y))
    return np.stack(x), np.stack(y), np.ones((nframes, 13))


def write_penn_action(root: str) -> dict:
    """root/Penn_Action/...; returns {video: the decoded jpg frames [N, H, W, 3]}."""
    base = os.path.join(root, "Penn_Action")
    os.makedirs(os.path.join(base, "labels"), exist_ok=True)
    truth = {}
    for video, (nframes, rows, train, action) in PENN_VIDEOS.items():
        folder = os.path.join(base, "frames", video)
        os.makedirs(folder, exist_ok=True)
        decoded = []
        for t in range(nframes):
            path = os.path.join(folder, f"{t + 1:06d}.jpg")
            Image.fromarray(penn_frame(video, t)).save(path, quality=95)
            decoded.append(np.asarray(Image.open(path).convert("RGB")))
        truth[video] = np.stack(decoded)
        x, y, visibility = penn_joints(video, nframes)
        scipy.io.savemat(os.path.join(base, "labels", f"{video}.mat"), {
            "action": action, "pose": "front", "x": x, "y": y, "visibility": visibility,
            "train": np.array([[train]], float), "nframes": np.array([[nframes]], float),
            "dimensions": np.array([[PENN_SIZE[0], PENN_SIZE[1], nframes]], float),
            "bbox": np.stack([penn_box(video, t) for t in range(rows)]) if rows else np.zeros((0, 4)),
        })
    return truth


def write_penn_action_archive(path: str, root: str) -> None:
    """Penn_Action.tar.gz of the folder root/Penn_Action."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(os.path.join(root, "Penn_Action"), arcname="Penn_Action")


# --- Exercise: exercise_dataset.zip in each layout the reader accepts, and own videos ------------------

EXERCISE_SEQUENCES = {"train": {"seq_a": 11, "seq_b": 3}, "test": {"seq_c": 3}}
# Pair layouts: split -> pair prefixes (relative to the archive's top folder).
EXERCISE_PAIRS = {"train": ["train/clip01_0003", "train/clip01_0010", "train/clip02_0001",
                            "train/clip02_0002"],
                  "test": ["test/clip07_0005", "test/clip08_0001"], "val": ["val/clip05_0004"]}
EXERCISE_SIZE = 128  # the release's frames, as its demo frames sample1_im1.png / _im2.png


def exercise_frame(sequence: str, t: int, size: int = 140) -> np.ndarray:
    rng = np.random.default_rng([ord(c) for c in sequence] + [t])
    frame = np.full((size, size + 20, 3), rng.integers(0, 200, 3), np.uint8)
    frame[40:80, 10 + 6 * t: 40 + 6 * t] = 255
    return frame


def encode(image: np.ndarray, image_format: str = "PNG") -> bytes:
    """uint8 [H, W, 3] -> the bytes of an image file (PNG: lossless; JPEG: at quality 95)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, quality=95)
    return buffer.getvalue()


def write_exercise_zip(path: str, layout: str = "sequences", top: str = "exercise_dataset/",
                       pairs: dict = None, unlisted_images: tuple = ()) -> dict:
    """exercise_dataset.zip in one of the reader's layouts; returns what it holds.

    'sequences': <top>{train,test}/<seq>/<t>.png, frames numbered 1, 2, ..., 10 without padding (time
    order is not string order); returns {seq: frames}. 'pair_lists': <top>{train,test,val}.txt of prefixes
    relative to <top>, and <prefix>_im1.png / _im2.png (128 px); 'pair_folders': the same images, no
    lists. Pair layouts return {prefix: (I, J)}. `pairs` (default EXERCISE_PAIRS) maps split -> prefixes;
    prefixes in `unlisted_images` are listed but their images left out.
    """
    truth = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        if layout == "sequences":
            for split, sequences in EXERCISE_SEQUENCES.items():
                for sequence, count in sequences.items():
                    truth[sequence] = np.stack([exercise_frame(sequence, t) for t in range(count)])
                    for t in range(count):
                        archive.writestr(f"{top}{split}/{sequence}/{t + 1}.png", encode(truth[sequence][t]))
            return truth
        for split, prefixes in (pairs or EXERCISE_PAIRS).items():
            if layout == "pair_lists":
                archive.writestr(f"{top}{split}.txt", "".join(f"{p}\n" for p in prefixes))
            for prefix in prefixes:
                pair = tuple(exercise_frame(prefix, t, EXERCISE_SIZE)[:, :EXERCISE_SIZE] for t in (0, 1))
                if prefix in unlisted_images:
                    continue
                truth[prefix] = pair
                for suffix, image in zip(("_im1.png", "_im2.png"), pair):
                    archive.writestr(f"{top}{prefix}{suffix}", encode(image))
    return truth


def write_damaged_exercise_zip(path: str, pairs: dict, is_broken) -> None:
    """A pair-list exercise_dataset.zip of `pairs` whose members `is_broken(name)` are cut to 60 bytes
    (images that no longer decode)."""
    good_path = path + ".good.zip"
    write_exercise_zip(good_path, "pair_lists", pairs=pairs)
    with zipfile.ZipFile(good_path) as good, zipfile.ZipFile(path, "w") as damaged:
        for name in good.namelist():
            damaged.writestr(name, good.read(name)[:60] if is_broken(name) else good.read(name))
    os.remove(good_path)


def many_exercise_pairs(count: int) -> dict:
    """{split: prefixes} of `count` pairs in each of train and test."""
    return {split: [f"{split}/c{i:04d}" for i in range(count)] for split in ("train", "test")}


def shaky_video_frames(seed: int, count: int, size=(120, 160), shake: float = 6.0):
    """A textured static scene seen by a shaking camera, with a textured block moving 2 px a frame.

    Returns (frames uint8 [count, H, W, 3], camera offsets float [count, 2] (dx, dy) in pixels).
    """
    rng = np.random.default_rng(seed)
    h, w = size
    pad = int(3 * shake)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (h + 2 * pad, w + 2 * pad, 3)).astype(np.uint8),
                             (0, 0), 1.0)
    scene = cv2.normalize(scene, None, 0, 255, cv2.NORM_MINMAX)
    offsets = rng.uniform(-shake, shake, (count, 2))
    clip = []
    for t, (dx, dy) in enumerate(offsets):
        shifted = cv2.warpAffine(scene, np.float32([[1, 0, -pad - dx], [0, 1, -pad - dy]]), (w, h),
                                 flags=cv2.INTER_LINEAR)
        shifted[50:74, 40 + 2 * t: 64 + 2 * t] = scene[:24, :24]
        clip.append(shifted)
    return np.stack(clip), offsets


def write_video(path: str, clip: np.ndarray, fps: float = 30.0) -> None:
    """An MJPEG .avi of uint8 RGB frames [T, H, W, 3], written with OpenCV."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (clip.shape[2], clip.shape[1]))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for frame in clip:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


VIDEO_LENGTHS = {"gym_a.avi": 9, "gym_b.avi": 7, "gym_c.avi": 8}


def write_videos(folder: str) -> dict:
    """Three shaky MJPEG videos in `folder`; returns {name: (frames, camera offsets)}."""
    os.makedirs(folder, exist_ok=True)
    truth = {}
    for seed, (name, count) in enumerate(VIDEO_LENGTHS.items()):
        truth[name] = shaky_video_frames(seed, count)
        write_video(os.path.join(folder, name), truth[name][0])
    return truth


# What an AppleDouble file starts with (magic, version): resource forks and Finder info, not an image.
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + bytes(64)


def zip_as_on_macos(source: str, destination: str) -> None:
    """A copy of the zip `source` as macOS's Finder and other tools leave it: every member's AppleDouble
    file under `__MACOSX/` and beside it (`._<name>`), `.DS_Store` in every folder, and Windows's
    `Thumbs.db` and `desktop.ini`."""
    with zipfile.ZipFile(source) as clean, zipfile.ZipFile(destination, "w") as dirty:
        folders = set()
        for name in clean.namelist():
            dirty.writestr(name, clean.read(name))
            folder, base = os.path.split(name)
            folders.add(folder)
            dirty.writestr(os.path.join("__MACOSX", folder, "._" + base), APPLE_DOUBLE)
            dirty.writestr(os.path.join(folder, "._" + base), APPLE_DOUBLE)
        for folder in sorted(folders):
            for junk in (".DS_Store", "Thumbs.db", "desktop.ini"):
                dirty.writestr(os.path.join(folder, junk), APPLE_DOUBLE)


def add_os_metadata(folder: str) -> None:
    """The same bookkeeping files as `zip_as_on_macos`, added to an extracted release in `folder`."""
    for root, _, names in list(os.walk(folder)):
        for name in names:
            with open(os.path.join(root, "._" + name), "wb") as f:
                f.write(APPLE_DOUBLE)
        for junk in (".DS_Store", "Thumbs.db", "desktop.ini"):
            with open(os.path.join(root, junk), "wb") as f:
                f.write(APPLE_DOUBLE)


def write_all_dummy_data() -> None:
    """Rewrites tfds_builders/<name>/dummy_data/ for sprites, penn_action and exercise."""
    builders = os.path.join(ROOT, "tfds_builders")
    write_sprites(os.path.join(builders, "sprites", "dummy_data"))
    write_penn_action(os.path.join(builders, "penn_action", "dummy_data"))
    exercise_dir = os.path.join(builders, "exercise", "dummy_data")
    for folder, layout in (("", "pair_lists"), ("pair_folders", "pair_folders"), ("sequences", "sequences")):
        os.makedirs(os.path.join(exercise_dir, folder), exist_ok=True)
        write_exercise_zip(os.path.join(exercise_dir, folder, "exercise_dataset.zip"), layout,
                           top="" if layout == "pair_folders" else "exercise_dataset/")
    write_videos(os.path.join(exercise_dir, "videos"))


if __name__ == "__main__":
    write_all_dummy_data()


# --- The Universal LPC spritesheet: full-size RGBA sheets of the layers lpc_sprites uses ---

@functools.lru_cache(maxsize=None)
def lpc_layer_cells(relative: str) -> dict[tuple[int, int], tuple[int, int, tuple[int, int, int]]]:
    """What the fake sheet of a layer draws: (row, frame) -> (top, left, RGB) of an opaque 8x8
    square in that cell. Weapons draw thrust only (rows 4-7), like the real spear; every other layer
    draws every frame of every row. The square moves 3 px right a frame."""
    from visual_dynamics.data import lpc

    index = lpc.layers_of(range(lpc.NUM_CHARACTERS)).index(relative)
    colour = ((37 * index) % 256, (91 * index + 50) % 256, (53 * index + 100) % 256)
    rows = range(4, 8) if relative.startswith("weapons/") else range(21)
    frames = {row: lpc.HURT_FRAMES if row == lpc.HURT_ROW else lpc.FRAMES[row // 4] for row in rows}
    return {(row, t): (4 + (index % 8) * 6, 4 + (index // 8) * 4 + 3 * t, colour)
            for row, count in frames.items() for t in range(count)}


def write_lpc_art(root: str) -> None:
    """root/<layer>.png for every layer of the character grid: 832x1344 RGBA sheets drawing
    `lpc_layer_cells`, with (invisible) colour in their transparent pixels."""
    from visual_dynamics.data import lpc

    for relative in lpc.layers_of(range(lpc.NUM_CHARACTERS)):
        sheet = np.zeros(lpc.SHEET_SHAPE, np.uint8)
        sheet[..., 0] = 200  # colour where alpha is 0: not part of what the layer shows
        for (row, t), (top, left, colour) in lpc_layer_cells(relative).items():
            y, x = row * lpc.FRAME + top, t * lpc.FRAME + left
            sheet[y:y + 8, x:x + 8] = (*colour, 255)
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(sheet).save(path)


def lpc_expected_frame(character: int, row: int, t: int) -> np.ndarray:
    """uint8 [64, 64, 3]: the fake art's frame of a character, painted square by square on black."""
    from visual_dynamics.data import lpc

    frame = np.zeros((lpc.FRAME, lpc.FRAME, 3), np.uint8)
    for relative in lpc.character_layers(character):
        cell = lpc_layer_cells(relative).get((row, t))
        if cell is not None:
            top, left, colour = cell
            frame[top:top + 8, left:left + 8] = colour
    return frame
