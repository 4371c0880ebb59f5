"""Removing camera motion between two frames: tracked corners + a global similarity warp (OpenCV).

The paper stabilises the Exercise videos before extracting pairs (§5.3). For a pair (I, J) what must go
is the camera's motion between I and J, so J is warped onto I by the similarity (rotation, uniform
scale, translation) that best maps J's tracked background corners onto I's; RANSAC keeps the moving
person from pulling the estimate. Aligning each pair directly accumulates no drift over long videos.
"""

import cv2
import numpy as np

MIN_TRACKED = 8  # fewer tracked corners than this: the frames are left as they are


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def camera_motion(image: np.ndarray, next_image: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity taking points of `next_image` to the same scene points in `image`.

    Args:
      image, next_image: uint8 [H, W, 3] RGB frames of one video.
    Returns:
      float [2, 3]; the identity where too few corners could be tracked (a featureless frame).
    """
    first, second = _gray(image), _gray(next_image)
    corners = cv2.goodFeaturesToTrack(first, maxCorners=500, qualityLevel=0.01, minDistance=7)
    if corners is None or len(corners) < MIN_TRACKED:
        return np.eye(2, 3)
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(first, second, corners, None, winSize=(21, 21),
                                                  maxLevel=3)
    found = status.ravel() == 1
    if found.sum() < MIN_TRACKED:
        return np.eye(2, 3)
    matrix, _ = cv2.estimateAffinePartial2D(tracked[found], corners[found], method=cv2.RANSAC,
                                            ransacReprojThreshold=1.0)
    return np.eye(2, 3) if matrix is None else matrix


def align(image: np.ndarray, next_image: np.ndarray) -> np.ndarray:
    """`next_image` warped into `image`'s camera frame (edges replicated where the warp leaves it)."""
    h, w = image.shape[:2]
    return cv2.warpAffine(next_image, camera_motion(image, next_image), (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
