"""Pictures: image grids as PNG, frame sequences as GIF, and matplotlib figures written to files."""

import os
from typing import Sequence

import numpy as np
from PIL import Image

from visual_dynamics.atomic import atomic_path


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float in [0, 1] or uint8 [H, W, 3] -> uint8."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def feature_map_tile(feature_map: np.ndarray, upscale: int = 1) -> np.ndarray:
    """uint8 [h * upscale, w * upscale, 3]: one feature map [h, w] stretched to black..white (black where
    it is constant), for a grid of what a layer sees."""
    low, high = feature_map.min(), feature_map.max()
    unit = (feature_map - low) / (high - low) if high > low else np.zeros_like(feature_map)
    return to_uint8(np.repeat(unit[..., None], 3, -1)).repeat(upscale, 0).repeat(upscale, 1)


def image_grid(rows: Sequence[Sequence[np.ndarray]], pad: int = 2, upscale: int = 1) -> np.ndarray:
    """Tiles rows of equally sized [H, W, 3] images, `pad` white pixels apart: uint8 [H', W', 3]."""
    h, w = np.asarray(rows[0][0]).shape[:2]
    cols = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = to_uint8(image)
    return grid.repeat(upscale, axis=0).repeat(upscale, axis=1)


def _atomic_save(image: Image.Image, path: str, **kwargs) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format=os.path.splitext(path)[1][1:].upper(), **kwargs)


def save_png(image: np.ndarray, path: str) -> None:
    _atomic_save(Image.fromarray(to_uint8(image)), path)


def subplots(*args, **kwargs):
    """`plt.subplots(*args, **kwargs)` drawn off-screen (the Agg backend): (figure, axes) for
    `save_figure`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save_figure(fig, path: str, dpi: int = 120) -> None:
    """Lays out a figure of `subplots`, writes it to `path` atomically (format from the extension) and
    closes it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)


def save_gif(frames: Sequence[np.ndarray], path: str, frame_ms: int = 500) -> None:
    """An endlessly looping GIF of [H, W, 3] frames."""
    images = [Image.fromarray(to_uint8(f)) for f in frames]
    _atomic_save(images[0], path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
