"""A sweep's time budget (``max_duration_minutes``): the clock that starts with the
sweep's first job, and what the jobs after it read from it.

The clock is one small file in the sweep's study folder, ``clock.json``, holding the
start time; it is created once, by whichever job comes first (a wave's planning or a
trial, on any node), with a link so that two jobs starting together agree on one start.
The budget itself is read from the configuration, so raising it gives a running sweep
more time from the same start. Standard library only.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

CLOCK_FILE = "clock.json"
# the budgets of the workflow's sweeps, {experiment: minutes}, as the workflow sets it
# for every job: not a rule parameter, so that raising a budget re-runs no trial
BUDGETS_VARIABLE = "SNAKEYARD_SWEEP_BUDGETS"


def configured_minutes(experiment: str) -> float | None:
    """The experiment's ``max_duration_minutes`` as the workflow passed it to this job."""
    try:
        budgets = json.loads(os.environ.get(BUDGETS_VARIABLE) or "{}")
    except json.JSONDecodeError:
        return None
    minutes = budgets.get(experiment) if isinstance(budgets, dict) else None
    return float(minutes) if isinstance(minutes, (int, float)) else None


def start_clock(folder: Path) -> float:
    """The sweep's start (seconds since the epoch): read from ``folder/clock.json``, or
    now, written there if no job wrote it before."""
    clock = folder / CLOCK_FILE
    folder.mkdir(parents=True, exist_ok=True)
    if not clock.exists():
        # written whole under another name, then linked: link() fails if the clock is
        # there already, atomically, also on NFS, so the first job's start wins
        draft = folder / f".{CLOCK_FILE}.{uuid.uuid4().hex}"
        draft.write_text(json.dumps({"start_unix": round(time.time(), 3)}) + "\n")
        try:
            os.link(draft, clock)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return float(json.loads(clock.read_text())["start_unix"])


def deadline(folder: Path, minutes: float | None) -> float | None:
    """When the sweep's budget of ``minutes`` runs out (seconds since the epoch), the
    clock started if need be; None without a budget."""
    if minutes is None:
        return None
    return start_clock(folder) + 60 * minutes


def expired_reason(minutes: float) -> str:
    """What a trial's record says when the budget stopped it."""
    return f"the sweep's time budget (max_duration_minutes: {minutes:g}) ran out"
