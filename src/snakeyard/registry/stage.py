"""The registration stage: ``register`` a run's model as the next model version.

Called by :mod:`snakeyard.stages` for ``workflow/rules/registry.smk``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import SnakeyardError
from ..files import read_json
from ..records import EnvironmentReceipt, ModelReceipt, ModelSpec, RunRecord
from .receipts import outcome, write_receipt


def register(
    *,
    run: Path,
    environment: Path,
    model: ModelSpec | None,
    registry: str,
    out: Path,
    log: Callable[[str], None],
) -> ModelReceipt:
    """Register ``model['path']`` of the run recorded in ``run`` as model ``model['name']``
    (a new version, or the one this run already registered); write the receipt to ``out``.

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
    )
    log(f"model {model['name']!r} from run {record['id']} {outcome(meta)}")
    keys = ("name", "version", "content_hash", "run_id", "new")
    return write_receipt(out, meta, keys, store.root)
