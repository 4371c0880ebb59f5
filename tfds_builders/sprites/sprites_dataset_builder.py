"""Sprites (§5.2): consecutive frames of Liberated Pixel Cup characters, as released by Reed et al.

Configs: size_64 / size_128 keep the 20 animations of 5 actions x 4 viewpoints and Reed's train /
validation / test characters (`trainidx`, `validx`, `testidx` of sprites_splits.mat). `paper` (64 px)
keeps all 21 animations and the paper's 652 / 20 split of the characters (`sprites.paper_splits`), so
that its counts are the paper's 102,364 / 3,140 pairs if the animations have the documented frames.
"""

import dataclasses
import functools
import os

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import manual_release, pairs, reproducible
from visual_dynamics.data import sprites

ARCHIVE = "nips2015-analogy-data.tar.gz"
URL = f"http://www.scottreed.info/files/{ARCHIVE}"


@dataclasses.dataclass
class SpritesConfig(pairs.PairsConfig):
    """`paper`: all 21 animations and the paper's train / test split of the characters (else 20
    animations and Reed's train / validation / test split)."""

    paper: bool = False


class Builder(reproducible.ReproducibleBuilder):
    """Pairs of neighbouring frames of 672 characters x 5 actions x 4 viewpoints; split by character."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": "Config `paper`: all 21 animations, the paper's 652 / 20 character split."}
    BUILDER_CONFIGS = pairs.size_configs(SpritesConfig, description="60x60 sprites resized.") + [
        SpritesConfig(name="paper", image_size=64, paper=True,
                      description="64x64 pairs of all 21 animations; the paper's 652 / 20 characters.")]

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=pairs.pair_features(
                self.builder_config.image_size,
                character=tfds.features.Scalar(dtype=np.int64, doc="file number k of sprites_<k>.mat"),
                action=tfds.features.ClassLabel(names=sprites.ALL_ACTIONS),
                viewpoint=tfds.features.Scalar(dtype=np.int64, doc="0-3; -1 for 'hurt' (one view)"),
                frame=tfds.features.Scalar(dtype=np.int64, doc="index of `image` in its animation"),
            ),
            homepage="https://github.com/reedscot/nips2015-analogy",
        )

    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    Optional: without a manual folder the archive is downloaded from {URL}. Offline, download
    {ARCHIVE} elsewhere and put it (or another .zip / .tar / .tgz of it, or the folder data/sprites/
    unpacked from it) in the manual folder:
      python experiments/prepare_data.py --dataset=sprites --manual_dir=THAT_FOLDER
    """

    def _sprites_dir(self, dl_manager: tfds.download.DownloadManager) -> str:
        """The folder of the sprites_<k>.mat files: from the manual folder if given, else downloaded."""
        try:
            dl_manager.manual_dir  # raises when no manual folder was given
        except AssertionError:  # no manual folder was given (or it is empty): download
            return os.fspath(dl_manager.download_and_extract(URL) / sprites.SPRITES_DIR)
        return manual_release.release_root(self, dl_manager, ARCHIVE, sprites.is_sprites_dir,
                                           f"the Sprites release ({sprites.SPRITES_DIR}/ with "
                                           f"{sprites.SPLITS_FILE})")

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        sprites_dir = self._sprites_dir(dl_manager)
        splits = sprites.read_splits(sprites_dir)
        if self.builder_config.paper:
            splits = sprites.paper_splits(splits)
        return {split: self._generate_examples(sprites_dir, split, characters)
                for split, characters in splits.items()}

    def _generate_examples(self, sprites_dir: str, split: str, characters):
        config = self.builder_config
        animations = sprites.NUM_STORED_ANIMATIONS if config.paper else sprites.NUM_ANIMATIONS
        return self._read_records([int(c) for c in characters],
                                  functools.partial(sprites.read_character, sprites_dir, config.image_size,
                                                    animations), sprites_dir, split)
