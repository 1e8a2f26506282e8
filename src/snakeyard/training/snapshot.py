"""Which files of an experiment's source directory go into a run's snapshot.

A ``.snakeyardignore`` file in the source directory lists patterns, one a line, in a
subset of ``.gitignore`` syntax: ``#`` comments, ``*``/``?``/``[...]`` wildcards, a
trailing ``/`` for folders only, a ``/`` inside the pattern anchors it to the source
directory (otherwise it matches a name at any depth), and ``!`` re-includes what an
earlier pattern left out. The last matching pattern wins. Version-control folders,
caches and the run's own ``outputs/`` and ``logs/`` are always left out.
"""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import NamedTuple

IGNORE_FILE = ".snakeyardignore"
ALWAYS_IGNORED = (
    ".git/",
    ".hg/",
    ".svn/",
    "__pycache__/",
    "*.pyc",
    ".snakemake/",
    "/outputs/",
    "/logs/",
)


class Pattern(NamedTuple):
    """One line of an ignore file (a named tuple: dataclasses cost a training job 6 ms to
    import)."""

    glob: str
    negated: bool
    folders_only: bool
    anchored: bool

    @classmethod
    def parse(cls, line: str) -> Pattern | None:
        line = line.rstrip("\n").rstrip()
        if not line or line.startswith("#"):
            return None
        negated = line.startswith("!")
        line = line[1:] if negated else line
        folders_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        return cls(line.lstrip("/"), negated, folders_only, anchored) if line else None

    def matches(self, relpath: str, is_folder: bool) -> bool:
        if self.folders_only and not is_folder:
            return False
        if self.anchored:
            return fnmatchcase(relpath, self.glob)
        return fnmatchcase(relpath.rsplit("/", 1)[-1], self.glob)


def read_patterns(source_dir: Path) -> list[Pattern]:
    """The built-in patterns followed by those of the source directory's ignore file."""
    lines = list(ALWAYS_IGNORED)
    ignore_file = source_dir / IGNORE_FILE
    if ignore_file.is_file():
        lines += ignore_file.read_text(encoding="utf-8").splitlines()
    return [p for p in map(Pattern.parse, lines) if p is not None]


def _ignored(patterns: list[Pattern], relpath: str, is_folder: bool) -> bool:
    ignored = False
    for pattern in patterns:
        if pattern.matches(relpath, is_folder):
            ignored = not pattern.negated
    return ignored


def snapshot_files(source_dir: Path) -> list[Path]:
    """The files of ``source_dir`` that a run's snapshot holds, as sorted relative paths."""
    patterns = read_patterns(source_dir)
    chosen = []
    for dirpath, dirnames, filenames in os.walk(source_dir):
        base = Path(dirpath).relative_to(source_dir)
        dirnames[:] = sorted(
            d for d in dirnames if not _ignored(patterns, (base / d).as_posix(), True)
        )
        chosen.extend(
            base / f for f in filenames if not _ignored(patterns, (base / f).as_posix(), False)
        )
    return sorted(chosen, key=lambda p: p.as_posix())
