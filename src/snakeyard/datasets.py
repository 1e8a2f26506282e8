"""Data set sources: scikit-learn's bundled data sets and local files or folders.

A source is written ``KIND:WHAT``:

- ``sklearn:iris`` (also ``digits``, ``wine``, ``breast_cancer``): the data set that
  scikit-learn ships, written as ``<what>.csv`` (feature columns, then ``target``)
  and ``<what>.json`` (feature and class names);
- ``path:<file or folder>``: a local file or folder, copied as it is.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .files import manifest_of, write_json_atomic

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


def _write_sklearn(what: str, dest: Path) -> None:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{what}")()
    features = [str(n) for n in bunch.feature_names]
    with open(dest / f"{what}.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*features, "target"])
        for row, label in zip(bunch.data.tolist(), bunch.target.tolist(), strict=True):
            writer.writerow([*map(repr, row), label])
    info = {
        "source": f"scikit-learn load_{what}",
        "n_samples": int(bunch.data.shape[0]),
        "feature_names": features,
        "target_column": "target",
        "target_names": [str(n) for n in bunch.target_names],
    }
    (dest / f"{what}.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _copy_path(path: Path, dest: Path, dataset: str) -> None:
    if path.is_file():
        shutil.copy2(path, dest / path.name)
    elif path.is_dir():
        shutil.copytree(path, dest, dirs_exist_ok=True)
    else:
        raise ConfigError(f"data set {dataset!r}: source path {str(path)!r} does not exist")
