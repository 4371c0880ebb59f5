"""PSNR, SSIM, best-of-N and sample diversity on uint8 RGB images [..., H, W, 3]."""

import numpy as np
from scipy import ndimage

SSIM_SIGMA = 1.5  # Wang et al. (2004): Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03
SSIM_K1, SSIM_K2 = 0.01, 0.03
PEAK = 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of each image pair [..., H, W, 3] -> [...] (inf if equal)."""
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(PEAK ** 2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean structural similarity of each image pair [..., H, W, 3] -> [...], per channel then averaged.

    Local statistics use a Gaussian window (sigma 1.5, truncated at 3.5 sigma, edges reflected).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    sigma = [0.0] * (a.ndim - 3) + [SSIM_SIGMA, SSIM_SIGMA, 0.0]

    def blur(x):
        return ndimage.gaussian_filter(x, sigma, mode="reflect", truncate=3.5)

    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return index.mean(axis=(-3, -2, -1))


def best_of_n(samples: np.ndarray, truth: np.ndarray, ns=(1, 10, 100)) -> dict:
    """For N in `ns`: the mean over inputs of the best PSNR and best SSIM among the first N samples.

    Args:
      samples: uint8 [B, M, H, W, 3], M >= max(ns) samples per input.
      truth: uint8 [B, H, W, 3], the true next frames.
    Returns:
      {'psnr@N': float, 'ssim@N': float} for each N.
    """
    if max(ns) > samples.shape[1]:
        raise ValueError(f"best of {max(ns)} needs {max(ns)} samples per input; got {samples.shape[1]}")
    # One input at a time: SSIM's float64 intermediates of all B x M images at once would not fit.
    p = np.stack([psnr(per_input, t[None]) for per_input, t in zip(samples, truth)])
    s = np.stack([ssim(per_input, np.broadcast_to(t, per_input.shape))
                  for per_input, t in zip(samples, truth)])
    out = {}
    for n in ns:
        out[f"psnr@{n}"] = float(np.mean(p[:, :n].max(axis=1)))
        out[f"ssim@{n}"] = float(np.mean(s[:, :n].max(axis=1)))
    return out


def diversity(samples: np.ndarray) -> float:
    """Mean over inputs and over pairs of distinct samples of their RMS difference (0-255 units).

    Args:
      samples: uint8 [B, M, H, W, 3].
    """
    if samples.shape[1] < 2:
        return 0.0
    off_diagonal = ~np.eye(samples.shape[1], dtype=bool)
    distances = []
    for per_input in samples:  # [M, H, W, 3]
        x = per_input.reshape(len(per_input), -1).astype(np.float64)
        sq = (x ** 2).sum(-1)
        dist2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0) / x.shape[-1]
        distances.append(np.sqrt(dist2[off_diagonal]).mean())
    return float(np.mean(distances))
