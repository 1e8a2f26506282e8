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


def copy_manifest(src_root: Path, dest_root: Path, manifest: list[FileEntry]) -> None:
    """Copy the files of ``manifest`` and check each copy's sha256 in the same pass."""
    base = src_root.parent if src_root.is_file() else src_root
    for entry in manifest:
        target = dest_root / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(base / entry["path"], "rb") as reader, open(target, "wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        if digest.hexdigest() != entry["sha256"]:
            raise IntegrityError(
                f"{base / entry['path']} changed while it was being copied: "
                f"sha256 {digest.hexdigest()}, expected {entry['sha256']}"
            )


def check_manifest(root: Path, manifest: list[FileEntry], label: str) -> list[str]:
    """Compare the files below ``root`` with their recorded sha256; describe each mismatch."""
    problems = []
    for entry in manifest:
        path = root / entry["path"]
        if not path.is_file():
            problems.append(f"{label}: file {entry['path']} is missing ({path})")
            continue
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            problems.append(
                f"{label}: file {entry['path']} has sha256 {actual}, recorded {entry['sha256']}"
            )
    return problems


def cache_folder(variable: str, fallback: Path) -> Path:
    """A cache folder: the environment variable ``variable`` if set, else ``fallback``."""
    configured = os.environ.get(variable)
    return Path(configured) if configured else fallback
