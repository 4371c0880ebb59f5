"""The synthetic Shapes world of §5.1, rendered deterministically from a seed.

Every pair (I, J) holds one circle, one square and one triangle, drawn in a random depth order
(heavy occlusion allowed) with random sizes, positions and colours. Between I and J:
  circles move only vertically, by dy_c;
  squares move only horizontally, by dx_s, independent of the circle;
  triangles move only diagonally, by (dx, dy) = (-dy_c, -dy_c): anti-correlated with the
  circle (triangle up <=> circle down).
dy_c and dx_s are uniform in [-max_displacement, max_displacement] pixels (sub-pixel: shapes are
rendered with `supersample`^2 coverage samples per pixel). Image y grows downwards.

The textured variant fills each object with a grating that moves with it and draws the objects
over a static textured background, so motion disoccludes texture.
"""

import dataclasses
from typing import Optional

import numpy as np

CIRCLE, SQUARE, TRIANGLE = 0, 1, 2  # object_type values and label order
SPLIT_STREAMS = {"train": 0, "test": 1, "validation": 2}  # the seed stream of each split's pairs


@dataclasses.dataclass(frozen=True)
class ShapesSpec:
    """What a Shapes dataset looks like; sizes in pixels of an `image_size` image."""

    image_size: int = 64
    textured: bool = False
    max_displacement: float = 4.0
    min_half_size: float = 0.09   # object half-size (radius) as fractions of the image side
    max_half_size: float = 0.19
    supersample: int = 4


def motion_of(circle_dy: float, square_dx: float) -> np.ndarray:
    """Displacements [3, 2] as (dx, dy) for circle, square, triangle."""
    return np.array([[0.0, circle_dy], [square_dx, 0.0], [-circle_dy, -circle_dy]], np.float32)


def _coverage(inside, centre: np.ndarray, half: float, size: int, ss: int) -> np.ndarray:
    """Fraction of each pixel's ss x ss sub-samples inside a shape: [size, size] float32.

    Only the shape's bounding box of pixels is sampled; the rest of the image is 0.
    """
    out = np.zeros((size, size), np.float32)
    lo = np.clip(np.floor(centre - half) - 1, 0, size).astype(int)
    hi = np.clip(np.ceil(centre + half) + 1, 0, size).astype(int)
    if np.any(hi <= lo):
        return out
    xs = (np.arange(lo[0] * ss, hi[0] * ss, dtype=np.float32) + 0.5) / ss - centre[0]
    ys = (np.arange(lo[1] * ss, hi[1] * ss, dtype=np.float32) + 0.5) / ss - centre[1]
    mask = inside(xs[None, :], ys[:, None], half).astype(np.float32)
    h, w = hi[1] - lo[1], hi[0] - lo[0]
    out[lo[1]:hi[1], lo[0]:hi[0]] = mask.reshape(h, ss, w, ss).mean(axis=(1, 3))
    return out


def _inside_circle(x, y, r):
    return x * x + y * y <= r * r


def _inside_square(x, y, h):
    return (np.abs(x) <= h) & (np.abs(y) <= h)


def _inside_triangle(x, y, h):
    # Apex (0, -h), base from (-h, h) to (h, h): inside the base line and both slanted edges. The edges
    # 2x - y <= h and -2x - y <= h in one test: exactly the same in floating point (2x is exact, and
    # rounding keeps the order of -2|x| - y <= 2|x| - y), in half the passes over the samples.
    return (y <= h) & (2.0 * np.abs(x) - y <= h)


_INSIDE = {CIRCLE: _inside_circle, SQUARE: _inside_square, TRIANGLE: _inside_triangle}


def _grating(size: int, origin: np.ndarray, params: np.ndarray, colours: np.ndarray):
    """A two-colour sinusoidal grating in coordinates relative to `origin`: [size, size, 3].

    Sampled at pixel centres: at most 12 cycles per image side, it needs no supersampling.
    """
    coords = np.arange(size, dtype=np.float32) + 0.5
    x = coords[None, :] - origin[0]
    y = coords[:, None] - origin[1]
    freq, angle, phase = params
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + phase)
    wave = wave[..., None]
    return (wave * colours[0] + (1.0 - wave) * colours[1]).astype(np.float32)


def _random_grating(rng: np.random.Generator, size: int):
    cycles_per_pixel = rng.uniform(4.0, 12.0) / size
    params = np.array([cycles_per_pixel, rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)])
    return params, rng.uniform(0.1, 1.0, size=(2, 3)).astype(np.float32)


def generate_pair(spec: ShapesSpec, rng: np.random.Generator,
                  motion: Optional[tuple[float, float]] = None) -> dict:
    """Draws one example.

    Args:
      motion: (circle_dy, square_dx) to use instead of the drawn ones; the scene (sizes, positions,
        colours, order) is the one `rng` gives either way, so this applies a known motion to a scene.

    Returns:
      dict with 'image', 'next_image' uint8 [S, S, 3]; 'object_type' int32 [3] (circle, square,
      triangle); 'displacement' float32 [3, 2] as (dx, dy) pixels; 'centre' float32 [3, 2] in I;
      'half_size' float32 [3]; 'depth' int32 [3] (0 = drawn first, i.e. farthest);
      'visible_mask' uint8 [3, S, S] (1 where the object covers more than half of the pixel
      in I after occlusion).
    """
    s, ss = spec.image_size, spec.supersample
    circle_dy, square_dx = rng.uniform(-spec.max_displacement, spec.max_displacement, size=2)
    if motion is not None:
        circle_dy, square_dx = motion
    displacement = motion_of(circle_dy, square_dx)
    half = rng.uniform(spec.min_half_size, spec.max_half_size, size=3).astype(np.float32) * s
    margin = half + spec.max_displacement
    centre = rng.uniform(margin[:, None], s - margin[:, None], size=(3, 2)).astype(np.float32)
    colours = rng.uniform(0.15, 1.0, size=(3, 3)).astype(np.float32)
    order = rng.permutation(3)
    if spec.textured:
        background = _grating(s, np.zeros(2, np.float32), *_random_grating(rng, s))
        textures = [_random_grating(rng, s) for _ in range(3)]
    else:
        background = np.zeros((s, s, 3), np.float32)

    frames, visible = [], np.zeros((3, s, s), np.float32)
    for frame_index in range(2):
        canvas = background.copy()
        for k in order:
            c = centre[k] + frame_index * displacement[k]
            alpha = _coverage(_INSIDE[int(k)], c, float(half[k]), s, ss)[..., None]
            fill = _grating(s, c, *textures[k]) if spec.textured else colours[k]
            canvas = canvas * (1.0 - alpha) + fill * alpha
            if frame_index == 0:
                visible *= 1.0 - alpha[None, ..., 0]
                visible[k] = alpha[..., 0]
        frames.append(np.round(canvas * 255.0).astype(np.uint8))

    depth = np.empty(3, np.int32)
    depth[order] = np.arange(3)
    return dict(
        image=frames[0], next_image=frames[1],
        object_type=np.arange(3, dtype=np.int32),
        displacement=displacement, centre=centre, half_size=half, depth=depth,
        visible_mask=(visible > 0.5).astype(np.uint8),
    )


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator for one example: a function of (seed, split, index) alone.

    'validation' names pairs that are in neither stored split (the generator's own held-out pairs,
    on which configs are chosen before the test images score the final one)."""
    return np.random.default_rng([seed, SPLIT_STREAMS[split], index])
