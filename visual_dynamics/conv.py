"""A 2-D convolution whose weight gradient is computed as one matmul per kernel tap.

XLA's CPU backend computes a convolution's forward pass and input gradient near its matmul rate but
its weight gradient several times slower (benchmarks/conv_weight_grad.py). Here the forward pass
and input gradient are XLA's, and the weight gradient is
    dW[i, j] = X_shifted(i, j)^T G,   X_shifted(i, j) = padded input window at tap (i, j), [N, C_in],
a [C_in, N] x [N, C_out] matmul per tap, N = batch x output pixels. The per-tap windows cost
memory, so it is opt-in: config.model.conv_weight_grad = 'matmul'. `conv_general_dilated` takes
the arguments of `lax.conv_general_dilated`, so it plugs into `flax.linen.Conv`; configurations it
does not cover (strides, dilation, groups, other layouts) go to `lax.conv_general_dilated` unchanged.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

_NHWC = ("NHWC", "HWIO", "NHWC")


def _conv(x, w, padding):
    return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=_NHWC)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv_matmul_weight_grad(x, w, padding):
    return _conv(x, w, padding)


def _forward(x, w, padding):
    return _conv(x, w, padding), (x, w)


def _backward(padding, residuals, g):
    x, w = residuals
    dx = jax.vjp(lambda x: _conv(x, w, padding), x)[1](g)[0]
    kh, kw = w.shape[:2]
    (top, bottom), (left, right) = lax.padtype_to_pads(x.shape[1:3], (kh, kw), (1, 1), padding)
    padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    h, wd = g.shape[1:3]
    n = g.shape[0] * h * wd
    g = g.reshape(n, -1)
    dw = jnp.stack([jnp.stack([padded[:, i:i + h, j:j + wd].reshape(n, -1).T @ g
                               for j in range(kw)]) for i in range(kh)])
    return dx, dw.astype(w.dtype)


_conv_matmul_weight_grad.defvjp(_forward, _backward)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """`lax.conv_general_dilated` with the matmul weight gradient where it applies (see module)."""
    plain = (tuple(window_strides) == (1, 1) and lhs.ndim == 4 and feature_group_count == 1
             and all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
             and padding in ("SAME", "VALID") and not kwargs
             and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
             == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC))
    if plain:
        return _conv_matmul_weight_grad(lhs, rhs, padding)
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                    dimension_numbers, feature_group_count, precision=precision,
                                    **kwargs)


def conv_function(weight_grad: str):
    """The convolution for `config.model.conv_weight_grad`: 'xla' or 'matmul'.

    'matmul' made the paper-size train step about 1.6x faster on a 2-core CPU but needs about 4x
    its peak memory, and slowed the smaller configs (README, "Performance"); 'xla' is the default.
    """
    if weight_grad not in ("xla", "matmul"):
        raise ValueError(f"config.model.conv_weight_grad must be 'xla' or 'matmul', "
                         f"got {weight_grad!r}")
    return conv_general_dilated if weight_grad == "matmul" else lax.conv_general_dilated
