"""The sweep's parent run: what its trials logged through ``run.parent``.

A trial script written for the hosted SDK may log to its parent run
(``run.parent.log(...)``, ``run.parent.tag(...)``), which in the hosted service is the
HyperDrive run. Each trial keeps those calls in its own run folder (``parent/``, see
:mod:`snakeyard.training.run_extras`), so that trials running at once on different
nodes never write one file; when the trials are done, the sweep stage gathers them
into a run of its own, the sweep's parent run, recorded in the registry like any run
(``snakeyard runs show`` shows it, with its trials).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..files import make_folders, write_json_atomic, write_text_atomic
from ..records import RunRecord
from ..registry.registry import Registry
from ..training.run_api import EVENTS_FILE, read_events
from ..training.run_extras import PARENT
from ..training.runner import new_run_id, now

# fields of a trial's record that describe that one process, not the sweep
_OWN = ("trial", "error", "warnings", "pid", "pid_start", "heartbeat_seconds", "children",
        "properties", "cluster", "cluster_job_id", "lost")  # fmt: skip


def record_parent_run(
    registry: Registry,
    experiment: str,
    trials: list[RunRecord],
    best: RunRecord,
    log: Callable[[str], None],
) -> RunRecord | None:
    """Record the sweep's parent run: its trials' ``run.parent`` calls, in the sweep's
    order, folded as one run's; its script, data set and environment are the best
    trial's. Returns the record written, or None when no trial logged to its parent
    (a sweep of scripts that never use ``run.parent`` adds no run)."""
    # a trial the time budget never started has a record but no run (nor folder, start)
    trials = [t for t in trials if t.get("folder")]
    events = "".join(_parent_events(Path(t["folder"])) for t in trials)
    if not events:
        return None
    run_id = new_run_id(experiment)
    folder = registry.run_folder(experiment, run_id)
    make_folders(folder)
    make_folders(registry.staging)
    write_text_atomic(folder / EVENTS_FILE, events, staging=registry.staging)
    metrics, tags = read_events(folder)
    starts = [t["start_unix"] for t in trials if t.get("start_unix") is not None]
    ends = [t["end_unix"] for t in trials if t.get("end_unix") is not None]
    start, end = min(starts, default=time.time()), max(ends, default=time.time())
    record: RunRecord = {k: v for k, v in best.items() if k not in _OWN}  # type: ignore[assignment]
    record.update({
        "id": run_id,
        "status": "Completed",
        "exit_code": 0,
        "start": min((t["start"] for t in trials), default=now()),
        "end": now(),
        "start_unix": round(start, 3),
        "end_unix": round(end, 3),
        "duration_seconds": round(max(end - start, 0), 3),
        "command": [],
        "arguments": {},
        "folder": str(folder.resolve()),
        "metrics": metrics,
        "tags": tags,
        "images": {},
        "uploads": {},
        "outputs": [],
        "sweep_trials": [t["id"] for t in trials],
    })  # fmt: skip
    write_json_atomic(folder / "run.json", record, staging=registry.staging)
    logged = f"{len(metrics)} metric(s) and {len(tags)} tag(s)"
    log(f"sweep's parent run {run_id}: {logged} its trials logged to run.parent")
    return record


def _parent_events(trial_folder: Path) -> str:
    """The lines a trial's ``run.parent`` wrote, each ending in a newline."""
    try:
        text = (trial_folder / PARENT / EVENTS_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return ""
    return text if not text or text.endswith("\n") else text + "\n"
