"""The records that cross module borders, declared once: what the registry stores, what a
run leaves, what each stage hands to the next.

They are ``TypedDict``s: at run time plain dicts read from and written as JSON, so a
record from disk needs no conversion and importing this module costs only ``typing``.
Each type is the shape of one file, documented for users in ``docs/registry.md``:

============================  =========================================================
type                          file
============================  =========================================================
:class:`ModelVersion`         ``registry/models/<name>/<N>/model.json``
:class:`DatasetVersion`       ``registry/datasets/<name>/<N>/dataset.json``
:class:`EnvironmentVersion`   ``registry/environments/<name>/<N>/environment.json``
:class:`RunRecord`            ``registry/runs/<experiment>/<run id>/run.json`` and the
                              train stage's ``results/<experiment>/run.json``
:class:`DatasetReceipt` …     the receipts under ``results/``
:class:`TrialRef`             ``trial`` of a sweep trial's run record
============================  =========================================================

Keys that a record only sometimes has are marked ``NotRequired``.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class FileEntry(TypedDict):
    """One stored file: ``path`` relative to the version's folder, its size, its sha256."""

    path: str
    bytes: int
    sha256: str


class DatasetRef(TypedDict):
    """The data set version a run used or a model came from."""

    name: str
    version: int
    content_hash: str


class EnvironmentRef(TypedDict):
    """The environment version a run trained in (``method`` on run records only)."""

    name: str
    version: int
    method: NotRequired[str]


class Version(TypedDict):
    """What every published version holds, whatever its kind."""

    kind: str  # "model", "dataset" or "environment"
    name: str
    version: int
    created: str  # UTC, YYYY-MM-DDTHH:MM:SSZ
    uid: str
    files: list[FileEntry]
    content_hash: str
    # added when read, never stored: the version's folder, absolute
    path: NotRequired[str]
    # added by registration calls, never stored: False when an existing version was returned
    new: NotRequired[bool]


class ModelVersion(Version):
    """``model.json``: a registered model version."""

    artifact: str
    framework: str | None
    framework_version: str | None
    description: str
    tags: dict[str, str]
    resource_configuration: dict[str, Any] | None
    run_id: str | None
    experiment: str | None
    dataset: DatasetRef | None
    environment: EnvironmentRef | None
    metrics: dict[str, Any]
    artifact_path: NotRequired[str]  # added when read: artifacts/<artifact>, absolute


class DatasetVersion(Version):
    """``dataset.json``: a registered data set version."""

    description: str
    origin: str | None
    format: str  # "files", "idx" or "tabular"
    schema: dict[str, Any] | None
    file_count: int
    bytes: int
    location: str  # relative to the registry on disk; absolute (or s3://) when read
    datastore: NotRequired[dict[str, Any]]  # only for an object store
    report: NotRequired[Any]  # added by upload_dataset: a datastore StoreReport


class EnvironmentVersion(Version):
    """``environment.json``: a registered environment version."""

    method: str  # "conda-lock", "pip-lock" or "recorded-interpreter"
    spec_file: str
    spec_hash: str
    python: str | None
    lock_file: str | None
    lock_hash: str | None
    platforms: list[str] | None
    packages: dict[str, str]


class TrialRef(TypedDict):
    """A sweep trial as its run record names it: the trial id and its parameter values."""

    id: str
    parameters: dict[str, Any]


class RunRecord(TypedDict):
    """``run.json``: one execution of a training script."""

    id: str
    experiment: str
    status: str  # "Running", "Completed", "Failed" (and "Lost" when reported, never stored)
    exit_code: int | None
    start: str
    end: str | None
    start_unix: float
    end_unix: float | None
    duration_seconds: float | None
    host: str
    # signs of life of the train stage process, absent from records older than them;
    # see snakeyard.training.liveness
    pid: NotRequired[int]
    pid_start: NotRequired[str | None]  # "<boot id>/<pid namespace>/<start clock ticks>"
    heartbeat_seconds: NotRequired[int]  # the run folder's heartbeat file is touched this often
    cluster_job_id: str | None
    cluster: dict[str, Any] | None
    git_commit: str | None
    source_directory: str
    script: str
    arguments: dict[str, Any]
    command: list[str]
    python: str
    packages: dict[str, str]
    dataset: DatasetRef
    environment: EnvironmentRef
    snapshot_hash: str
    snapshot_files: int
    folder: str
    metrics: dict[str, Any]
    tags: dict[str, str]
    images: dict[str, dict[str, str]]
    uploads: dict[str, dict[str, str]]
    outputs: list[FileEntry]
    error: NotRequired[str]
    warnings: NotRequired[list[str]]  # what was left out of the record, e.g. a dangling link
    trial: NotRequired[TrialRef]
    # a run with distributed: (docs/distributed.md): backend, process counts, and the Dask
    # cluster's scheduler, dashboard and workers, or the MPI ranks' own logs
    distributed: NotRequired[dict[str, Any]]
    # added when read, never stored: why a Running run's process looks gone
    lost: NotRequired[str]


class Receipt(TypedDict):
    """What a registering stage writes as its Snakemake output: the version it made or
    found, and the registry it is in."""

    name: str
    version: int
    content_hash: str
    new: bool
    registry: str


class DatasetReceipt(Receipt):
    """``results/datasets/<name>.json``, written by ``upload``."""

    location: str
    format: str


class EnvironmentReceipt(Receipt):
    """``results/environments/<name>.json``, written by ``lock``."""

    method: str


class ModelReceipt(Receipt):
    """``results/<experiment>/model.json``, written by ``register``."""

    run_id: str | None


class TrainSpec(TypedDict):
    """What the workflow hands the ``train`` stage besides files (``--spec``, JSON)."""

    source_directory: str
    script: str
    arguments: dict[str, Any]
    data_argument: str | None
    trial: NotRequired[TrialRef]
    distributed: NotRequired[dict[str, Any]]  # the experiment's checked distributed:


class ModelSpec(TypedDict):
    """An experiment's ``model`` configuration, as the ``register`` stage gets it."""

    name: str
    path: str
    framework: str
    framework_version: str | None
    description: str
    tags: dict[str, str]
    resource_configuration: dict[str, Any] | None


class FetchSpec(TypedDict, total=False):
    """How the ``fetch`` stage checks a data set (``--spec``, JSON)."""

    format: str | None
    label_column: str | None
    download: dict[str, Any] | None
