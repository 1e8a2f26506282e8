"""The model a server or a scoring job uses: from the registry or from a deployment
bundle, always after its files' sha256 checks pass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, MetadataError, SnakeyardError
from ..files import check_manifest, read_json
from ..records import ModelVersion, Signature
from .signature import expected_width

BUNDLE_MODEL = "model.json"  # a bundle's copy of the model version's metadata
BUNDLE_ARTIFACTS = "artifacts"  # and of its files, laid out as in the registry


@dataclass
class LoadedModel:
    """A checked, deserialised model and what the registry says about it."""

    meta: ModelVersion
    model: Any
    artifacts: Path  # the folder holding the version's listed files

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> int:
        return self.meta["version"]

    @property
    def signature(self) -> Signature | None:
        return self.meta.get("signature")

    @property
    def width(self) -> int | None:
        """The number of features a row must have (signature, else ``n_features_in_``)."""
        return expected_width(self.signature, self.model)

    @property
    def artifact_path(self) -> Path:
        """The registered file or folder itself (what ``Model.get_model_path`` returns)."""
        return self.artifacts / self.meta["artifact"]


def from_registry(registry: Any, ref: str) -> LoadedModel:
    """Resolve ``ref`` (see :meth:`Registry.resolve_model_ref`), check and load it."""
    from ..registry.registry import load_listed_model

    name, version = registry.resolve_model_ref(ref)
    meta = registry.verified_model(name, version)
    artifacts = Path(meta["path"]) / "artifacts"
    return LoadedModel(meta, load_listed_model(meta, artifacts), artifacts)


def from_bundle(folder: str | Path) -> LoadedModel:
    """Check and load the model of the deployment bundle in ``folder``."""
    from ..registry.registry import load_listed_model

    folder = Path(folder)
    meta_path = folder / BUNDLE_MODEL
    if not meta_path.is_file():
        raise SnakeyardError(
            f"{folder} is not a deployment bundle: it has no {BUNDLE_MODEL} (the deploy rule "
            "writes bundles under results/deployments/<name>/bundle)"
        )
    meta = read_json(meta_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), list):
        raise MetadataError(f"{meta_path}: not a model version's metadata")
    # the bundle is laid out like a version's folder: its files under artifacts/
    meta["path"] = str(folder.resolve())
    label = f"bundle {folder}: model {meta.get('name')}:{meta.get('version')}"
    artifacts = folder / BUNDLE_ARTIFACTS
    problems = check_manifest(artifacts, meta["files"], label)
    if problems:
        raise IntegrityError("; ".join(problems))
    return LoadedModel(meta, load_listed_model(meta, artifacts), artifacts)
