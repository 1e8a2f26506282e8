"""The receipts the registering stages leave under ``results/``: which version they made
or found, in which registry (shapes in :mod:`snakeyard.records`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import write_json_atomic
from ..records import Version


def outcome(meta: Version) -> str:
    """How a registration went, for the log: a new version or the one already there."""
    if meta["new"]:
        return f"registered as new version {meta['version']}"
    return f"unchanged; already registered as version {meta['version']}"


def write_receipt(path: Path, meta: Version, keys: tuple[str, ...], root: Path) -> Any:
    """Write ``keys`` of ``meta`` and the registry's ``root`` to ``path``; return them."""
    receipt = {**{key: meta[key] for key in keys}, "registry": str(root)}
    write_json_atomic(path, receipt)
    return receipt
