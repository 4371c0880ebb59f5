"""What the real-data builders (sprites, exercise, penn_action) share: configs and features.

Every example is a frame pair {'image': I, 'next_image': J} of uint8 [S, S, 3] plus the dataset's
own labels. Images are zlib-compressed tensors, like Shapes, so reading needs no TensorFlow.
"""

import dataclasses
import types

import numpy as np
import tensorflow_datasets as tfds

STANDARD_SIZES = (64, 128)


@dataclasses.dataclass
class PairsConfig(tfds.core.BuilderConfig):
    """Frame pairs stored at `image_size` x `image_size`."""

    image_size: int = 64


def size_configs(cls=PairsConfig, prefix: str = "size", description: str = "", **fields) -> list:
    """One config a stored size (64, 128): `{prefix}_{size}`, with `fields` set on each."""
    return [cls(name=f"{prefix}_{size}", description=f"{size}x{size} frame pairs. {description}".strip(),
                image_size=size, **fields) for size in STANDARD_SIZES]


def pair_features(image_size: int, **labels: tfds.features.FeatureConnector) -> tfds.features.FeaturesDict:
    """{'image', 'next_image'}: uint8 [S, S, 3], plus the dataset's label features."""
    image = tfds.features.Tensor(shape=(image_size, image_size, 3), dtype=np.uint8, encoding="zlib")
    return tfds.features.FeaturesDict({"image": image, "next_image": image, **labels})


def plain_fields(config: tfds.core.BuilderConfig, *names: str) -> types.SimpleNamespace:
    """Some fields of a builder config as a plain object, for a reader that Beam ships to its workers:
    they unpickle it without importing the builder's module, which `tfds build FOLDER` loads under a
    name that only the submitting process knows."""
    return types.SimpleNamespace(**{name: getattr(config, name) for name in names})
