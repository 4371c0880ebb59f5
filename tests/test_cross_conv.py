"""The reference cross convolution against a plain numpy loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from conftest import float64

from visual_dynamics.cross_conv import (IMPLEMENTATIONS, cross_convolve, cross_convolve_shift_add,
                                        get_implementation)

SHAPES = [(2, 7, 3, 5, 5), (3, 6, 2, 3, 3), (2, 5, 4, 3, 5), (1, 8, 2, 1, 7), (2, 4, 1, 5, 3)]


def numpy_cross_correlate(maps: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """out[b, y, x, c] = sum_ij k[b, i, j, c] * maps[b, y + i - kh//2, x + j - kw//2, c]."""
    b, h, w, c = maps.shape
    kh, kw = kernels.shape[1:3]
    padded = np.zeros((b, h + kh - 1, w + kw - 1, c))
    padded[:, kh // 2:kh // 2 + h, kw // 2:kw // 2 + w] = maps
    out = np.zeros((b, h, w, c))
    for n in range(b):
        for y in range(h):
            for x in range(w):
                for ch in range(c):
                    out[n, y, x, ch] = np.sum(padded[n, y:y + kh, x:x + kw, ch] * kernels[n, :, :, ch])
    return out


def _inputs(batch, size, channels, kh, kw, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    maps = rng.normal(size=(batch, size, size + 1, channels)).astype(dtype)
    kernels = rng.normal(size=(batch, kh, kw, channels)).astype(dtype)
    return maps, kernels


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("batch,size,channels,kh,kw", SHAPES)
def test_matches_numpy_loop(impl, batch, size, channels, kh, kw):
    maps, kernels = _inputs(batch, size, channels, kh, kw)
    np.testing.assert_allclose(IMPLEMENTATIONS[impl](maps, kernels),
                               numpy_cross_correlate(maps, kernels), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch,size,channels,kh,kw", SHAPES)
def test_shift_add_gradients_equal_the_reference(batch, size, channels, kh, kw):
    maps, kernels = _inputs(batch, size, channels, kh, kw)
    cotangent = np.random.default_rng(1).normal(size=maps.shape).astype(np.float32)

    def grads(fn):
        return jax.grad(lambda m, k: jnp.sum(fn(m, k) * cotangent), argnums=(0, 1))(maps, kernels)

    for fast, reference in zip(grads(cross_convolve_shift_add), grads(cross_convolve)):
        np.testing.assert_allclose(fast, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_gradients_match_finite_differences(impl):
    small = _inputs(2, 4, 2, 3, 5, dtype=np.float64)
    with float64():
        check_grads(IMPLEMENTATIONS[impl], small, order=2, modes=("rev",))


def test_bfloat16_agrees_within_bfloat16_precision():
    maps, kernels = _inputs(2, 16, 8, 5, 5)
    exact = numpy_cross_correlate(maps, kernels)
    for fn in IMPLEMENTATIONS.values():
        out = fn(jnp.asarray(maps, jnp.bfloat16), jnp.asarray(kernels, jnp.bfloat16))
        assert out.dtype == jnp.bfloat16
        # bfloat16 keeps 8 significant bits: relative error ~2^-8 per term, 25 terms summed.
        np.testing.assert_allclose(np.asarray(out, np.float32), exact, rtol=0.05, atol=0.25)


def test_implementation_by_name():
    assert get_implementation("reference") is cross_convolve
    assert get_implementation("auto") in IMPLEMENTATIONS.values()
    with pytest.raises(ValueError, match="cross_conv_impl"):
        get_implementation("fft")


def test_shift_kernel_translates_without_flip():
    """A one-hot kernel at (row 2, col 3) of a 5x5 kernel reads the map one pixel right:
    correlation, not convolution (a convolution would read one pixel left)."""
    maps = np.arange(2 * 6 * 6).reshape(2, 6, 6, 1).astype(np.float32)
    kernels = np.zeros((2, 5, 5, 1), np.float32)
    kernels[:, 2, 3, 0] = 1.0
    for fn in IMPLEMENTATIONS.values():
        out = np.asarray(fn(maps, kernels))
        np.testing.assert_array_equal(out[:, :, :-1], maps[:, :, 1:])
        np.testing.assert_array_equal(out[:, :, -1], 0.0)  # zero padding


def test_each_sample_uses_its_own_kernels():
    maps = np.ones((2, 4, 4, 1), np.float32)
    kernels = np.zeros((2, 3, 3, 1), np.float32)
    kernels[0, 1, 1], kernels[1, 1, 1] = 2.0, -3.0
    for fn in IMPLEMENTATIONS.values():
        out = np.asarray(fn(maps, kernels))
        np.testing.assert_array_equal(out[0], 2.0)
        np.testing.assert_array_equal(out[1], -3.0)


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_rejects_even_kernels_and_mismatched_batches(impl):
    with pytest.raises(ValueError, match="odd"):
        IMPLEMENTATIONS[impl](np.zeros((1, 4, 4, 2)), np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="agree"):
        IMPLEMENTATIONS[impl](np.zeros((2, 4, 4, 2)), np.zeros((1, 3, 3, 2)))
