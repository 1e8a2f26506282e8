"""The registry's index: small summaries that answer listings without reading every
version's metadata or every run's record.

Layout, inside the folder each index summarises::

    models/<name>/.index/<version>             summary of one version (a JSON line)
    models/<name>/.index/pack.v2-<N>           a JSON array of summaries up to N, one a line
    runs/<experiment>/.index/<run id>          summary of one ended run
    runs/<experiment>/.index/pack-<ns>-<rand>  summaries of ended runs, sorted by start

Why it is safe with many writers on a shared filesystem, without a lock or a database
file: every index file is written whole in the registry's ``.tmp/`` and renamed into
place, so a reader sees an old file or a new one, never half of one; two writers of the
same summary write the same facts; and the index is never the truth. A listing first
lists the version (or run) folders and takes a summary only for a folder that exists and
whose metadata file (``model.json``, ``run.json``) has the stamp the summary names: its
inode, size and modification time, one ``stat`` each. Any other folder (new, re-made, a
metadata file edited, replaced or damaged in place, or a run still Running) is read from
its own metadata file, and its summary written for the next listing. A lost, stale or deleted index
therefore costs time, never a wrong answer; :meth:`rebuild` writes it afresh from the
folders, and ``snakeyard verify`` reports every summary that disagrees with its folder.
A run listing limited to the first (or last) runs in start order checks only the runs
it lists (:meth:`RunIndex._window`).

Loose summaries are packed into one file once there are :data:`PACK_AFTER` of them, so a
listing reads a few files, whatever the history. A run summary is one line of
tab-separated fields, :data:`HEAD` (start, id, status, the stamp of its ``run.json``,
experiment, exit code, seconds, host, the metrics as `runs list` shows them) and then
the JSON summary. A listing of 100,000 runs sorts and filters the lines as text, prints
its table from the fields before the JSON and parses no JSON at all; ``--json`` prints
the JSON as it is, once it has parsed it (a line whose JSON is cut or damaged is not
taken: its run is read from its record).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain, filterfalse
from operator import methodcaller
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from ..files import json_text, make_folders, write_text_atomic
from ..training.metric_values import metrics_line

INDEX = ".index"
PACK = "pack-"
# a version pack whose first line holds the values its summaries share (_pack_text): a
# name that a snakeyard writing `pack-` files passes over (it reads the folders then),
# where it would misread the summaries without their shared values
VERSION_PACK = "pack.v2-"
VERSION_PACKS = (VERSION_PACK, PACK)  # both read, the newest first
PACK_AFTER = 64  # loose summaries that make a listing write a pack
SHARED = "shared"  # the key of a version pack's first line (see _pack_text)
# what every version summary holds, whatever its kind (and a listing shows); one without
# them is damaged, and its version read from its folder
SUMMARY_KEYS = frozenset(("kind", "name", "version", "created"))
BLOCK = 1 << 20  # characters of a pack read at a time
ENDED = ("Completed", "Failed", "Canceled")  # a run record with this status never changes again
# what a version summary leaves out: the file lists (and package lists), which only
# `models show` and `verify` need and which make up most of a version's metadata
VERSION_LEAVES_OUT = ("files", "packages", "schema", "path")
RUN_KEEPS = (
    "id", "experiment", "status", "exit_code", "start", "end", "duration_seconds", "host",
    "arguments", "trial", "dataset", "environment", "error", "lost", "elapsed_seconds",
)  # fmt: skip
CLOSED = ("}", "}\n")  # how the JSON of a whole index line ends (_closes)
ERROR_CHARS = 300  # a summary's error is its first line, cut here; `runs show` has all
# the fields of a run line before its JSON: sorted and filtered on, and the table's cells
HEAD = (
    "start", "id", "status", "stamp", "experiment", "exit_code", "duration_seconds", "host",
    "metrics",
)  # fmt: skip


def _write(path: Path, text: str, staging: Path) -> bool:
    """Write an index file whole (False when the registry takes no writes: a reader
    without write permission still lists, from the folders)."""
    try:
        make_folders(path.parent)
        make_folders(staging)
        write_text_atomic(path, text, staging=staging, durable=False)
        return True
    except OSError:
        return False


def _write_first(path: Path, text: str, staging: Path) -> None:
    """Write the first summary of a new version in place, without a temporary and a
    rename (a third of what a registration spends on its summary). Safe because a
    summary is only ever read whole by one ``json.loads``: a reader that finds it half
    written finds no JSON object (it closes on its last line), so reads the version's
    folder, as for a damaged summary. Where one is there already (a listing summarised
    the version first), it holds the same facts and stays."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return
    except OSError:  # no index folder yet, say: made the usual way
        _write(path, text, staging)
        return
    try:
        os.write(fd, text.encode())
    except OSError:
        pass  # a full disk: a summary cut short reads as absent
    finally:
        os.close(fd)


def _inside(contain: Callable[[Path, str], Path], folder: Path) -> bool:
    """Whether an index folder lies in the registry once links are followed: one that a
    link leads out of it is neither read nor written (listings then read the folders)."""
    try:
        contain(folder, "listing index")
        return True
    except (SnakeyardError, OSError):
        return False


def _index_files(
    folder: Path, packs_named: tuple[str, ...] = (PACK,)
) -> tuple[list[str], str | None]:
    """The loose summaries of an index folder and its newest pack (None without one)."""
    names = _listing(folder)  # none, or not a folder (damaged): listings read the folders
    packs = sorted(  # of two packs of as many versions, that of the first prefix named
        (n for n in names if n.startswith(packs_named)),
        key=lambda n: (_pack_order(n), n.startswith(packs_named[0])),
    )
    loose = [n for n in names if not n.startswith((*packs_named, "."))]
    return loose, packs[-1] if packs else None


def _listing(folder: Path) -> list[str]:
    """The names in an index folder; none when it is gone or is no folder."""
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _pack_order(name: str) -> tuple[int, str]:
    number, _, rest = name.partition("-")[2].partition("-")  # pack-<N>[-<rest>]
    return (int(number) if number.isdigit() else -1, rest)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        # packed and removed at this instant, or damaged (a folder, unreadable, not
        # UTF-8): the folders decide
        return None


def _drop(folder: Path, names: list[str]) -> None:
    for name in names:
        try:
            os.unlink(folder / name)
        except OSError:
            pass  # another packer removed it, or no write permission: harmless


# ------------------------------------------------------------------- versions
class VersionIndex:
    """The summaries of every version of each name of one kind (``models``)."""

    def __init__(self, store: Any):
        self.store = store  # a VersionStore
        self.inside = lambda folder: all(
            _inside(store.contained, f) for f in (folder, store.staging)
        )

    def folder(self, name: str) -> Path:
        return self.store.root / name / INDEX

    def summaries(self, name: str, skipped: list[str] | None = None) -> list[dict[str, Any]]:
        """The summary of every published version of ``name``, oldest first.

        The version folders decide which versions exist; a folder whose summary is
        missing or stamped otherwise (:meth:`stamp`) is read from its own metadata, and
        summarised for the next listing. A folder that cannot be read raises as
        :meth:`VersionStore.read_folder` does (MetadataError), or, when ``skipped`` is
        given, is left out with a line there naming it and why.
        """
        base = f"{self.store.root}/{name}"  # text paths: pathlib costs more than a stat here
        try:
            numbers = sorted(map(int, filter(str.isdigit, os.listdir(base))))
        except FileNotFoundError:
            return []
        known, loose = self._known(name)
        rows, fresh = [], []
        with _folder_fd(base) as fd:
            # one stat a version (relative to the name's folder: no walk down from "/"),
            # since only its metadata file's own stamp shows an edit made in place
            prefix, meta_file = ("" if fd is not None else f"{base}/"), f"/{self.store.meta_file}"
            stat, take = os.stat, known.get  # looked up once: this loop runs per version
            for number in numbers:
                summary = take(number)
                try:
                    found = stat(f"{prefix}{number}{meta_file}", dir_fd=fd)
                    stamp = f"{found.st_ino}:{found.st_size}:{found.st_mtime_ns}"
                except OSError:
                    stamp = None
                if summary is None or summary.get("stamp") != stamp:
                    try:
                        summary = self.summarise(Path(base) / str(number))
                    except (OSError, SnakeyardError) as error:
                        if skipped is None:
                            raise
                        skipped.append(f"{self.store.kind} {name}:{number} left out: {error}")
                        continue
                    fresh.append(summary)
                rows.append(summary)
        self._save(name, fresh, rows, loose)
        return rows

    def stamp(self, folder: Path) -> str | None:
        """What changes whenever a version's metadata file is replaced or edited in
        place: ``<inode>:<size>:<modification time in ns>``, as :func:`run_stamp` (None
        when it cannot be read). One text, not a list of three numbers: a pack of 10,000
        summaries parses in half the time without their 19-digit integers."""
        try:
            return run_stamp(f"{folder}/{self.store.meta_file}")
        except OSError:
            return None

    def summarise(self, folder: Path) -> dict[str, Any]:
        """The summary of the version folder ``folder``, read from its metadata."""
        stamp = self.stamp(folder)  # before the read: a change after it shows next time
        meta = self.store.read_folder(folder)
        summary = {k: v for k, v in meta.items() if k not in VERSION_LEAVES_OUT}
        summary["stamp"] = stamp
        return summary

    def note(self, published: dict[str, Any]) -> None:
        """Summarise a version its writer has just published, from the metadata in hand
        (the index warmed at the cost of one stat and one small file; best effort)."""
        folder = Path(published["path"])
        summary = {k: v for k, v in published.items() if k not in VERSION_LEAVES_OUT}
        summary["stamp"] = self.stamp(folder)
        index = self.folder(folder.parent.name)
        if summary["stamp"] is not None and self.inside(index):
            _write_first(index / folder.name, json.dumps(summary) + "\n", self.store.staging)

    def _known(self, name: str) -> tuple[dict[int, dict[str, Any]], list[str]]:
        """Summaries by version number as the index holds them, and its loose files."""
        folder = self.folder(name)
        if not self.inside(folder):
            return {}, []
        loose, pack = _index_files(folder, VERSION_PACKS)
        known: dict[int, dict[str, Any]] = {}
        text = _read_text(folder / pack) if pack else None
        try:  # one parse of the whole pack; line by line only when a line is damaged
            _unpack(known, json.loads(text or "[]"), name)
        except (ValueError, TypeError, KeyError, AttributeError):
            known.clear()
            parsed = []
            for line in (text or "").splitlines():  # "[", "{...},", ..., "]"
                try:
                    parsed.append(json.loads(line.rstrip().rstrip(",")))
                except ValueError:
                    pass  # a damaged line: that version is read from its folder
            _unpack(known, parsed, name)
        for entry in loose:
            if entry.isdigit() and int(entry) not in known:
                _take(known, _read_text(folder / entry) or "")
        return known, loose

    def _save(
        self, name: str, fresh: list[dict[str, Any]], rows: list[dict[str, Any]], loose: list[str]
    ) -> None:
        folder, staging = self.folder(name), self.store.staging
        if not self.inside(folder):
            return
        if len(loose) + len(fresh) < PACK_AFTER:
            for summary in fresh:
                _write(folder / str(summary["version"]), json.dumps(summary) + "\n", staging)
            return
        if _write(folder / f"{VERSION_PACK}{rows[-1]['version']}", _pack_text(rows), staging):
            # only what the pack holds: a summary written since stays for the next pack
            top = rows[-1]["version"]
            loose_now = _index_files(folder, VERSION_PACKS)[0]
            stale = [n for n in loose_now if n.isdigit() and int(n) <= top]
            older = [n for n in _listing(folder) if n.startswith(VERSION_PACKS)]
            _drop(folder, stale + [n for n in older if _pack_order(n) < (top, "")])

    def problems(self, name: str) -> Iterator[str]:
        """Each summary of ``name`` that disagrees with its version folder, one line each."""
        known, _ = self._known(name)
        base = self.store.root / name
        for number, summary in sorted(known.items()):
            folder = base / str(number)
            if not folder.is_dir():
                continue  # a summary of a folder gone: listings ignore it
            try:
                truth = self.summarise(folder)
            except (OSError, SnakeyardError):
                continue  # the version's own problem, reported by its check
            # stamped otherwise: listings read the folder, as they should
            if summary.get("stamp") == truth["stamp"] and summary != truth:
                yield (
                    f"index of {self.store.kind} {name}: the summary of version {number} "
                    "disagrees with its folder although stamped as read from it (changed by "
                    "hand?); listings show the summary until `snakeyard index rebuild` "
                    "writes the index afresh"
                )

    def rebuild(self, name: str) -> None:
        """Write the index of ``name`` afresh from its version folders."""
        folder = self.folder(name)
        if not self.inside(folder):
            return
        old = _index_files(folder, VERSION_PACKS)
        rows = [
            self.summarise(self.store.root / name / str(n)) for n in self.store.versions(name)
        ]
        keep = f"{VERSION_PACK}{rows[-1]['version']}" if rows else None
        if keep:
            _write(folder / keep, _pack_text(rows), self.store.staging)
        _drop(folder, [n for n in old[0] + ([old[1]] if old[1] else []) if n != keep])


def _pack_text(rows: list[dict[str, Any]]) -> str:
    """A pack of version summaries: a JSON array that one ``json.loads`` reads whole,
    with one summary a line, so that a damaged line costs only its own version.

    Its first line names the values every summary shares (the name, the kind, an
    artifact's name, a framework, often the data set and environment too), which the
    summaries after it leave out: a listing parses a third of the text it would
    otherwise, and puts each shared value back with one ``dict.update``.
    """
    shared = _shared(rows)
    lines = [json.dumps({SHARED: shared})]
    lines += [json.dumps({k: v for k, v in r.items() if k not in shared}) for r in rows]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def _shared(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The keys whose value is one and the same plain value (a text, number, true,
    false or null, of one type) in every summary; dicts and lists never, so that no
    two summaries a listing gives hold the same object."""
    if not rows:
        return {}
    plain = (str, int, float, bool, type(None))
    shared = {
        k: v for k, v in rows[0].items() if k not in ("version", "stamp") and type(v) in plain
    }
    for row in rows[1:]:
        # of one type too: 1, 1.0 and true are equal in Python, not in the summary (a
        # key a row lacks gives that row itself, a dict, never the type of a plain value)
        for key in [k for k, v in shared.items() if type(row.get(k, row)) is not type(v)
                    or row[k] != v]:  # fmt: skip
            del shared[key]
        if not shared:
            break
    return shared


def _unpack(known: dict[int, dict[str, Any]], parsed: list[Any], name: str) -> None:
    """Add the summaries of a parsed pack of ``name`` to ``known`` by version, each with
    the values the pack's first line says they share (a pack of an older snakeyard has
    none). A damaged first line damages every summary, so none is taken: the versions
    are read from their folders (and loose summaries)."""
    shared = {}
    if parsed and isinstance(parsed[0], dict) and SHARED in parsed[0]:
        shared = parsed.pop(0)[SHARED]
        if not _shared_whole(shared, name):
            return
    keys = SUMMARY_KEYS
    try:  # the whole pack in one pass; a summary that is no dict or has no version: below
        for summary in parsed:
            summary.update(shared)
            if not summary.keys() >= keys:
                raise KeyError(keys)
            known[summary["version"]] = summary
    except (TypeError, KeyError, AttributeError):
        known.clear()
        for summary in parsed:
            if isinstance(summary, dict) and type(summary.get("version")) is int:
                summary = {**summary, **shared}
                if summary.keys() >= keys:  # else read from its folder
                    known[summary["version"]] = summary


def _shared_whole(shared: Any, name: str) -> bool:
    """Whether a version pack's first line holds what :func:`_shared` writes: plain
    values, never a version or stamp (which would give every summary the same), the
    text fields of every version as text, and the name of the pack's own name."""
    if not isinstance(shared, dict) or "version" in shared or "stamp" in shared:
        return False
    plain = (str, int, float, bool, type(None))
    return (
        all(type(v) in plain for v in shared.values())
        and all(type(shared.get(k, "")) is str for k in SUMMARY_KEYS if k != "version")
        and shared.get("name", name) == name
    )


@contextmanager
def _folder_fd(path: str) -> Iterator[int | None]:
    """A descriptor of the folder ``path`` that ``os.stat`` may resolve names from (None
    where the platform cannot, or the folder cannot be opened: then full paths)."""
    if os.stat not in os.supports_dir_fd:
        yield None
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _take(known: dict[int, dict[str, Any]], line: str) -> None:
    try:
        summary = json.loads(line)
        if summary.keys() >= SUMMARY_KEYS:  # else damaged: read from its folder
            known[int(summary["version"])] = summary
    except (ValueError, TypeError, KeyError, AttributeError):
        pass  # a damaged line: that version is read from its folder


# ----------------------------------------------------------------------- runs
def run_stamp(record_path: str) -> str:
    """What changes whenever a run's ``run.json`` is replaced or edited in place: its
    inode, size and modification time (OSError when it cannot be read)."""
    found = os.stat(record_path)
    return f"{found.st_ino}:{found.st_size}:{found.st_mtime_ns}"


def run_line(record: dict[str, Any], stamp: str) -> str:
    """The index line of a run record: sort and filter fields, then the JSON summary."""
    summary = {k: record.get(k) for k in RUN_KEEPS if k in record}
    error = summary.get("error")
    if isinstance(error, str):
        summary["error"] = error.splitlines()[0][:ERROR_CHARS] if error else ""
    # a metric logged once per step is summarised by its last value
    summary["metrics"] = {
        k: (v[-1] if v else None) if isinstance(v, list) else v
        for k, v in (record.get("metrics") or {}).items()
        if not isinstance(v, dict)
    }
    text = json_text(summary, indent=None)  # strict: NaN as "NaN", as in the record
    fields = [
        record.get("start"), record.get("id"), record.get("status"), stamp,
        summary.get("experiment"), summary.get("exit_code"), summary.get("duration_seconds"),
        summary.get("host"),
        # every metric as `runs show` summarises it (a list: its count and last value),
        # from strict JSON: NaN a text, as the JSON summary gives it
        metrics_line(json.loads(json_text(record.get("metrics") or {}, indent=None))),
    ]  # fmt: skip
    # no field holds a tab or a newline, nor starts with "{": the first tab before a "{"
    # starts the JSON
    head = "\t".join(
        "" if f is None else str(f).replace("\t", " ").replace("\n", " ").lstrip("{")
        for f in fields
    )
    return f"{head}\t{text}"


def line_head(line: str) -> list[str]:
    """The :data:`HEAD` fields of an index line (all text), without copying its JSON;
    [] if damaged, or written by a snakeyard that kept other fields."""
    end = line.find("\t{")
    fields = line[:end].split("\t") if end > 0 or line.startswith("\t") else []
    return fields if len(fields) == len(HEAD) else []


def head_of(line: str) -> str:
    """The text of an index line before its JSON: what the table of `runs list` needs
    (a third of the line, so 100,000 runs' heads fit in a few tens of megabytes)."""
    return line[: line.find("\t{")]


def line_json(line: str) -> str:
    """The JSON summary of an index line."""
    return line[line.find("\t{") + 1 :]


def _closes(line: str) -> bool:
    """Whether an index line's JSON ends as a whole one does: what a listing that shows
    only the fields before the JSON checks (for nothing: no JSON is read), so that a
    line cut short is not taken."""
    return line.endswith(CLOSED)


def _parses(line: str) -> bool:
    """Whether an index line's JSON is whole: what a listing that gives the JSON as it
    is (``--json``) or reads it (``--sort``), and a new pack, take; any other line's
    run is read from its record."""
    try:
        json.loads(line[line.find("\t{") + 1 :])
    except ValueError:  # cut, or changed on disk
        return False
    return True


def _run_folders(base: str) -> set[str]:
    """The names in an experiment's folder but its hidden ones (``.index``): its runs'
    folders, and any stray file, which has no ``run.json`` under it (FileNotFoundError
    if the experiment has no folder)."""
    return set(filterfalse(methodcaller("startswith", "."), os.listdir(base)))  # C loops


def _current(
    lines: Iterator[str], base: str, folders: set[str], current: dict[str, str], heads: bool
) -> list[str]:
    """The summary lines among ``lines`` (their :func:`head_of` with ``heads``) of ended
    runs whose folder is one of ``folders`` (under ``base``) and whose ``run.json``
    still has the stamp they carry, each run once; ``current`` gets each one's run id
    and stamp.

    A listing of 100,000 runs spends most of its time in this loop, most of that in its
    one ``stat`` a run: the rest is kept to one split of the fields before the JSON
    (and, without ``heads``, one parse of the JSON of each line taken, so that a line
    whose JSON is damaged is never given).
    """
    taken: list[str] = []
    try:  # paths from the experiment's folder: a shorter walk for each stat
        where: int | None = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        start = ""
    except (OSError, AttributeError):  # no O_DIRECTORY (not Linux): whole paths
        where, start = None, f"{base}/"
    stat, ended = os.stat, ENDED
    # the table reads no JSON: a line cut short is all it checks for; a listing that
    # gives or reads the JSON takes only a line whose JSON parses (about a fifth of the
    # time of a `--json` listing: see docs/registry.md)
    whole = _closes if heads else _parses
    try:
        for line in lines:
            end = line.find("\t{")
            head = line[:end] if end > 0 else ""
            try:  # the fields of HEAD
                _, run_id, status, stamp, _, _, _, _, _ = head.split("\t")
            except ValueError:
                continue  # damaged, or written by a snakeyard that kept other fields
            if status not in ended or run_id not in folders or run_id in current:
                continue  # not ended, a summary of a folder gone, or of a run taken
            try:
                found = stat(f"{start}{run_id}/run.json", dir_fd=where)
            except OSError:
                continue  # the run is read from its folder, which says why
            if stamp == f"{found[1]}:{found[6]}:{found.st_mtime_ns}" and whole(line):
                current[run_id] = stamp  # (the stamp as run_stamp gives it)
                taken.append(head if heads else line.rstrip("\n"))
    finally:
        if where is not None:
            os.close(where)
    return taken


def _summarised(
    lines: Iterator[str], experiment: str, folders: set[str], seen: set[str], heads: bool
) -> list[str]:
    """The summary lines among ``lines`` (their :func:`head_of` with ``heads``) of ended
    runs of ``experiment`` whose folder is one of ``folders``, each run once, unchecked
    (no ``stat``); ``seen`` gets their run ids."""
    taken: list[str] = []
    ended, width = ENDED, len(HEAD)
    for line in lines:
        end = line.find("\t{")
        head = line[:end] if end > 0 else ""
        fields = head.split("\t")
        if (len(fields) != width or fields[2] not in ended or fields[4] != experiment
                or not line.endswith(CLOSED)):  # fmt: skip
            continue  # damaged, written with other fields, or not of this experiment
        run_id = fields[1]
        if run_id in folders and run_id not in seen:
            seen.add(run_id)
            taken.append(head if heads else line.rstrip("\n"))
    return taken


class RunIndex:
    """The summaries of the runs of each experiment."""

    def __init__(
        self,
        runs_root: Path,
        staging: Path,
        read: Callable[[Path], dict[str, Any]],
        contain: Callable[[Path, str], Path],
    ):
        self.runs_root = runs_root
        self.staging = staging
        self.read = read  # run.json path -> the record as readers report it (Lost judged)
        self.inside = lambda folder: all(_inside(contain, f) for f in (folder, staging))

    def experiments(self) -> list[str]:
        try:
            return sorted(
                e.name for e in os.scandir(self.runs_root)
                if e.is_dir() and not e.name.startswith(".")
            )  # fmt: skip
        except FileNotFoundError:
            return []

    def lines(
        self, experiment: str | None = None, skipped: list[str] | None = None,
        heads: bool = False, limit: int | None = None, newest: bool = False,
    ) -> list[str]:
        """The index line of every readable run (of ``experiment``), oldest first; only
        each line's :func:`head_of` with ``heads``; only the ``limit`` oldest (or, with
        ``newest``, newest) runs' with ``limit`` (:meth:`_window`).

        A run folder without a record is left out; one whose record cannot be read or
        is refused too, as by :meth:`Registry.list_runs`, with a line naming it in
        ``skipped`` when given.
        """
        names = [experiment] if experiment else self.experiments()
        if limit is not None:
            return self._window(names, skipped, heads, limit, newest)
        lines: list[str] = []
        for name in names:
            lines += self._experiment_lines(name, skipped, heads)
        # start times are ISO 8601 of one width: text order is time order (and each
        # experiment's lines come mostly in order already, which the sort merges)
        lines.sort()
        return lines

    def _window(
        self, names: list[str], skipped: list[str] | None, heads: bool, limit: int,
        newest: bool,
    ) -> list[str]:
        """The lines of the ``limit`` oldest (or newest) runs of the experiments
        ``names``, oldest first, with a ``stat`` of only the runs that are listed.

        A run's place in start order is taken from its summary before its stamp is
        checked: an ended run's record is never rewritten, so its start does not
        change. Every listed summary is checked as :meth:`lines` checks all of them; a
        stale one is replaced by its record's line, and the window taken again.
        """
        pool: list[str] = []
        checked: set[str] = set()  # the lines of pool known current: from a record or stamped
        for name in names:
            base = f"{self.runs_root}/{name}"
            try:
                folders = _run_folders(base)
            except FileNotFoundError:
                continue
            loose, seen = self._loose(name), set()
            summarised = _summarised(self._summary_lines(name), name, folders, seen, heads)
            unread = sorted(folders.difference(seen))
            if len(loose) + len(unread) >= PACK_AFTER:  # the index wants a new pack
                found = self._experiment_lines(name, skipped, heads)
                pool += found
                checked.update(found)
                continue
            pool += summarised
            found, fresh = self._read_runs(base, unread, skipped, heads)
            pool += found
            checked.update(found)
            self._save(name, fresh, {}, loose)  # loose summaries only: no pack is due
        while True:
            pool.sort()
            window = pool[-limit:] if newest else pool[:limit]
            stale = []
            for line in window:
                if line in checked:
                    continue
                if self._holds(line) and (heads or _parses(line)):
                    checked.add(line)
                else:
                    stale.append(line)
            if not stale:
                return window
            # rare: a record edited, replaced or removed by hand, or a line damaged
            for line in stale:
                pool.remove(line)
                fields = line.split("\t", 5)
                found, _ = self._read_runs(
                    f"{self.runs_root}/{fields[4]}", [fields[1]], skipped, heads
                )
                pool += found
                checked.update(found)

    def _holds(self, line: str) -> bool:
        """Whether the run of a summary line still has the ``run.json`` it summarises."""
        _, run_id, _, stamp, experiment, _ = line.split("\t", 5)
        try:
            return run_stamp(f"{self.runs_root}/{experiment}/{run_id}/run.json") == stamp
        except OSError:
            return False

    def _experiment_lines(
        self, experiment: str, skipped: list[str] | None = None, heads: bool = False,
        pack: bool = False,
    ) -> list[str]:
        """The lines (or heads) of one experiment's runs: first those whose summary is
        current, in the index's order, then those read from their records. ``pack``
        writes a pack of every ended run's line, however few are new."""
        base = f"{self.runs_root}/{experiment}"  # text paths: a stat per run is the cost
        try:
            folders = _run_folders(base)
        except FileNotFoundError:
            return []
        loose = self._loose(experiment)
        current: dict[str, str] = {}  # run id -> the stamp its summary was taken with
        lines = _current(self._summary_lines(experiment), base, folders, current, heads)
        # new, Running, or stale
        found, fresh = self._read_runs(base, sorted(folders.difference(current)), skipped, heads)
        self._save(experiment, fresh, current, loose, pack)
        return lines + found

    def _read_runs(
        self, base: str, run_ids: list[str], skipped: list[str] | None, heads: bool
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """The lines (or heads) of runs read from their records, and the (run id, line)
        of each ended one, to be summarised."""
        lines, fresh = [], []
        for run_id in run_ids:
            record_path = f"{base}/{run_id}/run.json"
            try:
                stamp = run_stamp(record_path)
                record = self.read(Path(record_path))
            except (FileNotFoundError, NotADirectoryError):
                continue  # no record yet (being set up), removed since, or not a folder
            except (OSError, ValueError, SnakeyardError) as error:
                if skipped is not None:  # unreadable or refused: `verify` reports it too
                    skipped.append(f"run {run_id} left out: {error}")
                continue
            line = run_line(record, stamp)
            lines.append(head_of(line) if heads else line)
            if record.get("status") in ENDED:
                fresh.append((run_id, line))
        return lines, fresh

    def _summary_lines(self, experiment: str) -> Iterator[str]:
        """Every summary line the index of ``experiment`` holds (each may end with a
        newline): its newest pack's, then the loose ones'. Damaged or duplicate lines
        included: the reader judges."""
        # lines by the megabyte (a pack may hold 100,000 runs), handed on by C's chain
        return chain.from_iterable(self._summary_blocks(experiment))

    def _summary_blocks(self, experiment: str) -> Iterator[list[str]]:
        folder = self.runs_root / experiment / INDEX
        if not self.inside(folder):
            return
        loose, pack = _index_files(folder)
        if pack:
            try:
                with open(folder / pack, encoding="utf-8") as lines:
                    while block := lines.readlines(BLOCK):
                        yield block
            except (OSError, UnicodeDecodeError):
                pass  # packed anew and removed at this instant, or damaged: the folders
        yield [_read_text(folder / entry) or "" for entry in loose]

    def _loose(self, experiment: str) -> list[str]:
        """The loose summaries of the index of ``experiment`` (none when it is not read)."""
        folder = self.runs_root / experiment / INDEX
        return _index_files(folder)[0] if self.inside(folder) else []

    def _known(self, experiment: str) -> dict[str, str]:
        """The summary line of each run as the index holds it (its pack's first)."""
        known: dict[str, str] = {}
        for line in self._summary_lines(experiment):
            fields = line_head(line)
            if fields and fields[1] not in known:
                known[fields[1]] = line.strip()
        return known

    def note(self, record: dict[str, Any], folder: Path) -> None:
        """Summarise a run's final record (its writer warming the index; best effort)."""
        if record.get("status") not in ENDED:
            return
        try:
            line = run_line(record, run_stamp(f"{folder}/run.json"))
        except OSError:
            return
        if self.inside(folder.parent / INDEX):
            _write(folder.parent / INDEX / folder.name, line + "\n", self.staging)

    def _save(
        self, experiment: str, fresh: list[tuple[str, str]], current: dict[str, str],
        loose: list[str], pack: bool = False,
    ) -> None:
        """Write the summaries of runs just read from their records: loose, or, once
        there are :data:`PACK_AFTER` loose ones (or with ``pack``), a new pack of every
        ended run's line: the ``current`` summaries read again, and the fresh ones."""
        folder = self.runs_root / experiment / INDEX
        if not self.inside(folder):
            return
        if not pack and len(loose) + len(fresh) < PACK_AFTER:
            for run_id, line in fresh:
                _write(folder / run_id, line + "\n", self.staging)
            return
        ended = [line for _, line in fresh]
        for line in self._summary_lines(experiment):  # only a listing that packs: rare
            fields = line_head(line)
            # never a damaged line: its run is read from its record next time
            if fields and current.get(fields[1]) == fields[3] and _parses(line):
                ended.append(line.strip())
                del current[fields[1]]  # once
        ended.sort()
        name = f"{PACK}{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        if _write(folder / name, "".join(line + "\n" for line in ended), self.staging):
            packed = {line_head(line)[1] for line in ended}
            now_loose, _ = _index_files(folder)
            older = [n for n in _listing(folder) if n.startswith(PACK) and n != name]
            # only packs older than ours: a newer one is another reader's, as good as ours
            _drop(folder, [n for n in now_loose if n in packed]
                  + [n for n in older if _pack_order(n) < _pack_order(name)])  # fmt: skip

    def problems(self, experiment: str) -> Iterator[str]:
        """Each run summary of ``experiment`` that disagrees with its record."""
        for run_id, line in sorted(self._known(experiment).items()):
            folder = self.runs_root / experiment / run_id
            try:
                stamp = run_stamp(f"{folder}/run.json")
                record = self.read(folder / "run.json")
            except (OSError, ValueError, SnakeyardError):
                continue  # a run gone, or the record's own problem, reported by its check
            # line_head: [] for a line damaged, or stripped of an empty first field
            if line_head(line)[3:4] == [stamp] and line != run_line(record, stamp):
                yield (
                    f"index of runs of {experiment}: the summary of run {run_id} disagrees "
                    "with its record although stamped as read from it (changed by hand?); "
                    "listings show the summary until `snakeyard index rebuild` writes the "
                    "index afresh"
                )

    def rebuild(self, experiment: str) -> None:
        """Write the index of ``experiment`` afresh from its run records."""
        folder = self.runs_root / experiment / INDEX
        if not self.inside(folder):
            return
        old_loose, old_pack = _index_files(folder)
        _drop(folder, old_loose + ([old_pack] if old_pack else []))
        self._experiment_lines(experiment, pack=True)


def summaries(lines: list[str]) -> Iterator[dict[str, Any]]:
    """The JSON summaries of index lines, parsed one at a time."""
    for line in lines:
        yield json.loads(line_json(line))
