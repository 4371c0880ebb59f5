"""What the real-data builders (sprites, exercise, penn_action) share: configs, features, errors.

Every example is a frame pair {'image': I, 'next_image': J} of uint8 [S, S, 3] plus the dataset's
own labels. Images are zlib-compressed tensors, like Shapes, so nothing here needs TensorFlow.
"""

import dataclasses
import os
from typing import Optional

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from visual_dynamics.data import shapes_tfds

PAPER_CITATION = shapes_tfds.CITATION
STANDARD_SIZES = (64, 128)
# A real release may hold a few bad records (a missing or undecodable image, a video without boxes):
# they are skipped and reported. More than this fraction of a split means a damaged download.
MAX_SKIPPED_FRACTION = 0.01


class SourceDataError(ValueError):
    """A downloaded file is missing, truncated, corrupt or laid out differently than expected."""


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


def require_path(path: os.PathLike, what: str, fix: str) -> None:
    """Raises SourceDataError naming `path` when it does not exist."""
    if not os.path.exists(path):
        raise SourceDataError(f"{what} not found: {path}. {fix}")


def listing(folder: os.PathLike, limit: int = 20) -> str:
    """A short description of what a folder holds, for error messages."""
    if not os.path.isdir(folder):
        return f"{folder} does not exist"
    names = sorted(os.listdir(folder))
    shown = ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")
    return f"{folder} holds: {shown or 'nothing'}"


def report_skipped(source: str, split: str, skipped: list[str], total: int,
                   limit: Optional[float] = MAX_SKIPPED_FRACTION) -> None:
    """Says how many of a split's `total` records were skipped, and why (the first 20); stops the build
    when more than the fraction `limit` (None: no limit) were.

    Raises:
      SourceDataError: more than `limit` of the records were skipped.
    """
    if not skipped:
        return
    message = (f"{source}: skipped {len(skipped)} of {total} {split} records: "
               + "; ".join(skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    if limit is not None and len(skipped) > limit * total:
        raise SourceDataError(f"{message}. More than {limit:.0%}: the source is damaged; "
                              f"download it again.")
    logging.warning(message)
    print(message, flush=True)
