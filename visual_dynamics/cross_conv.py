"""Cross convolution (§4.1): per-sample kernels correlated with per-sample feature maps.

Each of a sample's C feature maps is correlated with that sample's own kernel for that map
(depthwise, 'SAME' zero padding, no kernel flip, as Torch's SpatialConvolution). The kernels
are not parameters of the layer: they are an input, predicted per sample by the kernel decoder.
"""

import jax
import jax.numpy as jnp
from jax import lax


def _depthwise_correlate(feature_map: jnp.ndarray, kernels: jnp.ndarray) -> jnp.ndarray:
    """Correlates one sample's maps with its own kernels.

    Args:
      feature_map: [H, W, C].
      kernels: [kh, kw, C], one kernel per channel; kh and kw odd.

    Returns:
      [H, W, C], 'SAME' zero padding.
    """
    channels = feature_map.shape[-1]
    out = lax.conv_general_dilated(
        feature_map[None],
        kernels[:, :, None, :],  # HWIO with I = 1: one input channel per group.
        window_strides=(1, 1),
        padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=channels,
    )
    return out[0]


def cross_convolve(feature_maps: jnp.ndarray, kernels: jnp.ndarray) -> jnp.ndarray:
    """Reference cross convolution: `vmap` over the batch of a depthwise correlation.

    Args:
      feature_maps: [B, H, W, C] image-encoder output at one scale.
      kernels: [B, kh, kw, C] per-sample kernels from the kernel decoder (kh, kw odd).

    Returns:
      [B, H, W, C]: out[b, y, x, c] = sum_{i,j} kernels[b, i, j, c] *
      feature_maps[b, y + i - kh//2, x + j - kw//2, c], zero outside the map.
    """
    if feature_maps.ndim != 4 or kernels.ndim != 4:
        raise ValueError(
            f"cross_convolve expects feature_maps [B, H, W, C] and kernels [B, kh, kw, C]; "
            f"got {feature_maps.shape} and {kernels.shape}")
    if feature_maps.shape[0] != kernels.shape[0] or feature_maps.shape[-1] != kernels.shape[-1]:
        raise ValueError(
            f"batch and channel sizes must agree: feature_maps {feature_maps.shape}, "
            f"kernels {kernels.shape}")
    if kernels.shape[1] % 2 == 0 or kernels.shape[2] % 2 == 0:
        raise ValueError(f"kernel sizes must be odd for a centred 'SAME' correlation, got "
                         f"{kernels.shape[1:3]}")
    return jax.vmap(_depthwise_correlate)(feature_maps, kernels)
