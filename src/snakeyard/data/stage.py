"""The data stages: ``fetch`` a data set's files, ``upload`` them as a data set version.

Called by :mod:`snakeyard.stages` for the rules of ``workflow/rules/data.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..files import read_json
from ..records import DatasetReceipt, FetchSpec
from ..registry.receipts import outcome, write_receipt


def fetch(
    *,
    name: str,
    source: str | list,
    files: Path,
    manifest: Path,
    spec: FetchSpec,
    log: Callable[[str], None],
) -> None:
    """Write data set ``name`` from ``source`` into the folder ``files``, checked against
    ``spec`` (format, label column, download options), and its manifest into ``manifest``.

    Raises :class:`~snakeyard.errors.SnakeyardError` naming the source or file at fault.
    """
    from .download import DownloadOptions
    from .sources import describe_source
    from .sources import fetch as fetch_source

    entries = fetch_source(
        source,
        files,
        manifest,
        name,
        data_format=spec.get("format") or "files",
        label_column=spec.get("label_column"),
        options=DownloadOptions(**(spec.get("download") or {})),
        log=log,
    )
    size = sum(entry["bytes"] for entry in entries)
    log(
        f"fetched {describe_source(source)} as data set {name!r}: "
        f"{len(entries)} files, {size} bytes"
    )


def upload(
    *,
    name: str,
    files: Path,
    manifest: Path,
    description: str,
    origin: str | list | None,
    registry: str,
    datastore: str | None,
    out: Path,
    log: Callable[[str], None],
) -> DatasetReceipt:
    """Store the fetched ``files`` in the datastore and register them as data set ``name``
    (a new version, or the existing one with the same content); write the receipt to
    ``out`` and return it."""
    from ..registry.registry import Registry
    from .sources import describe_source

    store = Registry(registry, datastore)
    fetched = read_json(manifest)
    meta = store.upload_dataset(
        name,
        files,
        fetched["files"],
        description,
        origin=describe_source(origin) if origin else None,
        data_format=fetched.get("format") or "files",
        schema=fetched.get("schema"),
    )
    log(f"data set {name!r} {outcome(meta)} (content {meta['content_hash'][:12]})")
    log(f"datastore {meta['location']}: {meta['report'].summary()}")
    keys = ("name", "version", "content_hash", "location", "format", "new")
    return write_receipt(out, meta, keys, store.root)
