"""The serving stages: ``deploy`` a model as a bundle, and score a data set in bulk
(``score-features``, ``score-chunk``, ``score-gather``).

Called by :mod:`snakeyard.stages` for ``workflow/rules/serving.smk``. Model references
are resolved by :meth:`Registry.resolve_model_ref`, like every other reference.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..files import read_json
from ..records import DatasetReceipt


def deploy(
    *,
    name: str,
    model: str,
    spec: dict[str, Any],
    registry: str,
    bundle: Path,
    out: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Write the deployment bundle of model reference ``model`` to ``bundle``, record it
    as a version of deployment ``name`` in the registry, and write the receipt ``out``."""
    from ..registry.receipts import outcome, write_receipt
    from ..registry.registry import Registry
    from .bundle import write_bundle

    store = Registry(registry)
    model_name, version = store.resolve_model_ref(model)
    meta = store.verified_model(model_name, version)
    record = write_bundle(store, meta, spec, model, bundle)
    recorded = store.record_deployment(name, record)
    log(f"deployment {name!r} of model {model_name}:{version} ({model}) -> {bundle}; "
        f"{outcome(recorded)}")  # fmt: skip
    return write_receipt(out, recorded, ("name", "version", "content_hash", "model", "new"),
                         store.root)  # fmt: skip


def score_features(*, dataset: Path, out: Path, log: Callable[[str], None]) -> None:
    """Write the feature rows of the data set version in the receipt ``dataset``."""
    from ..data.datastore import local_folder
    from ..registry.registry import Registry
    from .features import dataset_features
    from .scoring import write_features

    receipt: DatasetReceipt = read_json(dataset)
    store = Registry(receipt["registry"])
    meta = store.get_dataset(receipt["name"], receipt["version"])
    folder = local_folder(meta, store.root, log=log)
    rows = dataset_features(folder, meta).rows
    write_features(rows, out)
    log(f"data set {meta['name']}:{meta['version']}: {rows.shape[0]} rows of {rows.shape[1]} "
        f"features -> {out}")  # fmt: skip


def score_chunk(
    *,
    features: Path,
    model: str,
    chunk: int,
    chunks: int,
    method: str,
    registry: str,
    out: Path,
    log: Callable[[str], None],
) -> None:
    """Predict chunk ``chunk`` of ``chunks`` of the rows in ``features`` with the model
    reference ``model`` (checked before loading)."""
    from ..registry.registry import Registry
    from .loading import from_registry
    from .scoring import score_chunk as predict_chunk

    loaded = from_registry(Registry(registry), model)
    used = predict_chunk(loaded, features, chunk, chunks, method, out)
    log(f"chunk {chunk + 1} of {chunks} scored by model {used['name']}:{used['version']} -> {out}")


def score_gather(
    *, chunks: list[Path], dataset: Path, format: str, out: Path, log: Callable[[str], None]
) -> None:
    """Join the chunks' predictions into ``out`` (CSV or Parquet), its header naming the
    model version and the data set version."""
    from ..registry.registry import Registry
    from .scoring import gather

    receipt: DatasetReceipt = read_json(dataset)
    meta = Registry(receipt["registry"]).get_dataset(receipt["name"], receipt["version"])
    header = gather(chunks, meta, format, out)
    log(f"{header['rows']} predictions of {header['model']} on {header['dataset']} -> {out}")
