"""The lpc_sprites builder on fake LPC sheets (tests/dummy_releases.py), whose frames the test knows.

Checked: the character grid and the paper's counts, "over" compositing against the analytic formula,
every pair against the frames painted square by square, the same fingerprint from the folder and from a
recompressed archive, and one line for each kind of bad art.
"""

import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from PIL import Image

import dummy_releases
from conftest import ROOT
from test_real_datasets import assert_not_prepared, build
from tfds_builders.lpc_sprites import layer_digests
from tfds_builders.lpc_sprites import lpc_sprites_dataset_builder as lpc_builder
from visual_dynamics.data import fingerprint, lpc, pipeline, source_files
from visual_dynamics.evaluation import sprites_results


def test_grid_of_672_distinct_characters_neighbours_differ_only_in_the_weapon():
    assert lpc.NUM_CHARACTERS == 672
    layers = [tuple(lpc.character_layers(c)) for c in range(lpc.NUM_CHARACTERS)]
    assert len(set(layers)) == 672
    for c in range(0, 672, 2):
        a, b = lpc.attribute_ids(c), lpc.attribute_ids(c + 1)
        assert {k for k in a if a[k] != b[k]} == {"weapon"}
    assert lpc.character_layers(671) == [  # the last option of every attribute, back to front
        "body/female/darkelf2.png", "legs/armor/female/golden_greaves_female.png",
        "torso/leather/chest_female.png", "torso/gold/arms_female.png", "hair/female/messy1/redhead.png",
        "weapons/right hand/either/bow.png", "weapons/left hand/either/arrow.png"]
    with pytest.raises(ValueError, match="672"):
        lpc.attribute_ids(672)


def test_splits_give_the_papers_pair_counts_and_reeds_split_sizes():
    assert lpc.pairs_per_character(with_hurt=True) == 157
    assert lpc.pairs_per_character(with_hurt=False) == 152
    configs = {c.name: c for c in lpc_builder.Builder.BUILDER_CONFIGS}
    paper = lpc_builder.character_splits(configs["paper"])
    assert {k: len(v) * 157 for k, v in paper.items()} == {"train": 102_364, "test": 3_140}
    reed = lpc_builder.character_splits(configs["size_64"])
    assert [len(reed[s]) for s in ("train", "validation", "test")] == [500, 72, 100]
    assert sorted(np.concatenate(list(reed.values()))) == list(range(672))  # disjoint, complete
    assert set(paper["test"]) <= set(reed["test"])
    assert sorted(np.concatenate(list(paper.values()))) == list(range(672))


def test_over_compositing_on_black_is_the_analytic_formula():
    blue = np.array([[[0, 0, 255, 255]]], np.uint8)
    half_red = np.array([[[255, 0, 0, 128]]], np.uint8)
    clear = np.array([[[9, 9, 9, 0]]], np.uint8)
    a = 128 / 255
    np.testing.assert_array_equal(lpc.composite([blue, half_red, clear]),
                                  [[[round(255 * a), 0, round(255 * (1 - a))]]])
    np.testing.assert_array_equal(lpc.composite([half_red]), [[[round(255 * a), 0, 0]]])


@pytest.fixture(scope="module")
def fake_art(tmp_path_factory):
    """(art folder, layer table of its pixels), the table installed as the builder's for the module."""
    root = str(tmp_path_factory.mktemp("lpc") / "Universal-LPC-spritesheet")
    dummy_releases.write_lpc_art(root)
    table = str(tmp_path_factory.mktemp("table") / "layers.tsv")
    layer_digests.write(root, table)
    original = lpc_builder.Builder.LAYER_TABLE
    lpc_builder.Builder.LAYER_TABLE = table
    yield root, table
    lpc_builder.Builder.LAYER_TABLE = original


@pytest.fixture(scope="module")
def tiny_from_folder(fake_art, tmp_path_factory):
    """The tiny config prepared from the unpacked art: (data dir, {split: examples})."""
    data_dir = str(tmp_path_factory.mktemp("data"))
    return data_dir, build("lpc_sprites", "tiny", fake_art[0], data_dir)


def test_tiny_pairs_are_the_painted_frames(tiny_from_folder):
    _, data = tiny_from_folder
    assert {k: len(v) for k, v in data.items()} == {"train": 16 * 152, "validation": 4 * 152, "test": 4 * 152}
    characters = {split: {int(e["character"]) for e in examples} for split, examples in data.items()}
    assert set().union(*characters.values()) == set(lpc_builder.TINY_CHARACTERS)
    for e in data["test"][::7]:
        c, action, viewpoint, t = (int(e[k]) for k in ("character", "action", "viewpoint", "frame"))
        row = 4 * action + viewpoint
        np.testing.assert_array_equal(e["image"], dummy_releases.lpc_expected_frame(c, row, t))
        np.testing.assert_array_equal(e["next_image"], dummy_releases.lpc_expected_frame(c, row, t + 1))
        assert {k: int(e[k]) for k in lpc.ATTRIBUTE_NAMES} == lpc.attribute_ids(c)
    thrust = [e for e in data["train"] if e["action"] == 1]
    assert any(not np.array_equal(e["image"], e["next_image"]) for e in thrust)


def test_recompressed_archive_gives_the_folders_fingerprint(fake_art, tiny_from_folder, tmp_path):
    """Another encoding of the same pixels (other zlib level, other colour under alpha 0), packed as
    GitHub packs the commit, prepares the same examples."""
    root, _ = fake_art
    copy = tmp_path / f"Universal-LPC-spritesheet-{lpc.COMMIT}"
    shutil.copytree(root, copy)
    for relative in lpc.layers_of(range(lpc.NUM_CHARACTERS)):
        path = copy / relative
        pixels = np.array(Image.open(path))
        pixels[pixels[..., 3] == 0, :3] = 17
        Image.fromarray(pixels).save(path, compress_level=1)
    manual = tmp_path / "manual"
    manual.mkdir()
    with tarfile.open(manual / lpc.ARCHIVE, "w:gz") as tar:
        tar.add(copy, arcname=copy.name)
    build("lpc_sprites", "tiny", str(manual), str(tmp_path / "data"))
    folder_builder = pipeline.load_builder("lpc_sprites", "tiny", tiny_from_folder[0])
    archive_builder = pipeline.load_builder("lpc_sprites", "tiny", str(tmp_path / "data"))
    assert fingerprint.stored(archive_builder) == fingerprint.stored(folder_builder)


@pytest.mark.parametrize("damage, message", [
    ("pixel", "shows other pixels than the art"),
    ("missing", "not found: the spritesheet is incomplete"),
    ("truncated", "is not a readable PNG"),
])
def test_bad_art_stops_in_one_line_naming_the_layer_and_the_commit(fake_art, tmp_path, damage, message):
    root = tmp_path / "art"
    shutil.copytree(fake_art[0], root)
    victim = root / "hair/male/ponytail/raven.png"
    if damage == "pixel":
        pixels = np.array(Image.open(victim))
        pixels[100, 100] = (1, 2, 3, 255)
        Image.fromarray(pixels).save(victim)
    elif damage == "missing":
        os.remove(victim)
    else:
        victim.write_bytes(victim.read_bytes()[:300])
    with pytest.raises(source_files.SourceDataError) as caught:
        build("lpc_sprites", "tiny", str(root), str(tmp_path / "data"))
    line = str(caught.value)
    assert "\n" not in line and message in line and str(victim) in line and lpc.COMMIT in line
    assert_not_prepared("lpc_sprites", "tiny", str(tmp_path / "data"))


def test_an_empty_manual_folder_names_the_archive_and_the_commit(fake_art, tmp_path):
    (tmp_path / "manual").mkdir()
    with pytest.raises(source_files.SourceDataError, match=f"expected {lpc.ARCHIVE}") as caught:
        build("lpc_sprites", "tiny", str(tmp_path / "manual"), str(tmp_path / "data"))
    assert lpc.ARCHIVE_URL in str(caught.value)
    assert_not_prepared("lpc_sprites", "tiny", str(tmp_path / "data"))


def test_a_failed_download_says_how_to_prepare_offline_in_one_line(fake_art, tmp_path, monkeypatch):
    from tensorflow_datasets.core.download import downloader

    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)
    monkeypatch.setattr(lpc, "ARCHIVE_URL", "http://127.0.0.1:9/nothing-listens-here.tar.gz")
    with pytest.raises(source_files.SourceDataError, match="could not download http://127.0.0.1:9/") as e:
        build("lpc_sprites", "tiny", None, str(tmp_path / "data"))
    assert "\n" not in str(e.value) and "--manual_dir" in str(e.value)
    assert_not_prepared("lpc_sprites", "tiny", str(tmp_path / "data"))


def test_table2_rows_give_the_mean_and_spread_of_the_seeds_and_ratios_to_add():
    def run(ours, add):
        return {"table2": {"ours": dict(zip(sprites_results.COLUMNS, ours)),
                           "add": dict(zip(sprites_results.COLUMNS, add)),
                           "copy": dict(zip(sprites_results.COLUMNS, add))}}

    add = (40, 50, 60, 70, 80, 60)
    runs = [run((4, 5, 6, 7, 8, 6), add), run((6, 5, 6, 7, 8, 6.4), add)]
    lines = sprites_results.table_markdown(runs).splitlines()
    assert ("| **Ours (this code)** | 5.0 ± 1.0 | 5.0 ± 0.0 | 6.0 ± 0.0 | 7.0 ± 0.0 | 8.0 ± 0.0 | 6.2 ± 0.2 |"
            in lines)
    assert "| Ours ÷ Add (this code) | 0.125 | 0.100 | 0.100 | 0.100 | 0.100 | 0.103 |" in lines
    assert "| Ours (paper) | 9.5 | 11.5 | 11.1 | 28.2 | 19.0 | 15.9 |" in lines
    unpublished = sprites_results.table_markdown(runs, published=False).splitlines()
    assert not any("paper" in line for line in unpublished if "this code" not in line)


def test_figures_of_a_model_on_lpc_test_pairs(tiny_run, tiny_from_folder, tmp_path):
    """The shared tiny (Shapes, 32 px) run drawn on the fake sprites: each figure's grid of 32 px tiles."""
    from visual_dynamics.predictor import Predictor

    predictor = Predictor.from_checkpoint(tiny_run[0])
    paths = sprites_results.write_figures(predictor, tiny_from_folder[1]["test"], str(tmp_path), n=4,
                                          num_samples=3)
    shapes = {os.path.basename(p): np.asarray(Image.open(p)).shape[:2] for p in paths}
    tile = 32 + 2  # a tile and its padding, upscaled 2x in the file
    assert shapes["fig6_samples.png"] == (2 * (4 * tile + 2), 2 * ((3 + 3 + 1) * tile + 2))
    assert shapes["fig15a_analogies.png"] == (2 * (4 * tile + 2), 2 * (5 * tile + 2))
    assert shapes["fig16_extrapolation.png"] == (2 * (4 * tile + 2), 2 * (8 * tile + 2))
    assert shapes["traversals.png"] == (2 * (4 * tile + 2), 2 * (8 * tile + 2))
    assert shapes["fig8_layers.png"][0] == 2 * (len(predictor.config.model.pyramid_scales) * tile + 2)


def test_evaluate_sprites_refuses_a_model_of_another_dataset(tiny_run):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "evaluate_sprites.py"),
                             f"--workdir={tiny_run[0]}", "--output_dir=/dev/null/unused"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"error: {tiny_run[0]} is a 'shapes' model, not a sprites one"


def test_a_truncated_archive_stops_in_one_line_naming_it(fake_art, tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    archive = manual / lpc.ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(fake_art[0], arcname=f"Universal-LPC-spritesheet-{lpc.COMMIT}")
    archive.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    with pytest.raises(pipeline.PREPARATION_ERRORS) as caught:
        build("lpc_sprites", "tiny", str(manual), str(tmp_path / "data"))
    line = str(caught.value)
    assert "\n" not in line and lpc.ARCHIVE in line, line
    assert_not_prepared("lpc_sprites", "tiny", str(tmp_path / "data"))
