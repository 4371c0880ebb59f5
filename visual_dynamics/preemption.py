"""Stopping a run on SIGTERM or SIGINT at a safe point, with every process at the same step.

Cloud machines, SLURM (`scancel`, time limits) and Kubernetes stop a job with SIGTERM and a grace
period; people press Ctrl-C. `StopSignals` turns the first such signal into a request that the training
loop reads between steps (so the step in flight, an evaluation or a checkpoint write always finishes);
a second signal ends the process at once, keeping the newest complete checkpoint.

With several processes, `distributed.StopAgreement` makes all of them stop after the same step.
`forward_signals` passes the signals on to child processes (experiments/reproduce_shapes.py's runs).
"""

import contextlib
import dataclasses
import os
import signal
import sys
import threading
from typing import Callable, Iterator, Optional

# The exit status of a run stopped by a signal after saving its checkpoint: EX_TEMPFAIL, "try again
# later", which schedulers and wrappers can tell from a crash (1) and from a finished run (0).
EXIT_STOPPED = 75
# A second signal ends the process at once with the shell's status of a process killed by SIGINT.
EXIT_STOPPED_AT_ONCE = 128 + signal.SIGINT
HANDLED = (signal.SIGTERM, signal.SIGINT)


class TrainingStopped(Exception):
    """Training stopped on a signal after saving the checkpoint of `step`."""

    def __init__(self, signum: int, step: int):
        self.signal_name, self.step = signal.Signals(signum).name, step
        super().__init__(f"stopped by {self.signal_name} at step {step}; checkpoint saved; rerun the same "
                         f"command to resume")


class StopSignals:
    """While entered, SIGTERM and SIGINT set `requested` (the signal's number) instead of ending the
    process; a second one prints which checkpoint is kept (`kept_checkpoint()`, None: none) and exits
    with `EXIT_STOPPED_AT_ONCE`. Outside the main thread, where Python cannot handle signals, it does
    nothing."""

    def __init__(self, kept_checkpoint: Callable[[], Optional[int]]):
        self.kept_checkpoint, self.requested, self._previous = kept_checkpoint, 0, {}

    def _handle(self, signum: int, frame) -> None:
        if not self.requested:
            self.requested = signum
            print(f"{signal.Signals(signum).name} received: finishing the current step, then saving a "
                  f"checkpoint (a second signal stops at once)", file=sys.stderr, flush=True)
            return
        kept = self.kept_checkpoint()
        where = f"the checkpoint of step {kept} is the one kept" if kept is not None else \
            "no checkpoint was complete, the run starts again from step 0"
        print(f"stopped at once by a second signal ({signal.Signals(signum).name}); {where}; rerun the "
              f"same command to resume", file=sys.stderr, flush=True)
        os._exit(EXIT_STOPPED_AT_ONCE)  # no clean-up: an unfinished checkpoint is left as a temporary folder

    def __enter__(self) -> "StopSignals":
        self._previous = _install(self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        _install_each(self._previous)


def _install(handler) -> dict:
    """Sets `handler` for SIGTERM and SIGINT; returns the handlers it replaced ({} outside the main
    thread, where Python cannot handle signals)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, handler) for s in HANDLED}


def _install_each(handlers: dict) -> None:
    for s, handler in handlers.items():
        signal.signal(s, handler)


@dataclasses.dataclass
class Forwarded:
    """The processes a `forward_signals` block passes signals on to, and the first signal's number
    (0: none yet)."""

    processes: list = dataclasses.field(default_factory=list)
    signum: int = 0


@contextlib.contextmanager
def forward_signals() -> Iterator[Forwarded]:
    """While the block runs, SIGTERM and SIGINT are passed on to the running processes of the yielded
    `Forwarded` (each started with `start_new_session=True`, so that a terminal's Ctrl-C reaches it
    once, through this process) instead of ending this one; each process then stops as it does on the
    signal, and the block reads `signum` to stop too."""
    forwarded = Forwarded()

    def handle(signum, frame):
        forwarded.signum = forwarded.signum or signum
        for process in forwarded.processes:
            if process.poll() is None:
                process.send_signal(signum)

    previous = _install(handle)
    try:
        yield forwarded
    finally:
        _install_each(previous)
