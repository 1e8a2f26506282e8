"""Bulk scoring: a model applied to a data set version in N chunks, each its own job.

``features`` writes the data set's feature rows once as a ``.npy`` array; each
``chunk`` job memory-maps it, predicts its slice of rows with the checked model and
writes an ``.npz`` holding the predictions and the model version it used; ``gather``
joins the chunks in order into one predictions file, CSV or Parquet, whose header
records the model version and the data set version.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from ..files import fsync_file, fsync_folder, temporary_name

FORMATS = ("csv", "parquet")


def chunk_bounds(rows: int, chunk: int, chunks: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` of chunk ``chunk`` (0-based) of ``chunks`` near-equal
    ones: the first ``rows % chunks`` chunks take one row more."""
    if not 0 <= chunk < chunks:
        raise SnakeyardError(f"chunk {chunk} is not one of 0..{chunks - 1}")
    size, extra = divmod(rows, chunks)
    start = chunk * size + min(chunk, extra)
    return start, start + size + (chunk < extra)


def check_method_of(meta: Any, method: str) -> None:
    """Refuse scoring with ``method`` a model version whose signature says it lacks it,
    before any job runs; a version without a signature is checked by its chunk jobs."""
    answers = ((meta.get("signature") or {}).get("outputs") or {}).get("methods")
    if answers is not None and method not in answers:
        raise SnakeyardError(
            f"model {meta['name']}:{meta['version']} has no method {method}; it answers "
            f"{' or '.join(answers)}"
        )


def write_features(rows: Any, out: Path) -> None:
    """Save the feature rows as one ``.npy`` file, which each chunk job memory-maps to
    read only its own rows."""
    import numpy as np

    with _replacing(out, ".npy") as tmp:
        np.save(tmp, np.ascontiguousarray(rows, dtype=np.float64))


def score_chunk(loaded: Any, features: Path, chunk: int, chunks: int, method: str, out: Path):
    """Predict chunk ``chunk`` of the rows in ``features`` and save them with the model's
    name, version and content hash."""
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
    if predicted.dtype == object:
        # class names read from a table come as Python objects: saved as text, so that
        # reading the chunk back never needs pickle
        predicted = predicted.astype(str)
    with _replacing(out, ".npz") as tmp:
        np.savez(tmp, predictions=predicted, start=start, model=json.dumps(model))
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


@contextmanager
def _replacing(out: Path, suffix: str) -> Iterator[Path]:
    """A hidden temporary beside ``out`` to write, renamed onto ``out`` (flushed first)
    when the block ends well and removed when it fails: never a half-written file."""
    tmp = out.parent / f".{temporary_name(out.name)}{suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(out.parent)


def _table(predictions: Any) -> Any:
    """The predictions as a pyarrow table: ``row`` and the prediction columns."""
    import numpy as np
    import pyarrow as pa

    names, values = _columns(predictions)
    columns = [np.arange(len(values)), *(values[:, i] for i in range(len(names)))]
    return pa.Table.from_arrays([_arrow_column(c) for c in columns], names=["row", *names])


def _arrow_column(values: Any) -> Any:
    """A numpy column as a pyarrow array; numbers straight from their bytes, because
    ``pyarrow.array`` imports pandas (a second of a gather job's time) to ask whether
    they are a pandas Series."""
    import numpy as np
    import pyarrow as pa

    if values.dtype.kind not in "iuf":
        return pa.array(values)  # text, booleans: rare predictions, converted by pyarrow
    column = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("="))
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(column.dtype), len(column), [None, pa.py_buffer(column)]
    )


def _write_csv(predictions: Any, header: dict[str, Any], out: Path) -> None:
    """A CSV table (``row`` and the prediction columns) after ``# key: value`` lines
    (``pandas.read_csv(..., comment="#")`` reads it).

    pyarrow's CSV writer (the ``serve`` extra) writes it in C, many times faster than a
    Python loop over the rows; without pyarrow the standard csv module writes it.
    """
    names, values = _columns(predictions)
    lines = [f"# {key}: {value}" for key, value in header.items()]
    lines.append(",".join(["row", *names]))
    preamble = ("\n".join(lines) + "\n").encode()
    try:
        import pyarrow.csv as pcsv
    except ImportError:
        pcsv = None
    with _replacing(out, ".tmp") as tmp, open(tmp, "xb") as handle:
        handle.write(preamble)
        if pcsv is not None:
            # "needed" quotes text values (class names may hold commas), never numbers
            options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
            pcsv.write_csv(_table(predictions), handle, options)
        else:
            text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
            rows = zip(range(len(values)), *values.T.tolist(), strict=True)
            csv.writer(text, lineterminator="\n").writerows(rows)
            text.detach()


def _write_parquet(predictions: Any, header: dict[str, Any], out: Path) -> None:
    """A Parquet table whose schema metadata holds the header."""
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise SnakeyardError(
            f"format parquet needs pyarrow ({error}); pip install 'snakeyard[serve]'"
        ) from error
    meta = {f"snakeyard.{k}".encode(): str(v).encode() for k, v in header.items()}
    table = _table(predictions).replace_schema_metadata(meta)
    with _replacing(out, ".tmp") as tmp:
        pq.write_table(table, tmp)
