"""Reed et al.'s (NIPS 2015) sprites release: reading `data/sprites/*.mat` into frame pairs (§5.2).

Layout of `nips2015-analogy-data.tar.gz` (public loaders; see README "Datasets"):
  data/sprites/sprites_<k>.mat    one character each, k = 0, 1, ...; MATLAB v7.3 (HDF5) files with
                                  `sprites`: a cell of 21 animations, each a 10800 x T double matrix
                                  whose column t is frame t (60 x 60 x 3, column-major, values in
                                  [0, 1]); also `masks` and `labels`.
  data/sprites/sprites_splits.mat `trainidx`, `validx`, `testidx`: 1-based character numbers
                                  (character number n is file sprites_<n-1>.mat); MATLAB v5.
The first 20 animations are 5 actions x 4 viewpoints (action-major); the 21st is not one of them
and is skipped, as the public loaders do.
"""

import os
from typing import Iterator

import h5py
import numpy as np
import scipy.io

from visual_dynamics.data import frames
from visual_dynamics.data.pairs_tfds import SourceDataError

ACTIONS = ("spellcast", "thrust", "walk", "slash", "shoot")
NUM_VIEWPOINTS = 4
NUM_ANIMATIONS = len(ACTIONS) * NUM_VIEWPOINTS  # kept of the 21 stored
FRAME_SIZE = 60
SPLIT_FIELDS = {"train": "trainidx", "validation": "validx", "test": "testidx"}
SPRITES_DIR = os.path.join("data", "sprites")


def character_file(sprites_dir: str, character: int) -> str:
    return os.path.join(sprites_dir, f"sprites_{character}.mat")


def read_splits(sprites_dir: str) -> dict[str, np.ndarray]:
    """{'train', 'validation', 'test'} -> 0-based character ids (file numbers), from sprites_splits.mat."""
    path = os.path.join(sprites_dir, "sprites_splits.mat")
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


def read_animations(path: str) -> list[np.ndarray]:
    """One character's 20 animations, each uint8 [T, 60, 60, 3] (row, column, RGB).

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
            if len(refs) < NUM_ANIMATIONS:
                raise SourceDataError(f"{path}: 'sprites' holds {len(refs)} animations, expected 21.")
            columns = [np.asarray(mat[ref]) for ref in refs[:NUM_ANIMATIONS]]
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


def generate_examples(sprites_dir: str, characters: np.ndarray, image_size: int) -> Iterator:
    """(key, example) for every pair of consecutive frames of every animation of `characters`."""
    for character in characters:
        animations = read_animations(character_file(sprites_dir, int(character)))
        for animation, clip in enumerate(animations):
            clip = np.stack([frames.resize(f, image_size) for f in clip])
            for t in range(len(clip) - 1):
                yield f"{character}_{animation}_{t}", {
                    "image": clip[t],
                    "next_image": clip[t + 1],
                    "character": int(character),
                    "action": animation // NUM_VIEWPOINTS,
                    "viewpoint": animation % NUM_VIEWPOINTS,
                    "frame": t,
                }
