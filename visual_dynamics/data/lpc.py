"""Sprites rendered from the Universal LPC spritesheet (§5.2): characters stacked from layered sheets.

The art: `jrconway3/Universal-LPC-spritesheet` at commit `COMMIT` (CC-BY-SA 3.0 / GPL 3.0). A layer is
an 832 x 1344 RGBA sheet of 64 x 64 frames: rows 0-19 are the 5 actions of `sprites.ACTIONS` x 4
viewpoints (up, left, down, right), row 20 is 'hurt' (one view); a row's frames start in column 0.

A character is one option of each attribute of `ATTRIBUTES` (672 = 2 x 7 x 2 x 2 x 2 x 3 x 2); its id
counts them in that order, the weapon fastest (so, as in Reed et al.'s files, characters 2k and 2k + 1
differ only in the weapon). Its layers are drawn in `DRAW_ORDER` onto a black background ("over"
compositing); a layer draws only the frames its sheet holds (a spear in thrust and walk, a bow and
arrow in shoot, greaves in all but the 5th frame of 'hurt').

The art is checked by what it shows: every layer's decoded pixels (RGBA, colour zeroed where alpha is
0, where it is invisible) have a SHA-256 in the builder's `layers.tsv`, so any copy with the same
pixels (another fork, a recompressed PNG, a clone) renders the same examples.
"""

import functools
import hashlib
import itertools
import os
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from visual_dynamics.data.source_files import SourceDataError
from visual_dynamics.data.sprites import ACTIONS, HURT, NUM_VIEWPOINTS

REPOSITORY = "jrconway3/Universal-LPC-spritesheet"
COMMIT = "2668274d5a96c91584172f2d299b90f0a8c0caac"
ARCHIVE_URL = f"https://github.com/{REPOSITORY}/archive/{COMMIT}.tar.gz"
ARCHIVE = f"Universal-LPC-spritesheet-{COMMIT}.tar.gz"  # the name GitHub gives that archive
FRAME = 64
SHEET_SHAPE = (21 * FRAME, 13 * FRAME, 4)  # [H, W, RGBA]
FRAMES = (7, 8, 9, 6, 13)  # frames of each action's animations, in ACTIONS order
HURT_FRAMES = 6
HURT_ROW = 20

# Attribute -> its options, each (name, layers); '{sex}' in a layer path is the character's sex.
ATTRIBUTES = (
    ("sex", (("male", ()), ("female", ()))),
    ("body", tuple((skin, (f"body/{{sex}}/{skin}.png",)) for skin in
                   ("light", "tanned", "tanned2", "dark", "dark2", "darkelf", "darkelf2"))),
    ("armour", (("chain mail", ("torso/chain/mail_{sex}.png",)),
                ("leather", ("torso/leather/chest_{sex}.png",)))),
    ("arms", (("plate", ("torso/plate/arms_{sex}.png",)),
              ("gold", ("torso/gold/arms_{sex}.png",)))),
    ("greaves", (("metal", ("legs/armor/{sex}/metal_pants_{sex}.png",)),
                 ("golden", ("legs/armor/{sex}/golden_greaves_{sex}.png",)))),
    ("hair", (("plain blonde", ("hair/{sex}/plain/blonde.png",)),
              ("ponytail raven", ("hair/{sex}/ponytail/raven.png",)),
              ("messy redhead", ("hair/{sex}/messy1/redhead.png",)))),
    ("weapon", (("spear", ("weapons/right hand/{sex}/spear_{sex}.png",)),
                ("bow", ("weapons/right hand/either/bow.png", "weapons/left hand/either/arrow.png")))),
)
ATTRIBUTE_NAMES = tuple(name for name, _ in ATTRIBUTES)
DRAW_ORDER = ("body", "greaves", "armour", "arms", "hair", "weapon")  # back to front
NUM_CHARACTERS = int(np.prod([len(options) for _, options in ATTRIBUTES]))


def attribute_ids(character: int) -> dict[str, int]:
    """{attribute: option index} of a character id (mixed radix, the last attribute fastest)."""
    if not 0 <= character < NUM_CHARACTERS:
        raise ValueError(f"character {character} is not in 0..{NUM_CHARACTERS - 1}")
    sizes = [len(options) for _, options in ATTRIBUTES]
    return dict(zip(ATTRIBUTE_NAMES, np.unravel_index(character, sizes)))


def character_layers(character: int) -> list[str]:
    """The layer files (relative to the art's root) of a character, back to front."""
    ids = attribute_ids(character)
    sex = ATTRIBUTES[0][1][ids["sex"]][0]
    options = dict(ATTRIBUTES)
    return [path.format(sex=sex) for name in DRAW_ORDER for path in options[name][ids[name]][1]]


def layers_of(characters: Sequence[int]) -> list[str]:
    """Every layer file the characters use, sorted."""
    return sorted({path for c in characters for path in character_layers(c)})


def animations(with_hurt: bool) -> list[tuple[int, int, int, int]]:
    """(row, action, viewpoint, frames) of the kept animations, in row order; 'hurt' has viewpoint -1."""
    kept = [(NUM_VIEWPOINTS * a + v, a, v, FRAMES[a])
            for a in range(len(ACTIONS)) for v in range(NUM_VIEWPOINTS)]
    return kept + ([(HURT_ROW, HURT, -1, HURT_FRAMES)] if with_hurt else [])


def pairs_per_character(with_hurt: bool) -> int:
    """Neighbouring-frame pairs (t, t + 1) of one character: 152, or 157 with 'hurt'."""
    return sum(frames - 1 for *_, frames in animations(with_hurt))


def split_characters(characters: Sequence[int], counts: Sequence[int], seed: int) -> list[np.ndarray]:
    """The characters shuffled by `seed` and cut into consecutive parts of `counts` (each sorted)."""
    if sum(counts) != len(characters):
        raise ValueError(f"split sizes {tuple(counts)} do not add up to {len(characters)} characters")
    shuffled = np.random.default_rng(seed).permutation(np.asarray(characters, np.int64))
    bounds = np.cumsum([0, *counts])
    return [np.sort(shuffled[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]


def is_art_root(path: str) -> bool:
    """Whether `path` is the root of the spritesheet repository (it holds body/male/light.png)."""
    return os.path.isfile(os.path.join(path, "body", "male", "light.png"))


def fix_line() -> str:
    return f"use the art of {REPOSITORY} at commit {COMMIT} ({ARCHIVE_URL})"


def visible_pixels(image: Image.Image) -> np.ndarray:
    """uint8 [H, W, 4]: a layer's RGBA with the colour of fully transparent pixels set to 0."""
    rgba = np.array(image.convert("RGBA"))
    rgba[rgba[..., 3] == 0] = 0
    return rgba


def pixel_digest(pixels: np.ndarray) -> str:
    """SHA-256 of a layer's visible pixels (their shape included)."""
    return hashlib.sha256(str(pixels.shape).encode() + np.ascontiguousarray(pixels).tobytes()).hexdigest()


@functools.lru_cache(maxsize=64)
def read_layer(root: str, relative: str) -> np.ndarray:
    """uint8 SHEET_SHAPE: a layer's visible pixels.

    Raises:
      SourceDataError: the file is missing, unreadable or not a standard sheet.
    """
    path = os.path.join(root, relative)
    if not os.path.isfile(path):
        raise SourceDataError(f"{path} not found: the spritesheet is incomplete; {fix_line()}")
    try:
        with Image.open(path) as image:
            pixels = visible_pixels(image)
    except (OSError, SyntaxError, ValueError) as e:
        raise SourceDataError(f"{path} is not a readable PNG ({e}); {fix_line()}") from None
    if pixels.shape != SHEET_SHAPE:
        raise SourceDataError(f"{path} is {pixels.shape[1]}x{pixels.shape[0]}, not a "
                              f"{SHEET_SHAPE[1]}x{SHEET_SHAPE[0]} sheet; {fix_line()}")
    return pixels


def check_layers(root: str, expected: dict[str, str], layers: Sequence[str]) -> None:
    """Checks the layers' pixels against `expected` ({relative path: pixel_digest}), in order.

    Raises:
      SourceDataError: naming the first layer missing, unreadable or whose pixels differ.
    """
    for relative in layers:
        digest = pixel_digest(read_layer(root, relative))
        if digest != expected.get(relative):
            raise SourceDataError(f"{os.path.join(root, relative)} shows other pixels than the art the "
                                  f"dataset is rendered from; {fix_line()}")


def composite(layers: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 [..., 3]: RGBA layers [..., 4] drawn back to front ("over") onto black."""
    out = np.zeros(layers[0].shape[:-1] + (3,), np.float32)
    for layer in layers:
        alpha = layer[..., 3:].astype(np.float32) / 255.0
        out = out * (1.0 - alpha) + layer[..., :3].astype(np.float32) * alpha
    return np.rint(out).astype(np.uint8)


def render_character(root: str, character: int) -> np.ndarray:
    """uint8 [21 * 64, 13 * 64, 3]: the character's whole sheet on black."""
    return composite([read_layer(root, relative) for relative in character_layers(character)])


def read_character(root: str, with_hurt: bool, character: int) -> Iterator[tuple[str, dict]]:
    """(key, example) of each neighbouring-frame pair of a character's kept animations: 'image' and
    'next_image' uint8 [64, 64, 3] (frames t and t + 1), 'character', 'action', 'viewpoint', 'frame'
    (t) and one id per attribute."""
    sheet = render_character(root, character)
    labels = {name: int(value) for name, value in attribute_ids(character).items()}
    for row, action, viewpoint, frames in animations(with_hurt):
        strip = sheet[row * FRAME:(row + 1) * FRAME]
        cells = [strip[:, t * FRAME:(t + 1) * FRAME] for t in range(frames)]
        for t, (image, next_image) in enumerate(itertools.pairwise(cells)):
            yield f"{character:03d}_{row:02d}_{t:02d}", dict(
                image=image, next_image=next_image, character=character, action=action,
                viewpoint=viewpoint, frame=t, **labels)
