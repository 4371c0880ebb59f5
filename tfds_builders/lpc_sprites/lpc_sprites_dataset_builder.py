"""Sprites rendered from the Universal LPC spritesheet (§5.2): frame pairs of 672 stacked characters.

Configs: `paper` (all 21 animations; the paper's 652 / 20 train / test characters: 102,364 / 3,140
pairs), `size_64` (20 animations of 5 actions x 4 viewpoints; Reed et al.'s split sizes 500 / 72 / 100,
for Table 2) and `tiny` (24 characters, 16 / 4 / 4, for tests and smoke runs). Characters, layers and
rendering: `visual_dynamics.data.lpc`. The features are the `sprites` builder's plus one id an attribute.
"""

import dataclasses
import functools
import os

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import manual_release, pairs, reproducible
from tfds_builders.lpc_sprites import layer_digests
from visual_dynamics.data import lpc, releases, sprites
from visual_dynamics.data.source_files import SourceDataError, listing
from visual_dynamics.errors import short_reason

SPLIT_SEED = 0
SPLIT_NAMES = ("train", "validation", "test")
REED_SPLIT = (500, 72, 100)  # Reed et al.'s train / validation / test characters
TINY_CHARACTERS = tuple(range(0, lpc.NUM_CHARACTERS, 28))  # 24, every option of every attribute


@dataclasses.dataclass
class LpcSpritesConfig(pairs.PairsConfig):
    """`paper`: all 21 animations and the paper's 652 / 20 split; `tiny`: `TINY_CHARACTERS` only."""

    paper: bool = False
    tiny: bool = False


def character_splits(config: LpcSpritesConfig) -> dict[str, np.ndarray]:
    """Split name -> sorted character ids. Reed's sizes from a seeded shuffle of all characters; the
    paper's test characters are the first 20 of those test characters, the rest train."""
    if config.tiny:
        return dict(zip(SPLIT_NAMES, lpc.split_characters(TINY_CHARACTERS, (16, 4, 4), SPLIT_SEED)))
    splits = dict(zip(SPLIT_NAMES, lpc.split_characters(range(lpc.NUM_CHARACTERS), REED_SPLIT, SPLIT_SEED)))
    if not config.paper:
        return splits
    test = splits["test"][:sprites.PAPER_TEST_CHARACTERS]
    return {"train": np.setdiff1d(np.arange(lpc.NUM_CHARACTERS), test), "test": test}


class Builder(reproducible.ReproducibleBuilder):
    """Pairs of neighbouring frames of characters rendered from the LPC art; split by character."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: 672 characters rendered from the art at " + lpc.COMMIT}
    BUILDER_CONFIGS = [
        LpcSpritesConfig(name="paper", paper=True, description="All 21 animations; the paper's 652 / 20 "
                         "train / test characters (102,364 / 3,140 pairs)."),
        LpcSpritesConfig(name="size_64", description="20 animations; 500 / 72 / 100 train / validation / "
                         "test characters, as Reed et al.'s split (Table 2)."),
        LpcSpritesConfig(name="tiny", tiny=True, description="24 characters, 16 / 4 / 4; tests."),
    ]
    LAYER_TABLE = layer_digests.TABLE

    def _info(self) -> tfds.core.DatasetInfo:
        attributes = {name: tfds.features.ClassLabel(names=[option for option, _ in options])
                      for name, options in lpc.ATTRIBUTES}
        return self.dataset_info_from_configs(
            features=pairs.pair_features(
                lpc.FRAME,
                character=tfds.features.Scalar(dtype=np.int64, doc="id in the attribute grid, 0-671"),
                action=tfds.features.ClassLabel(names=sprites.ALL_ACTIONS),
                viewpoint=tfds.features.Scalar(dtype=np.int64, doc="0-3 (up, left, down, right); -1: hurt"),
                frame=tfds.features.Scalar(dtype=np.int64, doc="index of `image` in its animation"),
                **attributes,
            ),
            homepage=f"https://github.com/{lpc.REPOSITORY}",
        )

    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    Optional: without a manual folder the art is downloaded from {lpc.ARCHIVE_URL}. Offline, download
    that archive elsewhere and put it (or another .zip / .tar / .tar.gz of it, the unpacked folder or a
    clone of {lpc.REPOSITORY} at commit {lpc.COMMIT}) in the manual folder:
      python experiments/prepare_data.py --dataset=lpc_sprites --manual_dir=THAT_FOLDER
    """

    def _art_root(self, dl_manager: tfds.download.DownloadManager) -> str:
        """The spritesheet repository's root: from the manual folder if one was given (even an empty
        one: its message says what to put there), else downloaded."""
        what = f"the Universal LPC spritesheet ({lpc.REPOSITORY} at {lpc.COMMIT}, with body/male/light.png)"
        if manual_release.given_manual_dir(dl_manager):
            return manual_release.release_root(self, dl_manager, lpc.ARCHIVE, lpc.is_art_root, what)
        try:
            extracted = os.fspath(dl_manager.download_and_extract(lpc.ARCHIVE_URL))
        except OSError as e:  # requests' ConnectionError and HTTPError are OSErrors
            raise SourceDataError(f"could not download {lpc.ARCHIVE_URL} ({short_reason(e)}); offline, "
                                  f"download it elsewhere and pass its folder as --manual_dir") from None
        root = releases.find_root(extracted, lpc.is_art_root)
        if root is None:
            raise SourceDataError(f"{lpc.ARCHIVE_URL} does not hold {what}: {listing(extracted)}")
        return root

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = self._art_root(dl_manager)
        splits = character_splits(self.builder_config)
        lpc.check_layers(root, layer_digests.read(self.LAYER_TABLE),
                         lpc.layers_of(np.concatenate(list(splits.values()))))
        return {split: self._generate_examples(root, split, characters)
                for split, characters in splits.items()}

    def _generate_examples(self, root: str, split: str, characters):
        read = functools.partial(lpc.read_character, root, self.builder_config.paper)
        return self._read_records([int(c) for c in characters], read, root, split)
