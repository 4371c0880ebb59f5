"""Penn Action (§5.3): frame pairs cropped square around the person, official train/test split."""

import dataclasses
import functools
from typing import Optional

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import manual_release, pairs, reproducible
from visual_dynamics.data import penn_action

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
    (http://dreamdragon.github.io/PennAction/) and place it (or another .zip / .tar / .tgz of it) in the
    manual folder, or place the folder `Penn_Action/` (with `frames/` and `labels/`) extracted from it
    there. Then:
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
        root = manual_release.release_root(self, dl_manager, ARCHIVE, penn_action.is_root,
                                           f"Penn Action ({penn_action.ROOT}/ with frames/ and labels/)")
        return {split: self._generate_examples(root, split, videos)
                for split, videos in penn_action.split_video_ids(root).items()}

    def _generate_examples(self, root: str, split: str, videos: list[str]):
        """The pairs of the `videos` of one split; videos without any box are skipped and listed."""
        settings = pairs.plain_fields(self.builder_config, "image_size", "frame_gap", "pairs_per_video",
                                      "box_smoothing_radius", "crop_margin")
        read_video = functools.partial(penn_action.read_video, root, settings)
        return self._read_records(videos, read_video, f"{root}/labels", split, limit=None)
