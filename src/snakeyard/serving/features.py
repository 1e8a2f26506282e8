"""A data set version's rows of features, the way a model takes them.

- ``tabular``: the one CSV table, without its label column;
- a scikit-learn data set (``sklearn:digits``, ...): its CSV without the target column
  its ``<name>.json`` names;
- ``idx``: the arrays of two or more dimensions (the images), each item flattened into
  one row of raw values, in file name order.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import SnakeyardError
from ..files import walk_files


class Features(NamedTuple):
    """Rows of features (a float array) and the columns' names and types when known."""

    rows: Any
    names: list[str] | None
    types: list[str] | None


def dataset_features(folder: Path, meta: dict[str, Any], limit: int | None = None) -> Features:
    """The feature rows of the data set version ``meta`` whose files are in ``folder``;
    only the first ``limit`` rows when given."""
    label = f"data set {meta['name']}:{meta['version']}"
    data_format = meta.get("format", "files")
    schema = meta.get("schema") or {}
    if data_format == "tabular":
        columns = schema["columns"]
        keep = [c["name"] for c in columns if c["name"] != schema["label_column"]]
        types = [c["type"] for c in columns if c["name"] != schema["label_column"]]
        return _csv_features(folder / schema["file"], keep, types, label, limit)
    if data_format == "idx":
        return _idx_features(folder, label, limit)
    described = [p for p in walk_files(folder) if p.suffix == ".json"]
    for relpath in described:
        info = json.loads((folder / relpath).read_text(encoding="utf-8"))
        table = folder / relpath.with_suffix(".csv")
        if isinstance(info, dict) and "feature_names" in info and table.is_file():
            names = list(info["feature_names"])
            return _csv_features(table, names, ["float"] * len(names), label, limit)
    raise SnakeyardError(
        f"{label}: cannot tell its features (format {data_format!r}); scoring and sample "
        "inputs take tabular data sets, scikit-learn's bundled ones, and idx arrays"
    )


def _csv_features(
    path: Path, keep: list[str], types: list[str], label: str, limit: int | None
) -> Features:
    import numpy as np

    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        missing = [name for name in keep if name not in header]
        if missing:
            raise SnakeyardError(f"{label}: {path.name} has no column {missing[0]!r}")
        wanted = [header.index(name) for name in keep]
        if [t for t in types if t == "string"]:
            raise SnakeyardError(
                f"{label}: column {keep[types.index('string')]!r} holds text; a model served "
                "by snakeyard takes numbers only"
            )
        rows = []
        for line in reader:
            if limit is not None and len(rows) >= limit:
                break
            if line:
                # an empty cell (a missing value) is NaN, as pandas reads it
                rows.append([float(line[i]) if line[i] != "" else np.nan for i in wanted])
    return Features(np.asarray(rows, dtype=np.float64).reshape(-1, len(keep)), keep, types)


def _idx_features(folder: Path, label: str, limit: int | None) -> Features:
    import numpy as np

    from ..data.idx import read_idx

    arrays = [read_idx(folder / p) for p in walk_files(folder)]
    images = [a.reshape(len(a), -1) for a in arrays if a.ndim >= 2]
    if not images:
        raise SnakeyardError(f"{label}: no idx array of two or more dimensions (images)")
    rows = np.concatenate(images).astype(np.float64)
    return Features(rows[:limit] if limit is not None else rows, None, None)
