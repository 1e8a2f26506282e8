"""Predictions from request bodies: the hosted no-code contract (``{"data": [[...]]}``)
and the Open Inference Protocol's tensors, both checked before the model sees them.

Plain functions of parsed JSON, so the web app (:mod:`.app`) stays a thin layer and
every check can be tested without a server.
"""

from __future__ import annotations

from typing import Any

from .loading import LoadedModel
from .signature import METHODS, BadInput, check_rows, shown

# numpy dtype kinds as the Open Inference Protocol names tensor datatypes
DATATYPES = {"f": "FP64", "i": "INT64", "u": "UINT64", "b": "BOOL"}
NUMERIC_DATATYPES = {
    "FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8",
    "UINT64", "UINT32", "UINT16", "UINT8",
}  # fmt: skip


def methods(loaded: LoadedModel) -> list[str]:
    """The methods a request may ask for."""
    return [m for m in METHODS if callable(getattr(loaded.model, m, None))]


def check_method(loaded: LoadedModel, method: Any) -> str:
    if method not in methods(loaded):
        raise BadInput(
            f"unknown method {shown(method)}: this model answers {' or '.join(methods(loaded))}"
        )
    return method


def apply(loaded: LoadedModel, rows: Any, method: str) -> Any:
    """``model.<method>(rows)`` as a numpy array; BadInput when the model refuses rows
    that passed the checks (its own validation, e.g. values it cannot take)."""
    import numpy as np

    try:
        return np.asarray(getattr(loaded.model, method)(rows))
    except Exception as error:  # the model's own checks can raise anything
        raise BadInput(f"the model refused the data: {error}") from error


def score(loaded: LoadedModel, body: Any) -> list[Any]:
    """Answer a ``/score`` body ``{"data": [[...]], "method": "predict"}``."""
    if not isinstance(body, dict) or "data" not in body:
        raise BadInput('expected a JSON object {"data": [[...], ...]} with rows of features')
    unknown = sorted(set(body) - {"data", "method"})
    if unknown:
        raise BadInput(f"unknown key {shown(unknown[0])}; the body takes data and method")
    method = check_method(loaded, body.get("method", "predict"))
    rows = check_rows(body["data"], loaded.width)
    return apply(loaded, rows, method).tolist()


def datatype(array: Any) -> str:
    return DATATYPES.get(array.dtype.kind, "BYTES")


def infer(loaded: LoadedModel, body: Any) -> dict[str, Any]:
    """Answer an Open Inference Protocol inference request (one input tensor of shape
    ``[rows, features]``); the outputs asked for by name (``predict``,
    ``predict_proba``), or ``parameters.method``, else ``predict``."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise BadInput('expected a JSON object with "inputs": [{name, shape, datatype, data}]')
    if len(body["inputs"]) != 1:
        raise BadInput(f"expected one input tensor, got {len(body['inputs'])}")
    tensor = body["inputs"][0]
    if not isinstance(tensor, dict):
        raise BadInput("inputs[0] must be an object {name, shape, datatype, data}")
    rows = tensor_rows(tensor, loaded.width)
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadInput("parameters must be an object")
    asked = body.get("outputs")
    if asked is not None:
        if not isinstance(asked, list) or not all(isinstance(o, dict) for o in asked):
            raise BadInput('outputs must be a list of objects {"name": ...}')
        wanted = [check_method(loaded, o.get("name")) for o in asked]
    else:
        wanted = [check_method(loaded, parameters.get("method", "predict"))]
    outputs = []
    for method in wanted:
        result = apply(loaded, rows, method)
        outputs.append({
            "name": method,
            "shape": list(result.shape),
            "datatype": datatype(result),
            "data": result.ravel().tolist(),
        })  # fmt: skip
    answer = {"model_name": loaded.name, "model_version": str(loaded.version), "outputs": outputs}
    if "id" in body:
        answer["id"] = body["id"]
    return answer


def tensor_rows(tensor: dict[str, Any], width: int | None) -> Any:
    """An input tensor's data as a float array of shape (rows, width).

    As the Open Inference Protocol allows, ``data`` is either flat (row-major, as many
    values as the shape holds) or nested as the shape says (a list of rows).
    """
    name = shown(tensor.get("name", "input-0"))
    shape, kind, data = tensor.get("shape"), tensor.get("datatype"), tensor.get("data")
    if kind not in NUMERIC_DATATYPES:
        raise BadInput(
            f"input {name}: datatype {shown(kind)} is not accepted; use FP64, FP32 or an INT type"
        )
    if not isinstance(shape, list) or len(shape) != 2 or not all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape
    ):
        raise BadInput(
            f"input {name}: shape {shown(shape)} must be [rows, features] (two positive whole "
            "numbers)"
        )
    if width is not None and shape[1] != width:
        raise BadInput(
            f"input {name}: shape {shape} has {shape[1]} features, the model takes {width}"
        )
    if not isinstance(data, list) or not data:
        raise BadInput(f"input {name}: data must be a non-empty list of numbers")
    if any(isinstance(v, list) for v in data):
        rows = _nested_rows(data, shape, name)
    else:
        if len(data) != shape[0] * shape[1]:
            raise BadInput(
                f"input {name}: shape {shape} holds {shape[0] * shape[1]} values, "
                f"data has {len(data)}"
            )
        rows = [data[i : i + shape[1]] for i in range(0, len(data), shape[1])]
    return check_rows(rows, shape[1], f"input {name} data")


def _nested_rows(data: list[Any], shape: list[int], name: str) -> list[Any]:
    """Nested ``data`` checked against ``shape``: ``shape[0]`` rows of ``shape[1]``
    numbers each."""
    if len(data) != shape[0]:
        raise BadInput(f"input {name}: shape {shape} has {shape[0]} "
                       f"{'row' if shape[0] == 1 else 'rows'}, data has {len(data)}")
    for index, row in enumerate(data):
        if not isinstance(row, list):
            raise BadInput(
                f"input {name}: data[{index}] is {shown(row)}, but shape {shape} takes rows "
                f"(lists of {shape[1]} numbers)"
            )
        if len(row) != shape[1]:
            raise BadInput(
                f"input {name}: shape {shape} has {shape[1]} values per row, data[{index}] "
                f"has {len(row)}"
            )
    return data


def model_metadata(loaded: LoadedModel) -> dict[str, Any]:
    """``GET /v2/models/NAME``: the model's tensors, from its signature."""
    signature = loaded.signature or {}
    width = loaded.width if loaded.width is not None else -1
    outputs = [{"name": "predict", "datatype": _datatype_of(loaded), "shape": [-1]}]
    if "predict_proba" in methods(loaded):
        classes = (signature.get("outputs") or {}).get("classes") or getattr(
            loaded.model, "classes_", []
        )
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    meta = loaded.meta
    platform = " ".join(filter(None, [meta.get("framework"), meta.get("framework_version")]))
    answer = {
        "name": loaded.name,
        "versions": [str(loaded.version)],
        "platform": platform or "scikit-learn",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, width]}],
        "outputs": outputs,
    }
    if signature:
        answer["parameters"] = {
            "feature_names": signature["inputs"].get("feature_names"),
            "classes": signature["outputs"].get("classes"),
        }
    return answer


def _datatype_of(loaded: LoadedModel) -> str:
    """The Open Inference Protocol datatype of ``predict``'s answers: the signature's
    prediction dtype, or without a signature what the model itself tells (a
    classifier's ``classes_``; a regressor predicts floats)."""
    import numpy as np

    dtype = ((loaded.signature or {}).get("outputs") or {}).get("dtype")
    if not dtype:
        classes = getattr(loaded.model, "classes_", None)
        dtype = np.asarray(classes).dtype if classes is not None else np.float64
    return DATATYPES.get(np.dtype(dtype).kind, "BYTES")
