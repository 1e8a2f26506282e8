"""``Model``: snakeyard's registered model versions, as the hosted SDK's models.

``Model.get_model_path(name, version)`` (scoring and entry scripts) gives the path of a
registered artifact: under ``snakeyard models serve --entry-script`` (and ``snakeyard
serve --bundle``) the served model's path, which the server puts in
``$SNAKEYARD_MODEL_PATHS`` (JSON, name to path); elsewhere the version the registry
resolves, its files' sha256 checked first. ``Model.register(workspace, model_path,
model_name, ...)`` and ``run.register_model(...)`` register a file or folder as the
model's next version.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from ._binding import registry
from ._missing import Strict, module_getattr

MODEL_PATHS_VARIABLE = "SNAKEYARD_MODEL_PATHS"  # set by snakeyard.serving.entry_script


class Model(Strict):
    """A registered model version: ``name``, ``version``, ``id`` (``name:version``)."""

    def __init__(self, workspace: Any = None, name: str | None = None, id: str | None = None,  # noqa: A002
                 version: int | None = None, **_: Any):  # fmt: skip
        if id is not None:
            name, _, number = id.rpartition(":")
            version = int(number)
        if name is None:
            raise ValueError("Model needs a name or an id (name:version)")
        store = getattr(workspace, "_registry", None) or registry()
        self._meta = store.get_model(name, version if version is not None else "latest")
        self.workspace = workspace
        self.name: str = self._meta["name"]
        self.version: int = self._meta["version"]
        self.id = f"{self.name}:{self.version}"
        self.tags: dict[str, str] = dict(self._meta.get("tags") or {})
        self.properties: dict[str, str] = dict(self._meta.get("properties") or {})
        self.description: str = self._meta.get("description", "")
        self.run_id = self._meta.get("run_id")

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Any = None,
                       **_: Any) -> str:  # fmt: skip
        """The local path of a registered model's artifact (the latest version if none);
        ``model_name`` may be a whole reference (``NAME@ALIAS``)."""
        served = json.loads(os.environ.get(MODEL_PATHS_VARIABLE) or "{}")
        if model_name in served and version is None:
            return served[model_name]
        store = getattr(_workspace, "_registry", None) or registry()
        ref = model_name if version is None else f"{model_name}:{version}"
        name, number = store.resolve_model_ref(ref)
        return store.verified_model(name, number)["artifact_path"]

    @staticmethod
    def register(workspace: Any, model_path: str | os.PathLike, model_name: str,
                 tags: dict[str, Any] | None = None, properties: dict[str, Any] | None = None,
                 description: str | None = None, model_framework: str | None = None,
                 model_framework_version: str | None = None, **_: Any) -> Model:  # fmt: skip
        """Register the file or folder ``model_path`` as the next version of
        ``model_name``; properties are kept as tags (snakeyard has tags only)."""
        store = getattr(workspace, "_registry", None) or registry()
        meta = store.register_model(
            model_name, model_path, framework=model_framework,
            framework_version=model_framework_version, description=description or "",
            tags=_strings({**(properties or {}), **(tags or {})}),
        )  # fmt: skip
        return Model(workspace, model_name, version=meta["version"])

    def download(self, target_dir: str | os.PathLike = ".", exist_ok: bool = False,
                 **_: Any) -> str:  # fmt: skip
        """Copy the artifact into ``target_dir``; return the copy's path."""
        source = self._meta["artifact_path"]
        target = os.path.join(target_dir, os.path.basename(source))
        if os.path.exists(target) and not exist_ok:
            raise FileExistsError(f"{target} exists; pass exist_ok=True to replace it")
        if os.path.isdir(source):
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            os.makedirs(target_dir, exist_ok=True)
            shutil.copyfile(source, target)
        return target

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version})"


def _strings(values: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in values.items()}


__getattr__ = module_getattr("azureml.core.model")
