"""The changes a user makes to published versions: move an alias, edit tags or the
description, archive, restore and delete.

Each is one event of the name's history (:mod:`snakeyard.registry.lifecycle`), checked
against the state just before it, so two writers changing one name at once never lose
a change, and a refused change leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidNameError, SnakeyardError
from ..files import temporary_name
from ..records import LifecycleEvent
from .lifecycle import aliases_of, annotate, version_state
from .versions import VersionStore, check_alias, check_name, split_ref


def _live(store: VersionStore, name: str, version: int, state: dict[str, Any], doing: str) -> None:
    """Refuse ``doing`` to a deleted version (its number is a tombstone)."""
    deleted = version_state(state, version).get("deleted")
    if deleted:
        raise SnakeyardError(
            f"cannot {doing} {store.kind} {name}:{version}: it was deleted at "
            f"{deleted['time']} by {deleted['user']}@{deleted['host']}"
        )


def set_alias(
    store: VersionStore, name: str, version: int | str, alias: str
) -> LifecycleEvent | None:
    """Point ``alias`` of ``name`` at ``version`` (set it, or move it); None when it points
    there already."""
    check_alias(alias)
    name, number = _target(store, name, version)

    def make(state: dict[str, Any]) -> dict[str, Any] | None:
        _live(store, name, number, state, f"set alias {alias!r} on")
        previous = state["aliases"].get(alias)
        if previous == number:
            return None
        return {"action": "alias", "alias": alias, "from": previous, "to": number}

    return store.lifecycle.change(name, make)


def delete_alias(store: VersionStore, name: str, alias: str) -> LifecycleEvent:
    """Remove ``alias`` of ``name``; NotFoundError when it does not exist."""
    check_alias(alias)
    store.resolve_alias(name, alias)  # an unknown name or alias: nothing is written

    def make(state: dict[str, Any]) -> dict[str, Any]:
        previous = store.resolve_alias(name, alias)  # removed meanwhile: refused now
        return {"action": "alias", "alias": alias, "from": previous, "to": None}

    return store.lifecycle.change(check_name(name, store.kind), make)


def edit_tags(
    store: VersionStore,
    name: str,
    version: int | str,
    set_tags: dict[str, str],
    remove: list[str],
) -> LifecycleEvent:
    """Set and remove tags of one version (the registered bytes stay as they are)."""
    if not set_tags and not remove:
        raise SnakeyardError("nothing to change: give KEY=VALUE pairs or --remove KEY")
    both = sorted(set(set_tags) & set(remove))
    if both:
        raise SnakeyardError(f"tag {both[0]!r} is both set and removed; give it once")
    for key in [*set_tags, *remove]:
        if not isinstance(key, str) or not key or "=" in key:
            raise InvalidNameError(f"invalid tag key {key!r}: a non-empty text without '='")
    name, number = _target(store, name, version)

    def make(state: dict[str, Any]) -> dict[str, Any]:
        _live(store, name, number, state, "tag")
        _check_removed_tags(store, name, number, state, remove)
        return {"action": "tag", "version": number, "set": dict(set_tags), "remove": list(remove)}

    return store.lifecycle.change(name, make)


def _check_removed_tags(
    store: VersionStore, name: str, number: int, state: dict[str, Any], remove: list[str]
) -> None:
    """Refuse to remove a tag the version does not have (a typo would otherwise be
    recorded as a change that changed nothing)."""
    tags = annotate(store.read(name, number), state).get("tags") or {}
    missing = [key for key in remove if key not in tags]
    if missing:
        have = ", ".join(sorted(tags)) or "none"
        raise SnakeyardError(
            f"{store.kind} {name}:{number} has no tag {missing[0]!r} (its tags: {have})"
        )


def describe(store: VersionStore, name: str, version: int | str, text: str) -> LifecycleEvent:
    """Replace the description of one version."""
    name, number = _target(store, name, version)

    def make(state: dict[str, Any]) -> dict[str, Any]:
        _live(store, name, number, state, "describe")
        before = version_state(state, number).get("description")
        if before is None:
            before = store.read(name, number).get("description", "")
        return {"action": "describe", "version": number, "from": before, "to": text}

    return store.lifecycle.change(name, make)


def archive(store: VersionStore, name: str, version: int) -> LifecycleEvent:
    """Hide one version from ``latest`` and from lists; it stays loadable by number."""
    name, number = _target(store, name, version, "archive")

    def make(state: dict[str, Any]) -> dict[str, Any]:
        _live(store, name, number, state, "archive")
        archived = version_state(state, number).get("archived")
        if archived:
            raise SnakeyardError(
                f"{store.kind} {name}:{number} is archived already (at {archived['time']} by "
                f"{archived['user']}@{archived['host']}); `restore` brings it back"
            )
        return {"action": "archive", "version": number}

    return store.lifecycle.change(name, make)


def restore(store: VersionStore, name: str, version: int) -> LifecycleEvent:
    """Bring an archived version back into ``latest`` and lists."""
    name, number = _target(store, name, version, "restore")

    def make(state: dict[str, Any]) -> dict[str, Any]:
        _live(store, name, number, state, "restore")
        if "archived" not in version_state(state, number):
            raise SnakeyardError(f"{store.kind} {name}:{number} is not archived")
        return {"action": "restore", "version": number}

    return store.lifecycle.change(name, make)


def delete(
    store: VersionStore,
    name: str,
    version: int,
    *,
    force: bool = False,
    check: Callable[[int], None] | None = None,
    remove_files: Callable[[Path], None] | None = None,
) -> LifecycleEvent:
    """Delete one version: record its tombstone, then remove its stored files.

    Refused when an alias points at it, unless ``force`` (which removes those aliases in
    the same event). ``check(number)`` may refuse it for other reasons (a data set that
    a live model came from). ``remove_files(folder)`` removes the bytes after the
    tombstone is recorded, so that no reader uses a version while it is taken apart.
    """
    name, number = _target(store, name, version, "delete")
    if check is not None:
        check(number)

    def make(state: dict[str, Any]) -> dict[str, Any]:
        _live(store, name, number, state, "delete")
        aliases = aliases_of(state, number)
        if aliases and not force:
            raise SnakeyardError(
                f"cannot delete {store.kind} {name}:{number}: alias(es) "
                f"{', '.join(aliases)} point at it; move them first, or delete it with "
                "--force, which removes them too"
            )
        return {"action": "delete", "version": number, "aliases": aliases}

    event = store.lifecycle.change(name, make)
    if remove_files is not None:
        remove_files(store.root / name / str(number))
    return event


def remove_artifacts(store: VersionStore, folder: Path) -> bool:
    """Remove a deleted model version's ``artifacts/``; True when there was one.

    It is renamed into the registry's ``.tmp/`` first, in one step, so that it vanishes
    whole; removing it there may be cut short (a killed process) and is then finished by
    the next sweep of ``.tmp/``.
    """
    artifacts = folder / "artifacts"
    store.contained(artifacts, f"{store.kind} {folder.parent.name}:{folder.name}")
    if not artifacts.is_dir():
        return False
    trash = store.staging / temporary_name(f"deleted.{folder.parent.name}.{folder.name}")
    try:
        os.rename(artifacts, trash)
    except FileNotFoundError:
        return False  # another process removed it first
    shutil.rmtree(trash, ignore_errors=True)
    return True


def _target(
    store: VersionStore, name: str, version: int | str, verb: str | None = None
) -> tuple[str, int]:
    """The name and version number a change is made to; ``name`` may be a whole
    reference. Archive, restore and delete (``verb``) need a number: never what may move."""
    name, version = split_ref(name, version, f"{store.kind} name")
    if verb is None or (isinstance(version, int) and not isinstance(version, bool)):
        return name, store.resolve(name, version)
    raise InvalidNameError(
        f"{verb} needs a version number (NAME:N), not {version!r}: 'latest' and aliases "
        "move, and the version they name now may not be the one meant"
    )
