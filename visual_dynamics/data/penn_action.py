"""Penn Action (Zhang et al., ICCV 2013): person-centred frame pairs (§5.3).

Layout of `Penn_Action.tar.gz`:
  Penn_Action/frames/NNNN/000001.jpg ...   the frames of video NNNN (0001 ... 2326), in order
  Penn_Action/labels/NNNN.mat              MATLAB v5: action (string), nframes, bbox (rows of
                                           [x0, y0, x1, y1]; in some videos fewer rows than frames, or
                                           none), train (1: train, otherwise test), pose, x, y,
                                           visibility (13 joints a frame), dimensions.
Each pair is cropped to a square around the person: the box is smoothed over time (so detector jitter
does not become motion), and both frames of a pair use the box of the first (so the crop adds none).
A frame without a bbox row gets the box of its visible joints, grown by JOINT_BOX_PADDING of its size on
each side (joints lie inside the person: the head's top, hands and feet reach beyond them); a frame with
neither takes the box of the nearest frame that has one. A video with neither boxes nor visible joints
is skipped, and listed at the end of its split.
"""

import os
from typing import Optional

import numpy as np
import scipy.io

from visual_dynamics import preprocessing
from visual_dynamics.data import frames
from visual_dynamics.data.source_files import SkippedRecord, SourceDataError, is_os_metadata

ACTIONS = ("baseball_pitch", "baseball_swing", "bench_press", "bowl", "clean_and_jerk", "golf_swing",
           "jump_rope", "jumping_jacks", "pullup", "pushup", "situp", "squat", "strum_guitar",
           "tennis_forehand", "tennis_serve")
ROOT = "Penn_Action"
REQUIRED_FIELDS = ("action", "nframes", "train")
JOINT_BOX_PADDING = 0.15


def read_labels(path: str) -> dict:
    """labels/NNNN.mat -> {'action': str, 'nframes': int, 'bbox': float [N, 4] (N may be 0), 'train': bool,
    'joints': float [nframes, 13, 2] (x, y; NaN where not visible)}.

    Raises:
      SourceDataError: naming the file, if it is unreadable or lacks a field.
    """
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as e:
        raise SourceDataError(f"{path} is not a readable MATLAB file ({e}); extract "
                              f"Penn_Action.tar.gz again.") from e
    missing = [field for field in REQUIRED_FIELDS if field not in mat]
    if missing:
        raise SourceDataError(f"{path} lacks the field(s) {missing}; it holds "
                              f"{sorted(k for k in mat if not k.startswith('__'))}.")
    nframes = int(np.ravel(mat["nframes"])[0])
    bbox = np.asarray(mat.get("bbox", np.zeros((0, 4))), dtype=np.float64).reshape(-1, 4)
    joints = np.full((nframes, 13, 2), np.nan)
    if all(k in mat for k in ("x", "y", "visibility")):
        x, y, visible = (np.asarray(mat[k], np.float64).reshape(-1, 13)[:nframes]
                         for k in ("x", "y", "visibility"))
        joints[:len(x)] = np.where((visible > 0)[..., None], np.stack([x, y], -1), np.nan)
    return {"action": str(np.ravel(mat["action"])[0]), "nframes": nframes, "bbox": bbox,
            "train": int(np.ravel(mat["train"])[0]) == 1, "joints": joints}


def frame_boxes(bbox: np.ndarray, joints: np.ndarray) -> Optional[np.ndarray]:
    """Per-frame person boxes [nframes, 4] from the bbox rows, else the padded box of the visible joints,
    else the nearest frame's box; None when no frame has either.

    Args:
      bbox: [N, 4] rows [x0, y0, x1, y1] for the first N frames (N may be 0 or exceed nframes).
      joints: [nframes, J, 2] joint (x, y), NaN where not visible.
    """
    def proper(b: np.ndarray) -> np.ndarray:  # a box of positive size (False for NaN rows)
        return (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])

    nframes = len(joints)
    boxes = np.full((nframes, 4), np.nan)
    rows = bbox[:nframes]
    boxes[:len(rows)] = np.where(proper(rows)[:, None], rows, np.nan)
    for t in np.flatnonzero(np.isnan(boxes[:, 0])):
        visible = joints[t][~np.isnan(joints[t, :, 0])]
        if len(visible) >= 2:
            low, high = visible.min(axis=0), visible.max(axis=0)
            pad = JOINT_BOX_PADDING * (high - low)
            boxes[t] = np.concatenate([low - pad, high + pad])
    known = np.flatnonzero(proper(boxes))
    if len(known) == 0:
        return None
    nearest = known[np.abs(np.arange(nframes)[:, None] - known[None]).argmin(axis=1)]
    return boxes[nearest]


def smooth_boxes(bbox: np.ndarray, nframes: int, radius: int) -> np.ndarray:
    """Per-frame boxes [nframes, 4], missing trailing rows repeating the last, averaged over time.

    The average at frame t is over frames t - r ... t + r with r = min(radius, t, nframes - 1 - t),
    a window symmetric about t, so a box moving at constant velocity is left unchanged.
    """
    boxes = np.concatenate([bbox[:nframes], np.repeat(bbox[-1:], max(0, nframes - len(bbox)), 0)])
    cumsum = np.concatenate([np.zeros((1, 4)), np.cumsum(boxes, axis=0)])
    t = np.arange(nframes)
    r = np.minimum(radius, np.minimum(t, nframes - 1 - t))
    return (cumsum[t + r + 1] - cumsum[t - r]) / (2 * r + 1)[:, None]


def crop_around(frame: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray:
    """The square centred on box [x0, y0, x1, y1] with side `margin` x its longer side."""
    x0, y0, x1, y1 = box
    return frames.square_crop(frame, ((x0 + x1) / 2, (y0 + y1) / 2), margin * max(x1 - x0, y1 - y0))


def pair_starts(nframes: int, frame_gap: int, pairs_per_video: Optional[int]) -> np.ndarray:
    """Indices t of the pairs (t, t + gap): all of them, or `pairs_per_video` evenly spaced."""
    last = nframes - 1 - frame_gap
    if last < 0:
        return np.zeros((0,), np.int64)
    if pairs_per_video is None or pairs_per_video > last:
        return np.arange(last + 1)
    return np.unique(np.round(np.linspace(0, last, pairs_per_video)).astype(np.int64))


def is_root(path: str) -> bool:
    """Whether `path` is the release's Penn_Action/ folder (it holds frames/ and labels/)."""
    return all(os.path.isdir(os.path.join(path, name)) for name in ("frames", "labels"))


def video_ids(root: str) -> list[str]:
    """'0001', '0002', ... : the videos that have a labels file, sorted."""
    labels = os.path.join(root, "labels")
    if not os.path.isdir(labels) or not os.path.isdir(os.path.join(root, "frames")):
        raise SourceDataError(f"{root} must hold the folders 'frames' and 'labels' of Penn_Action.tar.gz "
                              f"(found: {sorted(os.listdir(root)) if os.path.isdir(root) else 'nothing'}).")
    return sorted(name[:-4] for name in os.listdir(labels)
                  if name.endswith(".mat") and not is_os_metadata(name))


def read_frame(path: str) -> np.ndarray:
    if not os.path.exists(path):
        raise SourceDataError(f"{path} not found: its video's labels count more frames than its "
                              f"folder holds; extract Penn_Action.tar.gz again.")
    with open(path, "rb") as f:
        return frames.decode_image(f.read(), path)


def split_video_ids(root: str) -> dict[str, list[str]]:
    """{'train': [...], 'test': [...]}: the videos of each split, by the `train` flag of their labels."""
    splits = {"train": [], "test": []}
    for video in video_ids(root):
        labels = read_labels(os.path.join(root, "labels", f"{video}.mat"))
        splits["train" if labels["train"] else "test"].append(video)
    return splits


def read_video(root: str, config, video: str) -> list[tuple[str, dict]]:
    """(key, example) of the pairs of one video, cropped around the person.

    Raises:
      SkippedRecord: the video has neither bbox rows nor visible joints.
      SourceDataError: its action is unknown, or a frame its labels count is missing.
    """
    labels = read_labels(os.path.join(root, "labels", f"{video}.mat"))
    if labels["action"] not in ACTIONS:
        raise SourceDataError(f"{root}/labels/{video}.mat: unknown action {labels['action']!r}.")
    person = frame_boxes(labels["bbox"], labels["joints"])
    if person is None:
        raise SkippedRecord(f"{video} (neither bbox rows nor visible joints)")
    boxes = smooth_boxes(person, labels["nframes"], config.box_smoothing_radius)
    examples = []
    for t in pair_starts(labels["nframes"], config.frame_gap, config.pairs_per_video):
        pair = [read_frame(os.path.join(root, "frames", video, f"{i + 1:06d}.jpg"))
                for i in (t, t + config.frame_gap)]
        crops = [preprocessing.resize_image(crop_around(f, boxes[t], config.crop_margin), config.image_size)
                 for f in pair]
        examples.append((f"{video}_{t}", {"image": crops[0], "next_image": crops[1], "video": int(video),
                                          "frame": int(t), "action": labels["action"]}))
    return examples
