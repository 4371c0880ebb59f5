"""Dataset preparation speed: pairs/s of the Exercise and own-videos readers, one process vs Beam.

  python benchmarks/prepare.py                                  # 2,200 Exercise pairs, 2,000 video pairs
  python benchmarks/prepare.py --exercise_pairs=500 --videos=2 --frames=100   # a quick run

Generates, in a temporary folder, an Exercise release laid out as pair lists (128 px PNGs, the
layout (a) of docs/datasets.md) and a folder of shaky videos (MJPEG, 640x360, a pair every frame, so the
stabilisation runs on every pair); prepares each with `pipeline.prepare` in this process and on Beam's
DirectRunner with 2 worker processes, in the same run; then times each step of the readers alone on
the same files, to show which one bounds the rate.
"""

import argparse
import os
import sys
import tempfile
import time

import cv2
import numpy as np

from common import print_table

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import dummy_releases  # noqa: E402  (the fake releases of the tests, at larger sizes)

from visual_dynamics import preprocessing  # noqa: E402
from visual_dynamics.data import exercise, frames, pipeline, stabilization, videos  # noqa: E402

BEAM_OPTIONS = "direct_num_workers=2,direct_running_mode=multi_processing"
VIDEO_SIZE = (360, 640)


def prepare_seconds(dataset: str, config: str, manual_dir: str, data_dir: str, beam: str = None):
    """(seconds, examples) of one preparation into a new data dir."""
    builder = pipeline.load_builder(dataset, config, data_dir)
    start = time.perf_counter()
    pipeline.prepare(builder, manual_dir, beam)
    seconds = time.perf_counter() - start
    return seconds, sum(split.num_examples for split in builder.info.splits.values())


def exercise_steps(path: str, image_size: int) -> dict:
    """Seconds per pair of each step of the Exercise reader, over every pair of the archive."""
    with exercise.open_archive(path) as archive:
        pairs = [p for split in exercise.read_layout(archive).values() for p in split]
        members = [m for p in pairs for m in (p.image, p.next_image)]
        start = time.perf_counter()
        data = [archive.read(m) for m in members]
        read = time.perf_counter() - start
    start = time.perf_counter()
    images = [frames.decode_image(d, "") for d in data]
    decode = time.perf_counter() - start
    start = time.perf_counter()
    for image in images:
        preprocessing.resize_image(frames.centre_square(image), image_size)
    resize = time.perf_counter() - start
    return {"read from the zip": read / len(pairs), "PNG decode": decode / len(pairs),
            "crop and resize": resize / len(pairs)}


def video_steps(folder: str, names: list[str], image_size: int) -> dict:
    """Seconds per pair (a pair every frame) of each step of the own-videos reader."""
    decode = stabilize = resize = 0.0
    count = 0
    for name in names:
        start = time.perf_counter()
        clip = list(videos.read_frames(os.path.join(folder, name)))
        decode += time.perf_counter() - start
        for image, next_image in zip(clip, clip[1:]):
            start = time.perf_counter()
            aligned = stabilization.align(image, next_image)
            stabilize += time.perf_counter() - start
            start = time.perf_counter()
            for frame in (image, aligned):
                preprocessing.resize_image(frames.centre_square(frame), image_size)
            resize += time.perf_counter() - start
            count += 1
    return {"video decode": decode / count, "stabilisation": stabilize / count,
            "crop and resize": resize / count}


def penn_action_frame_seconds(count: int = 100) -> float:
    """Seconds to decode one 640x480 JPEG (Penn Action's frame size) and crop and resize it to 128 px."""
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3)).astype(np.uint8), (0, 0), 2.0)
    data = cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    start = time.perf_counter()
    for _ in range(count):
        frame = frames.decode_image(data, "")
        preprocessing.resize_image(frames.square_crop(frame, (320, 240), 200), 128)
    return (time.perf_counter() - start) / count


def write_videos(folder: str, count: int, length: int) -> None:
    os.makedirs(folder)
    for seed in range(count):
        clip, _ = dummy_releases.shaky_video_frames(seed, length, size=VIDEO_SIZE)
        dummy_releases.write_video(os.path.join(folder, f"clip_{seed:02d}.avi"), clip)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise_pairs", type=int, default=1000, help="Pairs per split (train, test).")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=251, help="Frames per video (pairs: frames - 1).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        release = os.path.join(root, "exercise")
        os.makedirs(release)
        archive = os.path.join(release, exercise.ARCHIVE)
        pairs = dummy_releases.many_exercise_pairs(args.exercise_pairs)
        dummy_releases.write_exercise_zip(archive, "pair_lists", pairs=pairs)
        video_folder = os.path.join(root, "videos")
        write_videos(video_folder, args.videos, args.frames)

        cases = [("Exercise release, pair lists, 128 px", "exercise", "size_128", release),
                 ("own videos 640x360, stabilised, a pair every frame", "exercise", "videos_128_every1",
                  video_folder)]
        rows, steps = [], {}
        for label, dataset, config, manual_dir in cases:
            plain, n = prepare_seconds(dataset, config, manual_dir, os.path.join(root, f"{config}_plain"))
            beam, n_beam = prepare_seconds(dataset, config, manual_dir, os.path.join(root, f"{config}_beam"),
                                           BEAM_OPTIONS)
            assert n == n_beam, (n, n_beam)
            rows.append([label, n, n / plain, n / beam, plain / beam])
        steps["Exercise"] = exercise_steps(archive, 128)
        steps["own videos"] = video_steps(video_folder, sorted(os.listdir(video_folder)), 128)
        plain_pairs_per_second = {"Exercise": rows[0][2], "own videos": rows[1][2]}

    print(f"Preparation on {os.cpu_count()} CPU cores: one process vs Beam DirectRunner ({BEAM_OPTIONS})")
    print_table(["release", "pairs", "pairs/s, one process", "pairs/s, Beam", "Beam / one process"], rows)
    print("\nEach reader's steps alone, ms per pair (the rest of one process's time per pair: TFDS's "
          "encoding, serialization, shuffling and writing)")
    table = []
    for reader, parts in steps.items():
        total = 1000 / plain_pairs_per_second[reader]
        for step, seconds in parts.items():
            table.append([reader, step, 1000 * seconds, f"{100 * seconds * 1000 / total:.0f} %"])
        table.append([reader, "the rest", total - 1000 * sum(parts.values()),
                      f"{100 - 100 * sum(parts.values()) * 1000 / total:.0f} %"])
    print_table(["reader", "step", "ms per pair", "of one process's time"], table)
    print("\nExtrapolated to the real releases, one process on this machine:")
    exercise_minutes = (56_838 + 6_243) / plain_pairs_per_second["Exercise"] / 60
    print(f"  Exercise, 56,838 + 6,243 pairs at the measured rate: {exercise_minutes:.0f} min")
    penn_pair = 2 * penn_action_frame_seconds()  # 8 pairs a video, each two decoded and cropped frames
    print(f"  Penn Action, 2,326 videos x 8 pairs, from a 640x480 JPEG decode + crop + resize "
          f"({1000 * penn_pair / 2:.1f} ms a frame; labels and writing not counted): "
          f"{2326 * 8 * penn_pair / 60:.0f} min")


if __name__ == "__main__":
    main()
