"""The sprites, penn_action and exercise builders on fake releases laid out as the real ones.

The fake releases (tests/dummy_releases.py) know the frames they wrote, so every pair is checked
against the truth: the right frames, consecutive, in the right split, cropped where they should be.
"""

import dataclasses
import os
import shutil
import zipfile

import cv2
import numpy as np
import pytest
import scipy.io

import dummy_releases
from visual_dynamics import preprocessing
from visual_dynamics.data import frames, penn_action, pipeline, source_files, sprites, stabilization, videos


def build(dataset: str, config, manual_dir: str, data_dir: str) -> dict:
    """Prepares `dataset` with `config` (name or BuilderConfig) -> {split: [examples]}."""
    builder = pipeline.load_builder(dataset, config, data_dir)
    pipeline.prepare(builder, manual_dir)
    return {split: [source[i] for i in range(len(source))]
            for split in builder.info.splits
            for source in [builder.as_data_source(split=split)]}


def assert_not_prepared(dataset: str, config, data_dir: str) -> None:
    """After a failed build nothing loads as a dataset: not prepared, no version folder."""
    builder = pipeline.load_builder(dataset, config, data_dir)
    assert not builder.is_prepared()
    assert not os.path.exists(builder.data_dir)


# --- Sprites --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sprites_release(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("sprites_release"))
    return root, dummy_releases.write_sprites(root)


def test_sprites_mat_read_back_exactly(sprites_release):
    root, truth = sprites_release
    animations = sprites.read_animations(os.path.join(root, "data", "sprites", "sprites_3.mat"))
    assert len(animations) == 20
    for a, clip in enumerate(animations):
        np.testing.assert_array_equal(clip, truth[(3, a)])  # rows, columns and colours in place


def test_sprites_pairs_split_by_character(sprites_release, tmp_path):
    root, truth = sprites_release
    data = build("sprites", "size_64", root, str(tmp_path))
    pairs_per_character = sum(len(truth[(0, a)]) - 1 for a in range(20))
    for split, field in sprites.SPLIT_FIELDS.items():
        characters = {i - 1 for i in dummy_releases.SPRITES_SPLITS[field]}
        assert len(data[split]) == pairs_per_character * len(characters)
        assert {int(e["character"]) for e in data[split]} == characters
    for e in data["train"] + data["test"]:
        c, t = int(e["character"]), int(e["frame"])
        a = 4 * int(e["action"]) + int(e["viewpoint"])
        np.testing.assert_array_equal(e["image"], preprocessing.resize_image(truth[(c, a)][t], 64))
        np.testing.assert_array_equal(e["next_image"], preprocessing.resize_image(truth[(c, a)][t + 1], 64))


def test_sprites_paper_config_keeps_the_hurt_animation_and_the_paper_split(sprites_release, tmp_path):
    root, truth = sprites_release
    data = build("sprites", "paper", root, str(tmp_path))
    assert set(data) == {"train", "test"}
    reed = {field: [i - 1 for i in ids] for field, ids in dummy_releases.SPRITES_SPLITS.items()}
    test = reed["testidx"][:20]  # the fake release lists 2 test characters, fewer than 20: both
    expected = {"train": set(reed["trainidx"] + reed["validx"] + reed["testidx"][20:]), "test": set(test)}
    pairs_per_character = sum(len(truth[(0, a)]) - 1 for a in range(21))
    for split, characters in expected.items():
        assert {int(e["character"]) for e in data[split]} == characters
        assert len(data[split]) == pairs_per_character * len(characters)
    hurt = [e for e in data["train"] if int(e["action"]) == sprites.HURT]
    assert hurt and all(int(e["viewpoint"]) == -1 for e in hurt)
    for e in hurt:
        clip = truth[(int(e["character"]), 20)]
        expected = preprocessing.resize_image(clip[int(e["frame"]) + 1], 64)
        np.testing.assert_array_equal(e["next_image"], expected)


def test_paper_split_of_a_release_of_672_characters():
    reed = {"train": np.arange(500), "validation": np.arange(500, 572), "test": np.arange(572, 672)}
    split = sprites.paper_splits(reed)
    assert len(split["train"]) == 652 and list(split["test"]) == list(range(572, 592))
    assert len(set(split["train"]) | set(split["test"])) == 672
    assert 157 * 652 == 102_364 and 157 * 20 == 3_140  # the paper's pair counts, 157 a character


def test_sprites_bad_files(sprites_release, tmp_path):
    root, _ = sprites_release
    broken = str(tmp_path / "broken")
    shutil.copytree(root, broken)
    victim = os.path.join(broken, "data", "sprites", "sprites_1.mat")
    with open(victim, "r+b") as f:
        f.truncate(4000)
    with pytest.raises(source_files.SourceDataError, match="sprites_1.mat"):
        build("sprites", "size_64", broken, str(tmp_path / "out"))
    assert_not_prepared("sprites", "size_64", str(tmp_path / "out"))

    dummy_releases._write_mat73(victim, {"masks": [np.zeros((3600, 2))]}, {})
    with pytest.raises(source_files.SourceDataError, match="sprites_1.mat has no 'sprites' field"):
        sprites.read_animations(victim)
    os.remove(os.path.join(broken, "data", "sprites", "sprites_splits.mat"))
    with pytest.raises(source_files.SourceDataError, match="sprites_splits.mat not found"):
        sprites.read_splits(os.path.join(broken, "data", "sprites"))


# --- Penn Action ----------------------------------------------------------------------------------

def test_smoothing_keeps_constant_velocity_and_pads_missing_rows():
    t = np.arange(9)[:, None]
    linear = np.concatenate([10 + 3 * t, 5 - t, 40 + 3 * t, 60 - t], axis=1).astype(float)
    np.testing.assert_allclose(penn_action.smooth_boxes(linear, 9, radius=4), linear)
    padded = penn_action.smooth_boxes(linear[:5], 9, radius=0)
    np.testing.assert_array_equal(padded[5:], np.repeat(linear[4:5], 4, axis=0))
    rng = np.random.default_rng(0)
    noisy = linear + rng.normal(0, 2, linear.shape)
    error = np.abs(penn_action.smooth_boxes(noisy, 9, radius=4) - linear)[2:-2].mean()
    assert error < np.abs(noisy - linear)[2:-2].mean() / 1.5


def red_mask(image: np.ndarray) -> np.ndarray:
    return (image[..., 0] > 180) & (image[..., 1] < 90) & (image[..., 2] < 90)


@pytest.fixture(scope="module")
def penn_release(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("penn_release"))
    dummy_releases.write_penn_action(root)
    return root


def test_penn_action_pairs_centre_the_person(penn_release, tmp_path):
    size, margin = 64, 1.2
    data = build("penn_action", "size_64", penn_release, str(tmp_path))
    expected = {"train": 0, "test": 0}
    for video, (nframes, _, train, _) in dummy_releases.PENN_VIDEOS.items():
        expected["train" if train == 1 else "test"] += nframes - 1
    assert {split: len(e) for split, e in data.items()} == expected
    train_videos = {int(e["video"]) for e in data["train"]}
    assert train_videos.isdisjoint(int(e["video"]) for e in data["test"])

    side = margin * max(dummy_releases.PENN_BOX)  # the crop side in frame pixels
    scale = size / side
    checked = 0
    for e in data["train"] + data["test"]:
        video, t = f"{int(e['video']):04d}", int(e["frame"])
        nframes, rows, _, action = dummy_releases.PENN_VIDEOS[video]
        assert penn_action.ACTIONS[int(e["action"])] == action
        known = nframes if video in dummy_releases.PENN_JOINT_VIDEOS else rows  # true boxes, from either
        r = min(4, t, nframes - 1 - t)
        if t + r >= known:  # the smoothing window reaches padded (repeated) boxes: not centred
            continue
        ys, xs = np.nonzero(red_mask(e["image"]))
        # The person's box is centred, and spans box / (margin * longer side) of the crop.
        assert abs(xs.mean() - (size - 1) / 2) < 1.0 and abs(ys.mean() - (size - 1) / 2) < 1.0
        assert abs(np.ptp(xs) + 1 - dummy_releases.PENN_BOX[0] * scale) <= 3  # JPEG-soft edges
        assert abs(np.ptp(ys) + 1 - dummy_releases.PENN_BOX[1] * scale) <= 3
        # The next frame, cropped with the same box, shows the person 3 frame pixels further right.
        next_xs = np.nonzero(red_mask(e["next_image"]))[1]
        assert abs(next_xs.mean() - xs.mean() - 3 * scale) < 1.0
        checked += 1
    assert checked >= 12
    # The videos whose boxes come from the joints (all of 0005, 3 of 5 frames of 0006) are centred too.
    assert {int(e["video"]) for e in data["train"] + data["test"]} >= {5, 6}


def test_penn_action_boxes_from_joints_and_nearest_frames():
    box = np.array([10.0, 20.0, 30.0, 60.0])
    joints = np.full((4, 13, 2), np.nan)
    x, y, _ = dummy_releases.penn_joints("0005", 1)
    joints[2] = np.stack([x[0], y[0]], -1)  # frame 2: joints only
    boxes = penn_action.frame_boxes(np.stack([box, box + 1]), joints)  # frames 0, 1: bbox rows
    np.testing.assert_allclose(boxes[:2], [box, box + 1])
    np.testing.assert_allclose(boxes[2], dummy_releases.penn_box("0005", 0))  # padded joint box
    np.testing.assert_allclose(boxes[3], boxes[2])  # neither: the nearest frame's box
    assert penn_action.frame_boxes(np.zeros((0, 4)), np.full((3, 13, 2), np.nan)) is None


def test_penn_action_video_without_boxes_or_joints_is_skipped_and_listed(penn_release, tmp_path, capsys):
    broken = str(tmp_path / "broken")
    shutil.copytree(penn_release, broken)
    path = os.path.join(broken, "Penn_Action", "labels", "0003.mat")
    scipy.io.savemat(path, {"action": "pullup", "nframes": 4, "train": -1})  # no bbox, no joints
    data = build("penn_action", "size_64", broken, str(tmp_path / "out"))
    tested = {int(e["video"]) for e in data["test"]}
    assert 3 not in tested and {4, 6} <= tested
    out = capsys.readouterr().out
    assert "skipped 1 of 3 test records: 0003 (neither bbox rows nor visible joints)" in out


def test_penn_action_from_the_archive_and_bad_archives(penn_release, tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    archive = str(manual / "Penn_Action.tar.gz")
    dummy_releases.write_penn_action_archive(archive, penn_release)
    data = build("penn_action", "size_64", str(manual), str(tmp_path / "a"))
    assert len(data["train"]) + len(data["test"]) == sum(
        n - 1 for n, *_ in dummy_releases.PENN_VIDEOS.values())

    with open(archive, "r+b") as f:
        f.truncate(os.path.getsize(archive) // 2)
    with pytest.raises(pipeline.ExtractError, match="Error while extracting .*Penn_Action.tar.gz"):
        build("penn_action", "size_64", str(manual), str(tmp_path / "b"))
    assert_not_prepared("penn_action", "size_64", str(tmp_path / "b"))

    os.remove(archive)
    with pytest.raises(source_files.SourceDataError,
                       match="Penn Action .* not found in .*: expected Penn_Action.tar.gz"):
        build("penn_action", "size_64", str(manual / ".."), str(tmp_path / "c"))


# --- Exercise: the release zip --------------------------------------------------------------------

def _as_stored(image: np.ndarray, size: int = 64) -> np.ndarray:
    return preprocessing.resize_image(frames.centre_square(image), size)


def test_exercise_release_sequences(tmp_path):
    archive = str(tmp_path / "exercise_dataset.zip")
    truth = dummy_releases.write_exercise_zip(archive, "sequences")
    data = build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    for split, sequences in dummy_releases.EXERCISE_SEQUENCES.items():
        assert len(data[split]) == sum(n - 1 for n in sequences.values())
        assert {e["video"].decode() for e in data[split]} == set(sequences)
    for e in data["train"] + data["test"]:
        clip, t = truth[e["video"].decode()], int(e["frame"])  # frame 10.png follows 9.png, not 1.png
        np.testing.assert_array_equal(e["image"], _as_stored(clip[t]))
        np.testing.assert_array_equal(e["next_image"], _as_stored(clip[t + 1]))


@pytest.mark.parametrize("layout,top", [("pair_lists", "exercise_dataset/"), ("pair_lists", ""),
                                        ("pair_folders", "exercise_dataset/"), ("pair_folders", "")])
def test_exercise_release_pairs(tmp_path, layout, top):
    """Each listed prefix gives the pair (<prefix>_im1.png, <prefix>_im2.png), in that order, in its split
    (val.txt / val/: the validation split); `video` names the files below the top folder."""
    truth = dummy_releases.write_exercise_zip(str(tmp_path / "exercise_dataset.zip"), layout, top=top)
    data = build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    names = {"train": "train", "test": "test", "validation": "val"}
    assert set(data) == set(names)
    for split, examples in data.items():
        listed = dummy_releases.EXERCISE_PAIRS[names[split]]
        videos = [e["video"].decode() for e in examples]
        assert sorted(videos) == sorted(listed)
        if layout == "pair_lists":  # the list's order is the frame index
            assert sorted(int(e["frame"]) for e in examples) == list(range(len(listed)))
            assert all(listed[int(e["frame"])] == e["video"].decode() for e in examples)
        for e in examples:
            image, next_image = truth[e["video"].decode()]
            np.testing.assert_array_equal(e["image"], _as_stored(image))
            np.testing.assert_array_equal(e["next_image"], _as_stored(next_image))


def test_exercise_lists_with_paths_of_the_authors_machine(tmp_path):
    pairs = {split: [f"/data/vision/billf/exercise/{p}" for p in prefixes]
             for split, prefixes in dummy_releases.EXERCISE_PAIRS.items()}
    archive = str(tmp_path / "exercise_dataset.zip")
    with zipfile.ZipFile(archive, "w") as z:  # lists of absolute paths, images under the top folder
        truth = dummy_releases.write_exercise_zip(str(tmp_path / "images.zip"), "pair_folders")
        with zipfile.ZipFile(str(tmp_path / "images.zip")) as images:
            for name in images.namelist():
                z.writestr(name, images.read(name))
        for split, prefixes in pairs.items():
            z.writestr(f"exercise_dataset/{split}.txt", "\n".join(prefixes) + "\n")
    os.remove(tmp_path / "images.zip")
    data = build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    assert sum(len(v) for v in data.values()) == len(truth)
    for e in data["test"]:
        image, _ = truth[e["video"].decode()]  # named by its files, below the top folder
        np.testing.assert_array_equal(e["image"], _as_stored(image))


_many_pairs = dummy_releases.many_exercise_pairs


def test_exercise_a_listed_pair_without_images_is_skipped_and_reported(tmp_path, capsys):
    pairs = _many_pairs(120)
    dummy_releases.write_exercise_zip(str(tmp_path / "exercise_dataset.zip"), "pair_lists", pairs=pairs,
                                      unlisted_images=("test/c0007",))
    data = build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    assert len(data["train"]) == 120 and len(data["test"]) == 119
    assert "test/c0007" not in {e["video"].decode() for e in data["test"]}
    out = capsys.readouterr().out
    assert "skipped 1 of 120 test records: test/c0007 (missing image)" in out


def test_exercise_an_undecodable_image_is_skipped_and_reported(tmp_path, capsys):
    dummy_releases.write_damaged_exercise_zip(str(tmp_path / "exercise_dataset.zip"), _many_pairs(110),
                                              lambda name: name == "exercise_dataset/train/c0042_im2.png")
    data = build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    assert len(data["train"]) == 109 and len(data["test"]) == 110
    assert "skipped 1 of 110 train records: train/c0042" in capsys.readouterr().out


def test_a_damaged_archive_is_reported_in_one_short_line(tmp_path):
    """Many undecodable images: the error names the count, the first three and one reason each."""
    dummy_releases.write_damaged_exercise_zip(str(tmp_path / "exercise_dataset.zip"), _many_pairs(50),
                                              lambda name: "/train/" in name)
    with pytest.raises(source_files.SourceDataError) as error:
        build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    message = str(error.value)
    assert "skipped 50 of 50 train records" in message and "(47 more)" in message
    assert "\n" not in message and len(message) < 400, message


def test_exercise_more_than_one_percent_missing_is_a_damaged_archive(tmp_path):
    dummy_releases.write_exercise_zip(str(tmp_path / "exercise_dataset.zip"), "pair_lists",
                                      pairs=_many_pairs(50),
                                      unlisted_images=("train/c0001",))
    with pytest.raises(source_files.SourceDataError, match="1 of the 50 train pairs lack an image.*damaged"):
        build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    assert_not_prepared("exercise", "size_64", str(tmp_path / "out"))


def test_exercise_release_unknown_layout_and_corrupt_zip(tmp_path):
    archive = str(tmp_path / "exercise_dataset.zip")
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pairs/00001_a.png", b"x")
        z.writestr("pairs/00001_b.png", b"x")
    with pytest.raises(source_files.SourceDataError, match="not laid out as expected.*pairs/00001_a.png"):
        build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    assert_not_prepared("exercise", "size_64", str(tmp_path / "out"))

    dummy_releases.write_exercise_zip(archive, "pair_lists")
    with open(archive, "r+b") as f:
        f.truncate(os.path.getsize(archive) - 300)  # loses the zip's central directory
    with pytest.raises(source_files.SourceDataError, match="exercise_dataset.zip is not a readable zip"):
        build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    assert_not_prepared("exercise", "size_64", str(tmp_path / "out"))


def test_exercise_jpeg_pairs_nested_one_folder_per_video_with_a_val_split(tmp_path):
    """Pair names with another extension (any case), one folder per video, are pairs, never frames of a
    sequence (which would pair frames of two pairs); val/ is the validation split."""
    layout = {"train": {"vid1": ["a", "b"], "vid2": ["c"]}, "test": {"vid3": ["d", "e"]},
              "val": {"vid4": ["f"]}}
    truth = {}
    with zipfile.ZipFile(tmp_path / "exercise_dataset.zip", "w") as z:
        for split, clips in layout.items():
            for clip, names in clips.items():
                for name in names:
                    prefix = f"{split}/{clip}/{name}"
                    pair = [dummy_releases.exercise_frame(prefix, t, 96)[:, :96] for t in (0, 1)]
                    encoded = [dummy_releases.encode(image, "JPEG") for image in pair]
                    truth[prefix] = [frames.decode_image(data, prefix) for data in encoded]
                    z.writestr(f"exercise/{prefix}_im1.jpg", encoded[0])
                    z.writestr(f"exercise/{prefix}_IM2.JPG", encoded[1])
    data = build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    counts = {split: len(examples) for split, examples in data.items()}
    assert counts == {"train": 3, "test": 2, "validation": 1}
    for e in data["train"] + data["test"] + data["validation"]:
        image, next_image = truth[e["video"].decode()]
        np.testing.assert_array_equal(e["image"], _as_stored(image))
        np.testing.assert_array_equal(e["next_image"], _as_stored(next_image))


def test_exercise_sequences_with_a_val_folder(tmp_path):
    with zipfile.ZipFile(tmp_path / "exercise_dataset.zip", "w") as z:
        for split, count in (("train", 4), ("test", 3), ("val", 3)):
            for t in range(count):
                z.writestr(f"{split}/seq_{split}/{t + 1}.png", dummy_releases.encode(
                    dummy_releases.exercise_frame(split, t)))
    data = build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    counts = {split: len(examples) for split, examples in data.items()}
    assert counts == {"train": 3, "test": 2, "validation": 2}
    assert {e["video"].decode() for e in data["validation"]} == {"seq_val"}


@pytest.mark.parametrize("extra", ["train/seq_x/1.png", "train.txt"])
def test_exercise_release_that_fits_two_layouts_stops_with_what_it_holds(tmp_path, extra):
    """Pair files beside sequence frames, or split lists beside sequence frames: nothing is guessed."""
    archive = str(tmp_path / "exercise_dataset.zip")
    dummy_releases.write_exercise_zip(archive, "pair_folders" if extra.endswith(".png") else "sequences",
                                      top="")
    content = dummy_releases.encode(dummy_releases.exercise_frame("x", 0)) if extra.endswith(".png") \
        else "train/seq_a/1\n"
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr(extra, content)
        z.writestr(extra.replace("train", "test").replace("seq_x/1", "seq_y/1"), z.read(extra))
    with pytest.raises(source_files.SourceDataError, match=r"two layouts \(.+ and sequences\).*It holds"):
        build("exercise", "size_64", str(tmp_path), str(tmp_path / "out"))
    assert_not_prepared("exercise", "size_64", str(tmp_path / "out"))


# --- Exercise: the user's own videos --------------------------------------------------------------

def global_shift(image: np.ndarray, other: np.ndarray) -> float:
    """|(dx, dy)| between two RGB frames by phase correlation, in pixels."""
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in (image, other)]
    (dx, dy), _ = cv2.phaseCorrelate(*gray)
    return float(np.hypot(dx, dy))


def test_stabilisation_removes_camera_shake():
    clip, offsets = dummy_releases.shaky_video_frames(seed=1, count=12, shake=6.0)
    shake = np.hypot(*np.diff(offsets, axis=0).T)
    measured = [global_shift(clip[t], clip[t + 1]) for t in range(11)]
    residual = [global_shift(clip[t], stabilization.align(clip[t], clip[t + 1])) for t in range(11)]
    np.testing.assert_allclose(measured, shake, atol=0.5)  # the instrument sees the shake
    assert np.mean(shake) > 3.0
    assert max(residual) < 0.4 and np.mean(residual) < 0.15


def video_config(**fields):
    from tfds_builders.exercise import exercise_dataset_builder as module
    return dataclasses.replace(module.Builder.builder_configs["videos_64"], name="videos_test",
                               **fields)


def test_own_videos_pairs_are_stabilised_and_split_by_video(tmp_path):
    folder = str(tmp_path / "videos")
    truth = dummy_releases.write_videos(folder)
    data = build("exercise", video_config(pair_every=1), folder, str(tmp_path / "out"))
    names = videos.split_videos(sorted(truth), 0.1, seed=0)
    for split in ("train", "test"):
        assert len(data[split]) == sum(len(truth[n][0]) - 1 for n in names[split])
        assert {e["video"].decode() for e in data[split]} == set(names[split])
    for e in data["train"] + data["test"]:
        clip, offsets = truth[e["video"].decode()]
        t = int(e["frame"])
        shake = np.hypot(*(offsets[t + 1] - offsets[t])) * 64 / clip.shape[1]  # in output pixels
        assert global_shift(e["image"], e["next_image"]) < max(0.35, shake / 4)
        assert closest_frame(e["image"], clip) == t  # frame t of the (MJPEG-compressed) video


def closest_frame(image: np.ndarray, clip: np.ndarray) -> int:
    """The index of the frame of `clip` that, cropped and resized like `image`, is nearest to it."""
    size = image.shape[0]
    errors = [np.abs(image - preprocessing.resize_image(frames.centre_square(f), size).astype(float)).mean()
              for f in clip]
    return int(np.argmin(errors))


def test_frame_gap_and_pair_every(tmp_path):
    folder = str(tmp_path / "videos")
    truth = dummy_releases.write_videos(folder)
    data = build("exercise", video_config(pair_every=3, frame_gap=2, stabilize=False), folder,
                 str(tmp_path / "out"))
    for e in data["train"] + data["test"]:
        clip = truth[e["video"].decode()][0]
        t = int(e["frame"])
        assert t % 3 == 0 and t + 2 < len(clip)
        assert closest_frame(e["image"], clip) == t and closest_frame(e["next_image"], clip) == t + 2
    assert len(data["train"]) + len(data["test"]) == sum(
        len(range(0, len(c) - 2, 3)) for c, _ in truth.values())


def test_unreadable_and_missing_videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a video")
    with pytest.raises(source_files.SourceDataError, match="no video files .* notes.txt"):
        build("exercise", "videos_64", str(folder), str(tmp_path / "out"))
    dummy_releases.write_videos(str(folder))
    (folder / "gym_b.avi").write_bytes(b"not a video at all" * 100)
    with pytest.raises(source_files.SourceDataError, match="gym_b.avi"):
        build("exercise", "videos_64", str(folder), str(tmp_path / "out"))
    assert_not_prepared("exercise", "videos_64", str(tmp_path / "out"))
    with pytest.raises(source_files.SourceDataError, match="at least 2"):
        videos.split_videos(["one.mp4"], 0.1, seed=0)


def test_video_split_by_fraction():
    names = [f"v{i:02d}.mp4" for i in range(20)]
    split = videos.split_videos(names, 0.1, seed=0)
    assert len(split["test"]) == 2
    assert sorted(split["train"] + split["test"]) == names
    assert len(videos.split_videos(names[:3], 0.1, seed=0)["test"]) == 1  # at least one test video


def test_own_videos_prepared_with_flags_then_trained_with_a_test_split_smaller_than_a_batch(tmp_path):
    """prepare_data.py's --frame_gap/--pair_every/--test_fraction/--image_size make a config named by
    its values (two preparations never overwrite each other); training on a test split of fewer pairs
    than the batch evaluates it as one partial batch."""
    import subprocess
    import sys

    from conftest import ROOT
    from tfds_builders.exercise import exercise_dataset_builder as module

    folder, data_dir = str(tmp_path / "videos"), str(tmp_path / "tfds")
    dummy_releases.write_videos(folder)

    def run(script, *args):
        return subprocess.run([sys.executable, os.path.join(ROOT, "experiments", script), *args],
                              capture_output=True, text=True, timeout=600)

    for gap, every in ((1, 1), (2, 3)):
        done = run("prepare_data.py", "--dataset=exercise", f"--manual_dir={folder}",
                   f"--data_dir={data_dir}",
                   f"--frame_gap={gap}", f"--pair_every={every}", "--test_fraction=0.34", "--image_size=64")
        assert done.returncode == 0, done.stderr
    names = sorted(n for n in os.listdir(os.path.join(data_dir, "exercise")) if n.startswith("videos_"))
    assert names == ["videos_64_every1_test34pct", "videos_64_gap2_every3_test34pct"]
    config = module.config_from_name(names[1])
    assert (config.frame_gap, config.pair_every, config.test_fraction, config.image_size) == (2, 3, 0.34, 64)
    builder = pipeline.load_builder("exercise", names[1], data_dir)
    assert builder.is_prepared()
    assert "frame_gap=2, pair_every=3, test_fraction=0.34" in builder.info.config_description
    test_pairs = builder.info.splits["test"].num_examples
    assert 0 < test_pairs < 16
    assert f"--config.builder_config={names[1]}" in done.stdout

    done = run("train.py", "--dataset=exercise:tiny", f"--workdir={tmp_path / 'run'}",
               f"--config.builder_config={names[1]}", f"--config.data_dir={data_dir}",
               "--config.num_train_steps=2", "--config.z_bank_size=20")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done at step 2: test recon" in done.stdout

    done = run("prepare_data.py", "--dataset=shapes", "--frame_gap=2")
    assert done.returncode != 0 and "apply to --dataset=exercise from your own videos" in done.stderr


def test_evaluation_and_z_bank_take_a_last_partial_batch(tiny_run, data_dir):
    from visual_dynamics import checkpointing, losses
    from visual_dynamics.inference import Inference, evaluate_reconstruction
    from visual_dynamics.z_bank import compute_z_bank

    workdir, _ = tiny_run
    config, variables, _ = checkpointing.restore_variables(workdir)
    source = pipeline.load_builder("shapes", "tiny", data_dir).as_data_source(split="test")
    batches = pipeline.eval_batches(source, 16, 2)
    assert [len(b["image"]) for b in batches] == [16, 16]
    short_source = [source[i] for i in range(21)]
    partial = pipeline.eval_batches(short_source, 16, 4)
    assert [len(b["image"]) for b in partial] == [16, 5]
    inference = Inference(config)
    together = pipeline.eval_batches(short_source, 21, 1)[0]  # the same 21 pairs in one batch
    _, _, target = preprocessing.model_inputs(together, config)
    z_mean, _ = inference.encode(variables, together["image"], together["next_image"])
    v_hat = inference.decode(variables, together["image"], z_mean)
    expected = losses.reconstruction_error(target, v_hat, "l2")
    result = evaluate_reconstruction(inference, variables, partial)
    np.testing.assert_allclose(result["recon"], float(np.mean(expected)), rtol=1e-4)
    bank = compute_z_bank(inference, variables, partial, 21, step=0)
    np.testing.assert_allclose(bank.z_mean, z_mean, rtol=1e-4, atol=1e-5)
