"""Bulk scoring: a model applied to a data set version in N chunks, each its own job.

``features`` writes the data set's feature rows once as a ``.npy`` array; each
``chunk`` job memory-maps it, predicts its slice of rows with the checked model and
writes an ``.npz`` holding the predictions and the model version it used; ``gather``
joins the chunks in order into one predictions file, CSV or Parquet, whose header
records the model version and the data set version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from ..files import temporary_name, write_text_atomic

FORMATS = ("csv", "parquet")


def chunk_bounds(rows: int, chunk: int, chunks: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` of chunk ``chunk`` (0-based) of ``chunks`` near-equal
    ones: the first ``rows % chunks`` chunks take one row more."""
    if not 0 <= chunk < chunks:
        raise SnakeyardError(f"chunk {chunk} is not one of 0..{chunks - 1}")
    size, extra = divmod(rows, chunks)
    start = chunk * size + min(chunk, extra)
    return start, start + size + (chunk < extra)


def write_features(rows: Any, out: Path) -> None:
    """Save the feature rows as one ``.npy`` file (through a temporary and a rename)."""
    import os

    import numpy as np

    tmp = out.parent / f".{temporary_name(out.name)}.npy"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        np.save(tmp, np.ascontiguousarray(rows, dtype=np.float64))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def score_chunk(loaded: Any, features: Path, chunk: int, chunks: int, method: str, out: Path):
    """Predict chunk ``chunk`` of the rows in ``features`` and save them with the model's
    name, version and content hash."""
    import os

    import numpy as np

    from .predict import apply, check_method
    from .signature import BadInput

    rows = np.load(features, mmap_mode="r")
    width = loaded.width
    if width is not None and rows.shape[1] != width:
        raise SnakeyardError(
            f"the data set has {rows.shape[1]} features per row, model "
            f"{loaded.name}:{loaded.version} takes {width}"
        )
    start, stop = chunk_bounds(len(rows), chunk, chunks)
    try:
        predicted = apply(loaded, np.asarray(rows[start:stop]), check_method(loaded, method))
    except BadInput as error:
        raise SnakeyardError(f"rows {start} to {stop - 1}: {error}") from error
    model = {"name": loaded.name, "version": loaded.version,
             "content_hash": loaded.meta["content_hash"]}  # fmt: skip
    tmp = out.parent / f".{temporary_name(out.name)}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        np.savez(tmp, predictions=predicted, start=start, model=json.dumps(model))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return model


def gather(chunks: list[Path], dataset: dict[str, Any], fmt: str, out: Path) -> dict[str, Any]:
    """Join the chunks (in order) into ``out``; every chunk must come from one model
    version. Returns what the header records."""
    import numpy as np

    parts, models = [], []
    for path in chunks:
        with np.load(path) as saved:
            parts.append(saved["predictions"])
            models.append(json.loads(str(saved["model"])))
    if any(m != models[0] for m in models):
        versions = sorted({f"{m['name']}:{m['version']}" for m in models})
        raise SnakeyardError(
            f"the chunks were scored by different model versions ({', '.join(versions)}): "
            "the reference moved while scoring; run the workflow again"
        )
    predictions = np.concatenate(parts)
    header = {
        "model": f"{models[0]['name']}:{models[0]['version']}",
        "model_content_hash": models[0]["content_hash"],
        "dataset": f"{dataset['name']}:{dataset['version']}",
        "dataset_content_hash": dataset["content_hash"],
        "rows": int(len(predictions)),
    }
    if fmt == "parquet":
        _write_parquet(predictions, header, out)
    else:
        _write_csv(predictions, header, out)
    return header


def _columns(predictions: Any) -> tuple[list[str], Any]:
    if predictions.ndim == 1:
        return ["prediction"], predictions.reshape(-1, 1)
    return [f"probability_{i}" for i in range(predictions.shape[1])], predictions


def _write_csv(predictions: Any, header: dict[str, Any], out: Path) -> None:
    """A CSV table (``row`` and the prediction columns) after ``# key: value`` lines
    (``pandas.read_csv(..., comment="#")`` reads it)."""
    names, values = _columns(predictions)
    lines = [f"# {key}: {value}" for key, value in header.items()]
    lines.append(",".join(["row", *names]))
    plain = values.tolist()
    lines += [",".join([str(i), *map(str, row)]) for i, row in enumerate(plain)]
    write_text_atomic(out, "\n".join(lines) + "\n")


def _write_parquet(predictions: Any, header: dict[str, Any], out: Path) -> None:
    """A Parquet table whose schema metadata holds the header."""
    import os

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise SnakeyardError(
            f"format parquet needs pyarrow ({error}); pip install 'snakeyard[serve]'"
        ) from error
    names, values = _columns(predictions)
    table = pa.table({"row": list(range(len(values))),
                      **{n: values[:, i] for i, n in enumerate(names)}})  # fmt: skip
    meta = {f"snakeyard.{k}".encode(): str(v).encode() for k, v in header.items()}
    table = table.replace_schema_metadata(meta)
    tmp = out.parent / f".{temporary_name(out.name)}.tmp"
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
