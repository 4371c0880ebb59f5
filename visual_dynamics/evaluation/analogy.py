"""Visual analogies with ground truth (§6.4, Table 2): the motion of a source pair applied to a target.

An analogy set holds, per item, a source pair (I_s, J_s), a target image I_t and the truth J_t: I_t
moved the way I_s moved. Predictions are scored against J_t beside two baselines: *copy* (J_t ~ I_t)
and Reed et al.'s *Add* (J_t ~ I_t + J_s - I_s).
  - Shapes: the generator renders a target scene with the source's motion, so J_t is exact.
  - Sprites (Reed et al.'s protocol): source and target are two test characters in the same
    animation, viewpoint and frame t; J_t is the target character's frame t + 1. Which characters are
    paired is the `pairing`: 'random' (our primary Table 2: each target gets sources drawn at random,
    seeded, among the other characters of that frame), 'id_order' (the next character in id order:
    in lpc_sprites a near-twin, which flatters Add) or 'self' (the target's own pair: reconstruction).
"""

from collections import defaultdict
from typing import Iterable

import numpy as np

from visual_dynamics import preprocessing
from visual_dynamics.data import shapes
from visual_dynamics.data.sprites import ACTIONS

ANALOGY_KEYS = ("source", "source_next", "target", "target_next")
SPRITES_DATASETS = ("sprites", "lpc_sprites")  # Reed et al.'s release; our rendering of the same art
SPRITE_PIXELS = 60 * 60  # Reed et al.'s frames: errors are reported per 60 x 60 x 3 image


def shapes_analogies(spec: shapes.ShapesSpec, seed: int, count: int) -> dict:
    """`count` analogies from test scenes: scene 2i's motion applied to scene 2i + 1.

    Returns:
      {'source', 'source_next', 'target', 'target_next'}: uint8 [count, S, S, 3].
    """
    items = defaultdict(list)
    for i in range(count):
        source = shapes.generate_pair(spec, shapes.example_rng(seed, "test", 2 * i))
        motion = (float(source["displacement"][0, 1]), float(source["displacement"][1, 0]))
        target = shapes.generate_pair(spec, shapes.example_rng(seed, "test", 2 * i + 1), motion=motion)
        for key, value in zip(ANALOGY_KEYS, (source["image"], source["next_image"], target["image"],
                                             target["next_image"])):
            items[key].append(value)
    return {key: np.stack(value) for key, value in items.items()}


PAIRINGS = ("random", "id_order", "self")


def _sources(characters: list[int], pairing: str, rng: np.random.Generator, per_target: int):
    """(source, target) character pairs of one animation frame, by `pairing` (see the module's doc)."""
    if pairing == "self":
        return [(c, c) for c in characters]
    if pairing == "id_order":
        return [(a, b) for a, b in zip(characters, characters[1:] + characters[:1]) if a != b]
    pairs = []
    for target in characters:
        others = [c for c in characters if c != target]
        picked = rng.choice(len(others), min(per_target, len(others)), replace=False) if others else []
        pairs += [(others[i], target) for i in sorted(picked)]
    return pairs


def sprites_analogies(examples: Iterable[dict], pairing: str = "random", seed: int = 0,
                      sources_per_target: int = 3) -> dict:
    """Analogies between characters of a sprites split, as Reed et al. evaluate them: a source and a
    target character in the same (action, viewpoint, frame t), paired by `pairing` ('random': each
    target gets `sources_per_target` sources drawn without replacement from the other characters of
    that frame, from a generator seeded by (seed, action, viewpoint, t); 'id_order': the source is the
    previous character in id order; 'self': the target's own pair).

    Returns:
      ANALOGY_KEYS -> uint8 [N, S, S, 3], and 'action' -> int [N].
    """
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}; got {pairing!r}")
    by_motion = defaultdict(dict)  # (action, viewpoint, frame) -> {character: example}
    for e in examples:
        key = (int(e["action"]), int(e["viewpoint"]), int(e["frame"]))
        by_motion[key][int(e["character"])] = e
    items = defaultdict(list)
    for key in sorted(by_motion):
        rng = np.random.default_rng((seed, *key))
        for a, b in _sources(sorted(by_motion[key]), pairing, rng, sources_per_target):
            source, target = by_motion[key][a], by_motion[key][b]
            for name, value in zip(ANALOGY_KEYS, (source["image"], source["next_image"], target["image"],
                                                  target["next_image"])):
                items[name].append(value)
            items["action"].append(key[0])
    if not items:
        raise ValueError("no two characters share an animation frame: need at least 2 characters")
    return {key: np.stack(value) for key, value in items.items()}


def predictions(predictor, analogies: dict, batch_size: int = 64) -> dict:
    """{'ours', 'copy', 'add'}: uint8 [N, S, S, 3] predictions of target_next at the model's size S."""
    size = predictor.image_size
    resized = {k: np.stack([preprocessing.resize_image(x, size) for x in analogies[k]]) for k in ANALOGY_KEYS}
    ours = []
    for lo in range(0, len(resized["target"]), batch_size):
        chunk = slice(lo, lo + batch_size)
        z = predictor.encode(resized["source"][chunk], resized["source_next"][chunk])
        ours.append(predictor.transfer(z, resized["target"][chunk]))
    add = (resized["target"].astype(np.int32) + resized["source_next"].astype(np.int32)
           - resized["source"].astype(np.int32))
    return {"ours": np.concatenate(ours), "copy": resized["target"],
            "add": np.clip(add, 0, 255).astype(np.uint8), "truth": resized["target_next"]}


def sprites_results(predictor, examples: Iterable[dict], pairing: str = "random", seed: int = 0,
                    sources_per_target: int = 3) -> dict:
    """Table 2 of a model on a sprites split's examples, characters paired by `pairing` (see
    `sprites_analogies`): {'table2': `sprites_table`, 'mse': `mean_squared_errors`, 'count': the
    number of analogies, 'pairing': how they were paired}."""
    items = sprites_analogies(examples, pairing, seed, sources_per_target)
    predicted = predictions(predictor, items)
    return {"table2": sprites_table(predicted, items["action"]), "mse": mean_squared_errors(predicted),
            "count": len(predicted["truth"]), "pairing": pairing}


def mean_squared_errors(predicted: dict) -> dict:
    """Per method, the mean over analogies of the per-pixel squared error in [0, 1] units."""
    truth = predicted["truth"].astype(np.float64) / 255.0
    return {method: float(np.mean((images.astype(np.float64) / 255.0 - truth) ** 2))
            for method, images in predicted.items() if method != "truth"}


def pixel_squared_errors(images: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """float64 [N, H, W]: each pixel's squared error, summed over RGB, in [0, 1] units (uint8 inputs)."""
    return (((images.astype(np.float64) - truth.astype(np.float64)) / 255.0) ** 2).sum(axis=-1)


def sprites_table(predicted: dict, actions: np.ndarray) -> dict:
    """Table 2: per method and action, the sum of squared errors per image in [0, 1] units, scaled to
    Reed et al.'s 60 x 60 frames, averaged over analogies; 'average' = the mean of the 5 actions."""
    truth = predicted["truth"]
    scale = SPRITE_PIXELS / (truth.shape[1] * truth.shape[2])
    table = {}
    for method, images in predicted.items():
        if method == "truth":
            continue
        per_image = pixel_squared_errors(images, truth).sum(axis=(1, 2)) * scale
        row = {name: float(per_image[actions == a].mean()) for a, name in enumerate(ACTIONS)
               if np.any(actions == a)}
        row["average"] = float(np.mean(list(row.values())))
        table[method] = row
    return table
