"""File helpers shared by the registry and the stages: hashing, manifests, atomic and
durable writes, temporaries and their sweeping, YAML reading."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import IntegrityError, MetadataError, SnakeyardError
from .records import FileEntry

CHUNK = 1 << 20
HEX = frozenset("0123456789abcdef")
LINKS_RULE = "a relative path without '..' whose links stay in the folder"
# benchmarks/durability.py turns this off in its own process to measure what fsync
# costs; nothing else may (a published version must survive a power loss)
_DURABLE = True
# fsync of a folder is refused by some filesystems (EINVAL on some network and FUSE
# filesystems, EBADF where a folder opened read-only cannot be synced). They either
# write folder changes through at once (NFS makes a rename stable before it replies)
# or give no way to ask; there is nothing more to do than carry on.
NO_FOLDER_FSYNC = {errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP}
FSYNC_WORKERS = 8  # concurrent fsyncs share the filesystem's journal commits
STALE_SECONDS = 24 * 3600  # age at which a temporary we cannot check is abandoned
# link(2) errors that mean "this filesystem cannot hard-link here": copy instead
NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex sha256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def walk_files(root: Path) -> list[Path]:
    """Every regular file below ``root`` (or ``root`` itself), as sorted relative paths,
    by the link policy of :func:`tree_files`; what it leaves out is passed over in silence
    (for input functions; writers use :func:`checked_files`)."""
    return tree_files(root)[0]


def checked_files(
    root: Path, label: str, keep: Callable[[str, bool], bool] | None = None
) -> list[Path]:
    """The files of :func:`tree_files`; SnakeyardError naming ``label`` and the first
    entry it leaves out (a link out of the tree or to nothing, a pipe)."""
    files, problems = tree_files(root, keep)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SnakeyardError(f"{label}: {problems[0]}{more}")
    return files


def tree_files(
    root: Path, keep: Callable[[str, bool], bool] | None = None
) -> tuple[list[Path], list[str]]:
    """The regular files below ``root`` (or ``root`` itself) as sorted relative paths, and
    one sentence for each entry left out: snakeyard's one policy for symbolic links, used
    by the run snapshot, ``collect``, ``register``, ``models register`` and ``path:``
    data sets alike (docs/registry.md, "Symbolic links").

    A link whose target lies inside ``root`` is followed (a link to a folder is entered,
    its files listed under the link's name), as the user expects of the tree; a link
    that leads out of ``root``, to nothing, or round in a loop is left out and named,
    and so are pipes, sockets and devices (reading a pipe would wait for a writer
    forever). ``keep(relpath, is_folder)`` False skips an entry before any check (the
    ignore file of a snapshot).
    """
    if not root.is_dir():
        if root.is_file():
            return [Path(root.name)], []
        kind = special_kind(root)
        return [], [f"{root} is {kind}, not a regular file"] if kind else []
    base = root.resolve()
    found: list[Path] = []
    problems: list[str] = []

    def visit(folder: Path, rel: str, seen: frozenset[Path]) -> None:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            relpath = f"{rel}{entry.name}"
            path = Path(entry.path)
            is_folder = entry.is_dir()  # follows links; False for a link to nothing
            if keep is not None and not keep(relpath, is_folder):
                continue
            if entry.is_symlink():
                target = Path(os.path.realpath(path))
                if not target.exists():
                    problems.append(
                        f"{relpath} is a symbolic link to {os.readlink(path)}, which does not "
                        "exist"
                    )
                    continue
                if not target.is_relative_to(base):
                    problems.append(
                        f"{relpath} is a symbolic link to {target}, outside {root}: put what "
                        "it links to inside the folder (or link the folder itself), or leave "
                        "the link out"
                    )
                    continue
            if is_folder:
                real = Path(os.path.realpath(path))
                if real in seen:
                    problems.append(f"{relpath} is a symbolic link back to {real} (a loop)")
                    continue
                visit(path, f"{relpath}/", seen | {real})
            elif entry.is_file():
                found.append(Path(relpath))
            else:
                problems.append(f"{relpath} is {special_kind(path)}, not a regular file")

    visit(root, "", frozenset({base}))
    return sorted(found, key=lambda p: p.as_posix()), problems


def special_kind(path: Path) -> str | None:
    """What ``path`` is when it is neither a regular file nor a folder ("a named pipe
    (FIFO)", "a socket", ...); None for a file or folder (or nothing at all)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    kinds = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]  # fmt: skip
    return next((name for test, name in kinds if test(mode)), None)


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


def strict_json(data: Any) -> Any:
    """``data`` with every float that is not finite written as a string: ``"NaN"``,
    ``"Infinity"`` or ``"-Infinity"``.

    A script may log ``float('nan')`` or ``float('inf')``; Python's ``json`` would write
    them as bare ``NaN``/``Infinity``, which strict parsers (JavaScript, jq, Go, Rust)
    refuse. The strings keep what was logged, and a reader that wants numbers sees that
    these are not (docs/registry.md, "Numbers").
    """
    if isinstance(data, float):
        return data if math.isfinite(data) else json.dumps(data)  # the spelling json uses
    if isinstance(data, dict):
        return {key: strict_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [strict_json(value) for value in data]
    return data


def json_text(data: Any, indent: int | None = 2) -> str:
    """``data`` as strict JSON text (:func:`strict_json`), keys sorted: what every
    snakeyard file and ``--json`` output holds."""
    return json.dumps(strict_json(data), indent=indent, sort_keys=True, allow_nan=False)


def write_json_atomic(
    path: str | os.PathLike, data: Any, *, staging: Path | None = None, durable: bool = True
) -> None:
    """Write strict JSON (:func:`json_text`) to ``path`` so that a reader sees the old file
    or the whole new one."""
    text = json_text(data) + "\n"
    write_text_atomic(path, text, staging=staging, durable=durable)


@contextmanager
def naming(path: str | os.PathLike) -> Iterator[None]:
    """Let an OSError raised inside name ``path`` when it names no file: the write error
    of a full disk (``ENOSPC``) or a quota names none, and the user needs to know where."""
    try:
        yield
    except OSError as error:
        if error.filename is None:
            error.filename = str(path)
        raise


def write_text_atomic(
    path: str | os.PathLike, text: str, *, staging: Path | None = None, durable: bool = True
) -> None:
    """Write text through a temporary file and an atomic rename.

    The temporary is a hidden file beside ``path``, or in ``staging`` (a folder of
    temporaries on the same filesystem, where sweeps find it). ``durable`` flushes
    the bytes before the rename and the folder's new entry after it, so that after a
    crash ``path`` holds the old text or the new one, never an empty file. Only hints
    that a reader checks, and files in a folder the caller flushes whole, skip it.
    """
    path = Path(path)
    # not mkstemp: its files are private (0600), and a shared registry must stay
    # readable by the group the umask allows
    if staging is None:
        tmp = path.parent / f".{temporary_name(path.name)}.tmp"
    else:
        tmp = staging / temporary_name(path.name)
    try:
        with naming(path), open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                _fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_folder(path.parent)


def write_new_file(path: str | os.PathLike, text: str) -> None:
    """Create ``path`` (which must not exist) with ``text``, flushed to stable storage:
    a file that is then published under another name with ``link(2)``."""
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        _fsync(handle.fileno())


def write_if_changed(path: str | os.PathLike, text: str) -> bool:
    """Write ``text`` to ``path`` (atomically, folders made) unless it holds it already;
    return whether it wrote. A file whose modification time changes only with its content
    is how a value reaches Snakemake's ``mtime`` rerun trigger."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass  # missing or unreadable: written below
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text, durable=False)
    return True


# ---------------------------------------------------------------------- durability
def _fsync(fd: int) -> None:
    if _DURABLE:
        os.fsync(fd)


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a file's bytes to stable storage (a read-only descriptor is enough)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(path: str | os.PathLike) -> None:
    """Flush a folder's entries, so that the names created or renamed in it survive a crash.

    Filesystems that cannot sync a folder (:data:`NO_FOLDER_FSYNC`) are passed over.
    """
    if not _DURABLE or os.name == "nt":  # Windows cannot open a folder as a file
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in NO_FOLDER_FSYNC:
            raise
    finally:
        os.close(fd)


def fsync_tree(root: Path, files: bool = True) -> None:
    """Flush every file and folder below ``root``, and ``root`` itself.

    With ``files=False`` only the folders: for trees whose files were flushed already
    (hard links to stored blobs, checked copies). Symbolic links are entries of their
    folder, not followed. Every tree of more than one entry is flushed on a few threads,
    files and folders at once: nothing orders one flush against another (the caller's
    rename, after all of them, is the barrier), and a filesystem's journal commits
    concurrent fsyncs together, so a version of two files and two folders costs about
    one journal commit instead of four.
    """
    if not _DURABLE:
        return
    found_files, folders, pending = [], [], [str(root)]
    while pending:
        folder = pending.pop()
        folders.append(folder)
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif files and entry.is_file(follow_symlinks=False):
                    found_files.append(entry.path)
    flushes = [(fsync_file, path) for path in found_files]
    flushes += [(fsync_folder, path) for path in folders]
    if len(flushes) == 1:
        fsync_folder(folders[0])
        return
    pool = _fsync_pool()
    # the last flush on this thread, which would otherwise only wait for the others
    pending = [pool.submit(flush, path) for flush, path in flushes[:-1]]
    try:
        flushes[-1][0](flushes[-1][1])
    finally:
        for done in pending:
            done.result()  # raises what a flush raised


_pool: tuple[int, Any] | None = None  # (the pid that made it, the fsync threads)


def _fsync_pool() -> Any:
    """The threads that flush a tree at once, made on first use and kept: starting
    them anew for every version costs more than the flushes themselves. A forked child
    (a Snakemake job, say) makes its own, since a fork copies no threads."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        # imported here: readers (`runs show`) never fsync, and this import is slow
        from concurrent.futures import ThreadPoolExecutor

        _pool = (os.getpid(), ThreadPoolExecutor(FSYNC_WORKERS, "snakeyard-fsync"))
    return _pool[1]


def make_folders(path: Path) -> None:
    """``mkdir -p``, flushing the parent of each folder it creates so the new name lasts."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        fsync_folder(folder.parent)


# --------------------------------------------------------------------- temporaries
# <label>@<host>-<pid namespace>-<pid>-<start time>-<random>, with a leading "." and a
# trailing ".tmp" when it lies beside the file it becomes
TEMPORARY = re.compile(
    r"\.?(?P<label>.*)@(?P<host>[A-Za-z0-9._-]+)-(?P<space>[0-9]+)-(?P<pid>[0-9]+)"
    r"-(?P<start>[0-9]+)-[0-9a-f]+(?:\.tmp)?"
)
_writer: tuple[int, str, str] | None = None  # (pid, host and pid namespace, owner)


def temporary_name(label: str) -> str:
    """A name for a temporary file or folder that says which process writes it.

    ``<label>@<host>-<pid namespace>-<pid>-<start time>-<random>``: a sweep on the same
    host can then tell a dead writer's temporary from a live one (the start time,
    which the kernel records for each process, tells a reused pid from the writer).
    ``label`` (what is being written) is there for people reading the folder.
    """
    return f"{label[:100]}@{_this_writer()[1]}-{uuid.uuid4().hex[:16]}"


def _this_writer() -> tuple[str, str]:
    """This process as the owner of temporaries: (its host and pid namespace, its owner)."""
    global _writer
    pid = os.getpid()
    if _writer is None or _writer[0] != pid:  # a forked child is another writer
        place = f"{_this_host()}-{_pid_space()}"
        _writer = (pid, place, f"{place}-{pid}-{_process_start(pid) or 0}")
    return _writer[1], _writer[2]


def _this_host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname() or "unknown")[:40]


def _pid_space() -> int:
    """The pid namespace of this process: containers on one host count their pids apart."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot; None if it is not running.

    "0" when it runs but its start time cannot be read: no ``/proc`` (macOS), or
    another user's process that ``/proc`` hides (the ``hidepid`` mount option of
    shared login nodes), so ``kill(pid, 0)`` is asked first.
    """
    if pid <= 0:
        return None
    if os.name == "nt":
        return "0"  # os.kill there would stop the process, not probe it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # another user's process: it runs
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return "0"
    # the command name (field 2) may hold spaces and ')': count fields after the last ')'
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None  # a zombie writes nothing more
    return fields[19].decode()  # field 22, starttime


def _abandoned(name: str, modified: float, now: float) -> bool:
    """Whether the temporary ``name`` (last modified at ``modified``) has no live writer.

    A temporary written on this host (and pid namespace) is abandoned as soon as its
    writer has exited. Other hosts' processes cannot be seen, so their temporaries,
    and those named without an owner (by snakeyard 0.1), are abandoned when they are
    older than :data:`STALE_SECONDS`.
    """
    match = TEMPORARY.fullmatch(name)
    if match is None or f"{match['host']}-{match['space']}" != _this_writer()[0]:
        return modified < now - STALE_SECONDS
    started = _process_start(int(match["pid"]))
    # a pid that runs with an unknown start time ("0") may be the writer: leave it
    return started is None or started not in ("0", match["start"])


def abandoned_temporaries(folder: Path, suffix: str = "") -> list[Path]:
    """The temporaries in ``folder`` (named ending with ``suffix``) that no live writer
    owns, sorted: what :func:`sweep_temporaries` removes."""
    try:
        with os.scandir(folder) as listing:
            entries = [entry for entry in listing if entry.name.endswith(suffix)]
    except OSError:
        return []
    now, found = time.time(), []
    for entry in entries:
        try:
            if _abandoned(entry.name, entry.stat(follow_symlinks=False).st_mtime, now):
                found.append(Path(entry.path))
        except OSError:
            continue  # gone already (another sweeper)
    return sorted(found)


def remove_path(path: Path) -> bool:
    """Remove a file or folder (not following a link); False when it was gone already."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def sweep_temporaries(folder: Path, suffix: str = "") -> int:
    """Remove the temporaries in ``folder`` that no live writer owns; return how many.

    ``suffix`` limits the sweep to names ending with it, in a folder that holds other
    things too. Safe beside live writers and other sweepers: a live writer's
    temporary is left alone, and one that another sweeper removes first is skipped.
    Errors never reach the caller: sweeping is housekeeping, not the writer's job.
    """
    removed = 0
    for path in abandoned_temporaries(folder, suffix):
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
            removed += 1
        except OSError:
            continue  # gone already (another sweeper), or not ours to remove
    return removed


def read_json(path: str | os.PathLike) -> Any:
    """Read one JSON document; a damaged one is a MetadataError naming the file."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MetadataError(
            f"{path} is not valid JSON: it is not UTF-8 text (byte {data[error.start]:#04x} "
            f"at offset {error.start})"
        ) from None
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
        with naming(target):
            shutil.copy2(base / rel, target)


def keep_narrow(source: int | str | os.PathLike, target: int | str | os.PathLike) -> None:
    """Narrow the permissions of the new file ``target`` (a path or descriptor) to those
    of ``source``: a copy is never readable by more people than its original (a 0640
    model stays 0640 in the registry, not the umask's 0644)."""
    allowed = os.stat(source).st_mode & 0o777
    current = os.stat(target).st_mode & 0o777
    if current & ~allowed:
        os.chmod(target, current & allowed)


def tail_text(path: str | os.PathLike, window: int = 16384) -> str:
    """The last ``window`` bytes of a (log) file as text, undecodable bytes replaced;
    empty when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - window))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


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
    problems = entry_problems(manifest, label)[1]
    if problems:
        raise MetadataError(problems[0])
    return manifest


def entry_problems(manifest: Any, label: str) -> tuple[list[FileEntry], list[str]]:
    """The entries of ``manifest`` that pass :func:`check_entry`, each path once, and a
    description of every fault: an entry refused, a path listed twice (which a check
    that reports and goes on lists all of)."""
    if not isinstance(manifest, list):
        return [], [f"{label}: 'files' is {manifest!r}, expected a list of files"]
    good: list[FileEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for entry in manifest:
        try:
            path = check_entry(entry, label)["path"]
        except MetadataError as error:
            problems.append(str(error))
            continue
        if path in seen:
            problems.append(f"{label}: file {path} is listed twice")
            continue
        seen.add(path)
        good.append(entry)
    return good, problems


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
    base = resolved(root, label)
    path = resolved(base / relative_path(relpath, label), label)
    if not path.is_relative_to(base):
        raise MetadataError(
            f"{label}: file path {relpath!r} is refused: it leads out of {root} "
            f"(to {path}) through a link; use {LINKS_RULE}"
        )
    return path


def contained(root: Path, path: Path, label: str) -> Path:
    """``path``, a folder or file of the registry's own layout, resolved; raise
    MetadataError naming ``label``, the path and where it leads unless it lies inside
    ``root``, the registry's folder, given resolved.

    The registry builds these paths itself (``models/<name>/<N>/artifacts``,
    ``runs/<experiment>/<id>``, ``.tmp``), but any folder on the way may have been
    replaced by a symbolic link, and one that leads out would make snakeyard read,
    unpickle, publish or sweep files elsewhere. The one containment rule of the layout.
    """
    found = _below_without_links(root, path)
    if found is None:
        found = resolved(path, label)
    if not found.is_relative_to(root):
        raise MetadataError(
            f"{label}: {path} is refused: it leads out of the registry {root} (to {found}) "
            "through a link; link or mount the whole registry elsewhere, not one of its "
            "folders"
        )
    return found


def _below_without_links(root: Path, path: Path) -> Path | None:
    """``path`` as it is, when it is spelled below ``root`` (resolved) and no name on the
    way from ``root`` is a symbolic link: then it is what resolving it would give, found
    with one ``lstat`` a name below ``root`` instead of one a name from ``/`` (a
    registration checks a dozen paths). None when that cannot be told so (a link on the
    way, ``..``, another spelling): the caller resolves it."""
    base, text = str(root), str(path)
    if text == base:
        return Path(path)
    if not text.startswith(base + "/"):
        return None
    current = base
    for name in text[len(base) + 1 :].split("/"):
        if name in ("", ".", ".."):
            return None
        current = f"{current}/{name}"
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return None
        except FileNotFoundError:
            return Path(path)  # nothing below a name that is not there can be a link
        except OSError:
            return None
    return Path(path)


def resolved(path: str | os.PathLike, label: str) -> Path:
    """``path`` with every symbolic link followed; MetadataError for a link loop."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError) as error:  # Python < 3.13 says RuntimeError for a loop
        raise MetadataError(f"{label}: {path} cannot be followed ({error})") from None


def read_only(path: str | os.PathLike) -> None:
    """Take the write permission off a file (every link to it): a shared copy that one
    holder changed in place would change for all. Another user's file is left as it is."""
    try:
        mode = os.stat(path).st_mode
        os.chmod(path, mode & ~0o222)
    except OSError:
        pass


def link_or_copy(source: str | os.PathLike, target: str | os.PathLike) -> bool:
    """Make ``target`` a hard link to the file ``source``, read-only; True if linked.

    A copy is made instead across filesystems, where links are refused, and for a
    symbolic link (its target may be anyone's file, which a link would make read-only
    and share). The copy is read-only too, so every holder of the bytes is alike.
    """
    if try_link(source, target):
        return True
    shutil.copy2(source, target)
    read_only(target)
    return False


def try_link(source: str | os.PathLike, target: str | os.PathLike) -> bool:
    """Make ``target`` a read-only hard link to ``source``; False, with nothing made, for a
    symbolic link or where the filesystem refuses (:data:`NO_LINK`)."""
    if os.path.islink(source):
        return False
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno in NO_LINK:
            return False
        raise
    read_only(target)
    return True


def link_files(src_root: Path, dest_root: Path, relpaths: Iterable[Path]) -> int:
    """Like :func:`copy_files`, each file linked or copied by :func:`link_or_copy`;
    return how many were copied."""
    copied = 0
    for rel in relpaths:
        target = dest_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        copied += not link_or_copy(src_root / rel, target)
    return copied


def copy_manifest(
    src_root: Path,
    dest_root: Path,
    manifest: list[FileEntry],
    label: str,
    *,
    contain_source: bool = True,
    link: bool = False,
) -> None:
    """Copy the files of ``manifest`` into the new folder ``dest_root`` and check each
    copy's sha256 in the same pass.

    Every path is checked (:func:`check_entries`, :func:`inside`) before any file is
    opened, and a copy never replaces an existing file. ``contain_source`` False is for
    a user's own folder, whose manifest was just made from it: its links out of it are
    followed, as they always were when registering. ``link`` makes each file a
    read-only hard link to its source where the filesystem allows (:func:`link_or_copy`),
    for sources that nothing writes any more (a finished run's outputs); the linked
    bytes are hashed all the same.
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
        if link and try_link(source, target):
            actual = sha256_file(target)  # the bytes behind the link, as they are now
        else:
            digest = hashlib.sha256()
            with naming(target), open(source, "rb") as reader, open(target, "xb") as writer:
                keep_narrow(reader.fileno(), writer.fileno())
                while chunk := reader.read(CHUNK):
                    digest.update(chunk)
                    writer.write(chunk)
            actual = digest.hexdigest()
            if link:
                read_only(target)
        if actual != entry["sha256"]:
            raise IntegrityError(
                f"{label}: file {entry['path']} has sha256 {actual}, recorded "
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
    (an entry refused or listed twice, a path that leaves ``root``, a missing file, a
    mismatch) and go on to the next."""
    entries, problems = entry_problems(manifest, label)
    for entry in entries:
        try:
            path = inside(root, entry["path"], label)
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
