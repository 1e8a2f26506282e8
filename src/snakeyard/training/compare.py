"""Runs side by side: what each ran with and what it logged, and where they differ.

Standard library only.
"""

from __future__ import annotations

import json
from typing import Any

from ..records import RunRecord


def _reference(ref: dict[str, Any] | None) -> str | None:
    if not ref:
        return None
    content = f" ({ref['content_hash'][:12]})" if ref.get("content_hash") else ""
    return f"{ref['name']}:{ref['version']}{content}"


def _duration(record: RunRecord) -> float | None:
    """How long the run took, or for one still running, how long it has run so far."""
    if record.get("duration_seconds") is not None:
        return record["duration_seconds"]
    return record.get("elapsed_seconds")


def _same(values: list[Any]) -> bool:
    first = json.dumps(values[0], sort_keys=True, default=str)
    return all(json.dumps(v, sort_keys=True, default=str) == first for v in values[1:])


def compare_runs(records: list[RunRecord]) -> dict[str, Any]:
    """The fields of ``records`` side by side: ``{"runs": [ids], "rows": [{"field",
    "values", "differs"}]}``, one row per field, argument (``argument:<name>``) and
    metric (``metric:<name>``) that any of them has; a run without it has None."""
    fixed = [
        ("experiment", lambda r: r["experiment"]),
        ("status", lambda r: r["status"]),
        ("start", lambda r: r.get("start")),
        ("duration_seconds", _duration),
        ("host", lambda r: r.get("host")),
        ("trial", lambda r: (r.get("trial") or {}).get("id")),
        ("dataset", lambda r: _reference(r.get("dataset"))),
        ("environment", lambda r: _reference(r.get("environment"))),
        ("snapshot_hash", lambda r: r.get("snapshot_hash")),
        ("git_commit", lambda r: r.get("git_commit")),
    ]
    rows = []
    for field, read in fixed:
        values = [read(r) for r in records]
        rows.append({"field": field, "values": values, "differs": not _same(values)})
    for prefix, key in (("argument", "arguments"), ("metric", "metrics")):
        names: dict[str, None] = {}
        for r in records:
            names.update(dict.fromkeys(r.get(key) or {}))  # type: ignore[arg-type]
        for name in names:
            values = [(r.get(key) or {}).get(name) for r in records]  # type: ignore[attr-defined]
            differs = not _same(values)
            rows.append({"field": f"{prefix}:{name}", "values": values, "differs": differs})
    return {"runs": [r["id"] for r in records], "rows": rows}
