"""Following runs from outside their process: a script's output as it grows, and a table
of runs redrawn until they end.

Readers only: they read the run folders of the registry (``run.json``,
``events.jsonl``, ``work/logs/std_log.txt``) and never write to them, so any number may
follow a run, on any host that sees the registry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import NotFoundError
from ..records import RunRecord
from ..registry.registry import Registry, with_logged_so_far
from .metric_values import latest_number, number

STDOUT_LOG = "logs/std_log.txt"  # under the run's work/ folder; runner.py writes it
# the exit code of `runs logs --follow` for each way a run ends
EXIT_CODES = {"Completed": 0, "Failed": 1, "Lost": 3}
ENDED_RECENTLY_SECONDS = 300
# how long `runs watch` waits, once no run is Running, for the next one to start (a
# sweep's next trial, the next experiment) before it ends
GRACE_SECONDS = 10.0
CHUNK = 1 << 16


def std_log(record: RunRecord) -> Path:
    """The file that holds the script's stdout and stderr."""
    return Path(record["folder"]) / "work" / STDOUT_LOG


def follow_log(
    registry: Registry,
    run_id: str,
    out: BinaryIO,
    *,
    follow: bool,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> RunRecord:
    """Copy run ``run_id``'s output to ``out``; with ``follow``, keep copying what the
    script adds until the run is no longer Running (it ended, or its process is gone),
    then return its record as it reads at the end.

    Raises NotFoundError when the run has ended and its ``work/`` folder (with the
    log) is gone: printing nothing would read as a script that printed nothing.
    """
    record = registry.get_run(run_id, so_far=False)
    path = std_log(record)
    if record["status"] != "Running" and not path.parent.parent.is_dir():
        raise NotFoundError(
            f"run {record['id']}: its log is gone: {path.parent.parent} was removed "
            "(by `snakeyard gc` or by hand)"
        )
    offset = 0
    while True:
        offset = _copy_from(path, offset, out)
        if not follow or record["status"] != "Running":
            break
        sleep(poll)
        record = registry.get_run(run_id, so_far=False)  # its status, not its metrics
    # what the script wrote between the last copy and its end
    _copy_from(path, offset, out)
    return record


def _copy_from(path: Path, offset: int, out: BinaryIO) -> int:
    """Write the bytes of ``path`` from ``offset`` on to ``out``; return the new offset.
    A log not there yet (the script is starting) has nothing to copy."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            while chunk := handle.read(CHUNK):
                out.write(chunk)
                offset += len(chunk)
    except FileNotFoundError:
        return offset
    out.flush()
    return offset


def watched_runs(
    registry: Registry, experiment: str | None, since: float, now: float | None = None
) -> list[RunRecord]:
    """The runs worth watching: those Running (or Lost), with what they logged so far,
    and those that ended after ``since`` (unix seconds)."""
    shown = []
    for record in registry.list_runs(experiment):
        if record["status"] in ("Running", "Lost"):
            shown.append(with_logged_so_far(record, Path(record["folder"])))
        elif (record.get("end_unix") or 0) >= since:
            shown.append(record)
    return shown


def primary(record: RunRecord, metric: str | None) -> tuple[str, float] | None:
    """The run's latest value of ``metric``, or without one of its first metric that
    holds a number: ``(name, value)``, None when there is none."""
    metrics = record.get("metrics") or {}
    names = [metric] if metric else list(metrics)
    for name in names:
        value = latest_number(metrics.get(name))
        if value is not None:
            return name, value
    return None


def sweep_lines(runs: list[RunRecord], metric: str | None, goal: str) -> list[str]:
    """One line per experiment whose watched runs are sweep trials: trials done, running,
    failed and canceled, and the best so far by ``metric`` towards ``goal``.

    The best is ranked as the sweep ranks it (:func:`sweeps.ranking.rank`, ties to the
    smaller trial id), so the trial named here is the one the sweep will pick."""
    # imported here: the CLI imports this module for `runs show`, which ranks nothing
    from ..sweeps.ranking import metric_value, rank

    lines = []
    experiments = sorted({r["experiment"] for r in runs if r.get("trial")})
    for experiment in experiments:
        trials = [r for r in runs if r["experiment"] == experiment and r.get("trial")]
        count = {s: sum(r["status"] == s for r in trials) for s in ("Running", "Canceled")}
        count.update({s: sum(r["status"] == s for r in trials) for s in EXIT_CODES})
        done = count["Completed"]
        line = (
            f"sweep {experiment}: {done} trial{'' if done == 1 else 's'} done, "
            f"{count['Running']} running, {count['Failed'] + count['Lost']} failed, "
            f"{count['Canceled']} canceled"
        )
        completed = [r for r in trials if r["status"] == "Completed"]
        # without --metric, the first metric a completed trial logged as a number
        name = metric or next((found[0] for r in completed if (found := primary(r, None))), None)
        ranked = rank(completed, name, goal).ranked if name else []
        if ranked:
            best = ranked[0]
            value = metric_value(best, name)
            trial, run = best["trial"]["id"], best["id"]
            line += f"; best so far trial {trial} (run {run}) {name}={number(value)}"
        lines.append(line)
    return lines


def watch_rows(runs: list[RunRecord], metric: str | None) -> list[list[Any]]:
    """Table rows of the watched runs: id, status, seconds, host, trial, latest metric."""
    rows = []
    for r in runs:
        seconds = r.get("elapsed_seconds") if r["status"] in ("Running", "Lost") else None
        value = primary(r, metric)
        rows.append([
            r["id"], r["status"],
            seconds if seconds is not None else r.get("duration_seconds"),
            r["host"], (r.get("trial") or {}).get("id") or "-",
            f"{value[0]}={number(value[1])}" if value else "-",
        ])  # fmt: skip
    return rows


def watch(
    registry: Registry,
    draw: Callable[[list[RunRecord]], None],
    *,
    experiment: str | None,
    interval: float,
    timeout: float | None,
    grace: float = GRACE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunRecord]:
    """Draw the watched runs every ``interval`` seconds until none has been Running for
    ``grace`` seconds, or ``timeout`` seconds have passed; return the runs of the last
    drawing."""
    started = time.time()
    since = started - ENDED_RECENTLY_SECONDS
    idle_since: float | None = None
    while True:
        runs = watched_runs(registry, experiment, since)
        draw(runs)
        now = time.time()
        if any(r["status"] == "Running" for r in runs):
            idle_since = None
        elif idle_since is None:
            idle_since = now
        if idle_since is not None and now - idle_since >= grace:
            return runs
        if timeout is not None and now - started + interval > timeout:
            return runs
        sleep(interval)


def clear_screen(stream: Any) -> bool:
    """Whether a redraw may clear ``stream`` (a terminal), rather than add below."""
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"
