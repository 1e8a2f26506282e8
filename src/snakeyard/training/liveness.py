"""Signs of life of a run's process, and how a reader of the registry judges them.

The ``train`` stage process, the one that writes a run's final record, leaves in the
record who it is: ``host``, ``pid`` and ``pid_start``, which tells that process apart
from a later one given the same pid (the kernel's boot id, the pid namespace and the
process's start time, from ``/proc``). While the script runs, a daemon thread of that
process touches the run folder's ``heartbeat`` file every :data:`HEARTBEAT_SECONDS`.

A reader on the same machine asks the kernel whether that process still exists; a
reader elsewhere (the submit host of a cluster, another node) looks at the heartbeat's
age instead, and takes the process as gone after :func:`heartbeat_limit`. A record that
says ``Running`` for a process that is gone is reported as ``Lost``; readers never write
that down. ``snakeyard runs settle`` records such a run as Failed on request.

Standard library only: the train stage imports this before it starts the script.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_SECONDS = 30
# how far the clocks of two hosts (or a host and a file server) may disagree
CLOCK_SLACK_SECONDS = 60


def heartbeat_limit(interval: float) -> float:
    """How old a heartbeat may be before its run is taken as lost: three missed beats,
    plus slack for clocks that disagree between hosts."""
    return 3 * interval + CLOCK_SLACK_SECONDS


def signs_of_life() -> dict[str, Any]:
    """What the current process records about itself in its run's record."""
    pid = os.getpid()
    return {"pid": pid, "pid_start": process_identity(pid), "heartbeat_seconds": HEARTBEAT_SECONDS}


def process_identity(pid: int) -> str | None:
    """``<boot id>/<pid namespace>/<start time in clock ticks>`` of process ``pid``:
    what tells it apart from a later process given the same pid. None without ``/proc``
    or when no such process exists."""
    machine, stat = _machine(), _stat(pid)
    if machine is None or stat is None:
        return None
    return f"{machine}/{stat[1]}"


def _machine() -> str | None:
    """This kernel's boot id and this process's pid namespace: where a pid names one process."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot}/{namespace}"


def _stat(pid: int) -> tuple[str, str] | None:
    """The state letter and start time (clock ticks since boot) of process ``pid``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces or parentheses
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], fields[19]


def _alive(pid: int, identity: str | None) -> bool:
    """Whether process ``pid`` of this machine exists and is the one ``identity`` names."""
    if identity is None:  # no /proc where it was written: trust the pid alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # another user's process
        return True
    stat = _stat(pid)
    # a zombie has ended already; only its parent has not collected its exit status yet
    return stat is not None and stat[0] not in ("Z", "X") and stat[1] == identity.rsplit("/", 1)[1]


class Liveness(NamedTuple):
    """What a reader can tell about a Running record's process."""

    lost: bool
    reason: str  # why the process looks gone, or why it looks alive


def judge(record: dict[str, Any], folder: Path, now: float | None = None) -> Liveness | None:
    """Whether the process of a ``Running`` record in ``folder`` is gone; None when the
    record is final, or old enough to hold no signs of life."""
    if record.get("status") != "Running" or not isinstance(record.get("pid"), int):
        return None
    pid, host, identity = record["pid"], record.get("host"), record.get("pid_start")
    here = host == platform.node() and (
        identity is None or identity.rsplit("/", 1)[0] == _machine()
    )
    if here:
        if _alive(pid, identity):
            return Liveness(False, f"its process {pid} is alive on this host ({host})")
        return Liveness(True, f"its process {pid} on {host} is gone")
    # another machine (or this one, rebooted since): only the heartbeat can tell
    try:
        last = (folder / HEARTBEAT_FILE).stat().st_mtime
    except OSError:
        last = float(record.get("start_unix") or 0)
    age = max(0.0, (time.time() if now is None else now) - last)
    limit = heartbeat_limit(record.get("heartbeat_seconds") or HEARTBEAT_SECONDS)
    if age > limit:
        return Liveness(True, f"no heartbeat from {host} for {age:.0f} s (limit {limit:.0f} s)")
    return Liveness(False, f"its heartbeat from {host} is {age:.0f} s old (limit {limit:.0f} s)")


class Heartbeat:
    """Touches ``path`` every ``interval`` seconds from a daemon thread while in a ``with``."""

    def __init__(self, path: Path, interval: float = HEARTBEAT_SECONDS):
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="snakeyard-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.path.touch()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                os.utime(self.path)  # the mtime only: works on a full disk too
            except OSError:
                pass  # a network filesystem's hiccup; the next beat may get through
