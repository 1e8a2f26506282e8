"""What a logged metric value is, and a short summary of it that a person can read.

A script logs scalars (numbers, text, booleans), lists of values (one per step, a loss
curve), table rows (a list of mappings), tables (a mapping of columns) and confusion
matrices (``{"class_labels": [...], "matrix": [[...], ...]}``). Listings, ``runs show``,
``runs compare`` and the report show each as one bounded line: a 10 MB text or a
100,000-value list costs the same few characters as a number, and is never turned into
its whole text first.

Standard library only.
"""

from __future__ import annotations

import math
from typing import Any

# the longest text shown in full; longer text is cut and its length given
TEXT_CHARACTERS = 40
# how many names of a mapping a summary lists
NAMES_SHOWN = 3


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def series(value: Any) -> list[float] | None:
    """The values of a list metric logged step by step (two or more numbers), else None."""
    if not isinstance(value, list) or len(value) < 2 or not all(map(is_number, value)):
        return None
    return [float(v) for v in value]


def confusion_matrix(value: Any) -> tuple[list[str], list[list[float]]] | None:
    """(class labels, counts) when ``value`` (or a list's last item) holds a confusion
    matrix, else None."""
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        value = value[-1]
    if not isinstance(value, dict):
        return None
    labels, matrix = value.get("class_labels"), value.get("matrix")
    if (
        isinstance(labels, list)
        and isinstance(matrix, list)
        and len(matrix) == len(labels) > 0
        and all(isinstance(row, list) and len(row) == len(labels) for row in matrix)
        and all(is_number(c) and math.isfinite(c) for row in matrix for c in row)
    ):
        return [str(label) for label in labels], matrix
    return None


def number(value: float | int) -> str:
    """A number in a few characters: floats to 4 significant digits, except a whole float
    below a million, which stays as written (``1.0`` is a setting, ``0.9778`` a measure)."""
    if isinstance(value, float):
        return repr(value) if value.is_integer() and abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def text(value: str, characters: int = TEXT_CHARACTERS) -> str:
    """``value`` on one line, in full when short, else cut with its length given."""
    head = value[: characters + 1].replace("\r", " ").replace("\n", " ")
    if len(value) <= characters:
        return head
    return f"{head[: characters - 1]}… ({len(value):,} characters)"


def summary(value: Any) -> str:
    """One bounded line that says what ``value`` is: the value itself when short, else
    its shape and its last value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if is_number(value):
        return number(value)
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return _list_summary(value)
    if isinstance(value, dict):
        return _mapping_summary(value)
    return text(str(value)[: TEXT_CHARACTERS + 1])


def _list_summary(value: list[Any]) -> str:
    if not value:
        return "[] (empty)"
    if all(isinstance(row, dict) for row in value[:100]) and isinstance(value[-1], dict):
        columns = {name for row in value[:100] for name in row}
        return f"table of {_count(len(value), 'row')}, {_count(len(columns), 'column')}"
    if len(value) == 1:
        return summary(value[0])
    return f"{len(value):,} values, last {_inner(value[-1])}"


def _mapping_summary(value: dict[str, Any]) -> str:
    matrix = confusion_matrix(value)
    if matrix is not None:
        n = len(matrix[0])
        return f"{n}x{n} confusion matrix"
    if value and all(isinstance(column, list) for column in value.values()):
        rows = max(len(column) for column in value.values())
        return f"table of {_count(rows, 'row')}, {_count(len(value), 'column')}"
    names = [text(str(name), 20) for name in list(value)[:NAMES_SHOWN]]
    more = f", +{len(value) - NAMES_SHOWN} more" if len(value) > NAMES_SHOWN else ""
    return f"{{{', '.join(names)}{more}}}" if value else "{} (empty)"


def _inner(value: Any) -> str:
    """The summary of a list's item, kept short (a list inside a list is only counted)."""
    if isinstance(value, (list, dict)):
        return f"<{_count(len(value), 'item')}>"
    return summary(value)


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def metrics_line(metrics: dict[str, Any], width: int = 100) -> str:
    """The metrics as ``name=value, ...``, each value summarised; those that fit in about
    ``width`` characters, then how many more there are."""
    shown: list[str] = []
    length = 0
    for k, (name, value) in enumerate(metrics.items()):
        part = f"{name}={summary(value)}"
        if shown and length + len(part) + 2 > width:
            return ", ".join(shown) + f" (+{len(metrics) - k} more)"
        shown.append(part)
        length += len(part) + 2
    return ", ".join(shown)


def latest_number(value: Any) -> float | None:
    """The number a metric stands at: a scalar, or a list's last number; else None."""
    if isinstance(value, list) and value:
        value = value[-1]
    return float(value) if is_number(value) and math.isfinite(value) else None
