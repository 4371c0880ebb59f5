"""What a trained model shows, as pictures in memory: shared by experiments/demo.py (which writes them to
files) and experiments/app.py (which serves them in a web page)."""

from typing import Sequence

import numpy as np

from visual_dynamics import visualization as vis
from visual_dynamics.predictor import Predictor


def most_varying_dims(predictor: Predictor, count: int) -> list[int]:
    """The `count` dimensions of z whose z_mean varies most over the run's z bank (a traversal's default).

    Raises:
      ValueError: the run has no z bank.
    """
    if predictor.z_bank is None:
        raise ValueError("the run has no z_bank.npz to rank dimensions by; pass --dims")
    return [int(d) for d in np.argsort(-predictor.z_bank.z_mean.var(axis=0))[:count]]


def feature_map_grids(predictor: Predictor, image: np.ndarray, per_row: int = 8) -> list[np.ndarray]:
    """Fig. 8: for each pyramid scale, uint8 [H', W', 3]: its feature maps tiled `per_row` a row, each
    stretched to black..white, scaled up towards 64 px."""
    grids = []
    for scale in predictor.feature_maps(image):
        tiles = [vis.feature_map_tile(scale[..., c]) for c in range(scale.shape[-1])]
        rows = [tiles[i:i + per_row] for i in range(0, len(tiles), per_row)]
        grids.append(vis.image_grid(rows, upscale=max(1, 64 // scale.shape[0])))
    return grids


def moving_grid(before: Sequence[np.ndarray], after: Sequence[np.ndarray], per_row: int = 4,
                upscale: int = 2) -> list[np.ndarray]:
    """The two frames of an animated grid: every tile its `before` image [H, W, 3], then its `after`
    image (uint8 [H', W', 3] each; `visualization.save_gif` loops them)."""
    def grid(images):
        return vis.image_grid([list(images[i:i + per_row]) for i in range(0, len(images), per_row)],
                              upscale=upscale)
    return [grid(before), grid(after)]
