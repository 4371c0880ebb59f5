"""Reading a release's records on Apache Beam: the same examples and skip report as
`source_files.read_records` in one process."""

from typing import Any, Callable, Iterable, Optional, Sequence

import apache_beam as beam

from visual_dynamics.data.source_files import read_or_skip, report_skipped


class _ReadUnit(beam.DoFn):
    """unit -> its (key, example) pairs; the reason of a skipped unit goes to the 'skipped' output."""

    def __init__(self, read_unit: Callable[[Any], Iterable[tuple[str, dict]]]):
        super().__init__()
        self._read_unit = read_unit

    def process(self, unit):
        examples, reason = read_or_skip(self._read_unit, unit)
        if reason is not None:
            yield beam.pvalue.TaggedOutput("skipped", reason)
        yield from examples


def _report(skipped: list[str], source: str, split: str, total: int, limit: Optional[float]) -> None:
    report_skipped(source, split, skipped, total, limit)


class ReadRecords(beam.PTransform):
    """PBegin -> PCollection of (key, example): every record of `units` read by `read_unit` on the
    workers (spread over them by a reshuffle); the skipped ones are reported once, at the end, and
    more than `limit` of them fail the pipeline."""

    def __init__(self, units: Sequence, read_unit: Callable[[Any], Iterable[tuple[str, dict]]],
                 source: str, split: str, limit: Optional[float]):
        super().__init__()
        self._units = list(units)
        self._read_unit = read_unit
        self._source, self._split, self._limit = source, split, limit

    def expand(self, pbegin):
        read = (pbegin
                | "Units" >> beam.Create(self._units)
                | "Spread" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(_ReadUnit(self._read_unit)).with_outputs("skipped", main="examples"))
        _ = (read.skipped
             | "Collect" >> beam.combiners.ToList()
             | "Report" >> beam.Map(_report, self._source, self._split, len(self._units), self._limit))
        return read.examples
