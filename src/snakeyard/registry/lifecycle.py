"""What changes about a name's versions after they are published: aliases, tags and
description, archive and delete, each change kept as history.

A version folder holds what was registered and nothing there changes for an edit.
Every change is an *event*, a small JSON file ``<kind>/<name>/.history/<seq>.json``,
numbered 1, 2, 3, … per name and never rewritten. The state of a name (where each
alias points, the tags and description of each version, which versions are archived
or deleted) is the fold of its events in order, so the history is the state.

An event is appended the way a version is published: written whole into the
registry's ``.tmp/``, flushed, then given its number with ``link(2)``, which fails when
the name exists, on one machine and on NFS alike (no lock). A writer first reads the
state up to event ``S``, checks its change against it (the alias's version exists, the
version is not deleted, …) and links its event as ``S + 1``; when another writer took
that number first, it reads the state again, checks again and retries. So each event
was valid against the state just before it, concurrent writers never lose each other's
changes, and the last event decides.

``<kind>/<name>/.state`` is a hint: the fold up to some event, with that event's
number. Readers start from it and apply the events after it (one ``open`` each, one
failed ``open`` when it is current), so reading the state costs two small reads
whatever the number of versions and events.
"""

from __future__ import annotations

import errno
import getpass
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MetadataError, SnakeyardError
from ..files import (
    fsync_folder,
    make_folders,
    read_json,
    temporary_name,
    write_json_atomic,
    write_new_file,
)
from ..records import Change, LifecycleEvent

HISTORY = ".history"
STATE = ".state"


def now() -> str:
    """The current UTC time as the registry writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def user() -> str:
    """Who makes a change: the login name, else the uid (a container without passwd)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container, say)
        return f"uid {os.getuid()}"


def change_stamp() -> Change:
    """When, by whom and where a change is made."""
    return {"time": now(), "user": user(), "host": platform.node()}


def empty_state() -> dict[str, Any]:
    """The state of a name without events."""
    return {"seq": 0, "aliases": {}, "versions": {}}


def apply(state: dict[str, Any], event: LifecycleEvent) -> dict[str, Any]:
    """The state after ``event`` (``state`` is changed in place and returned)."""
    action = event["action"]
    stamp = {k: event[k] for k in ("time", "user", "host")}
    version = str(event.get("version"))
    entry = state["versions"].setdefault(version, {}) if "version" in event else {}
    if action == "alias":
        if event["to"] is None:
            state["aliases"].pop(event["alias"], None)
        else:
            state["aliases"][event["alias"]] = event["to"]
    elif action == "tag":
        tags = entry.setdefault("tags", {})
        tags.update(event.get("set") or {})
        tags.update(dict.fromkeys(event.get("remove") or []))  # None: removed
    elif action == "describe":
        entry["description"] = event["to"]
    elif action == "archive":
        entry["archived"] = stamp
    elif action == "restore":
        entry.pop("archived", None)
    elif action == "delete":
        entry.pop("archived", None)
        entry["deleted"] = stamp
        for alias in event.get("aliases") or []:
            state["aliases"].pop(alias, None)
    state["seq"] = event["seq"]
    return state


class Lifecycle:
    """The events and state of the names of one kind (``<registry>/<kind>``)."""

    def __init__(self, root: Path, kind: str, staging: Path, contain: Callable[[Path, str], Any]):
        self.root = root
        self.kind = kind
        self.staging = staging
        self.contain = contain

    def history_folder(self, name: str) -> Path:
        return self.root / name / HISTORY

    # ----------------------------------------------------------------- reading
    def state(self, name: str) -> dict[str, Any]:
        """The state of ``name`` after its last event."""
        base = self.root / name
        state = self._hint(base)
        history = base / HISTORY
        checked = False
        while True:
            event = self._event(history, state["seq"] + 1)
            if event is None:
                return state
            if not checked:
                # a name with a history: its folder must not lead out of the registry
                # (checked once there is one, so a name without costs nothing more)
                self.contain(history, f"history of {self.kind} {name}")
                checked = True
            apply(state, event)

    def _hint(self, base: Path) -> dict[str, Any]:
        try:
            state = read_json(base / STATE)
            for path in (base / STATE, base / HISTORY):
                self.contain(path, f"history of {self.kind} {base.name}")
            seq = state["seq"]
            # a hint naming an event that is not there was written by hand: not trusted
            if isinstance(seq, int) and seq >= 1 and (base / HISTORY / f"{seq}.json").is_file():
                if isinstance(state.get("aliases"), dict) and isinstance(
                    state.get("versions"), dict
                ):
                    return state
        except (OSError, MetadataError, TypeError, KeyError):
            pass
        return empty_state()

    def _event(self, history: Path, seq: int) -> LifecycleEvent | None:
        try:
            event = read_json(history / f"{seq}.json")
        except FileNotFoundError:
            return None
        if not isinstance(event, dict) or event.get("seq") != seq or "action" not in event:
            raise MetadataError(
                f"{history / f'{seq}.json'} is not event {seq} of {self.kind} "
                f"{history.parent.name} (it holds {event!r:.80})"
            )
        return event

    def events(self, name: str) -> list[LifecycleEvent]:
        """Every event of ``name``, oldest first."""
        history, found, seq = self.history_folder(name), [], 1
        while (event := self._event(history, seq)) is not None:
            found.append(event)
            seq += 1
        return found

    # ----------------------------------------------------------------- writing
    def change(
        self, name: str, make: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> LifecycleEvent | None:
        """Append the event ``make(state)`` returns for the current state of ``name``.

        ``make`` checks the change against the state and raises SnakeyardError when it
        is refused, or returns None when there is nothing to change (an alias already
        there). It is called again whenever another writer appended an event first.
        """
        base = self.root / name
        history = base / HISTORY
        for folder in (self.staging, base, history):
            self.contain(folder, f"cannot change {self.kind} {name}")
        make_folders(self.staging)
        make_folders(history)
        while True:
            state = self.state(name)
            made = make(state)
            if made is None:
                return None
            event: LifecycleEvent = {
                **made, **change_stamp(), "seq": state["seq"] + 1, "uid": uuid.uuid4().hex
            }
            if self._append(history, event):
                self._write_hint(base, apply(state, event))
                return event

    def _append(self, history: Path, event: LifecycleEvent) -> bool:
        """Give ``event`` its number with ``link(2)``; False when that number is taken."""
        tmp = self.staging / temporary_name(f"event.{history.parent.name}")
        target = history / f"{event['seq']}.json"
        try:
            write_new_file(tmp, json.dumps(event, indent=2, sort_keys=True) + "\n")
            try:
                os.link(tmp, target)
            except OSError as error:
                if error.errno == errno.EXDEV:
                    raise SnakeyardError(
                        f"cannot record a change in {history}: it is on another filesystem "
                        f"than {self.staging}; a registry must be one filesystem"
                    ) from None
                # Refused because the number is taken: EEXIST locally, and network
                # filesystems may say EPERM or EIO. NFS may also resend a link whose
                # reply was lost, which then fails although the first one succeeded:
                # our own uid at the target tells. Any other failure is an error.
                if not target.exists():
                    raise
                if self._uid_at(target) != event["uid"]:
                    return False
        finally:
            tmp.unlink(missing_ok=True)
        fsync_folder(history)
        return True

    def _uid_at(self, target: Path) -> str | None:
        try:
            found = read_json(target)
        except (OSError, MetadataError):
            return None
        return found.get("uid") if isinstance(found, dict) else None

    def _write_hint(self, base: Path, state: dict[str, Any]) -> None:
        # a hint: a reader applies the events after it, so an older one written last by a
        # slower writer only costs a few reads; not flushed (one lost reads as absent)
        try:
            write_json_atomic(base / STATE, state, staging=self.staging, durable=False)
        except OSError:
            pass


def version_state(state: dict[str, Any], version: int) -> dict[str, Any]:
    """What the events say about one version: ``tags`` changes, ``description``,
    ``archived``, ``deleted`` (each absent when never changed)."""
    return state["versions"].get(str(version), {})


def hidden(state: dict[str, Any], version: int) -> bool:
    """Whether ``latest`` and lists pass over ``version``: archived or deleted."""
    entry = version_state(state, version)
    return "archived" in entry or "deleted" in entry


def aliases_of(state: dict[str, Any], version: int) -> list[str]:
    """The aliases that point at ``version``, sorted."""
    return sorted(a for a, v in state["aliases"].items() if v == version)


def aliases_by_version(state: dict[str, Any]) -> dict[int, list[str]]:
    """The aliases of every version that has any, each list sorted: for a listing,
    which would otherwise look through every alias once per version."""
    found: dict[int, list[str]] = {}
    for alias, version in sorted(state["aliases"].items()):
        found.setdefault(version, []).append(alias)
    return found


def annotate(
    meta: dict[str, Any], state: dict[str, Any], aliases: dict[int, list[str]] | None = None
) -> dict[str, Any]:
    """``meta`` (a version's metadata as read) with the changes the events made: tags
    and description as they are now, ``aliases``, and ``archived``/``deleted``.
    ``aliases`` is :func:`aliases_by_version` of ``state``, for a listing to make once."""
    entry = version_state(state, meta["version"])
    if "tags" in entry:
        tags = {**(meta.get("tags") or {}), **entry["tags"]}
        meta["tags"] = {k: v for k, v in tags.items() if v is not None}
    if "description" in entry:
        meta["description"] = entry["description"]
    for key in ("archived", "deleted"):
        if key in entry:
            meta[key] = entry[key]
    if aliases is None:
        meta["aliases"] = aliases_of(state, meta["version"])
    else:
        meta["aliases"] = list(aliases.get(meta["version"], ()))
    return meta


def alias_history(events: list[LifecycleEvent], alias: str) -> list[dict[str, Any]]:
    """Every move of ``alias``: ``{time, user, host, from, to}``, oldest first; ``to`` is
    None where it was removed (by ``--delete``, or a forced delete of its version)."""
    moves = []
    for event in events:
        if event["action"] == "alias" and event["alias"] == alias:
            moves.append({k: event[k] for k in ("time", "user", "host", "from", "to")})
        elif event["action"] == "delete" and alias in (event.get("aliases") or []):
            stamp = {k: event[k] for k in ("time", "user", "host")}
            moves.append({**stamp, "from": event["version"], "to": None})
    return moves
