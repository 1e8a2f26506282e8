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
:class:`DeploymentVersion`    ``registry/deployments/<name>/<N>/deployment.json``
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


class Change(TypedDict):
    """When, by whom and on which host a change was made."""

    time: str  # UTC, YYYY-MM-DDTHH:MM:SSZ
    user: str
    host: str


class LifecycleEvent(Change):
    """``<kind>/<name>/.history/<seq>.json``: one change to a name's versions after their
    publication (see :mod:`snakeyard.registry.lifecycle`)."""

    seq: int
    uid: str  # random: lets a writer recognise its own event after a resent link on NFS
    action: str  # "alias", "tag", "describe", "archive", "restore" or "delete"
    version: NotRequired[int]  # the version changed (not for an alias's removal)
    alias: NotRequired[str]  # "alias": the alias moved, and "from"/"to" version (None: absent)
    set: NotRequired[dict[str, str]]  # "tag": tags set
    remove: NotRequired[list[str]]  # "tag": tags removed
    aliases: NotRequired[list[str]]  # "delete": aliases removed with the version (--force)


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
    # added when read from the name's history, never stored in the version's file
    aliases: NotRequired[list[str]]
    archived: NotRequired[Change]
    deleted: NotRequired[Change]


class SignatureInputs(TypedDict):
    """The rows a model takes: their width, and the columns' names and types when known."""

    n_features: int
    feature_names: list[str] | None
    feature_types: list[str] | None  # "integer", "float" or "string" per column
    dtype: str  # numpy dtype of the sample input, e.g. "float64"


class SignatureOutputs(TypedDict):
    """What ``predict`` gives: the classes of a classifier, and the prediction dtype."""

    classes: list[Any] | None
    dtype: str
    methods: list[str]  # "predict", and "predict_proba" when the model has it


class Signature(TypedDict):
    """A model version's ``signature``: inputs, outputs and a few rows of sample input."""

    inputs: SignatureInputs
    outputs: SignatureOutputs
    sample_input: list[list[Any]]


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
    # what the model takes and gives; absent from versions registered before signatures
    signature: NotRequired[Signature | None]
    artifact_path: NotRequired[str]  # added when read: artifacts/<artifact>, absolute
    all_aliases: NotRequired[dict[str, int]]  # added by list_models: every alias of the name


class DeploymentVersion(Version):
    """``deployment.json``: a deployment bundle the ``deploy`` rule wrote."""

    model: dict[str, Any]  # name, version, content_hash of the model it serves
    reference: str  # the model reference as configured
    host: str
    port: int
    workers: int
    entry_script: str | None
    bundle: str  # the bundle's folder, absolute


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


class ChildRun(TypedDict):
    """A child run a script made (``run.child_run()``), kept in its parent's record."""

    id: str
    name: str
    status: str  # "Completed" or "Failed", as the child or, by default, its parent ended
    metrics: dict[str, Any]
    tags: dict[str, str]


class RunRecord(TypedDict):
    """``run.json``: one execution of a training script."""

    id: str
    experiment: str
    # "Running", "Completed", "Failed", "Canceled" (a sweep trial its policy or time budget
    # stopped), and "Lost" when reported, never stored
    status: str
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
    arguments: dict[str, Any] | list[Any]  # a list: the hosted ScriptRunConfig form
    command: list[str]
    python: str
    packages: dict[str, str]
    dataset: DatasetRef | None  # None for an experiment without a data set
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
    canceled: NotRequired[str]  # why a Canceled trial was stopped (docs/sweeps.md)
    warnings: NotRequired[list[str]]  # what was left out of the record, e.g. a dangling link
    trial: NotRequired[TrialRef]
    # what a script using the hosted SDK's calls added: run.add_properties, child runs
    properties: NotRequired[dict[str, str]]
    children: NotRequired[list[ChildRun]]
    # a sweep's parent run (written by the sweep stage): its trials' run ids, best first
    sweep_trials: NotRequired[list[str]]
    # a run with distributed: (docs/distributed.md): backend, process counts, and the Dask
    # cluster's scheduler, dashboard and workers, or the MPI ranks' own logs
    distributed: NotRequired[dict[str, Any]]
    # added when read, never stored: why a Running run's process looks gone
    lost: NotRequired[str]
    # added when read, never stored: seconds since a Running (or Lost) run started
    elapsed_seconds: NotRequired[float]


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
    arguments: dict[str, Any] | list[Any]  # a list: the hosted ScriptRunConfig form
    data_argument: str | None
    trial: NotRequired[TrialRef]
    # set only when configured, so that older specs (and their jobs) stay the same
    input_name: NotRequired[str]  # run.input_datasets key besides the data set's name
    register: NotRequired[bool]  # False: the experiment registers no model
    # a trial whose sweep has an early termination policy: the study (folder, name),
    # primary_metric, goal and early_termination (snakeyard.sweeps.monitor)
    sweep: NotRequired[dict[str, Any]]
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
    alias: NotRequired[str | None]  # set on the registered version by the register stage


class Garbage(TypedDict):
    """One thing ``snakeyard gc`` removes (or, with ``--dry-run``, would remove)."""

    kind: str  # "run work", "model files", "data folder", "blob" or "temporary"
    path: str
    bytes: int  # what removing it frees: files that no other hard link keeps
    kept: NotRequired[str]  # why it was left after all (needed since it was listed)


class FetchSpec(TypedDict, total=False):
    """How the ``fetch`` stage checks a data set (``--spec``, JSON)."""

    format: str | None
    label_column: str | None
    download: dict[str, Any] | None
