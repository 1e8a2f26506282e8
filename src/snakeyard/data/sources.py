"""Data set sources: scikit-learn's bundled data sets, local files or folders, and URLs.

A source is written ``KIND:WHAT``:

- ``sklearn:iris`` (also ``digits``, ``wine``, ``breast_cancer``): the data set that
  scikit-learn ships, written as ``<what>.csv`` (feature columns, then ``target``)
  and ``<what>.json`` (feature and class names);
- ``path:<file or folder>``: a local file or folder, copied as it is;

or it is a list of downloads, ``[{url: https://..., sha256: <64 hex digits>}, ...]``
(``http(s)://`` or ``file://``, see :mod:`snakeyard.data.download`).

After fetching, the files are checked against the data set's ``format``: ``files``
(anything), ``idx`` (every file an idx file, see :mod:`snakeyard.data.idx`) or ``tabular``
(one CSV file with a header and the label column, see :mod:`snakeyard.data.tabular`).
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ConfigError, SnakeyardError
from ..files import (
    checked_files,
    copy_files,
    manifest_of,
    special_kind,
    walk_files,
    write_json_atomic,
)
from .bundled import BUNDLED_FILES, FEATURE_NAMES
from .download import DownloadOptions, check_sha256, download, file_name

SKLEARN_DATASETS = ("iris", "digits", "wine", "breast_cancer")
SOURCE_FORMS = (
    f"sklearn:<{'|'.join(SKLEARN_DATASETS)}>, path:<file or folder>, "
    "or a list of {url: URL, sha256: HASH} downloads"
)
FORMATS = ("files", "idx", "tabular")
URL_SCHEMES = ("http://", "https://", "file://")


def parse_source(source: str | list, dataset: str = "?") -> tuple[str, Any]:
    """Split a source into ``(kind, what)``, rejecting anything unknown.

    A list of downloads gives ``("urls", [{url, sha256, path}, ...])`` with every
    entry checked and ``path`` filled in from the URL when absent.
    """
    if isinstance(source, list):
        return "urls", parse_downloads(source, dataset)
    if str(source).startswith(URL_SCHEMES):
        raise ConfigError(
            f"data set {dataset!r}: a URL source is a list of downloads, each with its "
            f"sha256: source: [{{url: {source}, sha256: <64 hex digits>}}]"
        )
    kind, sep, what = str(source).partition(":")
    if not sep or not what or kind not in ("sklearn", "path"):
        raise ConfigError(f"data set {dataset!r}: unknown source {source!r}; use {SOURCE_FORMS}")
    if kind == "sklearn" and what not in SKLEARN_DATASETS:
        raise ConfigError(
            f"data set {dataset!r}: unknown scikit-learn data set {what!r} in {source!r}; "
            f"use one of {', '.join(SKLEARN_DATASETS)}"
        )
    return kind, what


def parse_downloads(entries: list, dataset: str) -> list[dict[str, str]]:
    """Check a list of ``{url, sha256[, path]}`` downloads; file names must be distinct."""
    if not entries:
        raise ConfigError(f"data set {dataset!r}: the list of downloads is empty")
    checked, names = [], set()
    for number, entry in enumerate(entries, 1):
        where = f"data set {dataset!r}, download {number}"
        if not isinstance(entry, dict) or "url" not in entry or "sha256" not in entry:
            raise ConfigError(f"{where}: expected a mapping with 'url' and 'sha256', got {entry!r}")
        url = str(entry["url"])
        if not url.startswith(URL_SCHEMES):
            raise ConfigError(f"{where}: unsupported URL {url!r}; use http://, https:// or file://")
        try:
            sha256 = check_sha256(str(entry["sha256"]), url)
            path = str(entry.get("path") or file_name(url))
        except SnakeyardError as error:
            raise ConfigError(f"{where}: {error}") from None
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or path.startswith("."):
            raise ConfigError(f"{where}: invalid path {path!r}; use a relative file name")
        if path in names:
            raise ConfigError(f"{where}: two downloads are named {path!r}; give one a 'path'")
        names.add(path)
        checked.append({"url": url, "sha256": sha256, "path": path})
    return checked


def describe_source(source: str | list) -> str:
    """The source as one line for a data set's ``origin``: the URLs of a download list."""
    if isinstance(source, list):
        return " ".join(entry["url"] for entry in source)
    return str(source)


def fetch(
    source: str | list,
    dest: Path,
    manifest_path: Path,
    dataset: str = "?",
    data_format: str = "files",
    label_column: str | None = None,
    options: DownloadOptions | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Write the data set named by ``source`` into the folder ``dest`` and its manifest.

    The manifest also records the data set's format and, for ``idx`` and ``tabular``,
    the schema found by checking the files.
    """
    kind, what = parse_source(source, dataset)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if kind == "sklearn":
        _write_sklearn(what, dest)
    elif kind == "urls":
        for entry in what:
            size = download(
                entry["url"],
                dest / entry["path"],
                entry["sha256"],
                options or DownloadOptions(),
                log,
            )
            log(f"downloaded {entry['url']} -> {entry['path']} ({size} bytes, sha256 checked)")
    else:
        _copy_path(Path(what), dest, dataset)
    schema = check_format(dest, data_format, label_column, dataset)
    manifest = manifest_of(dest)
    write_json_atomic(
        manifest_path,
        {
            "dataset": dataset,
            "source": source,
            "format": data_format,
            "schema": schema,
            "files": manifest,
        },
    )
    return manifest


def check_format(
    folder: Path, data_format: str, label_column: str | None, dataset: str
) -> dict[str, Any] | None:
    """Check the fetched files against the declared format; return what was learnt."""
    if data_format == "files":
        return None
    if data_format == "idx":
        from .idx import idx_header

        found = {path.as_posix(): idx_header(folder / path) for path in walk_files(folder)}
        if not found:
            raise ConfigError(f"data set {dataset!r} is in idx format but holds no files")
        return {"files": found}
    if data_format == "tabular":
        from .tabular import describe_table, find_table

        if not label_column:
            raise ConfigError(f"data set {dataset!r} is tabular: give its label_column")
        table = find_table(folder, dataset)
        schema = describe_table(table, label_column)
        schema["file"] = table.relative_to(folder).as_posix()
        return schema
    raise ConfigError(
        f"data set {dataset!r}: unknown format {data_format!r}; use one of {', '.join(FORMATS)}"
    )


Table = tuple[list[str], list[list[float]], list[int]]  # class names, rows, labels


def _write_sklearn(what: str, dest: Path) -> None:
    classes, rows, labels = _bundled_table(what) or _loaded_table(what)
    features = FEATURE_NAMES[what]
    with open(dest / f"{what}.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*features, "target"])
        for row, label in zip(rows, labels, strict=True):
            writer.writerow([*map(repr, row), label])
    info = {
        "source": f"scikit-learn load_{what}",
        "n_samples": len(rows),
        "feature_names": features,
        "target_column": "target",
        "target_names": classes,
    }
    (dest / f"{what}.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _bundled_table(what: str) -> Table | None:
    """Read scikit-learn's bundled file directly, without importing scikit-learn (~1 s).

    None when the file is not where, or not what, this reader expects; the caller
    then asks scikit-learn's own loader.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / BUNDLED_FILES[what]
    width = len(FEATURE_NAMES[what])
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            if what == "digits":  # no header; the last column is the digit
                classes, expected = [str(digit) for digit in range(10)], None
            else:
                header = next(reader)
                classes, expected = header[2:], (int(header[0]), int(header[1]))
            values = [[float(cell) for cell in line] for line in reader if line]
    except (OSError, ValueError, StopIteration):
        return None
    if any(len(line) != width + 1 for line in values):
        return None
    if expected is not None and expected != (len(values), width):
        return None
    return classes, [line[:-1] for line in values], [int(line[-1]) for line in values]


def _loaded_table(what: str) -> Table:
    """The same table through scikit-learn's ``load_*`` function."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{what}")()
    classes = [str(name) for name in bunch.target_names]
    return classes, bunch.data.tolist(), bunch.target.tolist()


def _copy_path(path: Path, dest: Path, dataset: str) -> None:
    """Copy a ``path:`` source by the one link policy (``files.tree_files``): a pipe,
    socket or device, or a link out of the folder or to nothing, is one line naming it
    (copying a pipe would wait for a writer forever)."""
    label = f"data set {dataset!r}: source path {str(path)!r}"
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{label} does not exist")
    if not (path.is_file() or path.is_dir()):
        kind = special_kind(path) or "a symbolic link to nothing"
        raise ConfigError(f"{label} is {kind}, not a regular file or folder")
    copy_files(path, dest, checked_files(path, label))
