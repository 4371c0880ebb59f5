"""A content fingerprint of a prepared dataset: the sha256 of its examples, split by split, in order.

The hash covers each split's name, example count and serialized records in the order a reader sees
them (shard after shard), so it is the same for the same examples however they were cut into shards:
a Beam preparation (whose shard boundaries differ) and a plain one agree. It is stored beside the
dataset's files as FILE_NAME; `train.py` records it in the run's config.json.
"""

import hashlib
import json
import os

from array_record.python.array_record_module import ArrayRecordReader

from visual_dynamics.atomic import atomic_path

FILE_NAME = "fingerprint.json"
READ_CHUNK = 1024  # records read at a time: a few MiB, whatever the shard's size


def compute(builder) -> str:
    """The sha256 (hex) of a prepared TFDS builder's examples; reads every record once."""
    digest = hashlib.sha256()
    for name in sorted(builder.info.splits.keys()):
        split = builder.info.splits[name]
        digest.update(f"{name}\n{split.num_examples}\n".encode())
        for path in split.filepaths:
            reader = ArrayRecordReader(os.fspath(path))
            try:
                for start in range(0, reader.num_records(), READ_CHUNK):
                    for record in reader.read(start, min(start + READ_CHUNK, reader.num_records())):
                        digest.update(len(record).to_bytes(8, "little"))
                        digest.update(record)
            finally:
                reader.close()
    return digest.hexdigest()


def _path(builder) -> str:
    return os.path.join(os.fspath(builder.data_dir), FILE_NAME)


def stored(builder) -> str:
    """The fingerprint stored with a prepared dataset, computed and stored first if it has none (a
    dataset prepared by `tfds build` or by an older version of this code)."""
    path = _path(builder)
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)["sha256"]
    return store(builder)


def store(builder) -> str:
    """Computes a prepared dataset's fingerprint and writes it beside its files; returns it."""
    value = compute(builder)
    record = {"sha256": value, "dataset": builder.info.full_name,
              "splits": {name: split.num_examples for name, split in sorted(builder.info.splits.items())}}
    with atomic_path(_path(builder)) as tmp, open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    return value
