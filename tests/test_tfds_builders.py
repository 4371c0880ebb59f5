"""TFDS's own builder checks (`DatasetBuilderTestCase`) on each builder's committed dummy_data/.

They build every tested config the way `tfds build` does (TFRecord files, so TensorFlow from the
`test` extra is needed), read it back through tf.data, and check split sizes and that no example
sits in two splits. tests/test_real_datasets.py checks the examples' contents.
"""

import os
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds

from tfds_builders.exercise import exercise_dataset_builder
from tfds_builders.penn_action import penn_action_dataset_builder
from tfds_builders.sprites import sprites_dataset_builder


class _LocalFilesTestCase(tfds.testing.DatasetBuilderTestCase):
    # Our readers open local files with h5py, scipy and OpenCV, which need os paths, not gfile.
    MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False


class SpritesTest(_LocalFilesTestCase):
    """6 fake characters, 39 pairs each; train / validation / test = characters 0,1,3 / 2 / 4,5."""

    DATASET_CLASS = sprites_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["size_64", "size_128"]
    SPLITS = {"train": 117, "validation": 39, "test": 78}


class SpritesPaperTest(_LocalFilesTestCase):
    """Config `paper`: 21 animations, 42 pairs a character; Reed's 2 test characters (of the paper's 20)
    to test, the other 4 to train."""

    DATASET_CLASS = sprites_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["paper"]
    SPLITS = {"train": 168, "test": 84}


class PennActionTest(_LocalFilesTestCase):
    """Videos 0001 (5 frames), 0002 (6), 0005 (6, empty bbox) train; 0003 (4), 0004 (7), 0006 (5, short
    bbox) test; every pair kept."""

    DATASET_CLASS = penn_action_dataset_builder.Builder
    SPLITS = {"train": 14, "test": 13}


class ExerciseReleaseTest(_LocalFilesTestCase):
    """exercise_dataset.zip of pair lists: train.txt, test.txt and val.txt of 4, 2 and 1 pairs."""

    DATASET_CLASS = exercise_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["size_64", "size_128"]
    SPLITS = {"train": 4, "test": 2, "validation": 1}


class ExercisePairFoldersTest(_LocalFilesTestCase):
    """exercise_dataset.zip of pair folders without a top folder: the same pairs, no lists."""

    DATASET_CLASS = exercise_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["size_64"]
    EXAMPLE_DIR = exercise_dataset_builder.Builder.code_path.parent / "dummy_data" / "pair_folders"
    SPLITS = {"train": 4, "test": 2, "validation": 1}


class ExerciseSequencesTest(_LocalFilesTestCase):
    """exercise_dataset.zip of sequences: 11 and 3 frames to train, one of 3 to test."""

    DATASET_CLASS = exercise_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["size_64"]
    EXAMPLE_DIR = exercise_dataset_builder.Builder.code_path.parent / "dummy_data" / "sequences"
    SPLITS = {"train": 12, "test": 2}


class ExerciseVideosTest(_LocalFilesTestCase):
    """Three videos of 7-9 frames, one pair each (a pair every 30 frames); one video to test."""

    DATASET_CLASS = exercise_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["videos_64"]
    EXAMPLE_DIR = exercise_dataset_builder.Builder.code_path.parent / "dummy_data" / "videos"
    SPLITS = {"train": 2, "test": 1}


del _LocalFilesTestCase  # not a test of its own


@pytest.mark.parametrize("beam", [False, True])
def test_tfds_build_command(tmp_path, beam):
    """`tfds build tfds_builders/penn_action --manual_dir=...`, the documented command, works, and so does
    the same on Beam (`--beam_pipeline_options`, DirectRunner with 2 worker processes)."""
    folder = penn_action_dataset_builder.Builder.code_path.parent
    command = [os.path.join(os.path.dirname(sys.executable), "tfds"), "build", str(folder),
               f"--manual_dir={folder / 'dummy_data'}", f"--data_dir={tmp_path}", "--config=size_64"]
    if beam:
        command.append("--beam_pipeline_options=direct_num_workers=2,direct_running_mode=multi_processing")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("apache_beam.runners" in result.stderr) == beam  # the flag did reach a Beam pipeline
    builder = tfds.builder("penn_action/size_64", data_dir=str(tmp_path))
    assert {name: split.num_examples for name, split in builder.info.splits.items()} == {
        "train": 14, "test": 13}


def test_each_builder_describes_and_cites_from_its_own_folder(tmp_path):
    """TFDS takes a builder's description from its folder's README.md and its citation from
    CITATIONS.bib (textured Shapes from its own folder, not its parent builder's)."""
    import re

    from visual_dynamics.data import pipeline

    for name in ("shapes", "shapes_texture", "sprites", "penn_action", "exercise"):
        folder = os.path.join(os.path.dirname(os.path.dirname(__file__)), "tfds_builders", name)
        info = pipeline.load_builder(name, None, str(tmp_path)).info
        with open(os.path.join(folder, "README.md")) as f:
            assert info.description.strip() == f.read().strip(), name
        with open(os.path.join(folder, "CITATIONS.bib")) as f:
            keys = re.findall(r"@\w+\{(\w+),", f.read())
        assert keys and all(re.search(rf"@\w+\{{{key},", info.citation) for key in keys), name
