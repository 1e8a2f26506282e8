"""The environment stage: ``lock`` an environment's spec (or record ``current``) and
register it as an environment version.

Called by :mod:`snakeyard.stages` for ``workflow/rules/environments.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..records import EnvironmentReceipt
from ..registry.receipts import outcome, write_receipt


def lock(
    *,
    name: str,
    spec_file: str,
    platforms: list[str] | None,
    channels: list[str] | None,
    registry: str,
    out: Path,
    log: Callable[[str], None],
) -> EnvironmentReceipt:
    """Lock ``spec_file`` for ``platforms`` (from ``channels`` when given), or record the
    workflow's interpreter when ``name`` is ``current``; register the result as
    environment ``name``, write the receipt to ``out`` and return it."""
    from ..registry.registry import Registry
    from .specs import CURRENT, pin, record_current

    store = Registry(registry)
    if name == CURRENT:
        pinned = record_current(log)
    else:
        pinned = pin(Path(spec_file), log, platforms, channels)
    meta = store.register_environment(name, spec_file=spec_file, **pinned)
    log(f"environment {name!r} ({meta['method']}) {outcome(meta)}")
    keys = ("name", "version", "method", "content_hash", "new")
    return write_receipt(out, meta, keys, store.root)
