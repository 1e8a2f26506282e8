"""What changed between two data set versions: files added, removed, changed, and columns."""

from __future__ import annotations

from typing import Any


def diff_datasets(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Compare two data set versions' metadata; plain data, files sorted by path.

    ``changed`` holds files whose path is in both with other bytes; ``columns`` the
    column changes of tabular versions (added, removed, and type changes).
    """
    before = {entry["path"]: entry for entry in old["files"]}
    after = {entry["path"]: entry for entry in new["files"]}
    changed = [
        {"path": path, "from": _content(before[path]), "to": _content(after[path])}
        for path in sorted(before.keys() & after.keys())
        if before[path]["sha256"] != after[path]["sha256"]
    ]
    same = sorted(
        p for p in before.keys() & after.keys() if before[p]["sha256"] == after[p]["sha256"]
    )
    return {
        "name": new["name"],
        "from": old["version"],
        "to": new["version"],
        "identical": old["content_hash"] == new["content_hash"],
        "added": [after[path] for path in sorted(after.keys() - before.keys())],
        "removed": [before[path] for path in sorted(before.keys() - after.keys())],
        "changed": changed,
        "unchanged": same,
        "unchanged_bytes": sum(after[path]["bytes"] for path in same),
        "format": {"from": old.get("format", "files"), "to": new.get("format", "files")},
        "columns": _column_changes(old.get("schema"), new.get("schema")),
    }


def _content(entry: dict[str, Any]) -> dict[str, Any]:
    return {"bytes": entry["bytes"], "sha256": entry["sha256"]}


def _column_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    before = {c["name"]: c["type"] for c in (old or {}).get("columns", [])}
    after = {c["name"]: c["type"] for c in (new or {}).get("columns", [])}
    return {
        "added": [f"{name} ({after[name]})" for name in after if name not in before],
        "removed": [f"{name} ({before[name]})" for name in before if name not in after],
        "retyped": [
            f"{name} ({before[name]} -> {after[name]})"
            for name in after
            if name in before and before[name] != after[name]
        ],
    }
