"""Which files of an experiment's source directory go into a run's snapshot.

A ``.snakeyardignore`` file in the source directory lists patterns, one a line, in a
subset of ``.gitignore`` syntax: ``#`` comments, ``*``/``?``/``[...]`` wildcards, a
trailing ``/`` for folders only, a ``/`` inside the pattern anchors it to the source
directory (otherwise it matches a name at any depth), and ``!`` re-includes what an
earlier pattern left out. The last matching pattern wins. Version-control folders,
caches, the run's own ``outputs/`` and ``logs/``, and files that hold secrets (``.env``,
``.aws/``, ``.ssh/``, ``*.pem``, ... see :data:`ALWAYS_IGNORED`) are left out before the
ignore file is read, so a ``!`` line there can bring one back.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import NamedTuple

from ..errors import ConfigError
from ..files import tree_files

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
    # secrets: a snapshot is copied into the shared registry, readable by all its users
    ".env",
    ".env.*",
    ".aws/",
    ".ssh/",
    ".gnupg/",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pypirc",
    ".git-credentials",
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
        data = ignore_file.read_bytes()
        try:
            lines += data.decode("utf-8-sig").splitlines()
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"{ignore_file} is not UTF-8 text (byte {data[error.start]:#04x} at offset "
                f"{error.start}); save it as UTF-8"
            ) from None
    return [p for p in map(Pattern.parse, lines) if p is not None]


def _ignored(patterns: list[Pattern], relpath: str, is_folder: bool) -> bool:
    ignored = False
    for pattern in patterns:
        if pattern.matches(relpath, is_folder):
            ignored = not pattern.negated
    return ignored


def snapshot_files(source_dir: Path) -> list[Path]:
    """The files of ``source_dir`` that a run's snapshot holds, as sorted relative paths.

    Symbolic links follow snakeyard's one policy (``snakeyard.files.tree_files``): those
    that stay inside the source directory are followed, and one that leads out of it or
    to nothing, or a pipe, is a ConfigError naming it, unless the ignore file leaves it
    out.
    """
    patterns = read_patterns(source_dir)
    files, problems = tree_files(
        source_dir, lambda relpath, is_folder: not _ignored(patterns, relpath, is_folder)
    )
    if problems:
        raise ConfigError(
            f"source directory {source_dir}: {problems[0]}; or list it in {IGNORE_FILE}"
        )
    return files
