"""``snakeyard models export MODEL DEST --format mlflow``: a registered model in MLflow's
model format, written by MLflow's own library (the ``mlflow`` extra), its signature and
sample input included, so ``mlflow models serve``, KServe and the cloud services that
take MLflow models can use it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import SnakeyardError
from ..files import fsync_folder, fsync_tree, temporary_name
from ..records import Signature
from .loading import from_registry

FORMATS = ("mlflow",)
# numpy dtype kinds as MLflow's column types name them
MLFLOW_TYPES = {"f": "double", "i": "long", "u": "long", "b": "boolean", "U": "string"}


def export_model(registry: Any, ref: str, dest: str | os.PathLike, fmt: str) -> dict[str, Any]:
    """Write the model ``ref`` names (checked first) into the new folder ``dest``."""
    if fmt not in FORMATS:
        raise SnakeyardError(f"invalid --format {fmt!r}: use {', '.join(FORMATS)}")
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        raise SnakeyardError(f"cannot export into {dest}: it exists; name a new folder")
    if not dest.parent.is_dir():
        raise SnakeyardError(f"cannot export into {dest}: its parent folder does not exist")
    try:
        import mlflow.sklearn
    except ImportError as error:
        raise SnakeyardError(
            f"--format mlflow needs MLflow ({error}); pip install 'snakeyard[mlflow]'"
        ) from error
    loaded = from_registry(registry, ref)
    tmp = dest.parent / f".{temporary_name(dest.name)}.tmp"
    try:
        sample = _sample(loaded.signature)
        mlflow.sklearn.save_model(
            loaded.model,
            str(tmp),
            signature=mlflow_signature(loaded.signature, loaded.model),
            input_example=sample,
            # MLflow's default (skops) needs one more package; the registry keeps
            # pickles already, and this one is read back by the same scikit-learn
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            metadata={"snakeyard_model": f"{loaded.name}:{loaded.version}",
                      "snakeyard_content_hash": loaded.meta["content_hash"]},
        )  # fmt: skip
        fsync_tree(tmp)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_folder(dest.parent)
    return {"name": loaded.name, "version": loaded.version, "format": fmt, "dest": str(dest)}


def _sample(signature: Signature | None) -> Any:
    import numpy as np

    return np.asarray(signature["sample_input"], dtype=np.float64) if signature else None


def mlflow_signature(signature: Signature | None, model: Any) -> Any:
    """MLflow's ModelSignature for ours: a tensor of (rows, features) doubles in, the
    prediction's type out. None when the version has no signature (MLflow then infers
    nothing and checks nothing)."""
    if not signature:
        return None
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    width = signature["inputs"]["n_features"]
    inputs = Schema([TensorSpec(np.dtype("float64"), (-1, width))])
    kind = np.dtype(signature["outputs"]["dtype"]).kind
    outputs = Schema([ColSpec(MLFLOW_TYPES.get(kind, "string"))])
    return ModelSignature(inputs=inputs, outputs=outputs)
