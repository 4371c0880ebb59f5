"""The Flow baseline of Fig. 5: transfer the optical flow of a nearest training pair to an image."""

import numpy as np

from visual_dynamics.evaluation import motion_metric
from visual_dynamics.evaluation.shapes_motion import Progress


class FlowBaseline:
    """The paper's Flow baseline: the optical flow of one of the k nearest training images (l2 in
    pixels), chosen at random, transferred to the test image (the image warped along that flow)."""

    def __init__(self, train_images: np.ndarray, train_next_images: np.ndarray, k: int = 10,
                 progress: Progress = None):
        self.k = k
        self.train = train_images.reshape(len(train_images), -1).astype(np.float32)
        self.train_sq = (self.train ** 2).sum(axis=1)
        flows = []
        for i, (image, next_image) in enumerate(zip(train_images, train_next_images)):
            flows.append(motion_metric.dense_flow(image, next_image))
            if progress:
                progress(i + 1, len(train_images))
        self.flows = np.stack(flows)

    def neighbours(self, images: np.ndarray) -> np.ndarray:
        """Indices [N, k] of the k nearest training images of each image, nearest first."""
        query = images.reshape(len(images), -1).astype(np.float32)
        distances = self.train_sq[None] - 2.0 * query @ self.train.T  # + |q|^2, the same for a row
        nearest = np.argpartition(distances, self.k - 1, axis=1)[:, :self.k]
        order = np.take_along_axis(distances, nearest, axis=1).argsort(axis=1)
        return np.take_along_axis(nearest, order, axis=1)

    def sample(self, images: np.ndarray, samples_per_image: int, rng: np.random.Generator) -> np.ndarray:
        """uint8 [N, M, S, S, 3]: each image warped by the flows of M random picks of its neighbours."""
        neighbours = self.neighbours(images)
        picks = rng.integers(0, self.k, (len(images), samples_per_image))
        return np.stack([[motion_metric.warp_by_flow(image, self.flows[neighbours[i, j]]) for j in picks[i]]
                         for i, image in enumerate(images)])
