"""A hosted-ML entry script, run unchanged: ``init()`` once when the server starts,
``run(raw_data)`` for every ``POST /score`` with the request body as text.

As on the hosted service, ``AZUREML_MODEL_DIR`` is the folder of the model's files and
``azureml.core.model.Model.get_model_path(name)`` returns the served artifact's path
(snakeyard's stand-in, when the real SDK is not installed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import SnakeyardError
from .loading import LoadedModel

# the hosted-ML stand-in (azureml.core), as the training runner provides it to scripts
HOSTED_SHIMS = str(Path(__file__).resolve().parent.parent / "training" / "hosted")
MODEL_PATHS_VARIABLE = "SNAKEYARD_MODEL_PATHS"  # read by the stand-in's Model


class EntryScriptError(SnakeyardError):
    """An entry script that cannot be loaded, or whose ``init()`` failed."""


def load_entry_script(path: str | Path, loaded: LoadedModel) -> ModuleType:
    """Import the script at ``path`` with the served model in place and call ``init()``."""
    path = Path(path).resolve()
    label = f"entry script {path}"
    if not path.is_file():
        raise EntryScriptError(f"{label}: no such file")
    os.environ["AZUREML_MODEL_DIR"] = str(loaded.artifacts)
    os.environ[MODEL_PATHS_VARIABLE] = json.dumps({loaded.name: str(loaded.artifact_path)})
    if importlib.util.find_spec("azureml") is None:
        # last on the path: a real SDK installed later still wins
        sys.path.append(HOSTED_SHIMS)
    # the script's own folder first, as the hosted service runs it from there
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"entry_script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # a user's script can raise anything
        raise EntryScriptError(
            f"{label} failed to import: {type(error).__name__}: {error}"
        ) from error
    for function in ("init", "run"):
        if not callable(getattr(module, function, None)):
            raise EntryScriptError(
                f"{label} has no {function}() function; it needs init() and run(raw_data)"
            )
    try:
        module.init()
    except Exception as error:
        raise EntryScriptError(
            f"{label}: init() failed: {type(error).__name__}: {error}"
        ) from error
    return module


def run_entry_script(module: ModuleType, raw_data: str) -> Any:
    """``run(raw_data)``; its answer as JSON-ready data (a string stays a string)."""
    result = module.run(raw_data)
    return result.tolist() if hasattr(result, "tolist") else result
