"""Frame helpers shared by the real-data readers: decoding, square crops (resizing is
`preprocessing.resize_image`, shared with user images)."""

import io

import numpy as np
from PIL import Image


def square_crop(frame: np.ndarray, centre_xy: tuple[float, float], side: float) -> np.ndarray:
    """The square of `side` pixels centred on (x, y), edge pixels repeated where it leaves the frame.

    Args:
      frame: uint8 [H, W, C].
      centre_xy: the square's centre in pixel coordinates (x to the right, y down).
      side: the square's side in pixels (rounded to an integer >= 1).
    Returns:
      uint8 [side, side, C].
    """
    side = max(1, int(round(side)))
    x0 = int(round(centre_xy[0] - side / 2))
    y0 = int(round(centre_xy[1] - side / 2))
    rows = np.clip(np.arange(y0, y0 + side), 0, frame.shape[0] - 1)
    cols = np.clip(np.arange(x0, x0 + side), 0, frame.shape[1] - 1)
    return frame[rows[:, None], cols[None, :]]


def centre_square(frame: np.ndarray) -> np.ndarray:
    """The largest centred square of a [H, W, C] frame."""
    h, w = frame.shape[:2]
    return square_crop(frame, ((w - 1) / 2 + 0.5, (h - 1) / 2 + 0.5), min(h, w))


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Encoded image bytes (PNG, JPEG, ...) -> uint8 RGB [H, W, 3].

    Raises:
      ValueError: naming `name`, when the bytes are not a readable image.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, Image.UnidentifiedImageError, SyntaxError) as e:
        raise ValueError(f"{name} is not a readable image ({e}); the file is truncated or corrupt: "
                         f"download it again.") from e
