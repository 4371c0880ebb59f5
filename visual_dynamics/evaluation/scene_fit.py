"""Fig. 5's motion measure built for Shapes: each object's translation, fitted by re-rendering the scene.

A Shapes test example stores its scene: each object's type, centre, half size and depth order, and
its colour can be read from I. A frame J (true, sampled by a model or predicted by a baseline) is
explained by rendering that scene with each object moved by its own (dx, dy), with the generator's
shapes, its coverage sampling (4 x 4 points a pixel) and its depth order, so that occlusion is
modelled exactly; the translations that minimise the squared difference to J are the objects'
motions. Each object is fitted in turn, front to back, the others held at their current fits, over
coarse-to-fine grids of shifts (multiples of 1/FINE px) from the best integer shift.

Where several shifts explain J equally well (an axis-aligned edge only moves the generator's coverage
in steps of 1/4 px), the measure takes no motion along an axis where that is among them, and else
their centre. On true pairs this recovers the generator's
displacements to within what the images hold. The optical-flow measure of `motion_metric`, which
needs no scene, stays beside this one.
"""

from typing import Optional

import cv2
import numpy as np

from visual_dynamics.data import shapes

SUPERSAMPLE = shapes.ShapesSpec.supersample  # the generator's coverage samples per pixel side
FINE = 32               # fitted shifts are multiples of 1/FINE px
SEARCH = 6              # integer search radius, px (the generator's displacements reach 4)
# Per round, the (half width, step) in px of each square grid of shifts tried around the current fit.
ROUNDS = (((0.75, 0.25), (0.25, 1 / 16), (1 / 16, 1 / FINE)), ((1 / 8, 1 / FINE),))
MOVE = sum(half_width for stages in ROUNDS for half_width, _ in stages)  # px a fit can move from its start
TIE = 1e-6              # costs within this fraction of the best count as equally good


def object_colours(image: np.ndarray, visible_mask: np.ndarray) -> np.ndarray:
    """Each object's colour in [0, 1], read from I inside its visible mask (its interior where it has
    one, away from blended edges): float [3, 3]; NaN for an object with no visible pixel."""
    colours = np.full((len(visible_mask), 3), np.nan, np.float32)
    for k, mask in enumerate(visible_mask):
        interior = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        pixels = image[interior] if interior.sum() >= 3 else image[mask.astype(bool)]
        if len(pixels):
            colours[k] = np.median(pixels, axis=0) / 255.0
    return colours


def _counted(inside: np.ndarray, step: int, axis: int) -> np.ndarray:
    """How many of the SUPERSAMPLE sample offsets 0, step, ..., (SUPERSAMPLE - 1) step from each fine
    point along `axis` are inside (uint8 0/1 in): exact small integers, summed over slices (views, no
    copies); FINE points shorter along `axis`."""
    length = inside.shape[axis] - FINE
    window = [slice(None)] * inside.ndim
    parts = []
    for i in range(SUPERSAMPLE):
        window[axis] = slice(i * step, i * step + length)
        parts.append(inside[tuple(window)])
    total = parts[0] + parts[1]
    for part in parts[2:]:
        total += part
    return total


class _Coverage:
    """One object's coverage of the pixels of a window, at any shift that is a multiple of 1/FINE px.

    The shape's indicator is evaluated once at FINE points a pixel (a square's along each axis alone),
    and counted over the generator's SUPERSAMPLE x SUPERSAMPLE sample offsets; a pixel's coverage at a
    shift is then one entry of that table of counts over SUPERSAMPLE ** 2, so each candidate shift
    costs one gather of the window's pixels, and its squared error two matrix-vector products.
    """

    def __init__(self, kind: int, centre: np.ndarray, half: float, size: int, start: np.ndarray):
        self.start = np.round(np.asarray(start) * FINE).astype(int)  # fine steps
        low = np.floor(centre + start - half - MOVE).astype(int)  # every pixel the fit can cover
        high = np.ceil(centre + start + half + MOVE).astype(int)
        (self.x0, self.y0), (self.x1, self.y1) = np.clip(low, 0, size), np.clip(high, 0, size)
        self.size = size
        margin, step = int(np.ceil(MOVE * FINE)), FINE // SUPERSAMPLE  # fine steps a fit can move
        axes = []
        for first, last, offset, c in ((self.x0, self.x1, self.start[0], centre[0]),
                                       (self.y0, self.y1, self.start[1], centre[1])):
            fine = np.arange(FINE * first - margin - offset, FINE * last + margin - offset + FINE)
            axes.append((fine + step / 2) / FINE - c)
        x, y = axes[0][None, :].astype(np.float32), axes[1][:, None].astype(np.float32)
        if kind == shapes.SQUARE:  # inside along x and along y: the counts are the 1-D counts' product
            inside_x, inside_y = np.abs(x) <= half, np.abs(y) <= half
            summed = np.multiply(_counted(inside_y.view(np.uint8), step, axis=0),
                                 _counted(inside_x.view(np.uint8), step, axis=1))
        else:
            inside = shapes._INSIDE[kind](x, y, float(half)).view(np.uint8)
            summed = _counted(_counted(inside, step, axis=0), step, axis=1)
        self.counts = summed.ravel()  # of SUPERSAMPLE ** 2 samples inside the shape, row-major
        self.margin = margin
        self.shape = h, w = (self.y1 - self.y0, self.x1 - self.x0)
        self.width = summed.shape[1]
        # Each window pixel's entry in `counts` at the start: pixels are FINE fine steps apart.
        self.pixels = (FINE * np.arange(h)[:, None] * self.width + FINE * np.arange(w)[None, :]).ravel()

    def counts_at(self, shifts: np.ndarray) -> np.ndarray:
        """Samples inside the shape, of SUPERSAMPLE ** 2, of each window pixel at K shifts [K, 2]
        (dx, dy) px: uint8 [K, h * w]."""
        steps = np.round(np.asarray(shifts) * FINE).astype(int) - self.start
        first = (self.margin - steps[:, 1]) * self.width + self.margin - steps[:, 0]  # [K]
        return self.counts.take(first[:, None] + self.pixels[None, :])

    def at(self, shifts: np.ndarray) -> np.ndarray:
        """Coverage [K, h, w] of the window at K shifts [K, 2] (dx, dy) px."""
        return self.counts_at(shifts).reshape(-1, *self.shape) / np.float32(SUPERSAMPLE ** 2)

    def image_at(self, shift: np.ndarray) -> np.ndarray:
        """Coverage [S, S] of the whole image at one shift [2] (dx, dy) px (0 outside the window, which
        holds every pixel the object covers at a shift the fit reaches)."""
        image = np.zeros((self.size, self.size), np.float32)
        image[self.y0:self.y1, self.x0:self.x1] = self.at(shift[None])[0]
        return image

    def costs(self, shifts: np.ndarray, cross: np.ndarray, gain2: np.ndarray) -> np.ndarray:
        """<c^2, gain2> - 2 <c, cross> for the window's coverage c at each of K shifts: [K].

        cross, gain2: float32 [h, w]. As two matrix-vector products of the counts (c = counts / 16).
        """
        n = self.counts_at(shifts).astype(np.float32)
        scale = np.float32(SUPERSAMPLE ** 2)
        return (n * n) @ (gain2.ravel() / (scale * scale)) - (n @ (cross.ravel() * (2 / scale)))


def _integer_start(image: np.ndarray, next_image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The integer shift (dx, dy) within SEARCH px that best matches the object's visible pixels."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    padded = cv2.copyMakeBorder(next_image, SEARCH, SEARCH, SEARCH, SEARCH, cv2.BORDER_REPLICATE)
    weights = np.repeat(mask[y0:y1, x0:x1, None].astype(np.float32), 3, axis=-1)
    ssd = cv2.matchTemplate(padded[y0:y1 + 2 * SEARCH, x0:x1 + 2 * SEARCH], image[y0:y1, x0:x1],
                            cv2.TM_SQDIFF, mask=weights)
    iy, ix = np.unravel_index(np.argmin(ssd), ssd.shape)
    return np.array([ix - SEARCH, iy - SEARCH], np.float64)


def _on_grid(shift: np.ndarray) -> bool:
    """Whether a shift is a multiple of 1/FINE px (its coverage is then an entry of the table)."""
    return bool(np.all(shift * FINE == np.round(shift * FINE)))


def _best(candidates: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """The best of the candidate shifts [K, 2]. Where several tie with the lowest cost, the images
    cannot tell them apart: along each axis, 0 (no motion) if the tied shifts span it, else their
    centre."""
    best = costs.min()
    tied = candidates[costs <= best + TIE * abs(best) + 1e-9]
    spans_zero = (tied.min(axis=0) <= 0) & (tied.max(axis=0) >= 0)
    return np.where(spans_zero, 0.0, tied.mean(axis=0))


def _fit(target: np.ndarray, start: np.ndarray, colours: np.ndarray, object_type, centre, half_size,
         depth, background: np.ndarray) -> np.ndarray:
    """The shifts [3, 2] from `start` that make the rendered scene best match `target` (float [S, S, 3]
    in [0, 1]); NaN rows (objects not visible in I) stay NaN and are not drawn."""
    size = target.shape[0]
    shifts = start.copy()
    visible = [k for k in range(len(object_type)) if not np.isnan(start[k]).any()]
    coverages = {k: _Coverage(int(object_type[k]), centre[k], float(half_size[k]), size, shifts[k])
                 for k in visible}
    order = [k for k in np.argsort(depth) if k in visible]  # back to front

    rendered = {}  # (object, its shift) -> its coverage of the image [S, S]: each fit moves one object

    def alpha(j: int, window) -> np.ndarray:
        key = (j, *shifts[j])
        if key not in rendered:
            rendered[key] = coverages[j].image_at(shifts[j]) if _on_grid(shifts[j]) else shapes._coverage(
                shapes._INSIDE[int(object_type[j])], centre[j] + shifts[j], float(half_size[j]), size,
                SUPERSAMPLE)
        return rendered[key][window][..., None]

    for stages in ROUNDS:
        for k in order[::-1]:  # front first: it is the least hidden
            cover = coverages[k]
            window = (slice(cover.y0, cover.y1), slice(cover.x0, cover.x1))
            behind, front_colour, front_transmit = background[window], 0.0, 1.0
            for j in (j for j in order if j != k):
                a = alpha(j, window)
                if depth[j] < depth[k]:
                    behind = behind * (1 - a) + colours[j] * a
                else:
                    front_colour = front_colour * (1 - a) + colours[j] * a
                    front_transmit = front_transmit * (1 - a)
            # J ~ front_colour + front_transmit * (behind + coverage * (colour - behind)): for each
            # candidate coverage c, the squared error is const - 2 <c, cross> + <c^2, gain2>.
            residual = target[window] - front_colour - front_transmit * behind
            gain = front_transmit * (colours[k] - behind)
            cross, gain2 = np.sum(residual * gain, axis=-1), np.sum(gain * gain, axis=-1)
            for half_width, step in stages:
                offsets = np.arange(-half_width, half_width + step / 2, step)
                grid = np.stack(np.meshgrid(offsets, offsets), axis=-1).reshape(-1, 2)
                candidates = np.round((shifts[k] + grid) * FINE) / FINE
                shifts[k] = _best(candidates, cover.costs(candidates, cross, gain2))
    return shifts


def object_motions(image: np.ndarray, next_image: np.ndarray, visible_mask: np.ndarray,
                   object_type: np.ndarray, centre: np.ndarray, half_size: np.ndarray,
                   depth: np.ndarray, background: Optional[np.ndarray] = None) -> np.ndarray:
    """Each object's translation from I to J, fitted by re-rendering I's scene.

    Args:
      image, next_image: uint8 [S, S, 3].
      visible_mask: uint8 [3, S, S] of I; object_type, centre [3, 2], half_size [3], depth [3]: the
        scene of I as the Shapes generator stores it (depth 0 is drawn first).
      background: float [S, S, 3] in [0, 1] behind the objects (default black, as in Shapes).
    Returns:
      float [3, 2] (dx, dy); NaN for an object with no visible pixel in I (its colour is unknown).
    """
    size = image.shape[0]
    background = np.zeros((size, size, 3), np.float32) if background is None else background
    image32, next32 = image.astype(np.float32), next_image.astype(np.float32)
    start = np.full((len(object_type), 2), np.nan)
    for k in range(len(object_type)):
        if visible_mask[k].any():
            start[k] = _integer_start(image32, next32, visible_mask[k])
    return _fit(next32 / 255.0, start, object_colours(image, visible_mask), object_type, centre, half_size,
                depth, background)
