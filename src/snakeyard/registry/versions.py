"""A folder of integer-versioned entries, safe for many writers on a shared filesystem.

Layout of one kind (``models``, ``datasets``, ``environments``) in a registry::

    <kind>/<name>/<version>/<meta file>   # one folder per published version, never changed
    <kind>/<name>/.latest                 # hint: a recently published version number
    <kind>/<name>/.by-content/<hash>/<v>  # hint: versions holding content with this hash
    .tmp/<kind>.<name>@<writer>-<random>/ # versions being written, invisible to readers

A version is built in the registry's ``.tmp/`` and published with a single
``rename(2)`` of its folder to the next free number. ``rename`` onto an existing
non-empty folder fails, so two writers can never publish the same number: the loser
moves on to the next number. This needs only POSIX rename semantics, which NFS
servers provide, and no lock or database file. A writer killed at any instant leaves
at most a folder in ``.tmp/``, which readers never look at, and which the next
publication of any name removes once its writer is dead (:func:`files.sweep_temporaries`).
Before the rename every file and folder of the version is flushed to stable storage,
and after it the folder holding the new name, so a published version survives a
power loss whole.

Every folder of this layout (the kind, each name, each version and its ``folders``
such as ``artifacts/``, and ``.tmp/``) must lie inside the registry once symbolic
links are followed: :meth:`VersionStore.contained` checks it before a version is read
and before anything is written, so that a link put in place of one of them cannot
make snakeyard read, unpickle, publish or sweep files elsewhere.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidNameError, MetadataError, NotFoundError, SnakeyardError
from ..files import (
    contained,
    fsync_folder,
    fsync_tree,
    json_text,
    make_folders,
    read_json,
    resolved,
    sweep_temporaries,
    temporary_name,
    write_json_atomic,
)
from .lifecycle import Lifecycle, hidden

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NAME_RULE = (
    "1 to 128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'"
)
STAGING = ".tmp"  # the registry's one folder of temporaries: one listing finds them all
DEFAULT_DATASTORE = "datastore"  # the datastore's folder in the registry, unless configured
# `.latest` is rewritten at every this many versions: replacing it costs a rename (about
# as much as the rest of a small registration's writes), walking up from it one stat a step
LATEST_EVERY = 16


def check_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a valid registry name, else raise InvalidNameError."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise InvalidNameError(f"invalid {what} {name!r}: use {NAME_RULE}")
    return name


def check_alias(alias: str) -> str:
    """Return ``alias`` if it can name a version, else raise InvalidNameError: the name
    rules, and neither ``latest`` nor a whole number (which already name versions)."""
    if isinstance(alias, str) and (alias == "latest" or alias.isdigit()):
        raise InvalidNameError(
            f"invalid alias {alias!r}: 'latest' and numbers already name versions; "
            f"use {NAME_RULE}, e.g. production or candidate"
        )
    return check_name(alias, "alias")


def parse_ref(ref: str, what: str = "name") -> tuple[str, int | str]:
    """Split a version reference into a checked name and a version.

    ``NAME``, ``NAME:latest`` give ``'latest'``; ``NAME:N`` the number ``N``;
    ``NAME@ALIAS`` the string ``'@ALIAS'``, which :meth:`VersionStore.resolve` turns
    into the version the alias points at. The one parser of references: the command
    line, the Python API and the configuration all go through it.
    """
    if not isinstance(ref, str):
        raise InvalidNameError(f"invalid {what} {ref!r}: use NAME, NAME:VERSION or NAME@ALIAS")
    name, at, alias = ref.partition("@")
    if at:
        check_name(name, what)
        return name, f"@{check_alias(alias)}"
    name, _, version = ref.partition(":")
    check_name(name, what)
    return name, parse_version(version, ref)


def parse_version(version: int | str | None, ref: str) -> int | str:
    """A version as given (``None``, ``'latest'``, a number, a digit string or
    ``'@ALIAS'``) in the form :meth:`VersionStore.resolve` takes."""
    if version in (None, "", "latest"):
        return "latest"
    if isinstance(version, str) and version.startswith("@"):
        return f"@{check_alias(version[1:])}"
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return version
    if not isinstance(version, str) or not version.isdigit() or int(version) < 1:
        raise InvalidNameError(
            f"invalid version {version!r} in {ref!r}: use a whole number from 1, 'latest' "
            "or @ALIAS"
        )
    return int(version)


def split_ref(
    name: str, version: int | str | None = "latest", what: str = "name"
) -> tuple[str, int | str]:
    """``(name, version)`` from the arguments of ``get_model(name, version)`` and the
    like: ``name`` may be a whole reference (``NAME:3``, ``NAME@production``) when no
    version is given."""
    if isinstance(name, str) and (":" in name or "@" in name):
        if version not in (None, "latest"):
            raise InvalidNameError(
                f"{name!r} names a version already; do not give version={version!r} too"
            )
        return parse_ref(name, what)
    return check_name(name, what), parse_version(version, f"{name}:{version}")


class VersionStore:
    """Integer-versioned, immutable entries of one kind under one folder.

    ``root`` is ``<registry>/<kind>``; ``folders`` are the folders every version holds
    (``artifacts`` for models), checked like the version folder itself;
    ``field_problems`` says what is wrong with the types of the kind's own fields of a
    metadata file read (one line each), which refuses it.
    """

    def __init__(
        self, root: Path, kind: str, meta_file: str, folders: tuple[str, ...] = (),
        field_problems: Callable[[dict[str, Any]], list[str]] | None = None,
    ):  # fmt: skip
        self.root = Path(root)
        self.kind = kind
        self.meta_file = meta_file
        self.folders = folders
        self.field_problems = field_problems
        # in the registry, not in each name: a sweep lists one folder, however many names
        self.staging = self.root.parent / STAGING
        self._registry: Path | None = None
        self.lifecycle = Lifecycle(self.root, kind, self.staging, self.contained)

    def registry_folder(self) -> Path:
        """The registry's folder, resolved once: it may itself be a link (to a shared
        filesystem, say), and everything below must stay in what it leads to."""
        if self._registry is None:
            self._registry = resolved(self.root.parent, "registry")
        return self._registry

    def contained(self, path: Path, label: str) -> Path:
        """``path`` (a folder or file of the registry's layout) resolved; MetadataError
        when a symbolic link on the way leads out of the registry."""
        return contained(self.registry_folder(), path, label)

    # ----------------------------------------------------------------- reading
    def names(self) -> list[str]:
        """Names that have at least one published version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in os.scandir(self.root)
            if entry.is_dir() and not entry.name.startswith(".") and self._has_version(entry.path)
        )

    def versions(self, name: str) -> list[int]:
        """Published version numbers of ``name``, ascending."""
        folder = self.root / check_name(name, self.kind)
        try:
            entries = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(int(entry) for entry in entries if entry.isdigit())

    def latest(self, name: str) -> int:
        """The highest published version of ``name``."""
        number = self._latest_or_zero(check_name(name, self.kind))
        if number == 0:
            raise NotFoundError(f"no {self.kind} named {name!r} in {self.root.parent}")
        return number

    def resolve(self, name: str, version: int | str = "latest") -> int:
        """Turn ``'latest'``, ``'@ALIAS'`` or a number into an existing version number.

        ``latest`` is the highest version that is neither archived nor deleted; a number
        names any version, archived and deleted ones too (their tombstones).
        """
        if version in (None, "latest"):
            return self.latest_live(name)
        if isinstance(version, str) and version.startswith("@"):
            return self.resolve_alias(name, version[1:])
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise InvalidNameError(
                f"invalid version {version!r} of {self.kind} {name!r}: "
                "use a whole number from 1, 'latest' or @ALIAS"
            ) from None
        if not (self.root / check_name(name, self.kind) / str(number)).is_dir():
            known = self.versions(name)
            if not known:
                raise NotFoundError(f"no {self.kind} named {name!r} in {self.root.parent}")
            raise NotFoundError(
                f"{self.kind} {name!r} has no version {number} (versions 1 to {known[-1]})"
            )
        return number

    def latest_live(self, name: str) -> int:
        """The highest version of ``name`` that is neither archived nor deleted."""
        number = self.latest(name)
        state = self.lifecycle.state(name)
        while number >= 1 and hidden(state, number):
            number -= 1
        if number == 0:
            raise NotFoundError(
                f"every version of {self.kind} {name!r} is archived or deleted; name a "
                f"version ({name}:N), or restore one"
            )
        return number

    def resolve_alias(self, name: str, alias: str) -> int:
        """The version the alias ``alias`` of ``name`` points at."""
        check_alias(alias)
        aliases = self.lifecycle.state(check_name(name, self.kind))["aliases"]
        if alias not in aliases:
            if not (self.root / name).is_dir():
                raise NotFoundError(f"no {self.kind} named {name!r} in {self.root.parent}")
            known = ", ".join(sorted(aliases)) or "none"
            raise NotFoundError(
                f"{self.kind} {name!r} has no alias {alias!r} (its aliases: {known})"
            )
        return aliases[alias]

    def path(self, name: str, version: int | str = "latest") -> Path:
        """The folder of one published version."""
        return self.root / name / str(self.resolve(name, version))

    def read(self, name: str, version: int | str = "latest") -> dict[str, Any]:
        """The metadata of one version, with ``path`` set to its folder."""
        return self.read_folder(self.path(name, version))

    def read_all(self, name: str) -> list[dict[str, Any]]:
        """The metadata of every version of ``name``, ascending."""
        folder = self.root / check_name(name, self.kind)
        return [self.read_folder(folder / str(number)) for number in self.versions(name)]

    def read_folder(self, folder: Path) -> dict[str, Any]:
        """The metadata in the version folder ``folder``, with ``path`` set to it.

        Raises MetadataError unless it is a JSON object naming the name and version of
        its folder: readers build paths from them (a cache folder, a label), and a file
        written by hand could name another entry or a path; nor unless its fields are of
        the types readers need (``field_problems``).
        """
        label = f"{self.kind} {folder.parent.name}:{folder.name}"
        for path in (folder, *(folder / sub for sub in self.folders)):
            self.contained(path, label)
        try:
            meta = read_json(folder / self.meta_file)
        except FileNotFoundError:
            if not folder.is_dir():
                raise  # no such version (or gone since): the caller's "not found"
            # a published folder always has its metadata: this one was damaged
            raise MetadataError(
                f"{label}: {folder / self.meta_file} is missing (`snakeyard verify` checks "
                "the registry)"
            ) from None
        name = check_name(folder.parent.name, self.kind)
        found = (meta.get("name"), meta.get("version")) if isinstance(meta, dict) else meta
        if found != (name, int(folder.name)):
            raise MetadataError(
                f"{folder / self.meta_file} is not the metadata of {self.kind} "
                f"{name}:{folder.name} (it holds name and version {found!r})"
            )
        if not isinstance(meta.get("files"), list):
            # every kind lists its files; readers index and iterate them
            raise MetadataError(
                f"{folder / self.meta_file}: 'files' is {meta.get('files')!r}, expected a "
                "list of {path, bytes, sha256} entries"
            )
        # the kind's own fields that readers use, of the types they need
        problems = self.field_problems(meta) if self.field_problems else []
        if problems:
            raise MetadataError(f"{folder / self.meta_file}: {'; '.join(problems)}")
        meta["path"] = str(folder)
        return meta

    def each_version(self) -> Iterator[tuple[str, Path]]:
        """``(label, folder)`` of every published version of every name, for a check that
        reports each fault and goes on: nothing is read or validated here."""
        for name in self.names():
            numbers = sorted(int(e) for e in os.listdir(self.root / name) if e.isdigit())
            for number in numbers:
                yield f"{self.kind} {name}:{number}", self.root / name / str(number)

    def find(self, name: str, content_hash: str) -> list[dict[str, Any]]:
        """Versions of ``name`` whose recorded content hash is ``content_hash``, newest first."""
        index = self.root / check_name(name, self.kind) / ".by-content" / content_hash
        try:
            candidates = sorted((int(v) for v in os.listdir(index) if v.isdigit()), reverse=True)
        except FileNotFoundError:
            return []
        found = []
        for number in candidates:
            try:
                meta = self.read_folder(self.root / name / str(number))
            except (FileNotFoundError, MetadataError):
                continue  # gone, or damaged: no version to give again
            # the index is a hint; the version's own metadata is the truth
            if meta.get("content_hash") == content_hash:
                found.append(meta)
        return found

    # ----------------------------------------------------------------- writing
    def publish(
        self,
        name: str,
        meta: dict[str, Any],
        fill: Callable[[Path], None] | None = None,
    ) -> dict[str, Any]:
        """Publish a new version of ``name`` and return its metadata.

        ``fill(folder)`` writes the version's files into a private temporary folder
        first; the metadata (with ``name``, ``version`` and ``created`` added) is
        written last, everything is flushed to stable storage, and the folder becomes
        visible in one rename. Publishing first sweeps what dead writers left. Nothing
        is written when a folder on the way leads out of the registry (MetadataError).
        """
        check_name(name, self.kind)
        base = self.root / name
        for folder in (self.staging, base):
            self.contained(folder, f"cannot publish {self.kind} {name}")
        make_folders(self.staging)
        make_folders(base)
        self.sweep(name)
        tmp = self.staging / temporary_name(f"{self.root.name}.{name}")
        tmp.mkdir()
        uid = uuid.uuid4().hex
        try:
            if fill is not None:
                fill(tmp)
            record = {
                **meta,
                "name": name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "uid": uid,
            }
            number = self._latest_or_zero(name) + 1
            while True:
                record["version"] = number
                # written in place: the folder is this writer's alone until the rename
                (tmp / self.meta_file).write_text(json_text(record) + "\n", encoding="utf-8")
                # every byte on stable storage before the name makes it a version
                fsync_tree(tmp)
                if self._claim(tmp, base / str(number), uid):
                    break
                number += 1
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_folder(base)  # the new version's name
        self._write_hints(base, number, record.get("content_hash"))
        record["path"] = str(base / str(number))
        return record

    def sweep(self, name: str) -> None:
        """Remove the temporaries that dead writers left in the registry.

        Those of the registry (``.tmp/``) and of its default datastore, whatever name
        they were for; and those of ``name`` in the per-name ``.tmp/`` folders that
        snakeyard 0.1 wrote, by age.
        """
        for folder in (self.staging, self.root / name / STAGING):
            try:
                self.contained(folder, f"{self.kind} {name}")
            except MetadataError:
                continue  # a link out of the registry: what it leads to is not ours to sweep
            sweep_temporaries(folder)
        sweep_temporaries(self.root.parent / DEFAULT_DATASTORE / STAGING)

    def _claim(self, tmp: Path, target: Path, uid: str) -> bool:
        """Rename ``tmp`` to ``target``; False if that version number is taken."""
        try:
            os.rename(tmp, target)
            return True
        except OSError as error:
            if error.errno == errno.EXDEV:
                raise SnakeyardError(
                    f"cannot publish {target}: {target.parent.parent} is on another "
                    f"filesystem than {tmp.parent}; a registry must be one filesystem "
                    "(link or mount the whole registry elsewhere, not one of its folders)"
                ) from None
            if tmp.exists():
                # Refused because the number is taken: local filesystems say EEXIST or
                # ENOTEMPTY, network ones may say EPERM or EIO. Any other failure
                # leaves the target absent and is a real error.
                if target.exists():
                    return False
                raise
            # NFS may resend a rename whose reply was lost: the resend fails although
            # the first attempt succeeded. Our own uid at the target tells.
            try:
                if read_json(target / self.meta_file).get("uid") == uid:
                    return True
            except OSError:
                pass
            raise

    def _write_hints(self, base: Path, number: int, content: str | None) -> None:
        # Hints only speed up look-ups; a reader checks them against the versions, so
        # they are not flushed: one lost in a crash (or empty) reads as absent.
        try:
            if number % LATEST_EVERY == 0:  # a reader walks up from it: a few stats
                write_json_atomic(base / ".latest", number, staging=self.staging, durable=False)
            if content:
                index = base / ".by-content" / content
                self.contained(index, f"{self.kind} {base.name}")
                index.mkdir(parents=True, exist_ok=True)
                # an empty file: created with one open (Path.touch first tries utime)
                os.close(os.open(index / str(number), os.O_WRONLY | os.O_CREAT, 0o666))
        except (OSError, MetadataError):
            pass

    def _latest_or_zero(self, name: str) -> int:
        base = f"{self.root}/{name}"  # text paths: a registration walks up a dozen of them
        try:
            number = int(read_json(f"{base}/.latest"))
        except (OSError, ValueError, TypeError):
            number = 0
        if number < 1 or not os.path.isdir(f"{base}/{number}"):
            known = self.versions(name)
            return known[-1] if known else 0
        # versions are contiguous, so walk up from the hint to the first gap
        while os.path.isdir(f"{base}/{number + 1}"):
            number += 1
        return number

    def _has_version(self, folder: str) -> bool:
        return any(entry.isdigit() for entry in os.listdir(folder))
