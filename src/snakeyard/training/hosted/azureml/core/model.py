"""``azureml.core.model.Model``: the part a hosted-ML entry script uses,
``Model.get_model_path(name)`` in its ``init()``.

Under ``snakeyard models serve --entry-script`` (and ``snakeyard serve --bundle``) the
served model's path comes from ``$SNAKEYARD_MODEL_PATHS`` (JSON, name to path), set by
the server; elsewhere the name is resolved in the registry (``$SNAKEYARD_REGISTRY``,
else ``./registry``), its files' sha256 checked first.
"""

from __future__ import annotations

import json
import os

MODEL_PATHS_VARIABLE = "SNAKEYARD_MODEL_PATHS"


class Model:
    """A registered model, as the hosted service's SDK names it."""

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace=None) -> str:
        """The path of the registered artifact (file or folder) of ``model_name``."""
        served = json.loads(os.environ.get(MODEL_PATHS_VARIABLE) or "{}")
        if model_name in served and version is None:
            return served[model_name]
        from snakeyard.registry.registry import Registry

        registry = Registry()
        ref = model_name if version is None else f"{model_name}:{version}"
        name, number = registry.resolve_model_ref(ref)
        return registry.verified_model(name, number)["artifact_path"]
