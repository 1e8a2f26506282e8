"""Data set sources: scikit-learn's bundled data sets and local files or folders.

A source is written ``KIND:WHAT``:

- ``sklearn:iris`` (also ``digits``, ``wine``, ``breast_cancer``): the data set that
  scikit-learn ships, written as ``<what>.csv`` (feature columns, then ``target``)
  and ``<what>.json`` (feature and class names);
- ``path:<file or folder>``: a local file or folder, copied as it is.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .files import manifest_of, write_json_atomic
from .sklearn_tables import BUNDLED_FILES, FEATURE_NAMES

SKLEARN_DATASETS = ("iris", "digits", "wine", "breast_cancer")
SOURCE_FORMS = f"sklearn:<{'|'.join(SKLEARN_DATASETS)}> or path:<file or folder>"


def parse_source(source: str, dataset: str = "?") -> tuple[str, str]:
    """Split a source into ``(kind, what)``, rejecting anything unknown."""
    kind, sep, what = str(source).partition(":")
    if not sep or not what or kind not in ("sklearn", "path"):
        raise ConfigError(f"data set {dataset!r}: unknown source {source!r}; use {SOURCE_FORMS}")
    if kind == "sklearn" and what not in SKLEARN_DATASETS:
        raise ConfigError(
            f"data set {dataset!r}: unknown scikit-learn data set {what!r} in {source!r}; "
            f"use one of {', '.join(SKLEARN_DATASETS)}"
        )
    return kind, what


def fetch(source: str, dest: Path, manifest_path: Path, dataset: str = "?") -> list[dict[str, Any]]:
    """Write the data set named by ``source`` into the folder ``dest`` and its manifest."""
    kind, what = parse_source(source, dataset)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if kind == "sklearn":
        _write_sklearn(what, dest)
    else:
        _copy_path(Path(what), dest, dataset)
    manifest = manifest_of(dest)
    write_json_atomic(manifest_path, {"dataset": dataset, "source": source, "files": manifest})
    return manifest


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
    if path.is_file():
        shutil.copy2(path, dest / path.name)
    elif path.is_dir():
        shutil.copytree(path, dest, dirs_exist_ok=True)
    else:
        raise ConfigError(f"data set {dataset!r}: source path {str(path)!r} does not exist")
