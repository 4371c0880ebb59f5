"""The scene-fit motion measure: its table of coverage counts against rendering every candidate shift.

  python benchmarks/scene_fit.py --pairs=100

The baseline fits the same scenes with the same search, but renders each candidate shift's coverage
with the generator itself (`shapes._coverage`, what the table stands for); both run here, one after the
other on the same pairs (generated test pairs, and the same pairs with J blurred, as a model's samples
are), on one core. Prints the time per pair of each, their ratio and how many fitted motions agree.
"""

import argparse
import contextlib
import time

import cv2
import numpy as np

from visual_dynamics.data import shapes
from visual_dynamics.evaluation import scene_fit, shapes_motion


class RenderedCoverage(scene_fit._Coverage):
    """The window of `_Coverage`, each candidate's coverage rendered by the generator."""

    def __init__(self, kind: int, centre: np.ndarray, half: float, size: int, start: np.ndarray):
        super().__init__(kind, centre, half, size, start)
        self.kind, self.centre, self.half, self.size = kind, centre, half, size

    def costs(self, shifts: np.ndarray, cross: np.ndarray, gain2: np.ndarray) -> np.ndarray:
        window = (slice(self.y0, self.y1), slice(self.x0, self.x1))
        coverages = np.stack([shapes._coverage(shapes._INSIDE[self.kind], self.centre + shift, self.half,
                                               self.size, scene_fit.SUPERSAMPLE)[window] for shift in shifts])
        return np.sum(coverages * coverages * gain2 - 2 * coverages * cross, axis=(1, 2))


@contextlib.contextmanager
def rendered_candidates():
    table = scene_fit._Coverage
    scene_fit._Coverage = RenderedCoverage
    try:
        yield
    finally:
        scene_fit._Coverage = table


def fitted(pairs: list[tuple]) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    motions = np.stack([scene_fit.object_motions(*pair) for pair in pairs])
    return motions, (time.perf_counter() - started) / len(pairs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100, help="Generated test pairs (each fitted twice).")
    args = parser.parse_args()
    generated = shapes_motion.generated_pairs(shapes.ShapesSpec(image_size=64), 0, "test", args.pairs)
    columns = [generated[k] for k in ("image", "next_image") + shapes_motion.SCENE_KEYS]
    pairs = list(zip(*columns))
    pairs += [(p[0], cv2.GaussianBlur(p[1], (5, 5), 1.0), *p[2:]) for p in pairs]
    table, table_seconds = fitted(pairs)
    with rendered_candidates():
        rendered, rendered_seconds = fitted(pairs)
    both = ~np.isnan(table)
    difference = np.abs(table[both] - rendered[both])
    print(f"{len(pairs)} fits on one core: table {1e3 * table_seconds:.2f} ms a pair, every candidate "
          f"rendered {1e3 * rendered_seconds:.2f} ms a pair: {rendered_seconds / table_seconds:.1f}x")
    print(f"fitted motions equal in {np.mean(difference == 0):.1%} of coordinates, within 1/32 px in "
          f"{np.mean(difference <= 1 / 32):.1%}, at most {difference.max():.3f} px apart; NaN (an object "
          f"not visible) in the same places: {bool(np.array_equal(np.isnan(table), np.isnan(rendered)))}")


if __name__ == "__main__":
    main()
