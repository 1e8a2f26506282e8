"""File helpers shared by the registry and the stages: hashing, manifests, atomic writes,
YAML reading."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import IntegrityError, MetadataError
from .records import FileEntry

CHUNK = 1 << 20
HEX = frozenset("0123456789abcdef")
LINKS_RULE = "a relative path without '..' whose links stay in the folder"


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex sha256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def walk_files(root: Path) -> list[Path]:
    """Every regular file below ``root`` (or ``root`` itself), as sorted relative paths."""
    if root.is_file():
        return [Path(root.name)]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        found.extend((base / name).relative_to(root) for name in filenames)
    return sorted(found, key=lambda p: p.as_posix())


def manifest_of(root: Path, relpaths: Iterable[Path] | None = None) -> list[FileEntry]:
    """List ``{path, bytes, sha256}`` for the files below ``root``, sorted by path.

    When ``root`` is a single file, its entry is named after the file itself.
    """
    base = root.parent if root.is_file() else root
    paths = walk_files(root) if relpaths is None else sorted(relpaths, key=lambda p: p.as_posix())
    return [
        {
            "path": rel.as_posix(),
            "bytes": (base / rel).stat().st_size,
            "sha256": sha256_file(base / rel),
        }
        for rel in paths
    ]


def content_hash(manifest: list[FileEntry]) -> str:
    """One sha256 for a set of files: same names and bytes give the same hash."""
    digest = hashlib.sha256()
    for entry in sorted(manifest, key=lambda e: e["path"]):
        digest.update(f"{entry['path']}\0{entry['sha256']}\n".encode())
    return digest.hexdigest()


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write JSON to ``path`` so that a reader sees the old file or the whole new one."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    # not mkstemp: its files are private (0600), and a shared registry must stay
    # readable by the group the umask allows
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike) -> Any:
    """Read one JSON document; a damaged one is a MetadataError naming the file."""
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise MetadataError(f"{path} is not valid JSON ({error})") from None


def copy_files(src_root: Path, dest_root: Path, relpaths: Iterable[Path]) -> None:
    """Copy the named files from ``src_root`` to ``dest_root``, keeping their relative paths.

    ``src_root`` may be a single file, in which case ``relpaths`` holds its name.
    """
    base = src_root.parent if src_root.is_file() else src_root
    for rel in relpaths:
        target = dest_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(base / rel, target)


def human_bytes(size: float) -> str:
    """Format a byte count the way ``ls -h`` would."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def load_yaml(text: str) -> Any:
    """Parse YAML text safely, with libyaml's C parser when PyYAML was built with it.

    The C parser is about seven times faster than the pure Python one; the schema and
    lock files read at every ``snakemake`` start are long enough for that to show.
    """
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def check_entry(entry: Any, label: str) -> FileEntry:
    """Return ``entry`` if it is a ``{path, bytes, sha256}`` file entry whose path is
    plain and relative (:func:`relative_path`); else raise MetadataError naming
    ``label`` and the entry.

    Paths come from metadata files that anyone with write access to a shared registry
    (or a buggy tool) may have written; an absolute path or ``..`` could name any file.
    """
    if not isinstance(entry, dict):
        raise MetadataError(
            f"{label}: file entry {entry!r} is not a {{path, bytes, sha256}} object"
        )
    path, size, digest = entry.get("path"), entry.get("bytes"), entry.get("sha256")
    relative_path(path, label)
    if not isinstance(size, int) or size < 0 or not is_sha256(digest):
        raise MetadataError(
            f"{label}: file {path}: expected a byte count and a sha256 of 64 hex digits, "
            f"found bytes={size!r} sha256={digest!r}"
        )
    return entry


def relative_path(path: Any, label: str) -> str:
    """Return ``path`` if it is a plain relative path (``a/b``: not absolute, no ``..``,
    ``.`` or empty parts); else raise MetadataError naming ``label`` and the path."""
    parts = path.split("/") if isinstance(path, str) else []
    if not parts or "\0" in path or {"", ".", ".."} & set(parts):
        raise MetadataError(f"{label}: file path {path!r} is refused: use {LINKS_RULE}")
    return path


def check_entries(manifest: Any, label: str) -> list[FileEntry]:
    """Check every entry of ``manifest`` with :func:`check_entry`, and that no path is
    listed twice; raise MetadataError at the first fault, before any file is opened."""
    if not isinstance(manifest, list):
        raise MetadataError(f"{label}: 'files' is {manifest!r}, expected a list of files")
    seen: set[str] = set()
    for entry in manifest:
        if check_entry(entry, label)["path"] in seen:
            raise MetadataError(f"{label}: file {entry['path']} is listed twice")
        seen.add(entry["path"])
    return manifest


def is_sha256(value: Any) -> bool:
    """Whether ``value`` is a sha256 written as 64 lower-case hex digits."""
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


def inside(root: Path, relpath: Any, label: str) -> Path:
    """The file ``relpath`` (a path read from metadata) below ``root``, resolved; raise
    MetadataError naming ``label`` and the path unless it stays inside ``root``.

    Refused: absolute paths, ``..``, and symbolic links (in ``root``) that lead out of
    it; links that stay inside are followed. The one containment rule of every reader
    and writer of paths named by metadata.
    """
    base = Path(root).resolve()
    path = (base / relative_path(relpath, label)).resolve()
    if not path.is_relative_to(base):
        raise MetadataError(
            f"{label}: file path {relpath!r} is refused: it leads out of {root} "
            f"(to {path}) through a link; use {LINKS_RULE}"
        )
    return path


def copy_manifest(
    src_root: Path,
    dest_root: Path,
    manifest: list[FileEntry],
    label: str,
    *,
    contain_source: bool = True,
) -> None:
    """Copy the files of ``manifest`` into the new folder ``dest_root`` and check each
    copy's sha256 in the same pass.

    Every path is checked (:func:`check_entries`, :func:`inside`) before any file is
    opened, and a copy never replaces an existing file. ``contain_source`` False is for
    a user's own folder, whose manifest was just made from it: its links out of it are
    followed, as they always were when registering.
    """
    base = src_root.parent if src_root.is_file() else src_root
    pairs = [
        (
            entry,
            inside(base, entry["path"], label) if contain_source else base / entry["path"],
            inside(dest_root, entry["path"], label),
        )
        for entry in check_entries(manifest, label)
    ]
    for entry, source, target in pairs:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(source, "rb") as reader, open(target, "xb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        if digest.hexdigest() != entry["sha256"]:
            raise IntegrityError(
                f"{label}: file {entry['path']} has sha256 {digest.hexdigest()}, recorded "
                f"{entry['sha256']} (changed while it was being copied, or damaged)"
            )


def read_listed(root: Path, manifest: list[FileEntry], relpath: str, label: str) -> bytes:
    """The bytes of the listed file ``relpath`` below ``root``, after checking its sha256.

    The bytes are read once, hashed, and returned, so the file cannot be swapped between
    the check and its use (unpickling a model, say).
    """
    entry = next((e for e in check_entries(manifest, label) if e["path"] == relpath), None)
    if entry is None:
        raise MetadataError(f"{label}: file {relpath!r} is not among the version's listed files")
    with open(inside(root, relpath, label), "rb") as handle:
        data = handle.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry["sha256"]:
        raise IntegrityError(
            f"{label}: file {relpath} has sha256 {actual}, recorded {entry['sha256']}"
        )
    return data


def check_manifest(root: Path, manifest: Any, label: str) -> list[str]:
    """Compare the files below ``root`` with their recorded sha256; describe each problem
    (a path that leaves ``root``, a missing file, a mismatch) and go on to the next."""
    if not isinstance(manifest, list):
        return [f"{label}: 'files' is {manifest!r}, expected a list of files"]
    problems = []
    for entry in manifest:
        try:
            path = inside(root, check_entry(entry, label)["path"], label)
        except MetadataError as error:
            problems.append(str(error))
            continue
        if not path.is_file():
            problems.append(f"{label}: file {entry['path']} is missing ({root / entry['path']})")
            continue
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            problems.append(
                f"{label}: file {entry['path']} has sha256 {actual}, recorded {entry['sha256']}"
            )
    return problems


def unlisted_files(
    root: Path, manifest: Any, label: str, expected: Iterable[str] = ()
) -> list[str]:
    """Describe each file below ``root`` that ``manifest`` does not list (besides the
    ``expected`` ones, such as the metadata file): nothing checks its bytes, so nothing
    may use it."""
    entries = manifest if isinstance(manifest, list) else []
    listed = {e.get("path") for e in entries if isinstance(e, dict)} | set(expected)
    problems = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        # os.walk lists a link to a folder among the folders and does not enter it
        links = [name for name in dirnames if (base / name).is_symlink()]
        for name in sorted(filenames + links):
            rel = (base / name).relative_to(root).as_posix()
            if rel not in listed:
                problems.append(
                    f"{label}: file {rel} is present but not listed in the metadata ({root / rel})"
                )
    return problems


def cache_folder(variable: str, fallback: Path) -> Path:
    """A cache folder: the environment variable ``variable`` if set, else ``fallback``."""
    configured = os.environ.get(variable)
    return Path(configured) if configured else fallback
