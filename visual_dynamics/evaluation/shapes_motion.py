"""Fig. 5 on Shapes: object motions of ground truth, of model samples and of the Flow baseline.

All motions are measured by the same flow pipeline (`motion_metric.object_motions`) inside each
object's visible mask in the input image, so the three are compared on equal terms.
"""

from typing import Callable, Optional

import numpy as np

from visual_dynamics.evaluation import motion_metric

Progress = Optional[Callable[[int, int], None]]


def measured_motions(images: np.ndarray, next_images: np.ndarray, masks: np.ndarray,
                     progress: Progress = None, statistic=np.median) -> np.ndarray:
    """Flow-measured object motions of pairs: uint8 [N, S, S, 3] x 2, masks [N, 3, S, S] -> [N, 3, 2]."""
    motions = []
    for i, (image, next_image, mask) in enumerate(zip(images, next_images, masks)):
        motions.append(motion_metric.object_motions(image, next_image, mask, statistic))
        if progress:
            progress(i + 1, len(images))
    return np.stack(motions)


def model_motions(predictor, images: np.ndarray, masks: np.ndarray, samples_per_image: int,
                  seed: int = 0, progress: Progress = None) -> np.ndarray:
    """Motions in `samples_per_image` sampled next frames of each image: [N * M, 3, 2]."""
    motions = []
    for i, (image, mask) in enumerate(zip(images, masks)):
        for frame in predictor.sample(image, samples_per_image, rng=seed + i):
            motions.append(motion_metric.object_motions(image, frame, mask))
        if progress:
            progress(i + 1, len(images))
    return np.stack(motions)


def flow_baseline_motions(baseline, images: np.ndarray, masks: np.ndarray, samples_per_image: int,
                          rng: np.random.Generator) -> np.ndarray:
    """Motions in the Flow baseline's predicted frames: [N * M, 3, 2]."""
    frames = baseline.sample(images, samples_per_image, rng)
    return np.stack([motion_metric.object_motions(image, frame, mask)
                     for image, mask, predicted in zip(images, masks, frames) for frame in predicted])
