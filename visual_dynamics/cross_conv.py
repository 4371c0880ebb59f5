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


def _check_shapes(feature_maps: jnp.ndarray, kernels: jnp.ndarray) -> None:
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


def cross_convolve(feature_maps: jnp.ndarray, kernels: jnp.ndarray) -> jnp.ndarray:
    """Reference cross convolution: `vmap` over the batch of a depthwise correlation.

    Args:
      feature_maps: [B, H, W, C] image-encoder output at one scale.
      kernels: [B, kh, kw, C] per-sample kernels from the kernel decoder (kh, kw odd).

    Returns:
      [B, H, W, C]: out[b, y, x, c] = sum_{i,j} kernels[b, i, j, c] *
      feature_maps[b, y + i - kh//2, x + j - kw//2, c], zero outside the map.
    """
    _check_shapes(feature_maps, kernels)
    return jax.vmap(_depthwise_correlate)(feature_maps, kernels)


def cross_convolve_shift_add(feature_maps: jnp.ndarray, kernels: jnp.ndarray) -> jnp.ndarray:
    """The same correlation as `cross_convolve`, as kh * kw shifted multiply-adds.

    Each tap (i, j) adds kernels[:, i, j] * (the zero-padded maps shifted by (i, j)). XLA fuses
    the taps into one elementwise loop, and the gradients (autodiff) are shifted multiply-adds and
    per-tap sums, where a depthwise convolution's kernel gradient is slow on CPU.

    Args and returns as `cross_convolve`.
    """
    _check_shapes(feature_maps, kernels)
    _, h, w, _ = feature_maps.shape
    kh, kw = kernels.shape[1:3]
    padded = jnp.pad(feature_maps, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = jnp.zeros_like(feature_maps, dtype=jnp.result_type(feature_maps, kernels))
    for i in range(kh):
        for j in range(kw):
            out = out + padded[:, i:i + h, j:j + w, :] * kernels[:, i, j][:, None, None, :]
    return out


IMPLEMENTATIONS = {"reference": cross_convolve, "shift_add": cross_convolve_shift_add}


def default_implementation(backend: str) -> str:
    """The implementation 'auto' picks on a JAX backend (see benchmarks/cross_conv.py).

    CPU: shift-and-add, measured 22x faster forward+backward. GPU: the reference, measured 2.1x faster
    forward+backward on an H200 (docs/performance.md). TPU: the reference, unmeasured.
    """
    return "shift_add" if backend == "cpu" else "reference"


def get_implementation(name: str):
    """'reference', 'shift_add', or 'auto' (by the default JAX backend) -> the function."""
    if name == "auto":
        name = default_implementation(jax.default_backend())
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"config.model.cross_conv_impl must be 'auto' or one of "
                         f"{sorted(IMPLEMENTATIONS)}, got {name!r}")
    return IMPLEMENTATIONS[name]
