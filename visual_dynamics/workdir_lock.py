"""One training run per workdir: `held(workdir)` takes workdir/run.lock for the length of a run.

The lock file is created atomically (`O_CREAT | O_EXCL`) and holds who took it: host, PID and start
time. While the run lives a thread touches the file every `REFRESH_SECONDS`. A second run stops at once
with `WorkdirHeldError`, which names the holder. A lock whose holder is gone is taken over, with one line
saying so: on the same host, a PID that no longer runs; from another host (a shared filesystem), a file
not touched for `STALE_SECONDS`. Readers (demo.py, evaluate_*.py, `Predictor.from_checkpoint`) never
look at the lock.
"""

import contextlib
import datetime
import json
import math
import os
import socket
import threading
import time
from typing import Iterator, Optional

from visual_dynamics.errors import OneLineError

LOCK_FILE = "run.lock"
REFRESH_SECONDS = 60.0
STALE_SECONDS = 600.0  # ten missed refreshes: the holder on another host is gone


class WorkdirHeldError(OneLineError):
    """Another live run holds the workdir."""


def _holder_text(holder: dict) -> str:
    return f"PID {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"


def _read(path: str) -> Optional[dict]:
    """The holder recorded in the lock file; {} for an unreadable one (a writer cut short); None when
    there is no lock file."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _why_gone(path: str, holder: dict) -> Optional[str]:
    """Why the holder of the lock at `path` is known to be gone (a phrase), or None if it may be alive."""
    if not holder:
        return "the lock file is unreadable"
    if holder.get("host") == socket.gethostname():
        pid = holder.get("pid")
        return None if isinstance(pid, int) and _pid_runs(pid) else "its process no longer runs"
    idle = _idle_seconds(path)
    return f"not refreshed for {idle / 60:.0f} min" if idle > STALE_SECONDS else None


def _idle_seconds(path: str) -> float:
    """Seconds since the lock file was written or touched (infinite once it is gone)."""
    try:
        return time.time() - os.path.getmtime(path)
    except FileNotFoundError:
        return math.inf


def _create(path: str, me: dict) -> bool:
    """Creates the lock file holding `me`; False if it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(me, f)
    return True


def acquire(workdir: str) -> dict:
    """Takes workdir's lock (taking over one whose holder is gone, said in one line); returns the record
    written.

    Raises:
      WorkdirHeldError: a live run holds it.
    """
    path = os.path.join(workdir, LOCK_FILE)
    me = {"host": socket.gethostname(), "pid": os.getpid(),
          "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    while not _create(path, me):
        holder = _read(path)
        if holder is None:
            continue  # released between the two calls
        if not holder and _idle_seconds(path) < 5:
            time.sleep(0.1)  # another run is writing it
            continue
        reason = _why_gone(path, holder)
        if reason is None:
            raise WorkdirHeldError(
                f"{workdir} is in use by another training run ({_holder_text(holder)}); wait for it to "
                f"finish or stop it, or pass another --workdir. If that run is gone, delete {path}.")
        # Set the old lock aside under a name of our own: of two runs taking over at once, one renames
        # it and the other finds it gone and tries again.
        aside = f"{path}.{me['pid']}.taken-over"
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            continue
        if _read(aside) != holder:  # another run took it over first: put its lock back
            with contextlib.suppress(OSError):
                os.link(aside, path)
            os.remove(aside)
            continue
        os.remove(aside)
        print(f"Taking over {path} from a run that is gone ({_holder_text(holder)}: {reason}).", flush=True)
    return me


def release(workdir: str, me: dict) -> None:
    """Removes workdir's lock if it is still `me`'s."""
    path = os.path.join(workdir, LOCK_FILE)
    if _read(path) == me:
        os.remove(path)


class _Refresher(threading.Thread):
    """Touches the lock file every `REFRESH_SECONDS` until stopped, so that a run on another host can
    tell a live holder from a dead one."""

    def __init__(self, path: str):
        super().__init__(daemon=True)
        self.path, self.stopped = path, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(REFRESH_SECONDS):
            with contextlib.suppress(OSError):
                os.utime(self.path)


@contextlib.contextmanager
def held(workdir: str) -> Iterator[None]:
    """Holds workdir's lock while the block runs."""
    me = acquire(workdir)
    refresher = _Refresher(os.path.join(workdir, LOCK_FILE))
    refresher.start()
    try:
        yield
    finally:
        refresher.stopped.set()
        release(workdir, me)
