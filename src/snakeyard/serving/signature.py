"""A model's signature: what it takes (the width of a row, the columns' names and types,
the dtype), what it gives (the classes, the prediction dtype), and a few sample rows.

Recorded at registration (``model.json``'s ``signature``), shown by ``models show``,
and used by the server to check every request before the model sees it. Versions
registered before signatures existed are checked against the model itself
(``n_features_in_``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from ..records import Signature, SignatureInputs

SAMPLE_ROWS = 5
METHODS = ("predict", "predict_proba")


class BadInput(SnakeyardError):
    """Rows a model cannot take: the wrong width, a value that is not a number, ..."""


def infer_signature(
    model: Any,
    sample: Any,
    feature_names: list[str] | None = None,
    feature_types: list[str] | None = None,
) -> Signature:
    """The signature of ``model``, learnt by predicting the first rows of ``sample``."""
    import numpy as np

    rows = sample_rows(sample)
    try:
        predicted = np.asarray(model.predict(rows))
    except Exception as error:  # the model's own checks can raise anything
        raise SnakeyardError(
            f"the model cannot predict the sample input ({type(error).__name__}: {error})"
        ) from error
    classes = getattr(model, "classes_", None)
    inputs, sample_input = input_part(rows, feature_names or _model_names(model), feature_types)
    return {
        "inputs": inputs,
        "outputs": {
            "classes": [_plain(c) for c in classes] if classes is not None else None,
            "dtype": str(predicted.dtype),
            "methods": [m for m in METHODS if callable(getattr(model, m, None))],
        },
        "sample_input": sample_input,
    }


def sample_rows(sample: Any) -> Any:
    """The first :data:`SAMPLE_ROWS` rows of ``sample`` as a 2-D numpy array
    (SnakeyardError when it is not a non-empty table)."""
    import numpy as np

    rows = np.asarray(sample)[:SAMPLE_ROWS]
    if rows.ndim != 2 or len(rows) == 0:
        raise SnakeyardError(f"a sample input is a table of rows; got shape {rows.shape}")
    return rows


def input_part(
    rows: Any, feature_names: list[str] | None, feature_types: list[str] | None
) -> tuple[SignatureInputs, list[list[Any]]]:
    """The ``inputs`` and ``sample_input`` of a signature whose sample is ``rows`` (a
    2-D numpy array, see :func:`sample_rows`): what can be told without the model."""
    inputs: SignatureInputs = {
        "n_features": int(rows.shape[1]),
        "feature_names": list(feature_names) if feature_names else None,
        "feature_types": list(feature_types) if feature_types else None,
        "dtype": str(rows.dtype),
    }
    return inputs, [[_plain(v) for v in row] for row in rows.tolist()]


def signature_problem(value: Any) -> str | None:
    """What makes ``value`` no signature (the shape of :class:`records.Signature`, as
    this module and the server read it), or None when it is one."""
    if not isinstance(value, dict):
        return "it is not a mapping"
    inputs, outputs, sample = value.get("inputs"), value.get("outputs"), value.get("sample_input")
    if not isinstance(inputs, dict) or not isinstance(outputs, dict):
        return "it lacks an inputs or an outputs mapping"
    width = inputs.get("n_features")
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        return f"inputs.n_features is {width!r}, not a whole number above 0"
    for key in ("feature_names", "feature_types"):
        names = inputs.get(key)
        texts = isinstance(names, list) and all(isinstance(n, str) for n in names)
        if names is not None and not (texts and len(names) == width):
            return f"inputs.{key} is not null or a list of {width} texts"
    if not isinstance(inputs.get("dtype"), str) or not isinstance(outputs.get("dtype"), str):
        return "inputs.dtype or outputs.dtype is not a text"
    classes, methods = outputs.get("classes"), outputs.get("methods")
    if classes is not None and not isinstance(classes, list):
        return "outputs.classes is not null or a list"
    known = isinstance(methods, list) and all(m in METHODS for m in methods if isinstance(m, str))
    if not known or not all(isinstance(m, str) for m in methods) or "predict" not in methods:
        return f"outputs.methods is {methods!r}, not predict and perhaps predict_proba"
    rows = isinstance(sample, list) and all(isinstance(r, list) and len(r) == width for r in sample)
    if not rows:
        return f"sample_input is not a list of rows of {width} values"
    return None


def _model_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def _plain(value: Any) -> Any:
    """A numpy scalar as the JSON value it stands for."""
    return value.item() if hasattr(value, "item") else value


def read_sample(path: str | Path) -> tuple[Any, list[str] | None]:
    """Rows of sample input from a file: a CSV table with a header row, or JSON
    ``{"data": [[...], ...]}`` (the body of a ``/score`` request) or a list of rows."""
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise SnakeyardError(f"--sample-input {path}: no such file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            body = json.loads(text)
        except ValueError as error:
            raise SnakeyardError(f"--sample-input {path}: not JSON ({error})") from error
        rows = body.get("data") if isinstance(body, dict) else body
        return check_rows(rows, None, f"--sample-input {path}"), None
    table = list(csv.reader(text.splitlines()))
    if len(table) < 2:
        raise SnakeyardError(
            f"--sample-input {path}: expected a CSV table with a header row and at least one "
            "row, or a .json file {\"data\": [[...]]}"
        )
    try:
        rows = np.array([[float(cell) for cell in row] for row in table[1:] if row])
    except ValueError as error:
        raise SnakeyardError(
            f"--sample-input {path}: {error}; every cell must be a number"
        ) from error
    return rows, table[0]


def expected_width(signature: Signature | None, model: Any) -> int | None:
    """How many features a row must have: the signature's, else the model's own."""
    if signature:
        return signature["inputs"]["n_features"]
    width = getattr(model, "n_features_in_", None)
    return int(width) if width is not None else None


def check_rows(rows: Any, width: int | None, what: str = "data") -> Any:
    """``rows`` (parsed JSON) as a float array of shape (n, width); BadInput saying what
    is wrong otherwise."""
    import numpy as np

    if not isinstance(rows, list) or not rows:
        raise BadInput(f"{what} must be a non-empty list of rows (lists of numbers)")
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise BadInput(f"{what}[{index}] is {_kind(row)}, expected a row (a list of numbers)")
        if width is not None and len(row) != width:
            raise BadInput(
                f"{what}[{index}] has {len(row)} features, the model takes {width}"
            )
        for column, value in enumerate(row):
            # bool is an int to Python, but true is not a feature value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadInput(
                    f"{what}[{index}][{column}] is {_kind(value)}, expected a number"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise BadInput(f"{what}[{index}][{column}] is {value}, expected a finite number")
    if width is None and len({len(row) for row in rows}) > 1:
        raise BadInput(f"the rows of {what} have different lengths")
    return np.asarray(rows, dtype=np.float64)


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, bool):
        return f"the boolean {shown(value)}"
    return {dict: "an object", list: "a list"}.get(type(value), shown(value))


def shown(value: Any, limit: int = 40) -> str:
    """A value from a request as its sender wrote it, for a message: JSON's spelling
    (``null``, ``true``, ``[1, 2]``), a string in quotes; cut to ``limit`` characters."""
    if isinstance(value, str):
        return repr(value[:limit])
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # not from parsed JSON: say what it is, not its repr
        text = f"a {type(value).__name__} value"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(signature: Signature | None) -> dict[str, str] | None:
    """The signature in a few lines for ``models show``."""
    if not signature:
        return None
    inputs, outputs = signature["inputs"], signature["outputs"]
    names = inputs.get("feature_names") or []
    shown = ", ".join(names[:4]) + (f", ... ({len(names)} names)" if len(names) > 4 else "")
    classes = outputs.get("classes")
    return {
        "inputs": f"{inputs['n_features']} features, {inputs['dtype']}"
        + (f" ({shown})" if names else ""),
        "outputs": f"{outputs['dtype']}"
        + (f", classes {', '.join(map(str, classes))}" if classes else "")
        + f"; methods {', '.join(outputs['methods'])}",
        "sample input": f"{len(signature['sample_input'])} rows",
    }


def signature_of_file(model_path: str | Path, sample_path: str | Path) -> Signature:
    """The signature of the model file at ``model_path`` (``.joblib``/``.pkl``), learnt
    from the sample input in ``sample_path`` (``models register --sample-input``)."""
    import io

    import joblib

    from ..registry.registry import LOADABLE_SUFFIXES

    model_path = Path(model_path)
    if not model_path.is_file() or model_path.suffix not in LOADABLE_SUFFIXES:
        raise SnakeyardError(
            f"--sample-input needs a model file ({'/'.join(LOADABLE_SUFFIXES)}) to load; "
            f"{model_path} is not one"
        )
    rows, names = read_sample(sample_path)
    try:
        model = joblib.load(io.BytesIO(model_path.read_bytes()))
    except Exception as error:  # unpickling can raise anything
        raise SnakeyardError(
            f"cannot load {model_path} with joblib ({type(error).__name__}: {error})"
        ) from error
    width = expected_width(None, model)
    if width is not None and rows.shape[1] != width:
        raise SnakeyardError(
            f"--sample-input {sample_path}: rows have {rows.shape[1]} features, the model "
            f"takes {width}"
        )
    return infer_signature(model, rows, names)
