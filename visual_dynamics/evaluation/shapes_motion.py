"""Fig. 5 on Shapes: object motions of ground truth, of model samples and of the Flow baseline.

Every frame is measured with both of Fig. 5's measures, so that the three are compared on equal
terms under each: 'scene_fit' (`scene_fit.object_motions`: the test image's scene re-rendered with
each object translated, fitted to the frame) and 'flow' (`motion_metric.object_motions`: the median
optical flow inside each object's visible mask, the measure of earlier results).
"""

import concurrent.futures
import functools
import multiprocessing
import os
from typing import Callable, Optional

import numpy as np

from visual_dynamics.data import shapes
from visual_dynamics.evaluation import motion_metric, scene_fit

Progress = Optional[Callable[[int, int], None]]
MEASURES = ("scene_fit", "flow")
SCENE_KEYS = ("visible_mask", "object_type", "centre", "half_size", "depth")  # a Shapes example's scene
CHUNK = 256
PARALLEL_PAIRS = 1000  # fewer pairs are generated in this process: starting the workers costs ~1 s


def measured_motions(images: np.ndarray, next_images: np.ndarray, scenes: dict, measure: str = "scene_fit",
                     progress: Progress = None, statistic=np.median) -> np.ndarray:
    """Object motions of pairs: uint8 [N, S, S, 3] x 2 and their scenes -> [N, 3, 2].

    Args:
      scenes: {key: [N, ...]} for SCENE_KEYS (the flow measure reads only `visible_mask`).
      measure: 'scene_fit' or 'flow' (with `statistic` of the flow vectors inside each mask; a tuple
        of T statistics gives [N, T, 3, 2] from one flow per pair).
    The pairs are measured in parallel, in chunks, on a process (scene_fit: Python-bound) or a thread
    (flow: OpenCV releases the GIL) per CPU core; the result is the same as measuring them one by one.
    """
    if measure == "flow":
        measure_one = functools.partial(motion_metric.object_motions, statistic=statistic)
        columns = (images, next_images, scenes["visible_mask"])
        executor = concurrent.futures.ThreadPoolExecutor(os.cpu_count())
    elif measure == "scene_fit":
        measure_one = scene_fit.object_motions
        columns = (images, next_images, *(scenes[k] for k in SCENE_KEYS))
        executor = _process_pool()
    else:
        raise ValueError(f"unknown motion measure {measure!r}; one of {MEASURES}")
    with executor:
        return np.stack(_chunked_map(executor.map, measure_one, columns, len(images), progress))


def _process_pool() -> concurrent.futures.ProcessPoolExecutor:
    """A worker process per CPU core, spawned, not forked: the parent may run JAX's threads, which a
    fork would copy mid-lock."""
    spawn = multiprocessing.get_context("spawn")
    return concurrent.futures.ProcessPoolExecutor(os.cpu_count(), mp_context=spawn)


def _map_here(function, *columns, chunksize: int = 1):
    """The builtin map, in this process (an executor's map signature)."""
    return map(function, *columns)


def _chunked_map(map_, function, columns, count: int, progress: Progress) -> list:
    """[function(*row) for the rows of `columns`] by `map_` (an executor's map), in order, in chunks of
    CHUNK rows, with progress."""
    results = []
    for start in range(0, count, CHUNK):
        stop = start + CHUNK
        chunksize = max(1, CHUNK // (4 * (os.cpu_count() or 1)))
        results.extend(map_(function, *(c[start:stop] for c in columns), chunksize=chunksize))
        if progress:
            progress(min(stop, count), count)
    return results


def _repeat(scenes: dict, times: int) -> dict:
    return {key: np.repeat(value, times, axis=0) for key, value in scenes.items()}


def model_motions(predictor, images: np.ndarray, scenes: dict, samples_per_image: int, seed: int = 0,
                  progress: Progress = None, measures: tuple[str, ...] = MEASURES) -> dict:
    """{measure: motions [N * M, 3, 2]} in `samples_per_image` sampled next frames of each image."""
    frames = []
    for i, image in enumerate(images):
        frames.append(predictor.sample(image, samples_per_image, rng=seed + i))
        if progress:
            progress(i + 1, len(images))
    frames = np.concatenate(frames)
    repeated = np.repeat(images, samples_per_image, axis=0)
    return {m: measured_motions(repeated, frames, _repeat(scenes, samples_per_image), m) for m in measures}


def flow_baseline_motions(baseline, images: np.ndarray, scenes: dict, samples_per_image: int,
                          rng: np.random.Generator) -> dict:
    """{measure: motions [N * M, 3, 2]} in the Flow baseline's predicted frames."""
    frames = baseline.sample(images, samples_per_image, rng)
    repeated = np.repeat(images, samples_per_image, axis=0)
    scenes = _repeat(scenes, samples_per_image)
    return {m: measured_motions(repeated, frames.reshape(repeated.shape), scenes, m) for m in MEASURES}


def generated_pairs(spec: shapes.ShapesSpec, seed: int, split: str, count: int,
                    progress: Progress = None) -> dict:
    """The first `count` pairs of a split of the generator (of 'test': the stored test split first),
    generated on a process per core from PARALLEL_PAIRS pairs: {'image', 'next_image': uint8
    [N, S, S, 3], 'displacement': [N, 3, 2], and SCENE_KEYS}."""
    generate = functools.partial(_generated_pair, spec, seed, split)
    if count < PARALLEL_PAIRS:
        pairs = _chunked_map(_map_here, generate, (range(count),), count, progress)
    else:
        with _process_pool() as executor:
            pairs = _chunked_map(executor.map, generate, (range(count),), count, progress)
    keys = ("image", "next_image", "displacement") + SCENE_KEYS
    return {k: np.stack([p[k] for p in pairs]) for k in keys}


def _generated_pair(spec: shapes.ShapesSpec, seed: int, split: str, index: int) -> dict:
    return shapes.generate_pair(spec, shapes.example_rng(seed, split, index))


def truth_motions(count: int, max_displacement: float, rng: np.random.Generator) -> np.ndarray:
    """Exact draws of the generator's motion distribution: [count, 3, 2]."""
    draws = rng.uniform(-max_displacement, max_displacement, (count, 2))
    return np.stack([shapes.motion_of(dy, dx) for dy, dx in draws])


def plot_histograms(motions: dict, path: str) -> None:
    """Fig. 5's histograms: one row per {name: motions [N, 3, 2]}, one column per Fig. 5 column (log
    counts)."""
    from visual_dynamics import visualization

    methods = list(motions)
    fig, axes = visualization.subplots(len(methods), 4, figsize=(10, 2.5 * len(methods)), squeeze=False)
    extent = [-motion_metric.EXTENT, motion_metric.EXTENT] * 2
    for row, method in enumerate(methods):
        columns = motion_metric.column_samples(motions[method])
        for col, name in enumerate(motion_metric.COLUMNS):
            counts = motion_metric.histogram(columns[name])
            ax = axes[row, col]
            ax.imshow(np.log1p(counts.T), origin="lower", extent=extent, cmap="viridis")
            ax.set_title(f"{method}: {name}", fontsize=8)
            ax.set_xlabel("circle dy" if name == "circles_triangles" else "dx", fontsize=7)
            ax.set_ylabel("triangle dy" if name == "circles_triangles" else "dy", fontsize=7)
            ax.tick_params(labelsize=6)
    visualization.save_figure(fig, path, dpi=110)
