"""Every real builder reads its release in every form users hold it: the archive under its own name, the
same content as another .zip / .tar / .tar.gz / .tgz, or the unpacked tree (the folder above it or the
tree itself), with the same examples in the same order, so the same fingerprint; the archive under its
own name is chosen beside an unpacked copy; several other candidates are refused in one line."""

import os
import shutil
import tarfile
import zipfile

import pytest

from visual_dynamics.data import pipeline, source_files

BUILDERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfds_builders")
# (dataset, config, the release's own archive, the fake release: a zip of it, or the folder it unpacks to)
RELEASES = {
    "exercise_pair_lists": ("exercise", "size_64", "exercise_dataset.zip",
                            "exercise/dummy_data/exercise_dataset.zip"),
    "exercise_pair_folders": ("exercise", "size_64", "exercise_dataset.zip",
                              "exercise/dummy_data/pair_folders/exercise_dataset.zip"),
    "exercise_sequences": ("exercise", "size_64", "exercise_dataset.zip",
                           "exercise/dummy_data/sequences/exercise_dataset.zip"),
    "sprites": ("sprites", "size_64", "nips2015-analogy-data.tar.gz", "sprites/dummy_data"),
    "penn_action": ("penn_action", "size_64", "Penn_Action.tar.gz", "penn_action/dummy_data"),
}
ROOTS = {"exercise": ("exercise_dataset",), "sprites": ("data", "sprites"), "penn_action": ("Penn_Action",)}


def unpack(release: str, folder: str) -> str:
    """Writes what the release's archive holds into `folder`; returns `folder`."""
    source = os.path.join(BUILDERS, RELEASES[release][3])
    if source.endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            archive.extractall(folder)
    else:
        shutil.copytree(source, folder, dirs_exist_ok=True)
    return folder


def pack(tree: str, path: str) -> str:
    """An archive at `path` (its kind from the name) of the entries of `tree`; returns `path`."""
    names = sorted(os.listdir(tree))
    if path.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            for folder, _, files in sorted(os.walk(tree)):
                for name in sorted(files):
                    path_in_tree = os.path.join(folder, name)
                    archive.write(path_in_tree, os.path.relpath(path_in_tree, tree))
    else:
        with tarfile.open(path, "w:gz" if path.endswith(("gz", ".tgz")) else "w") as archive:
            for name in names:
                archive.add(os.path.join(tree, name), name)
    return path


def tree_root(release: str, folder: str) -> str:
    """The unpacked tree's root inside `folder` (the folder itself when the archive has no top folder)."""
    inner = os.path.join(folder, *ROOTS[RELEASES[release][0]])
    return inner if os.path.isdir(inner) else folder


def own_archive(release: str, folder: str, work: str) -> str:
    """The release archive under its own name, in `folder`."""
    dataset, _, name, source = RELEASES[release]
    path = os.path.join(folder, name)
    if source.endswith(".zip"):
        shutil.copy(os.path.join(BUILDERS, source), path)
        return path
    return pack(unpack(release, os.path.join(work, "tree_to_pack")), path)


def prepare(release: str, manual_dir: str, data_dir: str) -> str:
    """The fingerprint of the release prepared from `manual_dir`; nothing extracted when it is a tree."""
    dataset, config = RELEASES[release][:2]
    builder = pipeline.load_builder(dataset, config, data_dir)
    return pipeline.prepare(builder, manual_dir)


def _forms(release: str, tmp_path) -> dict:
    """{form: the --manual_dir that holds the release in that form}."""
    forms = {}

    def folder(name: str) -> str:
        path = str(tmp_path / name)
        os.makedirs(path)
        return path

    tree = unpack(release, str(tmp_path / "tree"))
    for suffix in (".zip", ".tar", ".tar.gz", ".tgz"):
        forms[f"another{suffix}"] = folder(suffix[1:])
        pack(tree, os.path.join(forms[f"another{suffix}"], f"copy{suffix}"))
    forms["unpacked, the folder above"] = os.path.dirname(unpack(release, os.path.join(folder("above"), "x")))
    forms["unpacked, the tree itself"] = tree_root(release, unpack(release, str(tmp_path / "itself")))
    beside = unpack(release, folder("beside"))  # the usual case: a partial extraction next to the archive
    os.remove(next(os.path.join(f, n) for f, _, names in sorted(os.walk(beside)) for n in sorted(names)))
    own_archive(release, beside, str(tmp_path))
    forms["own archive beside a partial unpacked copy"] = beside
    return forms


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_every_form_gives_the_examples_of_the_release_archive(release, tmp_path):
    expected = prepare(release, os.path.dirname(own_archive(release, str(tmp_path), str(tmp_path / "w"))),
                       str(tmp_path / "out_own"))
    for index, (form, manual_dir) in enumerate(_forms(release, tmp_path / "forms").items()):
        data_dir = str(tmp_path / f"out{index}")
        assert prepare(release, manual_dir, data_dir) == expected, form
        if form.startswith("unpacked"):  # read in place: nothing extracted or copied
            extracted = os.path.join(data_dir, "downloads", "extracted")
            assert not os.path.isdir(extracted) or not os.listdir(extracted), form


@pytest.mark.parametrize("release", ["exercise_pair_lists", "penn_action"])
def test_several_candidates_are_refused_in_one_line_and_manual_dir_picks_one(release, tmp_path):
    tree = unpack(release, str(tmp_path / "tree"))
    two = str(tmp_path / "two_archives")
    os.makedirs(two)
    pack(tree, os.path.join(two, "mirror.tar.gz"))
    pack(tree, os.path.join(two, "repacked.zip"))
    with pytest.raises(source_files.SourceDataError) as refused:
        prepare(release, two, str(tmp_path / "a"))
    message = str(refused.value)
    assert "\n" not in message and "mirror.tar.gz, repacked.zip" in message
    assert f"pick one with --manual_dir={two}/NAME" in message
    refused_builder = pipeline.load_builder(*RELEASES[release][:2], str(tmp_path / "a"))
    assert not os.path.exists(refused_builder.data_dir)  # nothing written

    beside_tree = unpack(release, str(tmp_path / "archive_and_tree"))
    pack(tree, os.path.join(beside_tree, "mirror.tgz"))
    with pytest.raises(source_files.SourceDataError, match=r"candidates .*: mirror\.tgz, .*/; pick one"):
        prepare(release, beside_tree, str(tmp_path / "b"))

    expected = prepare(release, os.path.dirname(own_archive(release, str(tmp_path), str(tmp_path / "w"))),
                       str(tmp_path / "c"))
    assert prepare(release, os.path.join(two, "mirror.tar.gz"), str(tmp_path / "d")) == expected
    assert prepare(release, tree_root(release, tree), str(tmp_path / "e")) == expected
