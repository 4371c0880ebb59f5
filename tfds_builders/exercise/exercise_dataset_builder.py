"""Exercise (§5.3): frame pairs of workout videos, split by video.

Two sources: the authors' release `exercise_dataset.zip` (configs size_64 / size_128) or a folder of
your own videos (configs videos_64 / videos_128), stabilised and paired as the paper describes.
"""

import dataclasses
import functools
import os
import re
from typing import Optional

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import manual_release, pairs, reproducible
from visual_dynamics.data import exercise, videos


@dataclasses.dataclass
class ExerciseConfig(pairs.PairsConfig):
    """`source`: 'release' (exercise_dataset.zip) or 'videos' (a folder of video files).

    The other fields apply to 'videos': pairs (t, t + frame_gap) start every `pair_every` frames (30:
    one a second at 30 fps); a `test_fraction` of the videos (at least one) form the test split.
    """

    source: str = "release"
    frame_gap: int = 1
    pair_every: int = 30
    stabilize: bool = True
    test_fraction: float = 0.1
    split_seed: int = 0


VIDEO_DEFAULTS = {name: getattr(ExerciseConfig, name)  # the fields a name states when they differ
                  for name in ("frame_gap", "pair_every", "test_fraction")}
VIDEO_CONFIG_NAME = re.compile(r"^videos_(\d+)(?:_gap(\d+))?(?:_every(\d+))?(?:_test([\dp]+)pct)?$")


def videos_config(image_size: int = 128, frame_gap: int = ExerciseConfig.frame_gap,
                  pair_every: int = ExerciseConfig.pair_every,
                  test_fraction: float = ExerciseConfig.test_fraction) -> ExerciseConfig:
    """A config of your own videos. Its name holds every value that differs from the defaults (e.g.
    videos_128_gap2_every10_test25pct), so preparations with other values never overwrite each other
    and a run names the one it trains on with --config.builder_config=NAME; its description (kept in
    the prepared dataset's dataset_info.json) lists all of them."""
    if image_size < 16 or frame_gap < 1 or pair_every < 1 or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"videos config needs image_size >= 16, frame_gap >= 1, pair_every >= 1 and "
                         f"0 < test_fraction < 1; got {image_size}, {frame_gap}, {pair_every}, "
                         f"{test_fraction}")
    name = f"videos_{image_size}"
    name += f"_gap{frame_gap}" if frame_gap != VIDEO_DEFAULTS["frame_gap"] else ""
    name += f"_every{pair_every}" if pair_every != VIDEO_DEFAULTS["pair_every"] else ""
    if test_fraction != VIDEO_DEFAULTS["test_fraction"]:
        name += f"_test{100 * test_fraction:g}pct".replace(".", "p")
    return ExerciseConfig(
        name=name, image_size=image_size, source="videos", frame_gap=frame_gap, pair_every=pair_every,
        test_fraction=test_fraction,
        description=f"{image_size}x{image_size} frame pairs from a folder of your own videos, stabilised: "
                    f"frame_gap={frame_gap}, pair_every={pair_every}, test_fraction={test_fraction}.")


def config_from_name(name: str) -> Optional[ExerciseConfig]:
    """The videos config a name made by `videos_config` stands for (None for the builder's own configs
    and other names)."""
    match = VIDEO_CONFIG_NAME.match(name)
    if not match or name in Builder.builder_configs:
        return None
    size, gap, every, test = match.groups()
    return videos_config(int(size), int(gap or VIDEO_DEFAULTS["frame_gap"]),
                         int(every or VIDEO_DEFAULTS["pair_every"]),
                         float(test.replace("p", ".")) / 100 if test else VIDEO_DEFAULTS["test_fraction"])


class Builder(reproducible.ReproducibleBuilder):
    """Pairs of frames of people exercising, train and test from different videos."""

    VERSION = tfds.core.Version("1.3.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": "The release's pair layouts (split lists, pair folders) besides sequences; "
                              "a validation split from val.txt; bad pairs skipped and reported.",
                     "1.2.0": "The release read as a zip under any name, a tar, or an unpacked tree; "
                              "`video` relative to the layout's root (no top folder), the same in every "
                              "form.",
                     "1.3.0": "Files named as pairs (_im1 / _im2) read as pairs with any image extension "
                              "and at any depth, never as sequence frames; val/ is the validation split "
                              "of the sequences layout too; an archive that fits two layouts stops."}
    BUILDER_CONFIGS = (
        pairs.size_configs(ExerciseConfig, description="From the authors' exercise_dataset.zip.")
        + [videos_config(size) for size in pairs.STANDARD_SIZES]
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
    Configs size_64 / size_128: download {exercise.ARCHIVE} (1.1 GB) from
    http://visualdynamics.csail.mit.edu and put it (or another .zip / .tar / .tgz of it, or the tree
    unpacked from it) in the manual folder.
    Configs videos_64 / videos_128 (and videos_<size>_... made by prepare_data.py's --frame_gap,
    --pair_every, --test_fraction and --image_size): the manual folder is a folder of your video files
    ({', '.join(videos.VIDEO_EXTENSIONS)}), at least two (train and test come from different videos).
      python experiments/prepare_data.py --dataset=exercise --builder_config=size_128 --manual_dir=DIR
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=pairs.pair_features(
                self.builder_config.image_size,
                video=tfds.features.Text(doc="where the pair comes from: its file prefix (<video>_im1.png "
                                             "and _im2.png in the release), sequence folder or video file"),
                frame=tfds.features.Scalar(dtype=np.int64, doc="0-based index of the pair in its split "
                                                               "list, or of `image` in its sequence"),
            ),
            homepage="http://visualdynamics.csail.mit.edu",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        manual_dir = os.fspath(dl_manager.manual_dir)
        if config.source == "release":
            path = manual_release.release_root(self, dl_manager, exercise.ARCHIVE, exercise.is_root,
                                               "the Exercise release (train.txt and test.txt, or train/ "
                                               "and test/)", read_zip=True)
            with exercise.open_release(path) as archive:  # the layout is checked before anything is written
                splits = exercise.read_layout(archive)
            return {split: self._generate_examples(path, split, pairs) for split, pairs in splits.items()}
        names = videos.split_videos(videos.list_videos(manual_dir), config.test_fraction,
                                    config.split_seed)
        return {split: self._generate_examples(manual_dir, split, split_names)
                for split, split_names in names.items()}

    def _generate_examples(self, path: str, split: str, sources: list):
        """`sources` of one split: pairs of the release at `path` (`exercise.read_layout`: a zip or an
        unpacked tree), or names of videos in the folder `path`."""
        config = self.builder_config
        if config.source == "release":
            return self._read_records(sources, functools.partial(exercise.read_pair, path, config.image_size),
                                      path, split)
        settings = pairs.plain_fields(config, "image_size", "frame_gap", "pair_every", "stabilize")
        return self._read_records(sources, functools.partial(videos.read_video, path, settings), path, split)
