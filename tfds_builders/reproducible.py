"""What every builder of ours shares: the same bytes from every preparation, and Apache Beam on request.

TFDS serializes each example as a `tf.train.Example` whose feature map upb protobuf writes in an order
that varies from process to process, so two preparations of the same examples give different shard
files. Our builders serialize deterministically (map entries sorted by key) instead: the same examples
give the same files. A preparation given a Beam runner or Beam options (`prepare_data.py
--beam_pipeline_options=...`, `tfds build --beam_pipeline_options=...`) reads its records on Beam
workers; the examples, their keys and so their order in the files are the same as in one process.
"""

import contextlib
from typing import Any, Callable, Iterable, Optional, Sequence

import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_serializer

from visual_dynamics.data.source_files import MAX_SKIPPED_FRACTION, read_records


class DeterministicExampleSerializer(example_serializer.ExampleSerializer):
    """TFDS's serializer with map entries written in key order: equal examples, equal bytes."""

    def serialize_example(self, example) -> bytes:
        return self.get_tf_example(example).SerializeToString(deterministic=True)


@contextlib.contextmanager
def deterministic_serialization():
    """TFDS's split writers (plain and Beam) build `example_serializer.ExampleSerializer` by name while
    a dataset is generated; during the block they build ours. TFDS has no option for it (4.9.10)."""
    original = example_serializer.ExampleSerializer
    example_serializer.ExampleSerializer = DeterministicExampleSerializer
    try:
        yield
    finally:
        example_serializer.ExampleSerializer = original


class ReproducibleBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A GeneratorBasedBuilder whose files are byte-identical across preparations, and whose readers of
    downloaded releases run on Beam when the download config names a Beam runner or options."""

    _on_beam = False
    # An archive that `--manual_dir` named itself (set by `pipeline.prepare`): the one release to read.
    chosen_archive: Optional[str] = None

    def _generate_splits(self, dl_manager, download_config):
        self._on_beam = download_config.beam_runner is not None or download_config.beam_options is not None
        with deterministic_serialization():
            return super()._generate_splits(dl_manager, download_config)

    def _read_records(self, units: Sequence, read_unit: Callable[[Any], Iterable[tuple[str, dict]]],
                      source: str, split: str, limit: Optional[float] = MAX_SKIPPED_FRACTION):
        """The (key, example) pairs of a split's records (`source_files.read_records`): a generator in
        one process, or a Beam transform that reads the records on the pipeline's workers."""
        if self._on_beam:
            from tfds_builders import beam_records  # Beam is only needed here

            return beam_records.ReadRecords(units, read_unit, source, split, limit)
        return read_records(units, read_unit, source, split, limit)
