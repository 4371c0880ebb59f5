"""Sprites (§5.2): consecutive frames of Liberated Pixel Cup characters, as released by Reed et al."""

import os

import numpy as np
import tensorflow_datasets as tfds

from visual_dynamics.data import pairs_tfds, sprites

ARCHIVE = "nips2015-analogy-data.tar.gz"
URL = f"http://www.scottreed.info/files/{ARCHIVE}"
CITATION = pairs_tfds.PAPER_CITATION + """
@inproceedings{reed2015deep,
  title     = {Deep Visual Analogy-Making},
  author    = {Reed, Scott E. and Zhang, Yi and Zhang, Yuting and Lee, Honglak},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2015}
}"""


class Builder(tfds.core.GeneratorBasedBuilder):
    """Pairs of neighbouring frames of 672 characters x 5 actions x 4 viewpoints; split by character."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = pairs_tfds.size_configs(description="60x60 sprites resized.")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=pairs_tfds.pair_features(
                self.builder_config.image_size,
                character=tfds.features.Scalar(dtype=np.int64, doc="file number k of sprites_<k>.mat"),
                action=tfds.features.ClassLabel(names=sprites.ACTIONS),
                viewpoint=tfds.features.Scalar(dtype=np.int64),
                frame=tfds.features.Scalar(dtype=np.int64, doc="index of `image` in its animation"),
            ),
            homepage="https://github.com/reedscot/nips2015-analogy",
            citation=CITATION,
        )

    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    Optional: without a manual folder the archive is downloaded from {URL}. Offline, download
    {ARCHIVE} elsewhere and put it (or the folder data/ extracted from it) in the manual folder:
      python experiments/prepare_data.py --dataset=sprites --manual_dir=THAT_FOLDER
    """

    def _release_root(self, dl_manager: tfds.download.DownloadManager):
        """The folder holding data/sprites/: from the manual folder if given, else downloaded."""
        try:
            manual_dir = dl_manager.manual_dir
        except AssertionError:  # no manual folder was given (or it is empty): download
            return dl_manager.download_and_extract(URL)
        if (manual_dir / sprites.SPRITES_DIR).is_dir():
            return manual_dir
        pairs_tfds.require_path(manual_dir / ARCHIVE, f"{ARCHIVE} (or its extracted data/sprites/)",
                                f"{pairs_tfds.listing(manual_dir)}.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        return dl_manager.extract(manual_dir / ARCHIVE)

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        sprites_dir = os.fspath(self._release_root(dl_manager) / sprites.SPRITES_DIR)
        splits = sprites.read_splits(sprites_dir)
        return {split: self._generate_examples(sprites_dir, characters)
                for split, characters in splits.items()}

    def _generate_examples(self, sprites_dir, characters):
        return sprites.generate_examples(sprites_dir, characters, self.builder_config.image_size)
