"""The training input pipeline: TFDS array_record files read through grain, no TensorFlow.

Batches are a pure function of (seed, step): the batch at step s is element s of a shuffled,
repeated, batched `grain.MapDataset`, so a resumed run reads exactly what an unbroken run would.
"""

import bisect
import importlib
import itertools
import math
import os
import sys
from typing import Iterator, Optional

import grain
import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.extractor import ExtractError

from visual_dynamics.data import fingerprint
from visual_dynamics.data.source_files import SourceDataError
from visual_dynamics.errors import OneLineError, short_reason

# Datasets that are generated from a seed: preparing them needs no download, so train.py
# prepares them on first use. Every other dataset must be prepared by the user.
GENERATED_DATASETS = ("shapes", "shapes_texture")
TRAINING_KEYS = ("image", "next_image")


class DatasetNotPreparedError(OneLineError, RuntimeError):
    """A dataset's files are missing from the data directory; the message says how to prepare them."""


class DamagedDataError(OneLineError, RuntimeError):
    """A prepared file cannot be read (a flipped bit, a truncated copy); the message names it and the
    command that prepares the dataset again."""


# What preparing a dataset raises for bad input, each with a message naming the file and the fix:
# our readers' SourceDataError, TFDS's missing/empty manual folder (an AssertionError), a corrupt
# archive (TFDS's ExtractError) and an unknown builder config (ValueError).
PREPARATION_ERRORS = (DatasetNotPreparedError, SourceDataError, AssertionError, ExtractError, ValueError)


def prepare_command(dataset: str, builder_config: Optional[str]) -> str:
    config = f" --builder_config={builder_config}" if builder_config else ""
    manual = "" if dataset in GENERATED_DATASETS else " --manual_dir=DIR_WITH_THE_DOWNLOADED_FILES"
    return f"python experiments/prepare_data.py --dataset={dataset}{config}{manual}"


def load_builder(dataset: str, builder_config=None,
                 data_dir: Optional[str] = None) -> tfds.core.DatasetBuilder:
    """The TFDS builder of tfds_builders/<dataset>/, writing array_record files.

    Args:
      dataset: a folder name in tfds_builders/ (e.g. 'shapes').
      builder_config: a config name (e.g. 'size_64'), a BuilderConfig, or None for the default.
      data_dir: where prepared datasets live (None: TFDS's default, ~/tensorflow_datasets).
    """
    try:
        module = importlib.import_module(f"tfds_builders.{dataset}.{dataset}_dataset_builder")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("tfds_builders"):
            raise DatasetNotPreparedError(
                f"no TFDS builder for dataset {dataset!r}: expected "
                f"tfds_builders/{dataset}/{dataset}_dataset_builder.py") from e
        raise
    if isinstance(builder_config, str) and hasattr(module, "config_from_name"):
        # Configs made from command-line values (e.g. exercise's videos_128_gap2) are named by them.
        builder_config = module.config_from_name(builder_config) or builder_config
    return module.Builder(config=builder_config, data_dir=data_dir, file_format="array_record")


def beam_options(pipeline_options: str):
    """`a=b,c=d` (the syntax of `tfds build --beam_pipeline_options`) -> Beam's PipelineOptions."""
    try:
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError as e:
        raise DatasetNotPreparedError(
            "preparing on Beam needs Apache Beam: pip install -e '.[tfds-cli]' -c constraints.txt") from e
    return PipelineOptions(flags=[f"--{option}" for option in pipeline_options.split(",") if option])


def prepare(builder: tfds.core.DatasetBuilder, manual_dir: Optional[str] = None,
            beam_pipeline_options: Optional[str] = None) -> str:
    """Generates, or extracts from `manual_dir`, and writes the dataset (atomically, by TFDS), on Beam
    when `beam_pipeline_options` are given (e.g. 'direct_num_workers=2,direct_running_mode=
    multi_processing'); then stores its content fingerprint beside it and returns it. `manual_dir` may
    name an archive itself: the one release to read of the several in its folder."""
    if manual_dir and os.path.isfile(manual_dir):  # an archive picked among several in its folder
        builder.chosen_archive = os.path.abspath(manual_dir)
        manual_dir = os.path.dirname(builder.chosen_archive)
    config = tfds.download.DownloadConfig(
        manual_dir=manual_dir,
        beam_options=beam_options(beam_pipeline_options) if beam_pipeline_options else None)
    try:
        builder.download_and_prepare(download_config=config)
    except RuntimeError as e:  # a Beam pipeline that failed: its workers' error, as text
        reason = _source_error_of_beam_failure(str(e))
        if reason is None:
            raise
        raise SourceDataError(reason) from None
    return fingerprint.store(builder)


def _source_error_of_beam_failure(message: str) -> Optional[str]:
    """The SourceDataError message inside a failed Beam pipeline's error text, or None."""
    marker = f"{SourceDataError.__module__}.{SourceDataError.__name__}: "
    lines = [line for line in message.splitlines() if line.startswith(marker)]
    if not lines:
        return None
    return lines[-1][len(marker):].split(" [while running")[0]


def prepared_builder(dataset: str, builder_config: Optional[str], data_dir: Optional[str]):
    """The builder of a dataset that is ready to read; generated datasets are prepared here.

    Raises:
      DatasetNotPreparedError: a downloaded dataset is missing, with the command that prepares it.
    """
    builder = load_builder(dataset, builder_config, data_dir)
    if not builder.is_prepared():
        if dataset not in GENERATED_DATASETS:
            raise DatasetNotPreparedError(
                f"dataset {dataset!r} ({builder.builder_config.name}) is not prepared in "
                f"{builder.data_dir}. Prepare it with:\n  "
                f"{prepare_command(dataset, builder_config)}\n"
                f"(see docs/datasets.md for where to download its files).")
        print(f"Preparing the generated dataset {builder.info.full_name} in {builder.data_dir} "
              f"(once; later runs reuse it)...", flush=True)
        prepare(builder)
    return builder


class SplitSource:
    """A split's examples by index, as `builder.as_data_source(split)`, except that a record that cannot
    be read raises `DamagedDataError` naming its shard file instead of the reader's own error."""

    def __init__(self, builder: tfds.core.DatasetBuilder, split: str):
        self.builder, self.source = builder, builder.as_data_source(split=split)
        info = builder.info.splits[split]
        self.shard_ends = list(itertools.accumulate(info.shard_lengths))
        self.shard_files = [os.path.join(builder.data_dir, name) for name in info.filenames]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict:
        try:
            return self.source[index]
        except (RuntimeError, ValueError, OSError) as e:  # Riegeli's checksums, a truncated file
            shard_index = min(bisect.bisect_right(self.shard_ends, index), len(self.shard_files) - 1)
            shard = self.shard_files[shard_index]
            config = self.builder.builder_config.name if self.builder.builder_config else None
            raise DamagedDataError(
                f"{shard} is damaged ({short_reason(e)}); delete {self.builder.data_dir} and prepare the "
                f"dataset again: {prepare_command(self.builder.name, config)}") from None


def _stack(examples, keys=TRAINING_KEYS) -> dict:
    return {key: np.stack([e[key] for e in examples]) for key in keys}


def first_examples(source, count: int, keys=TRAINING_KEYS) -> dict:
    """The first `count` examples of a split (all if it is shorter) as {key: stacked array}."""
    return _stack([source[i] for i in range(min(count, len(source)))], keys)


def train_batches(source, batch_size: int, seed: int, start_step: int = 0, num_threads: int = 2,
                  process_index: int = 0, process_count: int = 1) -> Iterator[dict]:
    """Endless shuffled batches {'image', 'next_image'} uint8 [B / P, H, W, 3], from `start_step` on:
    this process's share of every global batch of B = `batch_size`.

    The global batches are the same for any process count P (and the same as one process reading them
    whole); process p reads only examples p * B / P ... (p + 1) * B / P - 1 of each.
    """
    if batch_size % process_count:
        raise ValueError(f"batch_size={batch_size} is not divisible by the {process_count} processes")
    share = batch_size // process_count
    order = grain.MapDataset.range(len(source)).shuffle(seed=seed).repeat()  # global position -> index
    first = process_index * share

    def read(local: int) -> dict:
        return source[order[(local // share) * batch_size + first + local % share]]

    dataset = grain.MapDataset.range(sys.maxsize).map(read).batch(share, drop_remainder=True, batch_fn=_stack)
    read_options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=4)
    return iter(dataset[start_step:].to_iter_dataset(read_options))


def first_batches(source, count: int, batch_size: int) -> list[dict]:
    """The first `count` examples of a split (all if it is shorter) in batches of `batch_size`, the last
    one possibly partial."""
    return eval_batches(source, batch_size, math.ceil(count / batch_size))


def eval_batches(source, batch_size: int, num_batches: int) -> list[dict]:
    """The first `num_batches` batches of a split, in order; the last one partial when the split ends
    before (a test split smaller than one batch gives one partial batch)."""
    count = min(num_batches * batch_size, len(source))
    return [_stack([source[i] for i in range(start, min(start + batch_size, count))])
            for start in range(0, count, batch_size)]
