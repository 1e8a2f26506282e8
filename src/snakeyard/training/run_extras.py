"""What the hosted-SDK calls leave in a run folder besides metrics, tags and files:
properties, the script's own verdict (``run.fail()``, ``run.cancel()``), child runs and,
for a sweep trial, what it logged to its parent run.

Read by the runner into the run record (``properties``, ``children``) and by the sweep
stage into the sweep's parent run. The events are the Run API's ``events.jsonl`` lines
(see :mod:`.run_api`), written by ``hosted/azureml/core/run.py``.
"""

from __future__ import annotations

import os
from typing import Any

from ..records import ChildRun
from .run_api import _events, _name, read_events

CHILDREN = "children"  # <run folder>/children/<child id>/events.jsonl
PARENT = "parent"  # <trial's run folder>/parent/events.jsonl: its run.parent's calls
# what the runner tells the stand-in, besides the Run API's variables: the run's data
# set by its run.input_datasets keys (JSON), and a trial's parent folder
INPUT_DATASETS_VARIABLE = "SNAKEYARD_INPUT_DATASETS"
PARENT_DIR_VARIABLE = "SNAKEYARD_PARENT_DIR"


def read_properties(run_dir: str | os.PathLike) -> dict[str, str]:
    """The properties the script added (``run.add_properties``), the last value of each."""
    return {
        _name(e.get("name")): str(e.get("value"))
        for e in _events(run_dir)
        if e.get("kind") == "property"
    }


def script_verdict(run_dir: str | os.PathLike) -> tuple[str, str] | None:
    """``(status, details)`` of the script's last ``fail``/``cancel``/``complete`` call."""
    found = [e for e in _events(run_dir) if e.get("kind") == "status"]
    if not found:
        return None
    return str(found[-1].get("name")), str(found[-1].get("value") or "")


def verdict_problem(run_dir: str | os.PathLike) -> list[str]:
    """The reason a run is Failed although its script exited 0: it called ``run.fail()``
    or ``run.cancel()``."""
    verdict = script_verdict(run_dir)
    if verdict is None or verdict[0] == "Completed":
        return []
    status, details = verdict
    said = f": {details}" if details else ""
    how = "run.fail()" if status == "Failed" else "run.cancel()"
    return [f"the script marked the run {status} with {how}{said}"]


def read_children(run_dir: str | os.PathLike, ended: str) -> list[ChildRun]:
    """The child runs the script made, in order, each with what it logged; a child that
    did not end itself ends as its parent did (``ended``)."""
    children: list[ChildRun] = []
    for event in _events(run_dir):
        if event.get("kind") != "child":
            continue
        child_id = _name(event.get("name"))
        folder = os.path.join(run_dir, CHILDREN, child_id)
        if os.path.dirname(os.path.normpath(folder)) != os.path.join(run_dir, CHILDREN):
            continue  # not a folder of children/: events.jsonl is the script's to write
        metrics, tags = read_events(folder)
        verdict = script_verdict(folder)
        children.append({
            "id": child_id,
            "name": str(event.get("value") or child_id),
            "status": "Failed" if verdict and verdict[0] != "Completed" else ended,
            "metrics": metrics,
            "tags": tags,
        })  # fmt: skip
    return children


def read_parent(run_dir: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    """Metrics and tags a sweep trial logged to its parent run (``run.parent``)."""
    return read_events(os.path.join(run_dir, PARENT))
