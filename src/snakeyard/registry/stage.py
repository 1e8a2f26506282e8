"""The registration stage: ``register`` a run's model as the next model version.

Called by :mod:`snakeyard.stages` for ``workflow/rules/registry.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SnakeyardError
from ..files import json_text, read_json
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
            f"outputs of run {record['id']} (it recorded in outputs/: {found}; a recorded "
            "file missing now was removed from the run's folder since)"
        )
    changed = unrecorded_change(artifact, work / "outputs", record)
    if changed:
        raise SnakeyardError(
            f"experiment {record['experiment']!r}: model.path {model['path']!r}: {changed}; "
            "a model version names the run that made it, so only the bytes that run left "
            "are registered (train again, e.g. snakemake --forcerun train, to register others)"
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


def unrecorded_change(artifact: Path, outputs: Path, record: RunRecord) -> str | None:
    """Why the model at ``artifact`` (a file or a folder under the run's ``outputs``)
    is not what the run recorded in its ``outputs`` when it ended (a file added, or
    written again since: its sha256 differs); None when every file is as recorded."""
    from ..files import manifest_of

    root = artifact.resolve()
    base = (root.parent if root.is_file() else root).relative_to(outputs.resolve())
    listed = {entry["path"]: entry["sha256"] for entry in record["outputs"]}
    for entry in manifest_of(root):
        path = (base / entry["path"]).as_posix()
        if path not in listed:
            return f"outputs/{path} is not among the outputs run {record['id']} recorded"
        if listed[path] != entry["sha256"]:
            return (
                f"outputs/{path} was written again after run {record['id']} recorded it "
                f"(sha256 {entry['sha256'][:12]}, recorded {listed[path][:12]})"
            )
    return None


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
    from ..data.datastore import local_folder
    from ..serving.features import dataset_features
    from ..serving.signature import SAMPLE_ROWS, infer_signature

    try:
        ref = record["dataset"]
        dataset = store.get_dataset(ref["name"], ref["version"])
        data_folder = local_folder(dataset, store.root, log=log)
        features = dataset_features(data_folder, dataset, limit=SAMPLE_ROWS)
    except Exception as error:  # a data set whose features cannot be told, read or found
        log(f"no signature recorded: {type(error).__name__}: {error}")
        return None
    if found:
        disagreement = recorded_disagreement(signature, features)
        if disagreement is None:
            return signature
        signature = f"signature.json {disagreement}"
    log(f"signature learnt here: {signature}")
    try:
        import joblib

        model = joblib.load(io.BytesIO(artifact.read_bytes()))
        return infer_signature(model, features.rows, features.names, features.types)
    except Exception as error:  # unpickling and the model's own checks can raise anything
        log(f"no signature recorded: {type(error).__name__}: {error}")
        return None


def recorded_disagreement(signature: Any, features: Any) -> str | None:
    """What in ``signature`` (as the training script's process recorded it) is no
    signature, or disagrees with the run's data set (``features``: its first rows,
    names and types, :func:`~snakeyard.serving.features.dataset_features`): a file
    damaged or edited by hand since. None when it holds. Its outputs (classes,
    methods) can only be told by loading the model: they are checked for their shape."""
    from ..serving.signature import input_part, sample_rows, signature_problem

    problem = signature_problem(signature)
    if problem:
        return f"is no signature: {problem}"
    inputs, sample_input = input_part(sample_rows(features.rows), features.names, features.types)
    if not features.names:  # then the names came from the model, which is not loaded here
        inputs["feature_names"] = signature["inputs"]["feature_names"]
    if json_text(inputs) != json_text(signature["inputs"]):
        return "disagrees with the run's data set in its inputs"
    if json_text(sample_input) != json_text(signature["sample_input"]):
        return "disagrees with the run's data set in its sample input"
    return None
