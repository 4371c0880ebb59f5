"""A stand-in for the paper's human study (Fig. 6-7): best-of-N PSNR / SSIM and sample diversity.

For each test pair (I, J), N next frames are sampled from I; the score of N is the best PSNR and the
best SSIM among them against J, averaged over pairs (a model whose samples cover the true motion
scores high for large N), and diversity is the mean RMS difference between two samples of one input.
"""

import numpy as np

from visual_dynamics import preprocessing
from visual_dynamics.evaluation import image_metrics

NS = (1, 10, 100)


def model_scores(predictor, images: np.ndarray, next_images: np.ndarray, num_samples: int = max(NS),
                 seed: int = 0, ns=NS) -> dict:
    """best-of-N PSNR / SSIM for N in `ns` and diversity of `predictor`'s samples.

    Args:
      images, next_images: uint8 [B, H, W, 3] test pairs (scored at the model's size).
    """
    samples = np.stack([predictor.sample(image, num_samples, rng=seed + i) for i, image in enumerate(images)])
    return frame_scores(samples, next_images, predictor.image_size, ns)


def frame_scores(samples: np.ndarray, next_images: np.ndarray, size: int, ns=NS) -> dict:
    """The same scores for given predicted frames uint8 [B, M, H, W, 3] (e.g. the Flow baseline's)."""
    samples = np.stack([[preprocessing.resize_image(f, size) for f in per_input] for per_input in samples])
    truths = np.stack([preprocessing.resize_image(x, size) for x in next_images])
    return dict(image_metrics.best_of_n(samples, truths, ns), diversity=image_metrics.diversity(samples))


def copy_scores(images: np.ndarray, next_images: np.ndarray, size: int, ns=NS) -> dict:
    """The same scores for predicting J = I: one 'sample', so every N scores as N = 1."""
    inputs = np.stack([preprocessing.resize_image(x, size) for x in images])
    truths = np.stack([preprocessing.resize_image(x, size) for x in next_images])
    one = image_metrics.best_of_n(inputs[:, None], truths, ns=(1,))
    return dict({f"{metric}@{n}": one[f"{metric}@1"] for metric in ("psnr", "ssim") for n in ns},
                diversity=0.0)
