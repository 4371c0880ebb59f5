"""Frame pairs from a folder of the user's own videos: the Exercise recipe of §5.3 for any footage.

Each video is read once, in order; a pair (t, t + frame_gap) starts every `pair_every` frames, J is
aligned onto I to remove camera motion (`stabilization.align`), and both are cropped to their centred
square and resized. Videos, not pairs, are split between train and test.
"""

import collections
import hashlib
import os
from typing import Iterator

import cv2
import numpy as np

from visual_dynamics import preprocessing
from visual_dynamics.data import frames, stabilization
from visual_dynamics.data.source_files import SourceDataError, is_os_metadata, listing

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def list_videos(folder: str) -> list[str]:
    """The video files directly in `folder` (by extension), sorted by name."""
    if not os.path.isdir(folder):
        raise SourceDataError(f"{folder} is not a folder; pass the folder of your videos as --manual_dir.")
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith(VIDEO_EXTENSIONS) and not is_os_metadata(n))
    if not names:
        raise SourceDataError(f"no video files ({', '.join(VIDEO_EXTENSIONS)}) in {folder}; "
                              f"{listing(folder)}.")
    return names


def split_videos(names: list[str], test_fraction: float, seed: int) -> dict[str, list[str]]:
    """Videos -> {'train', 'test'}: a fixed pseudo-random `test_fraction` of them (at least one) to test.

    The order is a hash of (seed, name), so adding a video does not move the others between splits
    unless it takes a test place.
    """
    if len(names) < 2:
        raise SourceDataError(f"found {len(names)} video(s); splitting by video needs at least 2.")
    num_test = min(len(names) - 1, max(1, round(test_fraction * len(names))))
    ranked = sorted(names, key=lambda n: hashlib.sha256(f"{seed}/{n}".encode()).hexdigest())
    test = set(ranked[:num_test])
    return {"train": [n for n in names if n not in test], "test": [n for n in names if n in test]}


def read_frames(path: str) -> Iterator[np.ndarray]:
    """The frames of a video file, uint8 RGB [H, W, 3], in order.

    Raises:
      SourceDataError: naming the file, when OpenCV cannot open it or it yields no frame.
    """
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise SourceDataError(f"cannot open the video {path}: the file is corrupt or its codec is "
                                  f"not supported by OpenCV's FFmpeg; re-encode it (e.g. to H.264 .mp4).")
        count = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise SourceDataError(f"the video {path} holds no readable frame; re-encode it.")
    finally:
        capture.release()


def video_pairs(path: str, frame_gap: int, pair_every: int, stabilize: bool) -> Iterator:
    """(t, I, J) for t = 0, pair_every, 2 pair_every, ...: frames t and t + frame_gap at full size."""
    window = collections.deque(maxlen=frame_gap + 1)
    for index, frame in enumerate(read_frames(path)):
        window.append(frame)
        t = index - frame_gap
        if t >= 0 and t % pair_every == 0:
            image, next_image = window[0], window[-1]
            yield t, image, stabilization.align(image, next_image) if stabilize else next_image


def read_video(folder: str, config, name: str) -> list[tuple[str, dict]]:
    """(key, example) for the pairs of the video `name` in `folder`, stabilised and resized."""
    return [(f"{name}/{t}", {
        "image": preprocessing.resize_image(frames.centre_square(image), config.image_size),
        "next_image": preprocessing.resize_image(frames.centre_square(next_image), config.image_size),
        "video": name,
        "frame": t,
    }) for t, image, next_image in video_pairs(os.path.join(folder, name), config.frame_gap,
                                                config.pair_every, config.stabilize)]
