"""Shapes (§5.1): circles move vertically, squares horizontally, triangles diagonally."""

import tensorflow_datasets as tfds

from visual_dynamics.data import shapes_tfds


class Builder(tfds.core.GeneratorBasedBuilder):
    """Generated frame pairs of circles, squares and triangles with known motion."""

    TEXTURED = False
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = shapes_tfds.standard_configs()

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=shapes_tfds.features(self.builder_config.image_size),
            homepage="http://visualdynamics.csail.mit.edu",
            citation=shapes_tfds.CITATION,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated: nothing to download.
        return {split: self._generate_examples(split) for split in ("train", "test")}

    def _generate_examples(self, split: str):
        return shapes_tfds.generate_examples(self.builder_config, split, textured=self.TEXTURED)
