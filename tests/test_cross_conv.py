"""The reference cross convolution against a plain numpy loop."""

import numpy as np
import pytest

from visual_dynamics.cross_conv import cross_convolve


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


@pytest.mark.parametrize("batch,size,channels,kh,kw", [
    (2, 7, 3, 5, 5), (3, 6, 2, 3, 3), (2, 5, 4, 3, 5), (1, 8, 2, 1, 7), (2, 4, 1, 5, 3)])
def test_matches_numpy_loop(batch, size, channels, kh, kw):
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(batch, size, size + 1, channels)).astype(np.float32)
    kernels = rng.normal(size=(batch, kh, kw, channels)).astype(np.float32)
    np.testing.assert_allclose(cross_convolve(maps, kernels), numpy_cross_correlate(maps, kernels),
                               rtol=1e-5, atol=1e-5)


def test_shift_kernel_translates_without_flip():
    """A one-hot kernel at (row 2, col 3) of a 5x5 kernel reads the map one pixel right:
    correlation, not convolution (a convolution would read one pixel left)."""
    maps = np.arange(2 * 6 * 6).reshape(2, 6, 6, 1).astype(np.float32)
    kernels = np.zeros((2, 5, 5, 1), np.float32)
    kernels[:, 2, 3, 0] = 1.0
    out = np.asarray(cross_convolve(maps, kernels))
    np.testing.assert_array_equal(out[:, :, :-1], maps[:, :, 1:])
    np.testing.assert_array_equal(out[:, :, -1], 0.0)  # zero padding


def test_each_sample_uses_its_own_kernels():
    maps = np.ones((2, 4, 4, 1), np.float32)
    kernels = np.zeros((2, 3, 3, 1), np.float32)
    kernels[0, 1, 1], kernels[1, 1, 1] = 2.0, -3.0
    out = np.asarray(cross_convolve(maps, kernels))
    np.testing.assert_array_equal(out[0], 2.0)
    np.testing.assert_array_equal(out[1], -3.0)


def test_rejects_even_kernels_and_mismatched_batches():
    with pytest.raises(ValueError, match="odd"):
        cross_convolve(np.zeros((1, 4, 4, 2)), np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="agree"):
        cross_convolve(np.zeros((2, 4, 4, 2)), np.zeros((1, 3, 3, 2)))
