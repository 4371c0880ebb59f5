"""Penn Action (§5.3): frame pairs cropped square around the person, official train/test split."""

import dataclasses
import functools
import os
from typing import Optional

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import pairs, reproducible
from visual_dynamics.data import penn_action, source_files

ARCHIVE = "Penn_Action.tar.gz"


@dataclasses.dataclass
class PennActionConfig(pairs.PairsConfig):
    """Pairs (t, t + frame_gap) at `pairs_per_video` evenly spaced t (None: every t) per video.

    The paper extracts 7,705 train / 987 test pairs from 981 sequences, about 8 a sequence.
    """

    frame_gap: int = 1
    pairs_per_video: Optional[int] = 8
    box_smoothing_radius: int = 4  # frames on each side in the moving average of the box
    crop_margin: float = 1.2  # crop side / the box's longer side


class Builder(reproducible.ReproducibleBuilder):
    """Person-centred pairs of neighbouring frames from the 2,326 Penn Action videos."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = pairs.size_configs(PennActionConfig, description="8 pairs a video.")
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    Download {ARCHIVE} (3 GB) from the Penn Action page
    (http://dreamdragon.github.io/PennAction/) and place it in the manual folder, or place the folder
    `Penn_Action/` (with `frames/` and `labels/`) extracted from it there. Then:
      python experiments/prepare_data.py --dataset=penn_action --manual_dir=THAT_FOLDER
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=pairs.pair_features(
                self.builder_config.image_size,
                video=tfds.features.Scalar(dtype=np.int64, doc="NNNN of frames/NNNN/"),
                frame=tfds.features.Scalar(dtype=np.int64, doc="0-based index of `image`"),
                action=tfds.features.ClassLabel(names=penn_action.ACTIONS),
            ),
            homepage="http://dreamdragon.github.io/PennAction/",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        manual_dir = dl_manager.manual_dir
        if os.path.isdir(manual_dir / penn_action.ROOT):
            root = manual_dir / penn_action.ROOT
        else:
            source_files.require_path(
                manual_dir / ARCHIVE, f"{ARCHIVE} (or its extracted folder {penn_action.ROOT}/)",
                f"{source_files.listing(manual_dir)}.\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
            root = dl_manager.extract(manual_dir / ARCHIVE) / penn_action.ROOT
        root = os.fspath(root)
        return {split: self._generate_examples(root, split, videos)
                for split, videos in penn_action.split_video_ids(root).items()}

    def _generate_examples(self, root: str, split: str, videos: list[str]):
        """The pairs of the `videos` of one split; videos without any box are skipped and listed."""
        settings = pairs.plain_fields(self.builder_config, "image_size", "frame_gap", "pairs_per_video",
                                      "box_smoothing_radius", "crop_margin")
        read_video = functools.partial(penn_action.read_video, root, settings)
        return self._read_records(videos, read_video, f"{root}/labels", split, limit=None)
