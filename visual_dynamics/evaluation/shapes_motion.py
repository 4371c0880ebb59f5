"""Fig. 5 on Shapes: object motions of ground truth, of model samples and of the Flow baseline.

All motions are measured by the same flow pipeline (`motion_metric.object_motions`) inside each
object's visible mask in the input image, so the three are compared on equal terms.
"""

import concurrent.futures
import functools
import os
from typing import Callable, Optional

import numpy as np

from visual_dynamics.evaluation import motion_metric

Progress = Optional[Callable[[int, int], None]]


def measured_motions(images: np.ndarray, next_images: np.ndarray, masks: np.ndarray,
                     progress: Progress = None, statistic=np.median) -> np.ndarray:
    """Flow-measured object motions of pairs: uint8 [N, S, S, 3] x 2, masks [N, 3, S, S] -> [N, 3, 2].

    The pairs are measured on a thread per CPU core (OpenCV releases the GIL); the result is the
    same as measuring them one by one.
    """
    measure = functools.partial(motion_metric.object_motions, statistic=statistic)
    chunk = 256
    motions = []
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        for start in range(0, len(images), chunk):
            stop = start + chunk
            motions.extend(pool.map(measure, images[start:stop], next_images[start:stop],
                                    masks[start:stop]))
            if progress:
                progress(min(stop, len(images)), len(images))
    return np.stack(motions)


def model_motions(predictor, images: np.ndarray, masks: np.ndarray, samples_per_image: int,
                  seed: int = 0, progress: Progress = None) -> np.ndarray:
    """Motions in `samples_per_image` sampled next frames of each image: [N * M, 3, 2]."""
    motions = []
    for i, (image, mask) in enumerate(zip(images, masks)):
        frames = predictor.sample(image, samples_per_image, rng=seed + i)
        repeated = np.broadcast_to(image, frames.shape)
        motions.append(measured_motions(repeated, frames, np.broadcast_to(mask, (len(frames), *mask.shape))))
        if progress:
            progress(i + 1, len(images))
    return np.concatenate(motions)


def flow_baseline_motions(baseline, images: np.ndarray, masks: np.ndarray, samples_per_image: int,
                          rng: np.random.Generator) -> np.ndarray:
    """Motions in the Flow baseline's predicted frames: [N * M, 3, 2]."""
    frames = baseline.sample(images, samples_per_image, rng)
    repeated = np.repeat(images, samples_per_image, axis=0)
    masks = np.repeat(masks, samples_per_image, axis=0)
    return measured_motions(repeated, frames.reshape(repeated.shape), masks)
