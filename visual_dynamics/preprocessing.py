"""Image conventions of the original release, and validation of user images.

Network input: RGB in [0, 1] minus a per-channel mean. Target: v = (J - I) * diff_scale at the
motion decoder's resolution. Predicted frame: I + v_hat / diff_scale, upsampled to I's size.
"""

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


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
