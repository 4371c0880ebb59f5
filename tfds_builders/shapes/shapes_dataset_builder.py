"""Shapes (§5.1): circles move vertically, squares horizontally, triangles diagonally.

Images are stored as zlib-compressed uint8 tensors (not PNG features), so that preparing and reading
need no TensorFlow (see docs/datasets.md). The examples come from visual_dynamics.data.shapes.
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import reproducible
from visual_dynamics.data import shapes


@dataclasses.dataclass
class ShapesConfig(tfds.core.BuilderConfig):
    """One generated dataset: image side, example counts and the generator seed."""

    image_size: int = 64
    num_train: int = 20_000
    num_test: int = 500
    seed: int = 0


def standard_configs() -> list[ShapesConfig]:
    """The paper's 20,000 / 500 pairs at 64 px (default), 128 px and 32 px; 'tiny' for tests."""
    return [
        ShapesConfig(name=f"size_{s}", description=f"{s}x{s} images, 20,000 train / 500 test pairs.",
                     image_size=s)
        for s in (64, 128, 32)
    ] + [ShapesConfig(name="tiny", description="32x32 images, 2,000 train / 200 test pairs, for "
                      "tests and smoke runs.", image_size=32, num_train=2000, num_test=200)]


def features(image_size: int) -> tfds.features.FeaturesDict:
    image = tfds.features.Tensor(shape=(image_size, image_size, 3), dtype=np.uint8, encoding="zlib")
    return tfds.features.FeaturesDict({
        "index": tfds.features.Scalar(dtype=np.int64),  # the generator's example index
        "image": image,
        "next_image": image,
        "object_type": tfds.features.Tensor(shape=(3,), dtype=np.int32),
        "displacement": tfds.features.Tensor(shape=(3, 2), dtype=np.float32),
        "centre": tfds.features.Tensor(shape=(3, 2), dtype=np.float32),
        "half_size": tfds.features.Tensor(shape=(3,), dtype=np.float32),
        "depth": tfds.features.Tensor(shape=(3,), dtype=np.int32),
        "visible_mask": tfds.features.Tensor(shape=(3, image_size, image_size), dtype=np.uint8,
                                             encoding="zlib"),
    })


def generate_examples(config: ShapesConfig, split: str, textured: bool):
    """Yields (index, example) for a split; each example depends on (seed, split, index) alone."""
    spec = shapes.ShapesSpec(image_size=config.image_size, textured=textured)
    count = {"train": config.num_train, "test": config.num_test}[split]
    for index in range(count):
        example = shapes.generate_pair(spec, shapes.example_rng(config.seed, split, index))
        yield index, dict(example, index=index)


class Builder(reproducible.ReproducibleBuilder):
    """Generated frame pairs of circles, squares and triangles with known motion."""

    TEXTURED = False
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = standard_configs()

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(features=features(self.builder_config.image_size),
                                              homepage="http://visualdynamics.csail.mit.edu")

    def _split_generators(self, dl_manager):
        del dl_manager  # Generated: nothing to download.
        return {split: self._generate_examples(split) for split in ("train", "test")}

    def _generate_examples(self, split: str):
        return generate_examples(self.builder_config, split, textured=self.TEXTURED)
