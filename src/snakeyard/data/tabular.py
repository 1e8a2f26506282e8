"""Tabular data sets: one CSV file with a header row and a declared label column.

``describe_table`` reads the file once, checks it, and returns what a data set version
records about it: the column names and types (``integer``, ``float`` or ``string``,
the narrowest that holds every non-empty cell), the row count, and the label column.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError

TYPES = ("integer", "float", "string")


class TableError(SnakeyardError):
    """A CSV file that cannot be a tabular data set."""


def _cell_type(cell: str) -> int:
    """Index into TYPES of the narrowest type holding ``cell``."""
    try:
        int(cell)
        return 0
    except ValueError:
        pass
    try:
        float(cell)
        return 1
    except ValueError:
        return 2


def find_table(folder: Path, dataset: str) -> Path:
    """The one CSV file of a tabular data set's folder."""
    tables = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if len(tables) != 1:
        found = ", ".join(p.relative_to(folder).as_posix() for p in tables) or "none"
        raise TableError(
            f"data set {dataset!r} is tabular and needs exactly one .csv file; found {found}"
        )
    return tables[0]


def describe_table(path: str | os.PathLike, label_column: str) -> dict[str, Any]:
    """Check a CSV file and describe it: columns with types, rows, label column."""
    path = Path(path)
    try:
        # utf-8-sig: spreadsheets save UTF-8 with a byte-order mark, which is not a name
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header or not any(name.strip() for name in header):
                raise TableError(f"{path}: no header row")
            _check_header(path, header, label_column)
            kinds = [0] * len(header)
            missing = [0] * len(header)
            rows = 0
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise TableError(
                        f"{path}, line {reader.line_num}: {len(row)} fields, "
                        f"the header has {len(header)}"
                    )
                rows += 1
                for index, cell in enumerate(row):
                    if cell == "":
                        missing[index] += 1
                    elif kinds[index] < 2:
                        kinds[index] = max(kinds[index], _cell_type(cell))
    except UnicodeDecodeError as error:
        raise TableError(f"{path}: not UTF-8 text ({error})") from None
    except csv.Error as error:
        raise TableError(f"{path}: not a valid CSV file ({error})") from None
    if rows == 0:
        raise TableError(f"{path}: a header but no rows")
    columns = [
        {"name": name, "type": TYPES[kind], "missing": gaps}
        for name, kind, gaps in zip(header, kinds, missing, strict=True)
    ]
    return {"file": path.name, "rows": rows, "label_column": label_column, "columns": columns}


def _check_header(path: Path, header: list[str], label_column: str) -> None:
    seen = set()
    for name in header:
        if not name.strip():
            raise TableError(f"{path}: the header has an empty column name")
        if name in seen:
            raise TableError(f"{path}: column {name!r} appears twice in the header")
        seen.add(name)
    if label_column not in seen:
        raise TableError(
            f"{path}: label column {label_column!r} is not in the header "
            f"(columns: {', '.join(header)})"
        )
