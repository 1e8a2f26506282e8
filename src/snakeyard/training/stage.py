"""The training stages: ``train`` one run (a sweep trial is one too) and ``collect`` its
outputs and metrics under ``results/``.

Called by :mod:`snakeyard.stages` for ``workflow/rules/training.smk`` and the ``trial``
rule of ``workflow/rules/sweeps.smk``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError, SnakeyardError
from ..files import check_entries, link_files, read_json, write_json_atomic, write_text_atomic
from ..records import DatasetReceipt, RunRecord, TrainSpec

if TYPE_CHECKING:  # the stage's log, made by snakeyard.stages (which imports this module)
    from ..stages import StageLog


def train(
    *,
    experiment: str,
    spec: TrainSpec,
    dataset: Path | None,
    environment: Path,
    registry: str,
    conda_active: bool,
    out: Path,
    log: StageLog,
) -> RunRecord:
    """Run the experiment's script once, in the environment of the receipt ``environment``
    on the data set of the receipt ``dataset`` (None: the experiment has none); write
    the run record to ``out``.

    A failed run raises :class:`~snakeyard.training.runner.RunFailed` after its Failed
    record is in the registry, except for a sweep trial (``spec`` has ``trial``) whose
    script failed by itself: its Failed record becomes ``out`` so that the sweep goes on
    without it. A trial canceled by its sweep's early termination policy or time budget
    (or not started because that budget ran out) is ``Canceled`` and becomes ``out`` too
    (see docs/sweeps.md). A trial stopped by a signal (killed, cancelled, out of time or memory)
    did not finish, so it fails its job like a run does, and the next ``snakemake`` runs
    it again.
    """
    from .runner import RunFailed

    claim = _claim(out)
    monitor = None
    if spec.get("trial") is not None:
        from ..sweeps.monitor import monitor_for

        monitor = monitor_for(experiment, spec, log)
    try:
        if isinstance(monitor, str):  # the sweep's time budget ran out before it started
            from ..sweeps.monitor import not_started

            log(f"trial {spec['trial']['id']} not started: {monitor}")
            record = not_started(experiment, spec, monitor)
        else:
            record = _train(
                experiment, spec, dataset, environment, registry, conda_active, log, monitor
            )
    except RunFailed as failure:
        trial = spec.get("trial")
        if trial is None or _stopped(failure.record):
            raise
        # one failed trial must not stop its sweep: the sweep stage leaves it out of the
        # choice of the best run and reports it
        log.say(f"trial {trial['id']} failed: {failure}")
        record = failure.record
    for warning in record.get("warnings", []):
        # what the run left that is not kept (a link out of outputs/): said where it shows
        log.say(f"warning: run {record['id']}: {warning}")
    _warn_without_metrics(record, spec, log)
    _still_claimed(out, claim, record)
    write_json_atomic(out, record)
    _claim_file(out).unlink(missing_ok=True)
    log.say(outcome_line(record))
    return record


def outcome_line(record: RunRecord) -> str:
    """One line for the console: the run, its status, its duration and main metrics."""
    from .metric_values import metrics_line

    trial = f" (trial {record['trial']['id']})" if record.get("trial") else ""
    metrics = metrics_line(record.get("metrics") or {}, width=160) or "no metrics logged"
    return (
        f"run {record['id']}{trial} of {record['experiment']}: {record['status']} in "
        f"{record.get('duration_seconds')} s; {metrics}"
    )


def _warn_without_metrics(record: RunRecord, spec: TrainSpec, log: StageLog) -> None:
    """Say so, in the log and on stderr, when a run that completed logged no metric
    although its sweep ranks trials by one or its model version records them: the
    script may log through something snakeyard does not see."""
    if record["metrics"] or record["status"] != "Completed":
        return
    if "trial" in spec:
        needs = "its sweep ranks the trials by the primary metric"
    elif spec.get("register", True):
        needs = "its registered model version records the run's metrics"
    else:
        return
    line = (
        f"warning: run {record['id']} logged no metric, but {needs}; log them with "
        "Run.get_context().log(name, value) (snakeyard.Run or azureml.core.Run), and see "
        f"its output in {Path(record['folder']) / 'work' / 'logs' / 'std_log.txt'}"
    )
    log.say(line)


def _claim_file(out: Path) -> Path:
    return out.with_name(f".{out.name}.claim")


def _claim(out: Path) -> str:
    """Mark ``out`` as this job's to write, and return the mark.

    When ``snakemake`` is killed, the train job it started may go on (the stage on this
    machine, or a batch job on a cluster) and end long after a later ``snakemake`` ran the
    same job again, for a newer configuration. Each job writes its own mark when it
    starts; only the job whose mark is still there writes the output, so a late job never
    replaces a newer job's result.
    """
    mark = f"{platform.node()} {os.getpid()} {uuid.uuid4().hex}\n"
    # a hint read back by this job only: a crash loses nothing worth a flush
    write_text_atomic(_claim_file(out), mark, durable=False)
    return mark


def _still_claimed(out: Path, mark: str, record: RunRecord) -> None:
    """Raise SnakeyardError if a newer job for ``out`` has started since ``mark``."""
    try:
        current = _claim_file(out).read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current != mark:
        raise SnakeyardError(
            f"run {record['id']} ({record['status']}) is kept in the registry, but {out} is "
            "left to the newer train job started for it since (snakemake was run again "
            "while this job went on)"
        )


def _stopped(record: RunRecord) -> bool:
    """The run was ended by a signal rather than by its script's own failure."""
    exit_code = record.get("exit_code")
    return (exit_code is not None and exit_code < 0) or record.get("error", "").startswith(
        "stopped by signal"
    )


def _train(
    experiment: str,
    spec: TrainSpec,
    dataset: Path | None,
    environment: Path,
    registry: str,
    conda_active: bool,
    log: Callable[[str], None],
    monitor: Any = None,
) -> RunRecord:
    from ..environments.specs import METHOD_RECORDED, activate
    from ..registry.registry import LOADABLE_SUFFIXES, Registry
    from .model_signature import configured_model_path
    from .runner import execute

    store = Registry(registry)
    receipt = read_json(environment)
    # a recorded interpreter needs nothing from the registry to train with
    meta = receipt
    if receipt["method"] != METHOD_RECORDED:
        meta = store.get_environment(receipt["name"], receipt["version"])
    python, packages = activate(meta, log, conda_active=conda_active)
    log(f"environment {receipt['name']}:{receipt['version']}: training with {python}")
    handed, signature = None, None
    if dataset:
        data = read_json(dataset)
        version, folder = dataset_files(store, data, log)
        handed = handed_dataset(data, version, folder)
        model_path = configured_model_path(experiment) if spec.get("register", True) else None
        # the model's signature is learnt where its libraries are loaded already: in the
        # script's own process (model_signature.py), for a file register can load; not
        # by each process of a distributed run
        loadable = model_path and Path(model_path).suffix in LOADABLE_SUFFIXES
        if loadable and not spec.get("distributed"):
            signature = (model_path, version, folder)
    return execute(
        store,
        experiment=experiment,
        source_directory=Path(spec["source_directory"]),
        script=spec["script"],
        arguments=spec["arguments"],
        dataset=handed,
        environment=receipt,
        data_argument=spec["data_argument"] or None,
        input_name=spec.get("input_name"),
        python=python,
        packages=packages,
        log=log,
        trial=spec.get("trial"),
        monitor=monitor,
        distributed=spec.get("distributed"),
        signature=signature,
    )


def local_dataset(
    registry: Any, receipt: DatasetReceipt, log: Callable[[str], None]
) -> DatasetReceipt:
    """The receipt with ``location`` set to what the script gets: a local folder or file.

    A version in an object store is copied into this node's cache first; a tabular data
    set is handed over as the path of its CSV file.
    """
    return handed_dataset(receipt, *dataset_files(registry, receipt, log))


def dataset_files(
    registry: Any, receipt: DatasetReceipt, log: Callable[[str], None]
) -> tuple[Any, Path]:
    """``(metadata, folder)`` of the data set version of ``receipt``: its metadata from
    the registry, and a local folder holding its files (a copy in this node's cache for
    an object store). Raises IntegrityError when the registry holds other content."""
    # where the version is now, from the registry: the receipt's absolute location goes
    # stale when the project folder is moved or copied
    meta = registry.get_dataset(receipt["name"], receipt["version"])
    if meta["content_hash"] != receipt["content_hash"]:
        raise IntegrityError(
            f"data set {receipt['name']}:{receipt['version']} in {registry.root} holds content "
            f"{meta['content_hash'][:12]}, not the {receipt['content_hash'][:12]} its receipt "
            "names: the registry was changed or replaced; run `snakemake --forcerun upload`"
        )
    if "datastore" in meta:  # an object store: a copy in this node's cache
        from ..data.datastore import local_folder

        location = local_folder(meta, registry.root, log=log)
    else:
        location = Path(meta["location"])
    return meta, location


def handed_dataset(receipt: DatasetReceipt, meta: Any, folder: Path) -> DatasetReceipt:
    """The receipt with ``location`` set to what the script gets: the data set's
    ``folder``, or for a tabular data set the path of its CSV file in it."""
    location = folder / meta["schema"]["file"] if meta.get("format") == "tabular" else folder
    return {**receipt, "location": str(location)}


def collect(*, run: Path, outputs: Path, metrics: Path, log: Callable[[str], None]) -> None:
    """Link (or copy) the files the run's record lists in its ``outputs/`` to ``outputs``
    and write its metrics as a TSV table (``metric``, ``value``; lists and mappings as
    JSON) to ``metrics``.

    The record lists the outputs by the one link policy (``files.tree_files``), so
    ``collect`` copies what ``register`` registers: links inside outputs/ followed,
    links out or to nothing left out (the record names them in ``warnings``). Raises
    :class:`~snakeyard.errors.SnakeyardError` when a listed file is gone since (a link
    whose target was removed), so that the job fails with one line instead of a copy
    error, and the next ``snakemake`` collects again.
    """
    record: RunRecord = read_json(run)
    source = Path(record["folder"]) / "work" / "outputs"
    entries = check_entries(record.get("outputs") or [], f"run {record['id']}: outputs")
    listed = [Path(entry["path"]) for entry in entries]
    gone = [rel for rel in listed if not (source / rel).is_file()]
    if gone:
        link = source / gone[0]
        what = (
            f"is a link to {os.readlink(link)}, which no longer exists"
            if link.is_symlink() else "no longer exists"
        )  # fmt: skip
        raise SnakeyardError(
            f"run {record['id']}: outputs/{gone[0].as_posix()} {what}; keep what a run must "
            "keep in outputs/ itself, not linked from elsewhere (a job's scratch space is gone "
            "once the job ends)"
        )
    if outputs.exists():
        shutil.rmtree(outputs)
    outputs.mkdir(parents=True)
    # one copy of the bytes: read-only hard links to the run's listed outputs on one
    # filesystem (the registered model links to them too), copies elsewhere
    copied = link_files(source, outputs, listed)
    if copied:
        log(f"run {record['id']}: {copied} output file(s) copied (not hard-linked)")
    rows = ["metric\tvalue"] + [
        f"{name}\t{json.dumps(value) if isinstance(value, (list, dict)) else value}"
        for name, value in sorted(record["metrics"].items())
    ]
    write_text_atomic(metrics, "\n".join(rows) + "\n")
    count, logged = len(record["outputs"]), len(record["metrics"])
    log(f"run {record['id']}: {count} output file(s) and {logged} metric(s) collected")
