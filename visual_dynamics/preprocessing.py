"""Image conventions of the original release, and user images: reading, converting, resizing.

Network input: RGB in [0, 1] minus a per-channel mean. Target: v = (J - I) * diff_scale at the
motion decoder's resolution. Predicted frame: I + v_hat / diff_scale, upsampled to I's size.

User images (files or arrays) become 8-bit RGB first: grayscale is repeated over the channels, an
alpha channel is composited on white, 16-bit and float [0, 1] values are rounded to 8 bits.

Two resizes, for two jobs. `resize_image` (NumPy, on the host) brings an image of any size to a stored
or input size once: the dataset readers use it for every frame they store, and the Predictor for a
user's image, so that a user's photo is resized exactly as the training frames were. `resize_square`
(jax.image, antialiased) resizes inside jitted code on the device: stored images to the config's input
size, and the target and prediction between the input and the motion decoder's resolution.
"""

import functools
import os
from typing import Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, UnidentifiedImageError


class ImageFileError(ValueError):
    """An image file that cannot be used: missing, empty, not an image, or damaged."""


def check_rgb_uint8(images: np.ndarray, what: str = "image") -> None:
    """Raises ValueError unless `images` is uint8 [..., H, W, 3]."""
    images = np.asarray(images)
    if images.ndim < 3 or images.shape[-1] != 3:
        channels = images.shape[-1] if images.ndim >= 3 else 1
        raise ValueError(
            f"{what} must be RGB [H, W, 3] (or [B, H, W, 3]); got shape {images.shape} "
            f"({channels} channel{'s' if channels != 1 else ''}). Convert it first, e.g. "
            f"PIL.Image.open(path).convert('RGB').")
    if images.dtype != np.uint8:
        raise ValueError(
            f"{what} must have dtype uint8 (0..255); got {images.dtype}. For floats in [0, 1] "
            f"use (np.clip(x, 0, 1) * 255).round().astype(np.uint8).")


def normalize(images: jnp.ndarray, mean: Sequence[float]) -> jnp.ndarray:
    """uint8 [..., 3] -> float32 in [0, 1] minus the per-channel mean."""
    return images.astype(jnp.float32) / 255.0 - jnp.asarray(mean, jnp.float32)


def resize_square(images: jnp.ndarray, size: int) -> jnp.ndarray:
    """Bilinear (antialiased when shrinking) resize of [B, H, W, C] to [B, size, size, C]."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return jax.image.resize(images, (images.shape[0], size, size, images.shape[-1]), "linear")


def model_inputs(batch: dict, config):
    """Batch of uint8 {'image', 'next_image'} [B, H, W, 3] -> network tensors.

    Uses config.image_size (S), image_mean, diff_scale and model.decoder_size (D).

    Returns:
      image [B, S, S, 3] (normalised I), diff [B, S, S, 3] (v at input size, encoder input),
      target [B, D, D, 3] (v at the decoder's resolution D).
    """
    image = network_image(batch["image"], config)
    diff = (network_image(batch["next_image"], config) - image) * config.diff_scale
    return image, diff, resize_square(diff, config.model.decoder_size)


def network_image(images: jnp.ndarray, config) -> jnp.ndarray:
    """uint8 [B, H, W, 3] -> normalised float [B, S, S, 3] at config.image_size S."""
    return resize_square(normalize(images, config.image_mean), config.image_size)


def predicted_frame(image_uint8: jnp.ndarray, v_hat: jnp.ndarray, diff_scale: float) -> jnp.ndarray:
    """I + v_hat / diff_scale as float in [0, 1], v_hat upsampled to I's size: [B, H, W, 3]."""
    v = resize_square(v_hat, image_uint8.shape[1]) / diff_scale
    return jnp.clip(image_uint8.astype(jnp.float32) / 255.0 + v, 0.0, 1.0)


def as_rgb_uint8(image: np.ndarray) -> tuple[np.ndarray, Optional[str]]:
    """An image array -> (uint8 RGB [H, W, 3], what was converted or None).

    Takes [H, W] or [H, W, 1 | 3 | 4] arrays of uint8, uint16 (16-bit) or floats in [0, 1]; alpha
    (4 channels) is composited on white.

    Raises:
      ValueError: another shape, dtype or value range.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image must be [H, W] or [H, W, C] with C = 1 (gray), 3 (RGB) or 4 (RGBA); "
                         f"got shape {image.shape}")
    if image.dtype == np.uint8 and image.shape[-1] == 3:
        return image, None  # the common case: nothing to convert
    steps = []
    if image.dtype == np.uint8:
        values = image.astype(np.float64) / 255.0
    elif image.dtype == np.uint16:
        values, steps = image.astype(np.float64) / 65535.0, ["16-bit to 8-bit"]
    elif np.issubdtype(image.dtype, np.floating):
        finite = image[np.isfinite(image)]
        if finite.size < image.size or image.min() < 0.0 or image.max() > 1.0:
            span = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "none finite"
            raise ValueError(f"a float image must hold values in [0, 1]; got values in {span}"
                             + ("" if finite.size == image.size else " and NaN or inf"))
        values, steps = image.astype(np.float64), [f"{image.dtype} to 8-bit"]
    else:
        raise ValueError(f"an image must have dtype uint8, uint16 or float (in [0, 1]); got {image.dtype}")
    if values.shape[-1] == 4:
        alpha = values[..., 3:]
        values, steps = values[..., :3] * alpha + (1.0 - alpha), steps + ["alpha composited on white"]
    if values.shape[-1] == 1:
        values, steps = np.repeat(values, 3, axis=-1), steps + ["grayscale to RGB"]
    return (values * 255.0).round().astype(np.uint8), ", ".join(steps)


def read_image(path: str) -> tuple[np.ndarray, Optional[str]]:
    """An image file (any format Pillow reads) -> (uint8 RGB [H, W, 3], what was converted, or None for
    an 8-bit RGB file).

    Raises:
      ImageFileError: the file is missing, empty, not an image, or damaged (e.g. truncated).
    """
    if not os.path.isfile(path):
        raise ImageFileError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise ImageFileError(f"{path}: the file is empty (0 bytes)")
    try:
        with Image.open(path) as image:
            image.load()  # decodes now, so that a truncated file fails here
            mode = image.mode
            if mode in ("P", "PA", "LA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
                transparent = mode in ("PA", "LA") or "transparency" in image.info
                image = image.convert("RGBA" if transparent else "RGB")
            array = np.asarray(image)
    except UnidentifiedImageError:
        raise ImageFileError(f"{path}: not an image file (Pillow reads PNG, JPEG, GIF, BMP, TIFF, WebP, "
                             f"...)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageFileError(f"{path}: the image is damaged or truncated ({e})") from None
    if mode.startswith("I") and array.dtype != np.uint16:  # 16-bit PNGs often open as 32-bit 'I'
        if array.min() < 0 or array.max() > 65535:
            raise ImageFileError(f"{path}: a {mode!r} image with values outside 16 bits")
        array = array.astype(np.uint16)
    try:
        rgb, converted = as_rgb_uint8(array)
    except ValueError as e:
        raise ImageFileError(f"{path}: a {mode!r} image that cannot be used: {e}") from None
    if mode == "RGB" and converted is None:
        return rgb, None
    return rgb, f"a {mode!r} image: {converted or 'converted to RGB'}"


@functools.lru_cache(maxsize=64)
def resampling_taps(n_in: int, n_out: int, area: bool) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis, the input pixels each output pixel reads and their weights: int [n_out, K] and
    float32 [n_out, K], each row's weights summing to 1.

    area: the share of the output pixel's footprint [o * s, (o + 1) * s) (s = n_in / n_out) that each
    input pixel covers, for shrinking. Otherwise bilinear between the two input pixels nearest to the
    output pixel's centre (o + 0.5) * s - 0.5, clamped at the borders (edge pixels repeat).
    """
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in), np.float64)
    for o in range(n_out):
        if area:
            start, stop = o * scale, (o + 1) * scale
            for i in range(int(start), min(n_in, int(np.ceil(stop)))):
                weights[o, i] = min(stop, i + 1) - max(start, i)
        else:
            centre = min(max((o + 0.5) * scale - 0.5, 0.0), n_in - 1.0)
            left = int(centre)
            weights[o, left] += 1.0 - (centre - left)
            weights[o, min(left + 1, n_in - 1)] += centre - left
    weights /= weights.sum(axis=1, keepdims=True)
    first = np.argmax(weights > 0, axis=1)
    width = int((weights > 0).sum(axis=1).max())
    taps = first[:, None] + np.arange(width)                   # a row's nonzero weights are contiguous
    inside = taps < n_in
    taps = np.minimum(taps, n_in - 1)
    return taps, np.where(inside, np.take_along_axis(weights, taps, axis=1), 0.0).astype(np.float32)


def _resample_rows(image: np.ndarray, size: int, area: bool) -> np.ndarray:
    """float32 [H, W, C] -> [size, W, C]: each output row a weighted sum of a few input rows."""
    taps, weights = resampling_taps(image.shape[0], size, area)
    return np.einsum("ok,okwc->owc", weights, image[taps])


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB [H, W, 3] of any size -> uint8 [size, size, 3]: area averaging when shrinking (no
    aliasing of fine texture), bilinear when growing (the resampling of OpenCV's INTER_AREA and
    INTER_LINEAR, within one level: the light install carries no OpenCV)."""
    check_rgb_uint8(image)
    if image.shape[:2] == (size, size):
        return image
    area = size < min(image.shape[:2])
    rows = _resample_rows(image.astype(np.float32), size, area)                 # [size, W, 3]
    resized = _resample_rows(rows.transpose(1, 0, 2), size, area).transpose(1, 0, 2)
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def load_image(path: str, size: int) -> tuple[np.ndarray, Optional[str]]:
    """`read_image`, resized to uint8 [size, size, 3]."""
    image, converted = read_image(path)
    return resize_image(image, size), converted
