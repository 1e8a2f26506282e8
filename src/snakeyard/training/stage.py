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
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, SnakeyardError
from ..files import read_json, write_json_atomic, write_text_atomic
from ..records import DatasetReceipt, RunRecord, TrainSpec


def train(
    *,
    experiment: str,
    spec: TrainSpec,
    dataset: Path,
    environment: Path,
    registry: str,
    conda_active: bool,
    out: Path,
    log: Callable[[str], None],
) -> RunRecord:
    """Run the experiment's script once, in the environment of the receipt ``environment``
    on the data set of the receipt ``dataset``; write the run record to ``out``.

    A failed run raises :class:`~snakeyard.training.runner.RunFailed` after its Failed
    record is in the registry, except for a sweep trial (``spec`` has ``trial``) whose
    script failed by itself: its Failed record becomes ``out`` so that the sweep goes on
    without it. A trial stopped by a signal (killed, cancelled, out of time or memory)
    did not finish, so it fails its job like a run does, and the next ``snakemake`` runs
    it again.
    """
    from .runner import RunFailed

    claim = _claim(out)
    try:
        record = _train(experiment, spec, dataset, environment, registry, conda_active, log)
    except RunFailed as failure:
        trial = spec.get("trial")
        if trial is None or _stopped(failure.record):
            raise
        # one failed trial must not stop its sweep: the sweep stage leaves it out of the
        # choice of the best run and reports it
        log(f"trial {trial['id']}: {failure}")
        print(f"snakeyard train: trial {trial['id']} failed: {failure}", file=sys.stderr)
        record = failure.record
    _still_claimed(out, claim, record)
    write_json_atomic(out, record)
    _claim_file(out).unlink(missing_ok=True)
    return record


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
    dataset: Path,
    environment: Path,
    registry: str,
    conda_active: bool,
    log: Callable[[str], None],
) -> RunRecord:
    from ..environments.specs import METHOD_RECORDED, activate
    from ..registry.registry import Registry
    from .runner import execute

    store = Registry(registry)
    receipt = read_json(environment)
    # a recorded interpreter needs nothing from the registry to train with
    meta = receipt
    if receipt["method"] != METHOD_RECORDED:
        meta = store.get_environment(receipt["name"], receipt["version"])
    python, packages = activate(meta, log, conda_active=conda_active)
    log(f"environment {receipt['name']}:{receipt['version']}: training with {python}")
    return execute(
        store,
        experiment=experiment,
        source_directory=Path(spec["source_directory"]),
        script=spec["script"],
        arguments=spec["arguments"],
        dataset=local_dataset(store, read_json(dataset), log),
        environment=receipt,
        data_argument=spec["data_argument"] or None,
        python=python,
        packages=packages,
        log=log,
        trial=spec.get("trial"),
        distributed=spec.get("distributed"),
    )


def local_dataset(
    registry: Any, receipt: DatasetReceipt, log: Callable[[str], None]
) -> DatasetReceipt:
    """The receipt with ``location`` set to what the script gets: a local folder or file.

    A version in an object store is copied into this node's cache first; a tabular data
    set is handed over as the path of its CSV file.
    """
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
    if meta.get("format") == "tabular":
        location = location / meta["schema"]["file"]
    return {**receipt, "location": str(location)}


def collect(*, run: Path, outputs: Path, metrics: Path, log: Callable[[str], None]) -> None:
    """Copy the run's ``outputs/`` to ``outputs`` and write its metrics as a TSV table
    (``metric``, ``value``; lists and mappings as JSON) to ``metrics``.

    Raises :class:`~snakeyard.errors.SnakeyardError` when a link in the run's outputs
    leads to nothing any more, so that the job fails with one line instead of a copy
    error, and the next ``snakemake`` collects again. A link that already led nowhere
    when the run ended is not an output (the record names it in ``warnings``) and is
    left out.
    """
    record: RunRecord = read_json(run)
    source = Path(record["folder"]) / "work" / "outputs"
    # the links the runner left out, in the words of runner._not_kept
    named = " ".join(record.get("warnings", []))
    broken = [
        link
        for link in _broken_links(source)
        if f"outputs/{link.relative_to(source).as_posix()} is a symbolic link" not in named
    ]
    if broken:
        link = broken[0]
        raise SnakeyardError(
            f"run {record['id']}: outputs/{link.relative_to(source).as_posix()} is a link to "
            f"{os.readlink(link)}, which no longer exists; keep what a run must keep in "
            "outputs/ itself, not linked from elsewhere (a job's scratch space is gone once "
            "the job ends)"
        )
    if outputs.exists():
        shutil.rmtree(outputs)
    # a symbolic link to nothing has no bytes to keep; its run record names it in warnings
    shutil.copytree(source, outputs, ignore_dangling_symlinks=True)
    rows = ["metric\tvalue"] + [
        f"{name}\t{json.dumps(value) if isinstance(value, (list, dict)) else value}"
        for name, value in sorted(record["metrics"].items())
    ]
    write_text_atomic(metrics, "\n".join(rows) + "\n")
    count, logged = len(record["outputs"]), len(record["metrics"])
    log(f"run {record['id']}: {count} output file(s) and {logged} metric(s) collected")


def _broken_links(folder: Path) -> list[Path]:
    """The symbolic links below ``folder`` whose target is gone, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):  # links to folders not entered
        base = Path(dirpath)
        found += [base / name for name in dirnames + filenames if not (base / name).exists()]
    return sorted(found)
