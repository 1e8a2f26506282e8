"""The registry: versioned models, data sets and environments, and the records of runs.

See ``docs/registry.md`` for the layout on disk. Every function returns plain dicts
(the JSON metadata as stored, plus ``path``), so callers can print or serialise them.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, InvalidNameError, NotFoundError, SnakeyardError
from ..files import (
    check_manifest,
    content_hash,
    copy_manifest,
    manifest_of,
    read_json,
    walk_files,
    write_json_atomic,
)
from ..records import (
    DatasetRef,
    DatasetVersion,
    EnvironmentRef,
    EnvironmentVersion,
    FileEntry,
    ModelVersion,
    RunRecord,
)
from ..training.liveness import judge
from .versions import VersionStore, check_name

REGISTRY_VARIABLE = "SNAKEYARD_REGISTRY"
DEFAULT_ROOT = "registry"
LOADABLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}_[0-9]+_[0-9a-f]{8}")


def default_root() -> Path:
    """The registry folder: ``$SNAKEYARD_REGISTRY`` if set, else ``./registry``."""
    return Path(os.environ.get(REGISTRY_VARIABLE) or DEFAULT_ROOT)


class Registry:
    """A registry folder (default ``./registry`` or ``$SNAKEYARD_REGISTRY``)."""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        datastore: str | os.PathLike | dict[str, Any] | None = None,
    ):
        self.root = Path(root) if root is not None else default_root()
        # a folder (default <registry>/datastore) or {"s3": {...}}; see datastore.py
        self._datastore_spec = datastore
        self._datastore: Any = None
        self.models = VersionStore(self.root / "models", "model", "model.json")
        self.datasets = VersionStore(self.root / "datasets", "dataset", "dataset.json")
        self.environments = VersionStore(
            self.root / "environments", "environment", "environment.json"
        )
        self.runs_root = self.root / "runs"

    @property
    def datastore(self) -> Any:
        """Where data set files are stored: a FolderDatastore or an S3Datastore."""
        if self._datastore is None:
            from ..data.datastore import open_datastore  # only writers of data sets need it

            self._datastore = open_datastore(self._datastore_spec, self.root)
        return self._datastore

    # ------------------------------------------------------------------ models
    def register_model(
        self,
        name: str,
        path: str | os.PathLike,
        *,
        framework: str | None = None,
        framework_version: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        resource_configuration: dict[str, Any] | None = None,
        run_id: str | None = None,
        experiment: str | None = None,
        dataset: DatasetRef | None = None,
        environment: EnvironmentRef | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Register the file or folder at ``path`` as the next version of model ``name``.

        Byte-identical content returns the existing version instead (``new`` is False)
        when it is the latest version, or when the same run registered it before.
        """
        check_name(name, "model name")
        source = Path(path)
        if not source.exists():
            raise NotFoundError(f"cannot register model {name!r}: {source} does not exist")
        manifest = manifest_of(source)
        if not manifest:
            raise SnakeyardError(f"cannot register model {name!r}: folder {source} is empty")
        # a registered folder keeps its name under artifacts/, a file sits there directly
        inside = source.name if source.is_dir() else ""
        files = [{**entry, "path": f"{inside}/{entry['path']}".lstrip("/")} for entry in manifest]
        digest = content_hash(files)
        existing = self._same_model(name, digest, run_id)
        if existing is not None:
            return {**existing, "new": False}
        meta = {
            "kind": "model",
            "artifact": source.name,
            "framework": framework,
            "framework_version": framework_version,
            "description": description,
            "tags": dict(tags or {}),
            "resource_configuration": resource_configuration,
            "run_id": run_id,
            "experiment": experiment,
            "dataset": dataset,
            "environment": environment,
            "metrics": dict(metrics or {}),
            "files": files,
            "content_hash": digest,
        }

        def fill(folder: Path) -> None:
            copy_manifest(source, folder / "artifacts" / inside, manifest)

        return {**self.models.publish(name, meta, fill), "new": True}

    def _same_model(self, name: str, digest: str, run_id: str | None) -> ModelVersion | None:
        try:
            latest = self.models.read(name)
        except NotFoundError:
            return None
        if latest.get("content_hash") == digest:
            return latest
        if run_id is None:
            return None
        return next((m for m in self.models.find(name, digest) if m.get("run_id") == run_id), None)

    def get_model(self, name: str, version: int | str = "latest") -> ModelVersion:
        """Metadata of one model version; ``artifact_path`` is where its files are."""
        meta = self.models.read(name, version)
        meta["artifact_path"] = str(Path(meta["path"]) / "artifacts" / meta["artifact"])
        return meta

    def list_models(self) -> list[ModelVersion]:
        """The latest version of every model, with ``versions`` set to their count."""
        rows = []
        for name in self.models.names():
            meta = self.get_model(name)
            meta["versions"] = len(self.models.versions(name))
            rows.append(meta)
        return rows

    def model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of model ``name``, oldest first."""
        versions = self.models.read_all(name)
        if not versions:
            raise NotFoundError(f"no model named {name!r} in {self.root}")
        return versions

    def verified_model(self, name: str, version: int | str = "latest") -> ModelVersion:
        """Like :meth:`get_model`, after checking every artifact's sha256."""
        meta = self.get_model(name, version)
        problems = check_manifest(
            Path(meta["path"]) / "artifacts", meta["files"], f"model {name}:{meta['version']}"
        )
        if problems:
            raise IntegrityError("; ".join(problems))
        return meta

    def load_model(self, name: str, version: int | str = "latest") -> Any:
        """Check and deserialise a registered model (a ``.joblib``/``.pkl`` artifact)."""
        meta = self.verified_model(name, version)
        artifact = Path(meta["artifact_path"])
        if artifact.is_dir():
            candidates = [p for p in walk_files(artifact) if p.suffix in LOADABLE_SUFFIXES]
            if len(candidates) != 1:
                raise SnakeyardError(
                    f"model {name}:{meta['version']} is a folder of {len(meta['files'])} files "
                    f"without exactly one {'/'.join(LOADABLE_SUFFIXES)} file; "
                    f"use get_model() and read {artifact} yourself"
                )
            artifact = artifact / candidates[0]
        elif artifact.suffix not in LOADABLE_SUFFIXES:
            raise SnakeyardError(
                f"model {name}:{meta['version']} artifact {artifact.name} is not a "
                f"{'/'.join(LOADABLE_SUFFIXES)} file; use get_model() and read it yourself"
            )
        import joblib

        try:
            return joblib.load(artifact)
        except Exception as error:  # unpickling can raise anything
            raise SnakeyardError(
                f"model {name}:{meta['version']}: cannot load {artifact.name} with joblib "
                f"({type(error).__name__}: {error})"
            ) from error

    def download_model(self, name: str, version: int | str, dest: str | os.PathLike) -> Path:
        """Copy a model version's checked files into the new folder ``dest``."""
        meta = self.verified_model(name, version)
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise SnakeyardError(
                f"cannot download into {dest}: it exists and is not an empty folder"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"
        try:
            copy_manifest(Path(meta["path"]) / "artifacts", tmp, meta["files"])
            if dest.exists():
                dest.rmdir()
            os.rename(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dest

    # ---------------------------------------------------------------- datasets
    def upload_dataset(
        self,
        name: str,
        source: str | os.PathLike,
        manifest: list[FileEntry] | None = None,
        description: str = "",
        origin: str | None = None,
        data_format: str = "files",
        schema: dict[str, Any] | None = None,
    ) -> DatasetVersion:
        """Store a file or folder in the datastore and register it as a data set version.

        Content already registered under ``name`` with the same format and schema
        returns that version (``new`` False) and stores nothing. Otherwise only the
        files the datastore does not hold yet are stored; ``report`` in the result
        says how many. ``data_format`` is ``files``, ``idx`` or ``tabular``, and
        ``schema`` what was learnt about the files (idx shapes, table columns).
        """
        check_name(name, "data set name")
        source = Path(source)
        if manifest is None:
            manifest = manifest_of(source)
        if not manifest:
            raise SnakeyardError(f"data set {name!r}: {source} holds no files")
        digest = content_hash(manifest)
        for found in self.datasets.find(name, digest):
            if found.get("format", "files") == data_format and found.get("schema") == schema:
                from ..data.datastore import StoreReport

                report = StoreReport(reused_files=len(manifest))
                return {**self._with_location(found), "new": False, "report": report}
        location, report = self.datastore.store(name, source, manifest, digest)
        meta = {
            "kind": "dataset",
            "description": description,
            "origin": origin,
            "format": data_format,
            "schema": schema,
            "content_hash": digest,
            "files": manifest,
            "file_count": len(manifest),
            "bytes": sum(entry["bytes"] for entry in manifest),
            "location": self._portable(location),
        }
        if self.datastore.describe() is not None:
            meta["datastore"] = self.datastore.describe()
        published = self.datasets.publish(name, meta)
        return {**self._with_location(published), "new": True, "report": report}

    def get_dataset(self, name: str, version: int | str = "latest") -> DatasetVersion:
        """Metadata of one data set version; ``location`` is the absolute data folder."""
        return self._with_location(self.datasets.read(name, version))

    def list_datasets(self) -> list[DatasetVersion]:
        """The latest version of every data set, with ``versions`` set to their count."""
        return [
            {**self.get_dataset(name), "versions": len(self.datasets.versions(name))}
            for name in self.datasets.names()
        ]

    def _portable(self, location: str) -> str:
        """A datastore path relative to the registry when it lies inside it."""
        if location.startswith("s3://"):
            return location
        try:
            return Path(location).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(Path(location).resolve())

    def _with_location(self, meta: DatasetVersion) -> DatasetVersion:
        meta.setdefault("format", "files")  # versions written before formats existed
        if not meta["location"].startswith("s3://"):
            meta["location"] = str((self.root / meta["location"]).resolve())
        return meta

    # ------------------------------------------------------------ environments
    def register_environment(
        self,
        name: str,
        *,
        spec_file: str,
        spec_text: str,
        packages: dict[str, str],
        method: str,
        lock_text: str | None = None,
        python: str | None = None,
        lock_name: str = "conda-lock.yml",
        platforms: list[str] | None = None,
    ) -> EnvironmentVersion:
        """Register a locked or recorded environment; the same content returns its version.

        The lock is stored as ``lock_name`` (``conda-lock.yml`` or ``pip-lock.txt``).
        """
        check_name(name, "environment name")
        contents = {"spec.yaml": spec_text}
        if lock_text is not None:
            contents[lock_name] = lock_text
        files = [
            {
                "path": filename,
                "bytes": len(text.encode()),
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
            }
            for filename, text in sorted(contents.items())
        ]
        digest = hashlib.sha256(
            (
                content_hash(files) + "".join(f"{k}=={v}\n" for k, v in sorted(packages.items()))
            ).encode()
        ).hexdigest()
        found = self.environments.find(name, digest)
        if found:
            return {**found[0], "new": False}
        meta = {
            "kind": "environment",
            "method": method,
            "spec_file": spec_file,
            "spec_hash": hashlib.sha256(spec_text.encode()).hexdigest(),
            "python": python,
            "lock_file": lock_name if lock_text is not None else None,
            "lock_hash": hashlib.sha256(lock_text.encode()).hexdigest() if lock_text else None,
            "platforms": platforms,
            "packages": dict(sorted(packages.items())),
            "files": files,
            "content_hash": digest,
        }

        def fill(folder: Path) -> None:
            for filename, text in contents.items():
                (folder / filename).write_text(text, encoding="utf-8")

        return {**self.environments.publish(name, meta, fill), "new": True}

    def get_environment(self, name: str, version: int | str = "latest") -> EnvironmentVersion:
        """Metadata of one environment version, its package list included."""
        return self.environments.read(name, version)

    def list_environments(self) -> list[EnvironmentVersion]:
        """The latest version of every environment, with ``versions`` set to their count."""
        return [
            {**self.get_environment(name), "versions": len(self.environments.versions(name))}
            for name in self.environments.names()
        ]

    # -------------------------------------------------------------------- runs
    def run_folder(self, experiment: str, run_id: str) -> Path:
        """Where the run ``run_id`` of ``experiment`` keeps its record and files."""
        return self.runs_root / check_name(experiment, "experiment name") / run_id

    def get_run(self, run_id: str) -> RunRecord:
        """The record of one run, found by its id; a Running run whose process is gone
        reads as ``Lost``."""
        path = self._run_record(run_id)
        return _as_read(read_json(path), path.parent)

    def _run_record(self, run_id: str) -> Path:
        if not RUN_ID_PATTERN.fullmatch(run_id):
            raise InvalidNameError(
                f"invalid run id {run_id!r}: expected "
                "<experiment>_<unix seconds>_<8 hex digits>, e.g. sklearn-iris_1795524285_9d28c5b6"
            )
        for record in self.runs_root.glob(f"*/{run_id}/run.json"):
            return record
        raise NotFoundError(f"no run with id {run_id!r} in {self.root}")

    def list_runs(self, experiment: str | None = None) -> list[RunRecord]:
        """Run records, oldest first; only those of ``experiment`` when given. A Running
        run whose process is gone reads as ``Lost``."""
        if experiment is not None:
            check_name(experiment, "experiment name")
        pattern = f"{experiment or '*'}/*/run.json"
        records = []
        for path in self.runs_root.glob(pattern):
            try:
                records.append(_as_read(read_json(path), path.parent))
            except (OSError, ValueError):
                continue  # a record being replaced at this instant
        return sorted(records, key=lambda r: (r.get("start") or "", r.get("id", "")))

    def settle_run(self, run_id: str, force: bool = False) -> RunRecord:
        """Record a run whose process is gone as Failed, with what it logged until then.

        Refuses a run that has ended, and one whose process still looks alive (on this
        host, or by a recent heartbeat) unless ``force``: for a node that the checks
        cannot see, or a process known to be stuck.
        """
        from ..training.runner import now, record_results

        path = self._run_record(run_id)
        record: RunRecord = read_json(path)
        if record["status"] != "Running":
            ended = f" at {record['end']}" if record.get("end") else ""
            raise SnakeyardError(
                f"run {run_id} has ended already ({record['status']}{ended}): "
                "only a Running or Lost run can be settled"
            )
        seen = judge(record, path.parent)
        if seen is not None and not seen.lost and not force:
            raise SnakeyardError(
                f"run {run_id} may still be running: {seen.reason}; stop it first, or "
                "settle it anyway with --force"
            )
        if seen is None:
            why = "process lost (its record has no pid or heartbeat to check)"
        else:
            why = f"process lost ({seen.reason})" if seen.lost else f"forced ({seen.reason})"
        problems = record_results(record, path.parent)
        record["status"] = "Failed"
        record["error"] = "; ".join(
            [f"settled by {_user()}@{platform.node()} at {now()}: {why}", *problems]
        )
        if read_json(path)["status"] != "Running":
            raise SnakeyardError(f"run {run_id} ended while it was being settled; left as it is")
        write_json_atomic(path, record)
        return record

    # ------------------------------------------------------------------ verify
    def verify(self) -> Iterator[tuple[str, list[str]]]:
        """Check every recorded sha256; yield ``(label, problems)`` per version."""
        for name in self.models.names():
            for meta in self.models.read_all(name):
                label = f"model {name}:{meta['version']}"
                yield label, check_manifest(Path(meta["path"]) / "artifacts", meta["files"], label)
        for name in self.datasets.names():
            for meta in self.datasets.read_all(name):
                from ..data.datastore import datastore_of

                label = f"dataset {name}:{meta['version']}"
                meta = self._with_location(meta)
                store = datastore_of(meta, self.root)
                if store is not None:
                    yield label, store.problems(meta, label)
                else:
                    yield label, check_manifest(Path(meta["location"]), meta["files"], label)
        for name in self.environments.names():
            for meta in self.environments.read_all(name):
                label = f"environment {name}:{meta['version']}"
                yield label, check_manifest(Path(meta["path"]), meta["files"], label)


def _as_read(record: RunRecord, folder: Path) -> RunRecord:
    """A run record as readers report it: ``Lost`` (and ``lost``, saying why) for a
    Running run whose process is gone. The file itself is left as it is."""
    seen = judge(record, folder)
    if seen is not None and seen.lost:
        record["status"] = "Lost"
        record["lost"] = seen.reason
    return record


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container, say)
        return f"uid {os.getuid()}"


def _registry(registry: Registry | str | os.PathLike | None) -> Registry:
    return registry if isinstance(registry, Registry) else Registry(registry)


def load_model(
    name: str, version: int | str = "latest", registry: Registry | str | None = None
) -> Any:
    """Load a registered model by name, checking its sha256 first."""
    return _registry(registry).load_model(name, version)


def get_model(
    name: str, version: int | str = "latest", registry: Registry | str | None = None
) -> ModelVersion:
    """Metadata of a registered model version: metrics, lineage, files."""
    return _registry(registry).get_model(name, version)


def get_dataset(
    name: str, version: int | str = "latest", registry: Registry | str | None = None
) -> DatasetVersion:
    """Metadata of a data set version, with the absolute ``location`` of its files."""
    return _registry(registry).get_dataset(name, version)


def get_run(run_id: str, registry: Registry | str | None = None) -> RunRecord:
    """The record of one run: status, arguments, metrics, lineage."""
    return _registry(registry).get_run(run_id)


def list_runs(
    experiment: str | None = None, registry: Registry | str | None = None
) -> list[RunRecord]:
    """Run records, oldest first, optionally of one experiment."""
    return _registry(registry).list_runs(experiment)
