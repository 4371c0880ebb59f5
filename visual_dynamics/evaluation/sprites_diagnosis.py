"""Where a model's Sprites error comes from (issue: Sprites that move like the paper's).

- `error_by_region`: Table 2's error of each method split into the pixels that change between the
  target's frames (the moving limbs, weapon, outlines) and the pixels that do not.
- `error_maps`: the mean squared error at each pixel, per method and animation (where in the frame).
- `motion_reach`: how far the art moves between neighbouring frames, per animation, against the reach
  of the kernels at each pyramid scale: each changed pixel of J is matched to the 3 x 3 patch of I it
  best copies, within `max_shift` pixels; its displacement is the Chebyshev length of the shift (the
  reach of a k x k kernel is a square). A pixel at `max_shift` moved that far or more, or has no match
  (new content), so choose `max_shift` beyond the largest reach.
"""

from typing import Sequence

import numpy as np

from visual_dynamics.data.sprites import ACTIONS
from visual_dynamics.evaluation.analogy import SPRITE_PIXELS, pixel_squared_errors


def error_by_region(predicted: dict, target: np.ndarray, actions: np.ndarray) -> dict:
    """Per method and animation, Table 2's error (sum per image, scaled to 60 x 60) on the pixels where
    the target's frames differ ('moving') and where they do not ('static'), and the moving share.

    Args:
      predicted: {method: uint8 [N, S, S, 3], 'truth': the target's next frames}.
      target: uint8 [N, S, S, 3], the target frames the predictions start from.
      actions: int [N].
    Returns:
      {method: {animation: {'moving': float, 'static': float}}, 'moving_share': {animation: float}}.
    """
    truth = predicted["truth"]
    moving = np.any(target != truth, axis=-1)                      # [N, S, S]
    scale = SPRITE_PIXELS / (truth.shape[1] * truth.shape[2])
    result = {"moving_share": {}}
    for method, images in predicted.items():
        if method == "truth":
            continue
        errors = pixel_squared_errors(images, truth)
        result[method] = {}
        for a, name in enumerate(ACTIONS):
            chosen = actions == a
            if not np.any(chosen):
                continue
            on = (errors[chosen] * moving[chosen]).sum(axis=(1, 2)) * scale
            off = (errors[chosen] * ~moving[chosen]).sum(axis=(1, 2)) * scale
            result[method][name] = {"moving": float(on.mean()), "static": float(off.mean())}
            result["moving_share"][name] = float(moving[chosen].mean())
    return result


def error_maps(predicted: dict, actions: np.ndarray) -> dict:
    """{method: {animation: float [S, S]}}: the mean over analogies of each pixel's squared error."""
    truth = predicted["truth"]
    return {method: {name: pixel_squared_errors(images[actions == a], truth[actions == a]).mean(axis=0)
                     for a, name in enumerate(ACTIONS) if np.any(actions == a)}
            for method, images in predicted.items() if method != "truth"}


def patch_displacements(image: np.ndarray, next_image: np.ndarray, max_shift: int) -> np.ndarray:
    """For each pixel p of J (`next_image`), the Chebyshev length of the shift d (|d| <= max_shift)
    whose 3 x 3 patch I(p - d) best matches J's around p (squared error; ties to the shortest shift).
    Outside the frame I and J are black (the sprites' background).

    Args:
      image, next_image: uint8 [N, S, S, 3].
    Returns:
      int [N, S, S].
    """
    first, second = image.astype(np.float32), next_image.astype(np.float32)
    n, size = first.shape[:2]
    padded = np.pad(first, ((0, 0), (max_shift + 1,) * 2, (max_shift + 1,) * 2, (0, 0)))
    shifts = sorted(((dy, dx) for dy in range(-max_shift, max_shift + 1)
                     for dx in range(-max_shift, max_shift + 1)), key=lambda d: max(abs(d[0]), abs(d[1])))
    best = np.full((n, size, size), np.inf, np.float32)
    length = np.zeros((n, size, size), np.int32)
    o = max_shift + 1
    for dy, dx in shifts:
        moved = padded[:, o - dy:o - dy + size, o - dx:o - dx + size]      # I(p - d)
        cost = ((moved - second) ** 2).sum(axis=-1)
        cost = np.pad(cost, ((0, 0), (1, 1), (1, 1)))
        patch = sum(cost[:, 1 + y:1 + y + size, 1 + x:1 + x + size] for y in (-1, 0, 1) for x in (-1, 0, 1))
        better = patch < best
        best[better] = patch[better]
        length[better] = max(abs(dy), abs(dx))
    return length


def motion_reach(examples: Sequence[dict], kernel_reach: Sequence[float], max_shift: int = 16,
                 per_animation: int = 100, seed: int = 0) -> dict:
    """Per animation: how far changed pixels moved (median, 90th and 99th percentiles, in pixels) and
    the share within each kernel reach, from `per_animation` pairs drawn at random (seeded).

    Args:
      kernel_reach: the reach in input pixels of the kernels at each pyramid scale
        ((kernel_size // 2) / scale).
    Returns:
      {animation: {'pairs', 'changed_pixels', 'median', 'p90', 'p99', 'within': [share per reach]}}.
    """
    rng = np.random.default_rng(seed)
    result = {}
    for a, name in enumerate(ACTIONS):
        pool = [e for e in examples if int(e["action"]) == a]
        if not pool:
            continue
        picked = [pool[i] for i in rng.choice(len(pool), min(per_animation, len(pool)), replace=False)]
        images, next_images = (np.stack([e[k] for e in picked]) for k in ("image", "next_image"))
        lengths = patch_displacements(images, next_images, max_shift)[np.any(images != next_images, axis=-1)]
        result[name] = {"pairs": len(picked), "changed_pixels": int(lengths.size),
                        "median": float(np.median(lengths)), "p90": float(np.percentile(lengths, 90)),
                        "p99": float(np.percentile(lengths, 99)),
                        "within": [float(np.mean(lengths <= r)) for r in kernel_reach]}
    return result
