"""Preparing a dataset is reproducible byte for byte, in one process or on Apache Beam.

Each builder is prepared twice, in two processes, from two copies of its fake release: every file must
be identical. Beam (DirectRunner, 2 worker processes) must give the same examples in the same order as
one process, and an archive zipped on macOS or Windows the same examples as a clean one.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import dummy_releases
from conftest import ROOT
from visual_dynamics.data import fingerprint, pipeline, source_files

BEAM_OPTIONS = "direct_num_workers=2,direct_running_mode=multi_processing"
BUILDERS = "tfds_builders"
# (dataset, builder config, fake release relative to the builders' folder, None: generated)
DATASETS = (
    ("shapes", "tiny", None),
    ("sprites", "size_64", "sprites/dummy_data"),
    ("penn_action", "size_64", "penn_action/dummy_data"),
    ("exercise", "size_64", "exercise/dummy_data"),
    ("exercise", "videos_64", "exercise/dummy_data/videos"),
)
# Prepares the datasets given as JSON [(dataset, config, manual_dir), ...] into argv[2], in a process of
# its own, and prints whether TensorFlow was imported.
PREPARE = """
import json, sys
from visual_dynamics.data import pipeline
for dataset, config, manual_dir in json.loads(sys.argv[1]):
    pipeline.prepare(pipeline.load_builder(dataset, config, sys.argv[2]), manual_dir, sys.argv[3] or None)
print("tensorflow imported:", "tensorflow" in sys.modules)
"""


def prepare_in_new_process(datasets: list, data_dir: str, beam_options: str = "") -> str:
    done = subprocess.run([sys.executable, "-c", PREPARE, json.dumps(datasets), data_dir, beam_options],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def file_hashes(folder: str) -> dict[str, str]:
    """{path relative to `folder`: sha256} of every file under it."""
    hashes = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                hashes[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return hashes


def copy_releases(destination) -> list:
    """The datasets with their fake releases copied under `destination` (so two copies sit at two
    paths: a preparation must not depend on where its sources are)."""
    datasets = []
    for dataset, config, release in DATASETS:
        manual_dir = None
        if release:
            manual_dir = str(destination / release)
            if not os.path.exists(manual_dir):
                shutil.copytree(os.path.join(ROOT, BUILDERS, release), manual_dir)
        datasets.append((dataset, config, manual_dir))
    return datasets


@pytest.fixture(scope="module")
def plain_preparations(tmp_path_factory):
    """Every dataset prepared by two processes, from two copies of the releases: two data dirs."""
    root = tmp_path_factory.mktemp("plain")
    data_dirs = []
    for copy in ("a", "b"):
        datasets = copy_releases(root / f"releases_{copy}")
        data_dirs.append(str(root / f"data_{copy}"))
        prepare_in_new_process(datasets, data_dirs[-1])
    return data_dirs


def test_two_preparations_give_identical_files(plain_preparations):
    first, second = (file_hashes(d) for d in plain_preparations)
    shards = [path for path in first if ".array_record-" in path]
    assert len(shards) >= 2 * len(DATASETS)  # every dataset's train and test shards are compared
    assert sorted(first) == sorted(second)
    assert {p for p in first if first[p] != second[p]} == set()


def test_the_fingerprint_is_the_hash_of_the_examples_and_is_stored(plain_preparations):
    builder = pipeline.load_builder("shapes", "tiny", plain_preparations[0])
    assert fingerprint.stored(builder) == fingerprint.compute(builder)
    with open(os.path.join(builder.data_dir, fingerprint.FILE_NAME)) as f:
        record = json.load(f)
    assert record["splits"] == {"test": 200, "train": 2000}
    other = pipeline.load_builder("exercise", "size_64", plain_preparations[0])
    assert fingerprint.stored(other) != record["sha256"]


def decoded(builder) -> dict:
    """{split: [examples]} in the order a reader sees them."""
    sources = {split: builder.as_data_source(split=split) for split in builder.info.splits}
    return {split: [source[i] for i in range(len(source))] for split, source in sources.items()}


def test_beam_gives_the_same_examples_in_the_same_order(plain_preparations, tmp_path):
    real = [d for d in DATASETS if d[2]]
    output = prepare_in_new_process(copy_releases(tmp_path / "releases"), str(tmp_path / "beam"),
                                    BEAM_OPTIONS)
    assert "tensorflow imported: False" in output
    for dataset, config, _ in real:
        plain = pipeline.load_builder(dataset, config, plain_preparations[0])
        beam = pipeline.load_builder(dataset, config, str(tmp_path / "beam"))
        assert fingerprint.stored(beam) == fingerprint.stored(plain), (dataset, config)
        plain_examples, beam_examples = decoded(plain), decoded(beam)
        assert list(beam_examples) == list(plain_examples)
        for split, examples in plain_examples.items():
            assert len(beam_examples[split]) == len(examples) > 0
            for ours, theirs in zip(beam_examples[split], examples):
                for key in ours:
                    np.testing.assert_array_equal(ours[key], theirs[key])


@pytest.mark.parametrize("layout", ["pair_lists", "pair_folders", "sequences"])
def test_an_exercise_archive_zipped_on_macos_gives_the_clean_examples(tmp_path, layout):
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    os.makedirs(clean), os.makedirs(dirty)
    dummy_releases.write_exercise_zip(str(clean / "exercise_dataset.zip"), layout)
    dummy_releases.zip_as_on_macos(str(clean / "exercise_dataset.zip"), str(dirty / "exercise_dataset.zip"))
    with zipfile.ZipFile(dirty / "exercise_dataset.zip") as archive:  # the check sees the bookkeeping
        assert any(name.startswith("__MACOSX/") for name in archive.namelist())
    fingerprints = []
    for release in (clean, dirty):
        builder = pipeline.load_builder("exercise", "size_64", str(release / "out"))
        fingerprints.append(pipeline.prepare(builder, str(release)))
    assert fingerprints[0] == fingerprints[1]


@pytest.mark.parametrize("dataset,config,release", [d for d in DATASETS if d[2] and "exercise" not in d[2]]
                         + [("exercise", "videos_64", "exercise/dummy_data/videos")])
def test_a_release_extracted_on_macos_gives_the_clean_examples(tmp_path, dataset, config, release):
    clean, dirty = str(tmp_path / "clean"), str(tmp_path / "dirty")
    shutil.copytree(os.path.join(ROOT, BUILDERS, release), clean)
    shutil.copytree(clean, dirty)
    dummy_releases.add_os_metadata(dirty)
    fingerprints = [pipeline.prepare(pipeline.load_builder(dataset, config, folder + "_out"), folder)
                    for folder in (clean, dirty)]
    assert fingerprints[0] == fingerprints[1]


def test_a_damaged_archive_stops_a_beam_preparation_with_the_same_one_line(tmp_path):
    pairs = dummy_releases.many_exercise_pairs(50)
    dummy_releases.write_damaged_exercise_zip(str(tmp_path / "exercise_dataset.zip"), pairs,
                                              lambda name: "/train/" in name)
    builder = pipeline.load_builder("exercise", "size_64", str(tmp_path / "out"))
    expected = r"^\S+: skipped 50 of 50 train records: .*\(47 more\)"
    with pytest.raises(source_files.SourceDataError, match=expected):
        pipeline.prepare(builder, str(tmp_path), BEAM_OPTIONS)
    assert not builder.is_prepared()


def test_the_published_fingerprint_of_shapes_tiny_is_what_this_code_prepares(data_dir):
    """docs/datasets.md publishes each generated config's fingerprint; the tiny one is checked here."""
    with open(os.path.join(ROOT, "docs", "datasets.md")) as f:
        published = re.search(r"\| `shapes` \| `tiny` \| [^|]+ \| `(\w{64})` \|", f.read()).group(1)
    assert fingerprint.stored(pipeline.load_builder("shapes", "tiny", data_dir)) == published


def test_the_preparation_benchmark_runs():
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "prepare.py"), "--exercise_pairs=20",
               "--videos=2", "--frames=6"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.strip().startswith(("Exercise", "own videos"))]
    assert len(rows) >= 2 + 8, done.stdout  # both releases timed, and every step of both readers
