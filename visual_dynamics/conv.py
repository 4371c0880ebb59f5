"""A 2-D convolution for XLA's CPU backend: the weight gradient as chunked im2col matrix products, and
'VALID' padding computed through a padded convolution.

XLA's CPU backend computes a convolution's forward pass and input gradient near its matmul rate, but
the weight gradient of the image encoder's large layers several times slower, and a convolution with
no padding at all ('VALID', the motion encoder's) about 4x slower than the same one with any padding
(benchmarks/conv_weight_grad.py). Here a 'VALID' convolution is computed with one row and column of
padding at the end and the extra output row and column cropped (the same values), the input gradient
is XLA's, and the weight gradient is

    dW = P^T G,  P = the input's patches [pixels, KH * KW * C_in],  G = the output gradient [pixels, C_out],

summed over chunks of a few output rows of one example, so that a chunk's patches (a few MiB) stay in
cache and the extra memory is one chunk, not the 25x of whole-tensor im2col. The patches are built
channel-major ([KH * KW * C_in, pixels]), the layout whose product runs fastest on CPU.

`conv_general_dilated` takes the arguments of `lax.conv_general_dilated`, so it plugs into
`flax.linen.Conv`; configurations it does not cover (strides, dilation, groups, other layouts) go to
`lax.conv_general_dilated` unchanged. config.model.conv_weight_grad picks it: 'auto' (this one on CPU,
XLA's elsewhere), 'im2col' or 'xla'.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

_NHWC = ("NHWC", "HWIO", "NHWC")
# Bytes of float32 patches per chunk. On the 2-core CPU, the largest layer's weight gradient (128 px,
# 64 -> 64) took 0.43 s in chunks of 8 rows (6.3 MiB), 0.46-0.57 s in 2-4 or 16-32 rows, 0.65 s in whole
# images (a probe of 2026-11-26; benchmarks/conv_weight_grad.py measures the chosen size).
CHUNK_BYTES = 8 * 2 ** 20


def _conv(x, w, padding):
    if padding == "VALID":  # the same outputs, plus a last row and column that are cropped
        out = lax.conv_general_dilated(x, w, (1, 1), ((0, 1), (0, 1)), dimension_numbers=_NHWC)
        return out[:, :-1, :-1]
    return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=_NHWC)


def chunk_rows(height: int, row_bytes: int) -> int:
    """The largest divisor of `height` whose rows of `row_bytes` fit in CHUNK_BYTES (at least 1)."""
    fitting = max(1, CHUNK_BYTES // row_bytes)
    return max(r for r in range(1, height + 1) if height % r == 0 and r <= fitting)


def im2col_weight_grad(x: jax.Array, g: jax.Array, kernel_size: tuple[int, int], padding) -> jax.Array:
    """The weight gradient of a stride-1 NHWC / HWIO convolution.

    Args:
      x: the input [B, H, W, C_in].
      g: the gradient of the output [B, H_out, W_out, C_out].
      kernel_size: (KH, KW).
      padding: 'SAME', 'VALID' or ((top, bottom), (left, right)).
    Returns:
      dW [KH, KW, C_in, C_out] in float32.
    """
    kh, kw = kernel_size
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(x.shape[1:3], kernel_size, (1, 1), padding)
    channels = x.shape[-1]
    xp = jnp.pad(x, ((0, 0), *padding, (0, 0))).transpose(0, 3, 1, 2)  # [B, C_in, H_pad, W_pad]
    batch, height, width, out_channels = g.shape
    rows = chunk_rows(height, kh * kw * channels * width * 4)
    chunks = height // rows

    def add_chunk(dw, index):
        example, row = index // chunks, index % chunks * rows
        window = lax.dynamic_slice(xp, (example, 0, row, 0), (1, channels, rows + kh - 1, width + kw - 1))[0]
        patches = jnp.stack([window[:, i:i + rows, j:j + width] for i in range(kh) for j in range(kw)])
        grad = lax.dynamic_slice(g, (example, row, 0, 0), (1, rows, width, out_channels))
        return dw + jnp.matmul(patches.reshape(kh * kw * channels, rows * width),  # [KH * KW * C_in, pixels]
                               grad.reshape(rows * width, out_channels),
                               preferred_element_type=jnp.float32), None

    dw, _ = lax.scan(add_chunk, jnp.zeros((kh * kw * channels, out_channels), jnp.float32),
                     jnp.arange(batch * chunks))
    return dw.reshape(kh, kw, channels, out_channels)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_im2col_weight_grad(x, w, padding):
    return _conv(x, w, padding)


def _forward(x, w, padding):
    return _conv(x, w, padding), (x, w)


def _backward(padding, residuals, g):
    x, w = residuals
    dx = jax.vjp(lambda x: _conv(x, w, padding), x)[1](g)[0]
    return dx, im2col_weight_grad(x, g, w.shape[:2], padding).astype(w.dtype)


_conv_im2col_weight_grad.defvjp(_forward, _backward)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """`lax.conv_general_dilated` with the im2col weight gradient where it applies (see module)."""
    plain = (tuple(window_strides) == (1, 1) and lhs.ndim == 4 and feature_group_count == 1
             and all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
             and padding in ("SAME", "VALID") and not kwargs
             and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
             == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC))
    if plain:
        return _conv_im2col_weight_grad(lhs, rhs, padding)
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, precision=precision,
                                    **kwargs)


def default_weight_grad(backend: str) -> str:
    """What 'auto' picks on a JAX backend: 'im2col' on CPU (README, "Performance"), XLA's own on GPU
    and TPU, whose convolution libraries compute weight gradients at speed."""
    return "im2col" if backend == "cpu" else "xla"


def conv_function(weight_grad: str):
    """The convolution for `config.model.conv_weight_grad`: 'auto' (by the default JAX backend),
    'im2col' or 'xla'."""
    if weight_grad == "auto":
        weight_grad = default_weight_grad(jax.default_backend())
    if weight_grad not in ("xla", "im2col"):
        raise ValueError(f"config.model.conv_weight_grad must be 'auto', 'im2col' or 'xla', "
                         f"got {weight_grad!r}")
    return conv_general_dilated if weight_grad == "im2col" else lax.conv_general_dilated
