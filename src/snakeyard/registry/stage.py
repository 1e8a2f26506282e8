"""The registration stage: ``register`` a run's model as the next model version.

Called by :mod:`snakeyard.stages` for ``workflow/rules/registry.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SnakeyardError
from ..files import read_json
from ..records import EnvironmentReceipt, ModelReceipt, ModelSpec, RunRecord, Signature
from .receipts import outcome, write_receipt

if TYPE_CHECKING:  # the stage's log, made by snakeyard.stages (which imports this module)
    from ..stages import StageLog


def register(
    *,
    run: Path,
    environment: Path,
    model: ModelSpec | None,
    registry: str,
    out: Path,
    log: StageLog,
) -> ModelReceipt:
    """Register ``model['path']`` of the run recorded in ``run`` as model ``model['name']``
    (a new version, or the one this run already registered); write the receipt to ``out``.
    With ``model['alias']``, that version gets the alias (set, or moved to it).

    The framework version, when the configuration leaves it empty, comes from the
    package list of the environment in the receipt ``environment``. Raises
    :class:`~snakeyard.errors.SnakeyardError` when the run's outputs lack the model.
    """
    from .registry import Registry

    record: RunRecord = read_json(run)
    if model is None:  # asked for by name: the configuration registers no model
        raise SnakeyardError(
            f"experiment {record['experiment']!r} has model: null, so it registers no model; "
            "give it a model mapping to register one"
        )
    store = Registry(registry)
    work = Path(record["folder"]) / "work"
    artifact = work / model["path"]
    # a link under outputs/ could name any file on the machine: register only what the run
    # itself left in its outputs
    if artifact.exists() and not artifact.resolve().is_relative_to((work / "outputs").resolve()):
        raise SnakeyardError(
            f"experiment {record['experiment']!r}: model.path {model['path']!r} of run "
            f"{record['id']} leads outside the run's outputs/ (to {artifact.resolve()})"
        )
    if not artifact.exists():
        found = ", ".join(o["path"] for o in record["outputs"]) or "nothing"
        raise SnakeyardError(
            f"experiment {record['experiment']!r}: model.path {model['path']!r} is not in the "
            f"outputs of run {record['id']} (outputs/ holds: {found})"
        )
    receipt: EnvironmentReceipt = read_json(environment)
    packages = store.get_environment(receipt["name"], receipt["version"])["packages"]
    meta = store.register_model(
        model["name"],
        artifact,
        framework=model["framework"],
        framework_version=model["framework_version"] or packages.get(model["framework"].lower()),
        description=model["description"],
        tags=model["tags"],
        resource_configuration=model["resource_configuration"],
        run_id=record["id"],
        experiment=record["experiment"],
        dataset=record["dataset"],
        environment={"name": receipt["name"], "version": receipt["version"]},
        metrics=record["metrics"],
        signature=run_signature(store, artifact, record, log),
    )
    trial = f" (trial {record['trial']['id']} of its sweep)" if record.get("trial") else ""
    said = f"model {model['name']!r} from run {record['id']}{trial} {outcome(meta)}"
    log.say(said)
    alias = model.get("alias")
    if alias:
        # declared in the experiment: the version registered (or found again) gets it
        event = store.set_alias(model["name"], meta["version"], alias)
        moved = f" (moved from {event['from']})" if event and event["from"] else ""
        log(f"alias {model['name']}@{alias} -> version {meta['version']}{moved}")
    keys = ("name", "version", "content_hash", "run_id", "new")
    return write_receipt(out, meta, keys, store.root)


def run_signature(
    store: Any, artifact: Path, record: RunRecord, log: Callable[[str], None]
) -> Signature | None:
    """The signature of the run's model, with a few rows of the run's data set as its
    sample input; None (and a line in the log saying why) when the model cannot be
    loaded here (a folder, another environment's pickle) or the data set's features
    cannot be told. A model registered without a signature still serves.

    The one the training script's process learnt as it exited is taken when it is of
    this very file (its sha256): no model library is loaded here then, which takes
    seconds after a sweep's last trial (see :mod:`snakeyard.training.model_signature`).
    """
    import io

    from ..registry.registry import LOADABLE_SUFFIXES

    if not artifact.is_file() or artifact.suffix not in LOADABLE_SUFFIXES:
        log(f"no signature recorded: {artifact.name} is not one {'/'.join(LOADABLE_SUFFIXES)} file")
        return None
    from ..files import sha256_file
    from ..training.model_signature import recorded_signature

    folder = Path(record["folder"])
    relpath = artifact.relative_to(folder / "work").as_posix()
    found, signature = recorded_signature(folder, relpath, sha256_file(artifact))
    if found:
        return signature
    log(f"signature learnt here: {signature}")
    from ..data.datastore import local_folder
    from ..serving.features import dataset_features
    from ..serving.signature import SAMPLE_ROWS, infer_signature

    try:
        import joblib

        model = joblib.load(io.BytesIO(artifact.read_bytes()))
        ref = record["dataset"]
        dataset = store.get_dataset(ref["name"], ref["version"])
        folder = local_folder(dataset, store.root, log=log)
        features = dataset_features(folder, dataset, limit=SAMPLE_ROWS)
        return infer_signature(model, features.rows, features.names, features.types)
    except Exception as error:  # unpickling and the model's own checks can raise anything
        log(f"no signature recorded: {type(error).__name__}: {error}")
        return None
