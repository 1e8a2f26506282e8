"""Garbage collection: remove what no live version, alias or running run needs.

What goes, each kind checked against what is live at the moment it is listed:

- ``work/`` of a run folder (the snapshot and its outputs) when the run has ended long
  enough ago (``runs_older_than`` days; ``keep_failed`` days for a failed or lost run),
  no model version that is not deleted came from it, and it is not running. The run's
  record, events, images and uploads stay: ``runs show`` still answers.
- the files left in ``artifacts/`` of a deleted model version (a delete cut short).
- in a folder datastore, data folders and blobs that no data set version lists that is
  not deleted (or that a running run trains on), once unchanged for
  :data:`GRACE_SECONDS`: an upload links its blobs
  and renames its folder (or touches the folder it reuses) before it publishes the
  version that lists them, so a young one may be on its way to being listed.
- the temporaries of writers that are no longer running (``files.abandoned_temporaries``).

An alias points at a version that is not deleted (deleting one refuses, or removes the
alias), so what an alias needs is what a live version needs. The same listing serves
``--dry-run`` and the removal, so a dry run names exactly what the removal then removes
(unless a writer changes the registry in between).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SnakeyardError
from ..files import abandoned_temporaries, read_json, remove_path
from ..records import Garbage
from ..training.liveness import judge
from .lifecycle import version_state
from .versions import DEFAULT_DATASTORE, STAGING

if TYPE_CHECKING:
    from .registry import Registry

DAY = 24 * 3600
GRACE_SECONDS = 3600  # how long an unlisted datastore entry may be an upload in progress


def find_garbage(
    registry: Registry,
    *,
    runs_older_than: float = 30,
    keep_failed: float | None = None,
    grace: float = GRACE_SECONDS,
) -> list[Garbage]:
    """What :func:`collect_garbage` would remove now, with the bytes each frees."""
    for days, option in ((runs_older_than, "--runs-older-than"), (keep_failed, "--keep-failed")):
        if days is not None and (not isinstance(days, (int, float)) or days < 0):
            raise SnakeyardError(f"invalid {option} {days!r}: use a number of days from 0")
    keep_failed = runs_older_than if keep_failed is None else keep_failed
    now = time.time()
    found = _run_work(registry, now, runs_older_than * DAY, keep_failed * DAY)
    found += _deleted_artifacts(registry)
    found += _datastore(registry, now - grace)
    found += _temporaries(registry)
    return found


def collect_garbage(
    registry: Registry, *, dry_run: bool = False, **limits: float
) -> list[Garbage]:
    """Remove what :func:`find_garbage` lists (nothing with ``dry_run``); return the list."""
    found = find_garbage(registry, **limits)
    if not dry_run:
        for item in found:
            path = Path(item["path"])
            # checked once more, just before: a run may have been registered since
            if item["kind"] == "run work" and _run_needed(registry, path.parent):
                item["kept"] = "a model version was registered from it meanwhile"
                continue
            remove_path(path)
    return found


# ------------------------------------------------------------------------- runs
def _needed_runs(registry: Registry) -> set[str]:
    """The runs that a model version that is not deleted came from."""
    return {m["run_id"] for m in registry.live_models() if m.get("run_id")}


def _run_needed(registry: Registry, folder: Path) -> bool:
    return folder.name in _needed_runs(registry)


def _run_work(registry: Registry, now: float, completed: float, failed: float) -> list[Garbage]:
    needed = _needed_runs(registry)
    found: list[Garbage] = []
    for record_path in sorted(registry.runs_root.glob("*/*/run.json")):
        folder = record_path.parent
        work = folder / "work"
        if folder.name in needed or not work.is_dir():
            continue
        try:
            registry.contained(work, f"run {folder.name}")
            record = read_json(record_path)
        except (OSError, SnakeyardError):
            continue  # unreadable: `snakeyard verify` reports it; nothing removed blindly
        status = record.get("status") if isinstance(record, dict) else None
        if status == "Running":
            seen = judge(record, folder)
            if seen is None or not seen.lost:
                continue  # it runs, or nothing tells that it does not
            status = "Lost"
        ended = record.get("end_unix") or _modified(record_path)
        limit = completed if status == "Completed" else failed
        if now - ended >= limit:
            found.append({"kind": "run work", "path": str(work), "bytes": _freed(work)})
    return found


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _running_datasets(registry: Registry) -> set[tuple[str, int]]:
    """The data set versions that runs still running train on: their files stay, even
    for a version deleted since the run started."""
    found = set()
    for record_path in registry.runs_root.glob("*/*/run.json"):
        try:
            record = read_json(record_path)
            if record.get("status") != "Running":
                continue
            seen = judge(record, record_path.parent)
            dataset = record.get("dataset") or {}
            if seen is None or not seen.lost:
                found.add((dataset.get("name"), dataset.get("version")))
        except (OSError, SnakeyardError, AttributeError):
            continue
    return found


def _freed(path: Path) -> int:
    """The bytes removing ``path`` frees: files with no other hard link (a run's outputs
    that the registry or results/ link to free nothing)."""
    if path.is_file():
        stat = path.lstat()
        return stat.st_size if stat.st_nlink == 1 else 0
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                stat = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.st_nlink == 1:
                total += stat.st_size
    return total


# ----------------------------------------------------------------------- models
def _deleted_artifacts(registry: Registry) -> list[Garbage]:
    store, found = registry.models, []
    for name in store.names():
        state = store.lifecycle.state(name)
        for number in store.versions(name):
            artifacts = store.root / name / str(number) / "artifacts"
            if "deleted" in version_state(state, number) and artifacts.is_dir():
                store.contained(artifacts, f"model {name}:{number}")
                found.append(
                    {"kind": "model files", "path": str(artifacts), "bytes": _freed(artifacts)}
                )
    return found


# -------------------------------------------------------------------- datastore
def _datastore(registry: Registry, young: float) -> list[Garbage]:
    """Data folders and blobs of the registry's folder datastore that no data set version
    that is not deleted lists, and that have not changed since ``young``."""
    from ..data.datastore import FolderDatastore

    datastore = registry.datastore
    if not isinstance(datastore, FolderDatastore) or not datastore.root.is_dir():
        return []  # an object store keeps its own lifecycle rules
    root = datastore.root.resolve()
    folders: set[Path] = set()
    blobs: set[str] = set()
    store = registry.datasets
    in_use = _running_datasets(registry)
    for name in store.names():
        state = store.lifecycle.state(name)
        for number in store.versions(name):
            if "deleted" in version_state(state, number) and (name, number) not in in_use:
                continue
            try:
                meta = registry.get_dataset(name, number)
            except SnakeyardError:
                # unreadable: keep everything its name may use (verify reports it)
                folders.update(p.resolve() for p in (root / name).glob("*"))
                continue
            if not str(meta["location"]).startswith("s3://"):
                folders.add(Path(meta["location"]).resolve())
            blobs.update(e["sha256"] for e in meta.get("files") or [] if isinstance(e, dict))
    found: list[Garbage] = []
    removed_links: Counter[tuple[int, int]] = Counter()
    for entry in sorted(datastore.root.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
            continue
        for folder in sorted(entry.iterdir()):
            if folder.resolve() in folders or not _older(folder, young):
                continue
            # its files are links to blobs: the blobs' entries count what they free
            found.append({"kind": "data folder", "path": str(folder), "bytes": _freed(folder)})
            for dirpath, _, names in os.walk(folder):
                for file_name in names:
                    stat = os.lstat(os.path.join(dirpath, file_name))
                    removed_links[(stat.st_dev, stat.st_ino)] += 1
    for blob in sorted(datastore.blobs.glob("*/*")):
        if blob.name in blobs or not _older(blob, young):
            continue
        stat = blob.lstat()
        alone = stat.st_nlink - removed_links[(stat.st_dev, stat.st_ino)] <= 1
        found.append({"kind": "blob", "path": str(blob), "bytes": stat.st_size if alone else 0})
    return found


def _older(path: Path, young: float) -> bool:
    """Unchanged since ``young``: its change time (which a new hard link or a rename
    also sets) is before it."""
    try:
        return path.lstat().st_ctime < young
    except OSError:
        return False


# ------------------------------------------------------------------ temporaries
def _temporaries(registry: Registry) -> list[Garbage]:
    """What dead writers left in the registry's ``.tmp/`` and its datastore's."""
    from ..data.datastore import FolderDatastore

    folders = [registry.root / DEFAULT_DATASTORE / STAGING]
    try:
        folders.insert(0, registry.contained(registry.staging, "registry"))
    except SnakeyardError:
        pass  # a link out of the registry: what it leads to is not ours to sweep
    if isinstance(registry.datastore, FolderDatastore):
        folders.append(registry.datastore.staging)
    found: list[Garbage] = []
    for folder in dict.fromkeys(Path(os.path.abspath(f)) for f in folders):
        for path in abandoned_temporaries(folder):
            found.append({"kind": "temporary", "path": str(path), "bytes": _freed(path)})
    return found
