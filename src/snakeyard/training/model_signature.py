"""A run's model signature, learnt by the training script's own process as it exits.

Registering a model records its signature (:mod:`snakeyard.serving.signature`): loading
the model and predicting a few rows needs the model's libraries, and importing
scikit-learn takes seconds in a fresh process, after a sweep's last trial, on the
critical path. The training script has them in memory already. So the train stage
writes a request into the run's folder (``signature-request.json``: the model file, the
data set's features) and ``boot/sitecustomize.py`` answers it when the script exits:
``signature.json`` in the run's folder, bound to the model file's sha256.
``register`` takes that signature only for a model file with that sha256, and learns it
itself otherwise (a script that exited through ``os._exit``, a model written again
since, an environment without this module).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..records import Signature

REQUEST_VARIABLE = "SNAKEYARD_SIGNATURE_REQUEST"
# the model.path of each experiment that registers a model, set by the workflow when it
# parses the configuration (workflow/rules/common.smk): not a parameter of the train
# rule, so that a workflow upgraded to this learns no new reason to re-train
MODEL_PATHS_VARIABLE = "SNAKEYARD_MODEL_PATHS"
REQUEST_FILE = "signature-request.json"  # in the run's folder
SIGNATURE_FILE = "signature.json"  # in the run's folder
# what serving.features.dataset_features reads of a data set version's metadata
DATASET_KEYS = ("name", "version", "format", "schema")
# the largest model file the script's process loads a second copy of as it exits: a
# bigger one could take the memory a cluster job was sized for, past the end of
# training (register learns its signature in a process of its own, after the script)
ANSWER_MAX_BYTES = 64 * 1024 * 1024


def configured_model_path(experiment: str) -> str | None:
    """The ``model.path`` the workflow registers for ``experiment``; None when it
    registers none or did not say (a stage run by hand)."""
    try:
        paths = json.loads(os.environ.get(MODEL_PATHS_VARIABLE) or "{}")
    except ValueError:
        return None
    path = paths.get(experiment) if isinstance(paths, dict) else None
    return path if isinstance(path, str) else None


def write_request(
    folder: Path, model_path: str, dataset: dict[str, Any], data_folder: Path
) -> dict[str, str]:
    """Ask the script's process to learn the signature of ``work/<model_path>`` from the
    first rows of the data set version ``dataset`` (its metadata; files in
    ``data_folder``); return the environment variable that hands the request over."""
    request = {
        "model": Path(model_path).as_posix(),  # as register names it: no "./"
        "work": str((folder / "work").resolve()),
        "dataset": {key: dataset[key] for key in DATASET_KEYS if key in dataset},
        "data_folder": str(data_folder),
        "out": str((folder / SIGNATURE_FILE).resolve()),
    }
    path = (folder / REQUEST_FILE).resolve()
    path.write_text(json.dumps(request), encoding="utf-8")
    return {REQUEST_VARIABLE: str(path)}


def answer_request(request_path: str) -> None:
    """Learn the requested signature in this (the training script's) process and write
    ``signature.json``; called at exit by ``boot/sitecustomize.py``.

    Only where the script imported numpy itself: learning the signature must not make a
    script that never loaded a numeric library load one on its way out; nor for a model
    file over :data:`ANSWER_MAX_BYTES` (``register`` learns it then). Nothing here may
    change how the script ends: every error is kept quiet, and ``register`` falls back
    to learning the signature itself.
    """
    try:
        request = json.loads(Path(request_path).read_text(encoding="utf-8"))
        Path(request_path).unlink(missing_ok=True)
        if "numpy" not in sys.modules:
            return
        model = Path(request["work"]) / request["model"]
        if not model.is_file() or model.stat().st_size > ANSWER_MAX_BYTES:
            return
        data = model.read_bytes()
        answer: dict[str, Any] = {
            "model": request["model"],
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        try:
            answer["signature"] = _learn(data, request)
        except Exception as error:  # unpickling and the model's own checks can raise anything
            answer["error"] = f"{type(error).__name__}: {error}"
        out = Path(request["out"])
        temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(answer), encoding="utf-8")
        os.replace(temporary, out)  # register reads a whole answer or none
    except Exception:  # the script's own exit status is what counts
        return


def _learn(data: bytes, request: dict[str, Any]) -> Signature:
    import joblib

    from ..serving.features import dataset_features
    from ..serving.signature import SAMPLE_ROWS, infer_signature

    model = joblib.load(io.BytesIO(data))
    features = dataset_features(Path(request["data_folder"]), request["dataset"], SAMPLE_ROWS)
    return infer_signature(model, features.rows, features.names, features.types)


def recorded_signature(folder: Path, model_path: str, sha256: str) -> tuple[bool, Any]:
    """``(True, signature)`` when the run's script learnt the signature of exactly this
    model file (``model_path`` under ``work/``, content ``sha256``); ``(False, why)``
    when it did not, or learnt it of other content; ``why`` says so for the log."""
    path = folder / SIGNATURE_FILE
    try:
        answer = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False, "the training script's process left no signature.json"
    except (OSError, ValueError) as error:
        return False, f"{path} cannot be read ({error})"
    if not isinstance(answer, dict) or answer.get("model") != model_path:
        return False, f"{path} is not about {model_path}"
    if answer.get("sha256") != sha256:
        return False, f"{model_path} was written again after the script learnt its signature"
    if "signature" not in answer:
        return False, f"the training script could not learn it ({answer.get('error')})"
    return True, answer["signature"]
