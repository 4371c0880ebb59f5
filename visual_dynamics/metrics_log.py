"""Training curves: workdir/metrics.jsonl (one JSON line per logged step, plain text) and TensorBoard
events in workdir/tensorboard/, written together by `MetricWriter`.

Curves are what the ablations (Fig. 12) plot. A resumed run first drops the lines past the checkpoint
it resumes from, so the file always describes one unbroken run.
"""

import json
import os

from tensorboardX import SummaryWriter

from visual_dynamics.atomic import atomic_path

METRICS_FILE = "metrics.jsonl"


class MetricsLog:
    """Appends {'step': int, name: float, ...} lines to `workdir`/metrics.jsonl."""

    def __init__(self, workdir: str, resume_step: int):
        self.path = os.path.join(workdir, METRICS_FILE)
        kept = [r for r in read_metrics(workdir) if r["step"] <= resume_step]
        with atomic_path(self.path) as tmp, open(tmp, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in kept)

    def write(self, step: int, metrics: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": int(step), **{k: float(v) for k, v in metrics.items()}}) + "\n")


class MetricWriter:
    """Scalars to TensorBoard and to metrics.jsonl, one call for both."""

    def __init__(self, workdir: str, resume_step: int):
        self._log = MetricsLog(workdir, resume_step)
        self._tensorboard = SummaryWriter(os.path.join(workdir, "tensorboard"))

    def write_scalars(self, step: int, scalars: dict) -> None:
        for name, value in scalars.items():
            self._tensorboard.add_scalar(name, value, step)
        self._log.write(step, scalars)

    def close(self) -> None:
        self._tensorboard.close()


def read_metrics(workdir: str) -> list[dict]:
    """The lines of `workdir`/metrics.jsonl in order ([] when there is none); a line cut short
    by a killed run is skipped."""
    path = os.path.join(workdir, METRICS_FILE)
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def curve(records: list[dict], name: str) -> tuple[list[int], list[float]]:
    """(steps, values) of the records that hold `name`."""
    rows = [(r["step"], r[name]) for r in records if name in r]
    return [s for s, _ in rows], [v for _, v in rows]
