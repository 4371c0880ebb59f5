"""Reed et al.'s (NIPS 2015) sprites release: reading `data/sprites/*.mat` into frame pairs (§5.2).

Layout of `nips2015-analogy-data.tar.gz` (public loaders; see docs/datasets.md):
  data/sprites/sprites_<k>.mat    one character each, k = 0, 1, ...; MATLAB v7.3 (HDF5) files with
                                  `sprites`: a cell of 21 animations, each a 10800 x T double matrix
                                  whose column t is frame t (60 x 60 x 3, column-major, values in
                                  [0, 1]); also `masks` and `labels`.
  data/sprites/sprites_splits.mat `trainidx`, `validx`, `testidx`: 1-based character numbers
                                  (character number n is file sprites_<n-1>.mat); MATLAB v5.
The first 20 animations are 5 actions x 4 viewpoints (action-major); the 21st, one viewpoint of the
'hurt' animation (6 frames in the Liberated Pixel Cup sheets), is skipped by the public loaders and by
our default configs, and kept by the `paper` config, whose counts need it (see `paper_splits`).
"""

import os

import h5py
import numpy as np
import scipy.io
from absl import logging

from visual_dynamics import preprocessing
from visual_dynamics.data.source_files import SourceDataError

ACTIONS = ("spellcast", "thrust", "walk", "slash", "shoot")
NUM_VIEWPOINTS = 4
NUM_ANIMATIONS = len(ACTIONS) * NUM_VIEWPOINTS  # kept of the 21 stored by the default configs
HURT = len(ACTIONS)  # the action index of the 21st animation
ALL_ACTIONS = ACTIONS + ("hurt",)
NUM_STORED_ANIMATIONS = NUM_ANIMATIONS + 1
PAPER_TEST_CHARACTERS = 20
FRAME_SIZE = 60
SPLIT_FIELDS = {"train": "trainidx", "validation": "validx", "test": "testidx"}
SPRITES_DIR = os.path.join("data", "sprites")
SPLITS_FILE = "sprites_splits.mat"


def character_file(sprites_dir: str, character: int) -> str:
    return os.path.join(sprites_dir, f"sprites_{character}.mat")


def is_sprites_dir(path: str) -> bool:
    """Whether `path` is the release's data/sprites/ folder (it holds sprites_splits.mat)."""
    return os.path.isfile(os.path.join(path, SPLITS_FILE))


def read_splits(sprites_dir: str) -> dict[str, np.ndarray]:
    """{'train', 'validation', 'test'} -> 0-based character ids (file numbers), from sprites_splits.mat."""
    path = os.path.join(sprites_dir, SPLITS_FILE)
    if not os.path.exists(path):
        raise SourceDataError(f"{path} not found: the sprites release is incomplete. Download and "
                              f"extract nips2015-analogy-data.tar.gz again.")
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as e:
        raise SourceDataError(f"{path} is not a readable MATLAB file ({e}); download it again.") from e
    missing = [field for field in SPLIT_FIELDS.values() if field not in mat]
    if missing:
        raise SourceDataError(f"{path} lacks the field(s) {missing}; it holds {sorted(mat)}.")
    return {split: np.asarray(mat[field]).astype(np.int64).ravel() - 1
            for split, field in SPLIT_FIELDS.items()}


def paper_splits(splits: dict[str, np.ndarray], test_characters: int = PAPER_TEST_CHARACTERS) -> dict:
    """The paper's split (§5.2: 102,364 training and 3,140 test pairs = 157 pairs a character x 652 and
    x 20 characters): {'train', 'test'} -> 0-based character ids.

    The paper does not say which 20 characters it tested on. We take the first `test_characters` of
    Reed's `testidx` (in the list's order), so that they are test characters in Reed's split too, and
    train on every other character (Reed's train, validation and remaining test characters): 652 and 20
    of a release of 672. A `testidx` shorter than that gives all of its characters to test (a warning
    says how many).
    """
    test = splits["test"][:test_characters]
    if len(test) < test_characters:
        logging.warning("sprites_splits.mat's testidx lists %d characters, fewer than the paper's %d: "
                        "all of them are the test split", len(test), test_characters)
    train = np.concatenate([splits["train"], splits["validation"], splits["test"][test_characters:]])
    return {"train": np.sort(train), "test": test}


def read_animations(path: str, count: int = NUM_ANIMATIONS) -> list[np.ndarray]:
    """One character's first `count` animations (20, or all 21), each uint8 [T, 60, 60, 3] (row, column,
    RGB).

    Raises:
      SourceDataError: naming the file, if it is missing, not HDF5, or lacks the `sprites` cell.
    """
    if not os.path.exists(path):
        raise SourceDataError(f"{path} not found: the sprites release is incomplete.")
    try:
        with h5py.File(path, "r") as mat:
            if "sprites" not in mat:
                raise SourceDataError(f"{path} has no 'sprites' field (it holds {sorted(mat)}).")
            refs = np.asarray(mat["sprites"]).ravel()
            if len(refs) < count:
                raise SourceDataError(f"{path}: 'sprites' holds {len(refs)} animations, expected "
                                      f"{NUM_STORED_ANIMATIONS}.")
            columns = [np.asarray(mat[ref]) for ref in refs[:count]]
    except OSError as e:
        raise SourceDataError(f"{path} is not a readable MATLAB v7.3 file ({e}); it is truncated or "
                              f"corrupt: extract the archive again.") from e
    return [_frames_of(matrix, path) for matrix in columns]


def _frames_of(matrix: np.ndarray, path: str) -> np.ndarray:
    """h5py's view of a MATLAB 10800 x T matrix, [T, 10800] -> uint8 [T, 60, 60, 3]."""
    if matrix.ndim != 2 or matrix.shape[1] != 3 * FRAME_SIZE * FRAME_SIZE:
        raise SourceDataError(f"{path}: an animation has shape {matrix.shape}, expected (T, 10800).")
    # Each row is a column-major 60 x 60 x 3 array: element (y, x, c) sits at y + 60 x + 3600 c.
    cxy = matrix.reshape(-1, 3, FRAME_SIZE, FRAME_SIZE)  # [T, c, x, y]
    frames01 = np.transpose(cxy, (0, 3, 2, 1))  # [T, y, x, c]
    return np.round(np.clip(frames01, 0.0, 1.0) * 255).astype(np.uint8)


def read_character(sprites_dir: str, image_size: int, num_animations: int,
                   character: int) -> list[tuple[str, dict]]:
    """(key, example) for every pair of consecutive frames of the first `num_animations` animations of
    one character; the 21st ('hurt', one viewpoint) has viewpoint -1."""
    character = int(character)
    examples = []
    for animation, clip in enumerate(read_animations(character_file(sprites_dir, character), num_animations)):
        clip = np.stack([preprocessing.resize_image(f, image_size) for f in clip])
        for t in range(len(clip) - 1):
            examples.append((f"{character}_{animation}_{t}", {
                "image": clip[t],
                "next_image": clip[t + 1],
                "character": character,
                "action": min(animation // NUM_VIEWPOINTS, HURT),
                "viewpoint": animation % NUM_VIEWPOINTS if animation < NUM_ANIMATIONS else -1,
                "frame": t,
            }))
    return examples
