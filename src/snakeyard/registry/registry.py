"""The registry: versioned models, data sets and environments, and the records of runs.

See ``docs/registry.md`` for the layout on disk. Every function returns plain dicts
(the JSON metadata as stored, plus ``path``), so callers can print or serialise them.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import re
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import (
    ConfigError,
    FrameworkVersionWarning,
    IntegrityError,
    InvalidNameError,
    MetadataError,
    NotFoundError,
    SnakeyardError,
)
from ..files import (
    check_entries,
    check_manifest,
    checked_files,
    content_hash,
    copy_manifest,
    entry_problems,
    fsync_folder,
    fsync_tree,
    inside,
    is_sha256,
    make_folders,
    manifest_of,
    read_json,
    read_listed,
    resolved,
    special_kind,
    temporary_name,
    unlisted_files,
    write_json_atomic,
)
from ..records import (
    DatasetRef,
    DatasetVersion,
    DeploymentVersion,
    EnvironmentRef,
    EnvironmentVersion,
    FileEntry,
    LifecycleEvent,
    ModelVersion,
    RunRecord,
    Signature,
)
from ..training.liveness import HEARTBEAT_FILE, judge
from . import edits
from .index import RunIndex, VersionIndex
from .lifecycle import aliases_by_version, annotate, hidden, user, version_state
from .versions import VersionStore, check_name, parse_ref, split_ref

REGISTRY_VARIABLE = "SNAKEYARD_REGISTRY"
DEFAULT_ROOT = "registry"
LOADABLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
RUN_STATUSES = ("Running", "Completed", "Failed", "Canceled")  # what a run record may store
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
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(
                f"registry {self.root} is a file, not a folder: set `registry:` (or "
                f"--registry, ${REGISTRY_VARIABLE}) to a folder (created when missing)"
            )
        # a folder (default <registry>/datastore) or {"s3": {...}}; see datastore.py
        self._datastore_spec = datastore
        self._datastore: Any = None
        self.models = VersionStore(
            self.root / "models", "model", "model.json", ("artifacts",), model_field_problems
        )
        self.datasets = VersionStore(self.root / "datasets", "dataset", "dataset.json")
        self.environments = VersionStore(
            self.root / "environments", "environment", "environment.json"
        )
        self.deployments = VersionStore(self.root / "deployments", "deployment", "deployment.json")
        self.runs_root = self.root / "runs"
        self.staging = self.models.staging  # the registry's folder of temporaries
        # summaries that answer listings (index.py); the folders stay the truth
        self.model_index = VersionIndex(self.models)
        self.run_index = RunIndex(
            self.runs_root, self.staging, self._read_run_as_read, self.contained
        )

    def contained(self, path: Path, label: str) -> Path:
        """``path`` (a folder or file of the registry's layout: a run folder, ``.tmp/``)
        resolved; MetadataError when a symbolic link on the way leads out of the registry.
        """
        return self.models.contained(path, label)

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
        signature: Signature | None = None,
    ) -> ModelVersion:
        """Register the file or folder at ``path`` as the next version of model ``name``.

        Byte-identical content returns the existing version instead (``new`` is False)
        when it is the latest version, or when the same run registered it before.
        ``signature`` is what the model takes and gives (see snakeyard.serving.signature).
        """
        check_name(name, "model name")
        source = Path(path)
        self._check_model_source(name, source)
        manifest = manifest_of(source)
        if not manifest:
            raise SnakeyardError(f"cannot register model {name!r}: folder {source} is empty")
        # a registered folder keeps its name under artifacts/, a file sits there directly
        under = source.name if source.is_dir() else ""
        files = [{**entry, "path": f"{under}/{entry['path']}".lstrip("/")} for entry in manifest]
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
        if signature is not None:
            meta["signature"] = signature

        # a finished run's outputs are the registry's own: the version shares their bytes
        # (hard links, read-only); a user's file is copied, since they may change it later
        from_run = resolved(source, name).is_relative_to(self.models.registry_folder() / "runs")

        def fill(folder: Path) -> None:
            # the user's own folder, listed a moment ago: links out of it are followed
            target = folder / "artifacts" / under
            copy_manifest(
                source, target, manifest, f"model {name}", contain_source=False, link=from_run
            )

        published = self.models.publish(name, meta, fill)
        self.model_index.note(published)
        return {**published, "new": True}

    def _check_model_source(self, name: str, source: Path) -> None:
        """Refuse what cannot be registered as a model: a path that does not exist, is
        not a regular file or folder (a pipe, say) or holds one, lies in the registry
        outside its runs (a version's own files), or holds the registry itself."""
        refused = f"cannot register model {name!r}: {source}"
        if not source.exists():
            raise NotFoundError(f"{refused} does not exist")
        if not (source.is_file() or source.is_dir()):
            kind = special_kind(source) or "something else"
            raise SnakeyardError(f"{refused} is {kind}, not a regular file or folder")
        if source.is_dir():
            # the one link policy (files.tree_files): links inside followed, others refused
            checked_files(source, f"cannot register model {name!r} from {source}")
        real, root = resolved(source, refused), self.models.registry_folder()
        if root.is_relative_to(real):
            raise SnakeyardError(f"{refused} holds the registry {root}; register the model itself")
        # a run's outputs are in the registry: the workflow registers models from there
        if real.is_relative_to(root) and not real.is_relative_to(root / "runs"):
            raise SnakeyardError(
                f"{refused} is inside the registry {root}; register a file or folder from "
                "outside it, or a run's outputs"
            )

    def _same_model(self, name: str, digest: str, run_id: str | None) -> ModelVersion | None:
        """The version that registering ``digest`` again returns: the latest live one,
        or one that run ``run_id`` registered; never a deleted one (its bytes are gone)."""
        try:
            latest = self.models.read(name)
        except NotFoundError:
            latest = None
        if latest is not None and latest.get("content_hash") == digest:
            return latest
        if run_id is None:
            return None
        state = self.models.lifecycle.state(name)
        return next(
            (
                m
                for m in self.models.find(name, digest)
                if m.get("run_id") == run_id and "deleted" not in version_state(state, m["version"])
            ),
            None,
        )

    def get_model(self, name: str, version: int | str = "latest") -> ModelVersion:
        """Metadata of one model version; ``artifact_path`` is where its files are.

        ``name`` may be a whole reference (``NAME:3``, ``NAME@production``). Tags and
        description are as they are now, ``aliases`` those pointing at it, and
        ``archived``/``deleted`` say when and by whom, if so.
        """
        name, version = split_ref(name, version, "model name")
        meta = annotate(self.models.read(name, version), self.models.lifecycle.state(name))
        meta["artifact_path"] = str(Path(meta["path"]) / "artifacts" / _artifact_name(meta))
        return meta

    def list_models(
        self, include_hidden: bool = False, skipped: list[str] | None = None
    ) -> list[ModelVersion]:
        """The latest live version of every model, with ``versions`` set to the count of
        its live versions and ``all_aliases`` to its aliases; with ``include_hidden``,
        the highest version (archived or deleted too) and every version counted. A model
        whose every version is archived or deleted is left out unless ``include_hidden``.
        Rows are summaries from the listing index (no ``files``; :meth:`get_model` has a
        version's whole metadata).

        A version whose metadata cannot be read is left out, so one damaged
        ``model.json`` does not hide every other model; ``skipped`` (when given) gets a
        line naming it and why (``snakeyard verify`` reports it too).
        """
        rows = []
        for name in self.models.names():
            state = self.models.lifecycle.state(name)
            shown = self._listed_versions(name, state, include_hidden, skipped)
            numbers = self.models.versions(name)
            live = numbers if include_hidden else [n for n in numbers if not hidden(state, n)]
            if not shown or shown[-1]["version"] != live[-1]:
                continue  # none to show, or its latest unreadable (named in ``skipped``)
            top = shown[-1]
            top["versions"] = len(shown)
            top["all_aliases"] = dict(sorted(state["aliases"].items()))
            rows.append(top)
        return rows

    def model_versions(
        self, name: str, include_hidden: bool = False, skipped: list[str] | None = None
    ) -> list[ModelVersion]:
        """The summary of every live version of model ``name``, oldest first (from the
        listing index, checked against the version folders; no ``files``); archived and
        deleted ones too with ``include_hidden``. NotFoundError when there is no such
        model. A version whose metadata cannot be read raises MetadataError, or, when
        ``skipped`` is given, is left out with a line there naming it."""
        check_name(name, "model name")
        state = self.models.lifecycle.state(name)
        rows = self._listed_versions(name, state, include_hidden, skipped)
        if not rows and not self.models.versions(name):
            raise NotFoundError(f"no model named {name!r} in {self.root}")
        return rows

    def _listed_versions(
        self,
        name: str,
        state: dict[str, Any],
        include_hidden: bool,
        skipped: list[str] | None = None,
    ) -> list[ModelVersion]:
        """The index's summaries of ``name`` that a listing shows, with the changes the
        lifecycle events made (:func:`~snakeyard.registry.lifecycle.annotate`)."""
        rows, base = [], f"{self.models.root}/{name}"  # text paths: many versions
        # the events folded once for the whole listing: which versions they changed,
        # and the aliases of each; most versions then only gain an empty list
        aliases = aliases_by_version(state)
        changed = {int(v) for v in state["versions"] if v.isdigit()}
        for summary in self.model_index.summaries(name, skipped):
            number = summary["version"]
            if number in changed:
                if not include_hidden and hidden(state, number):
                    continue
                annotate(summary, state, aliases)
            else:
                summary["aliases"] = list(aliases[number]) if number in aliases else []
            folder = f"{base}/{number}"
            del summary["stamp"]  # a fresh dict of this listing: changed in place
            summary["path"] = folder
            summary["artifact_path"] = f"{folder}/artifacts/{summary.get('artifact')}"
            rows.append(summary)
        return rows

    def resolve_model_ref(self, ref: str) -> tuple[str, int]:
        """The model name and version number a reference names: ``NAME`` (the latest),
        ``NAME:VERSION``, ``NAME:latest`` or ``NAME@ALIAS``.

        Every model reference a user gives (``models serve``, ``models export``, the
        ``deployments:`` and ``scoring:`` keys) is resolved here, through the one parser
        :func:`~snakeyard.registry.versions.parse_ref`. NotFoundError when no such version
        (or alias) exists.
        """
        name, version = parse_ref(ref, "model name")
        return name, self.models.read(name, version)["version"]

    @staticmethod
    def model_ref_name(ref: str) -> str:
        """The model name in a reference, checked, without looking it up (the workflow
        asks it to tell which experiment registers a referenced model)."""
        return parse_ref(ref, "model name")[0]

    def verified_model(self, name: str, version: int | str = "latest") -> ModelVersion:
        """Like :meth:`get_model`, after checking every listed file's path and sha256;
        a deleted version is refused (its files are gone)."""
        meta = self.get_model(name, version)
        name = meta["name"]
        label = f"model {name}:{meta['version']}"
        if "deleted" in meta:
            deleted = meta["deleted"]
            raise NotFoundError(
                f"{label} was deleted at {deleted['time']} by {deleted['user']}@"
                f"{deleted['host']}: its files are gone; only its record remains"
            )
        check_entries(meta.get("files"), label)
        _listed_artifact(meta, label)
        problems = check_manifest(Path(meta["path"]) / "artifacts", meta["files"], label)
        if problems:
            raise IntegrityError("; ".join(problems))
        return meta

    def load_model(self, name: str, version: int | str = "latest") -> Any:
        """Check and deserialise a registered model (a ``.joblib``/``.pkl`` artifact).

        Only a listed file is unpickled: the artifact itself, or the one loadable file
        listed under an artifact folder. Its bytes are read once, hashed, and unpickled
        from memory, so nothing can replace the file between the check and the load.
        """
        meta = self.verified_model(name, version)
        mismatch = self._sklearn_mismatch(meta, f"model {meta['name']}:{meta['version']}")
        return load_listed_model(meta, Path(meta["path"]) / "artifacts", mismatch)

    def _sklearn_mismatch(self, meta: ModelVersion, label: str) -> str | None:
        """The warning for a scikit-learn model trained with another scikit-learn version
        than this interpreter's (scikit-learn itself says so once per estimator, without
        the way back); None when the versions agree or are unknown."""
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed_version

        environment = meta.get("environment") or {}
        packages: dict[str, str] = {}
        if environment.get("name"):
            try:
                packages = self.get_environment(environment["name"], environment["version"])[
                    "packages"]  # fmt: skip
            except (SnakeyardError, OSError, KeyError, TypeError):
                packages = {}
        trained = packages.get("scikit-learn")
        if str(meta.get("framework") or "").lower() in ("scikit-learn", "sklearn"):
            trained = meta.get("framework_version") or trained
        try:
            here = installed_version("scikit-learn")
        except PackageNotFoundError:
            return None
        if not trained or trained == here:
            return None
        way_back = (
            f"environment {environment['name']}:{environment['version']} has scikit-learn "
            f"{packages['scikit-learn']}: load it there (snakeyard environments show "
            f"{environment['name']}:{environment['version']})"
            if packages.get("scikit-learn") == trained
            else f"install scikit-learn=={trained} to load it as it was trained"
        )
        return (
            f"{label} was trained with scikit-learn {trained}, and this interpreter has "
            f"scikit-learn {here}: it may fail or predict differently; {way_back}"
        )

    def download_model(self, name: str, version: int | str, dest: str | os.PathLike) -> Path:
        """Copy a model version's checked files into the new folder ``dest``.

        ``dest`` must not exist, or be an empty folder (or a link to one, which then
        receives the files); its parent folder must exist.
        """
        meta = self.verified_model(name, version)
        dest = Path(dest)
        target = _download_target(dest)
        tmp = target.parent / f".{temporary_name(target.name)}.tmp"
        label = f"model {meta['name']}:{meta['version']}"
        try:
            copy_manifest(Path(meta["path"]) / "artifacts", tmp, meta["files"], label)
            fsync_tree(tmp)
            if target.exists():
                target.rmdir()
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_folder(target.parent)
        return dest

    # ------------------------------------------------------ changes after publication
    def set_alias(self, name: str, version: int | str, alias: str) -> LifecycleEvent | None:
        """Point model ``name``'s ``alias`` at ``version``; None when it points there."""
        return edits.set_alias(self.models, name, version, alias)

    def delete_alias(self, name: str, alias: str) -> LifecycleEvent:
        """Remove model ``name``'s ``alias``."""
        return edits.delete_alias(self.models, name, alias)

    def tag_model(
        self,
        name: str,
        version: int | str,
        tags: dict[str, str] | None = None,
        remove: list[str] | None = None,
    ) -> LifecycleEvent:
        """Set and remove tags of one model version; its files and hashes stay."""
        return edits.edit_tags(self.models, name, version, dict(tags or {}), list(remove or []))

    def describe_model(self, name: str, version: int | str, text: str) -> LifecycleEvent:
        """Replace the description of one model version."""
        return edits.describe(self.models, name, version, text)

    def archive_model(self, name: str, version: int) -> LifecycleEvent:
        """Hide a model version from ``latest`` and lists; it stays loadable by number."""
        return edits.archive(self.models, name, version)

    def restore_model(self, name: str, version: int) -> LifecycleEvent:
        """Bring an archived model version back."""
        return edits.restore(self.models, name, version)

    def delete_model(self, name: str, version: int, force: bool = False) -> LifecycleEvent:
        """Delete a model version's files, keeping its record as a tombstone: its number is
        never given again. Refused while an alias points at it, unless ``force``."""
        return edits.delete(
            self.models,
            name,
            version,
            force=force,
            remove_files=lambda folder: edits.remove_artifacts(self.models, folder),
        )

    def archive_dataset(self, name: str, version: int) -> LifecycleEvent:
        """Hide a data set version from ``latest`` and lists, unless a live model came
        from it."""
        self._refuse_used_dataset(name, version, "archive")
        return edits.archive(self.datasets, name, version)

    def restore_dataset(self, name: str, version: int) -> LifecycleEvent:
        """Bring an archived data set version back."""
        return edits.restore(self.datasets, name, version)

    def delete_dataset(self, name: str, version: int) -> LifecycleEvent:
        """Delete a data set version (a tombstone; ``gc`` frees its stored files once no
        live version lists them), unless a live model came from it."""
        return edits.delete(
            self.datasets,
            name,
            version,
            check=lambda number: self._refuse_used_dataset(name, number, "delete"),
        )

    def _refuse_used_dataset(self, name: str, version: int | str, verb: str) -> None:
        """SnakeyardError naming the live model versions whose lineage names the data set
        version ``name:version``."""
        number = self.datasets.resolve(name, version)
        users = [
            f"{m['name']}:{m['version']}"
            for m in self.live_models()
            if (m.get("dataset") or {}).get("name") == name
            and (m.get("dataset") or {}).get("version") == number
        ]
        if users:
            more = f" and {len(users) - 10} more" if len(users) > 10 else ""
            shown = ", ".join(users[:10]) + more
            raise SnakeyardError(
                f"cannot {verb} dataset {name}:{number}: the live model version(s) {shown} "
                f"came from it; delete those first"
            )

    def live_models(self) -> Iterator[ModelVersion]:
        """Every model version that is not deleted (archived ones included: they load)."""
        for name in self.models.names():
            state = self.models.lifecycle.state(name)
            for number in self.models.versions(name):
                if "deleted" not in version_state(state, number):
                    yield self.models.read(name, number)

    def history(self, kind: str, name: str) -> list[LifecycleEvent]:
        """Every change to the versions of ``name`` (``kind`` ``model`` or ``dataset``)."""
        store = self.models if kind == "model" else self.datasets
        return store.lifecycle.events(check_name(name, f"{kind} name"))

    # ------------------------------------------------------------- deployments
    def record_deployment(self, name: str, meta: dict[str, Any]) -> DeploymentVersion:
        """Record a deployment bundle as the next version of deployment ``name``; the
        latest version when it records the same bundle content (``new`` False)."""
        check_name(name, "deployment name")
        try:
            latest = self.deployments.read(name)
        except NotFoundError:
            latest = None
        if latest is not None and latest.get("content_hash") == meta["content_hash"]:
            return {**latest, "new": False}
        return {**self.deployments.publish(name, {"kind": "deployment", **meta}), "new": True}

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
        # a manifest given by the caller is read from a file: its paths name what is written
        check_entries(manifest, f"data set {name}")
        digest = content_hash(manifest)
        damaged = None
        state = self.datasets.lifecycle.state(name)
        for found in self.datasets.find(name, digest):
            if "deleted" in version_state(state, found["version"]):
                continue  # a tombstone: its files may be gone; this becomes a new version
            if found.get("format", "files") == data_format and found.get("schema") == schema:
                found = self._with_location(found)
                if not self._dataset_problems(found):
                    from ..data.datastore import StoreReport

                    report = StoreReport(reused_files=len(manifest))
                    return {**found, "new": False, "report": report}
                damaged = found  # stored bytes went bad: store them again from the source
                break
        location, report = self.datastore.store(name, source, manifest, digest)
        if damaged is not None and self._same_location(location, damaged["location"]):
            # the datastore replaced the damaged files in place: that version is whole again
            return {**damaged, "new": False, "report": report}
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
        """Metadata of one data set version; ``location`` is the absolute data folder.

        ``name`` may be a whole reference (``NAME:3``); ``archived``/``deleted`` say when
        and by whom, if so.
        """
        name, version = split_ref(name, version, "data set name")
        state = self.datasets.lifecycle.state(name)
        return self._with_location(annotate(self.datasets.read(name, version), state))

    def list_datasets(self, include_hidden: bool = False) -> list[DatasetVersion]:
        """The latest live version of every data set, with ``versions`` set to the count
        of live versions (of all versions, and the highest shown, with ``include_hidden``)."""
        rows = []
        for name in self.datasets.names():
            state = self.datasets.lifecycle.state(name)
            numbers = self.datasets.versions(name)
            shown = numbers if include_hidden else [n for n in numbers if not hidden(state, n)]
            if shown:
                meta = annotate(self.datasets.read(name, shown[-1]), state)
                rows.append({**self._with_location(meta), "versions": len(shown)})
        return rows

    def dataset_versions(self, name: str, include_hidden: bool = False) -> list[DatasetVersion]:
        """Every live version of data set ``name``, oldest first; archived and deleted
        ones too with ``include_hidden``."""
        versions = self.datasets.read_all(name)
        if not versions:
            raise NotFoundError(f"no data set named {name!r} in {self.root}")
        state = self.datasets.lifecycle.state(name)
        return [
            annotate(d, state)
            for d in versions
            if include_hidden or not hidden(state, d["version"])
        ]

    def _portable(self, location: str) -> str:
        """A datastore path relative to the registry when it lies inside it."""
        if location.startswith("s3://"):
            return location
        try:
            return Path(location).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(Path(location).resolve())

    def _same_location(self, stored: str, location: str) -> bool:
        if stored.startswith("s3://"):
            return stored == location
        return str(Path(stored).resolve()) == location

    def _with_location(self, meta: DatasetVersion) -> DatasetVersion:
        """``meta`` with ``location`` checked, and made absolute for a folder.

        A folder location must be the datastore folder of this very version,
        ``<datastore>/<name>/<content hash>``, once links are followed: relative to the
        registry (no ``..``) when the datastore is inside it, absolute when it is
        elsewhere. The version's files must then stay inside that folder (see
        :func:`~snakeyard.files.inside`), so a metadata file cannot point a reader or a
        training script at another folder.
        """
        meta.setdefault("format", "files")  # versions written before formats existed
        label = f"dataset {meta['name']}:{meta['version']}"
        location, digest = meta.get("location"), meta.get("content_hash")
        if not is_sha256(digest):
            raise MetadataError(f"{label}: content_hash {digest!r} is not a sha256")
        if isinstance(location, str) and location.startswith("s3://"):
            return meta  # files are fetched by their sha256; their paths are checked then
        folder = None
        if isinstance(location, str) and ".." not in Path(location).parts:
            folder = resolved(self.root / location, label)  # an absolute one stays as it is
        if folder is None or folder.parts[-2:] != (meta["name"], digest):
            raise MetadataError(
                f"{label}: location {location!r} is refused: expected the datastore folder "
                f"of this version, <datastore>/{meta['name']}/{digest} (relative to the "
                "registry, or absolute)"
            )
        meta["location"] = str(folder)
        return meta

    def _dataset_problems(self, meta: DatasetVersion) -> list[str]:
        """What is wrong with a data set version's stored files (``location`` checked)."""
        from ..data.datastore import FolderDatastore, datastore_of

        label = f"dataset {meta['name']}:{meta['version']}"
        store = datastore_of(meta, self.root)
        if store is None:
            store = FolderDatastore(Path(meta["location"]).parent.parent)
        return store.problems(meta, label)

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
        """Metadata of one environment version, its package list included; MetadataError
        when its ``lock_file`` is not one of its listed files."""
        meta = self.environments.read(name, version)
        _lock_file(meta)
        return meta

    def list_environments(self) -> list[EnvironmentVersion]:
        """The latest version of every environment, with ``versions`` set to their count."""
        return [
            {**self.get_environment(name), "versions": len(self.environments.versions(name))}
            for name in self.environments.names()
        ]

    # -------------------------------------------------------------------- runs
    def run_folder(self, experiment: str, run_id: str) -> Path:
        """Where the run ``run_id`` of ``experiment`` keeps its record and files; refused
        (MetadataError) when it, or the registry's ``.tmp/`` its record is written
        through, would lie outside the registry through a link."""
        folder = self.runs_root / check_name(experiment, "experiment name") / run_id
        for path in (folder, self.staging):
            self.contained(path, f"run {run_id}")
        return folder

    def get_run(self, run_id: str, so_far: bool = True) -> RunRecord:
        """The record of one run, found by its id; a Running run whose process is gone
        reads as ``Lost``. A run that has not ended has what it logged so far (see
        :func:`with_logged_so_far`) unless ``so_far`` is False (its status alone is
        wanted)."""
        path = self._run_record(run_id)
        record = _as_read(self._read_run(path), path.parent)
        return with_logged_so_far(record, path.parent) if so_far else record

    def _run_record(self, run_id: str) -> Path:
        if not RUN_ID_PATTERN.fullmatch(run_id):
            raise InvalidNameError(
                f"invalid run id {run_id!r}: expected "
                "<experiment>_<unix seconds>_<8 hex digits>, e.g. sklearn-iris_1795524285_9d28c5b6"
            )
        for record in self.runs_root.glob(f"*/{run_id}/run.json"):
            return record
        raise NotFoundError(f"no run with id {run_id!r} in {self.root}")

    def list_runs(
        self,
        experiment: str | None = None,
        skipped: list[str] | None = None,
        so_far: bool = False,
    ) -> list[RunRecord]:
        """Run records, oldest first; only those of ``experiment`` when given. A Running
        run whose process is gone reads as ``Lost``. With ``so_far``, a run that has not
        ended has what it logged so far, as :meth:`get_run` gives it (only those runs'
        event logs are read).

        A record that cannot be read, or whose paths leave its run folder, is left out
        (``snakeyard verify`` reports it); ``skipped`` (when given) gets a line naming it.
        """
        if experiment is not None:
            check_name(experiment, "experiment name")
        pattern = f"{experiment or '*'}/*/run.json"
        records = []
        for path in self.runs_root.glob(pattern):
            try:
                record = _as_read(self._read_run(path), path.parent)
                records.append(with_logged_so_far(record, path.parent) if so_far else record)
            except FileNotFoundError:
                continue  # removed since the glob saw it: nothing to warn about
            except (OSError, ValueError, SnakeyardError) as error:
                if skipped is not None:  # unreadable or refused
                    skipped.append(f"run {path.parent.name} left out: {error}")
                continue
        return sorted(records, key=lambda r: (r.get("start") or "", r.get("id", "")))

    def run_lines(
        self, experiment: str | None = None, skipped: list[str] | None = None,
        heads: bool = False, limit: int | None = None, newest: bool = False,
    ) -> list[str]:
        """The index line of every readable run (of ``experiment``), oldest first: what
        ``runs list`` shows, in :func:`~snakeyard.registry.index.run_line`'s form (only
        the fields before the JSON with ``heads``; only the ``limit`` oldest, or
        ``newest``, runs' with ``limit``). The run folders decide which runs exist; a
        Running run is read from its record. A record that cannot be read is left out,
        with a line in ``skipped`` when given."""
        if experiment is not None:
            check_name(experiment, "experiment name")
        return self.run_index.lines(experiment, skipped, heads, limit, newest)

    def _read_run_as_read(self, path: Path) -> RunRecord:
        """A run record as listings show it: a run still training with what it logged so
        far (:func:`with_logged_so_far`; only those runs' event logs are read)."""
        return with_logged_so_far(_as_read(self._read_run(path), path.parent), path.parent)

    def rebuild_index(self) -> tuple[int, int]:
        """Write every listing index afresh from the folders; (model names, experiments)."""
        names, experiments = self.models.names(), self.run_index.experiments()
        for name in names:
            self.model_index.rebuild(name)
        for experiment in experiments:
            self.run_index.rebuild(experiment)
        return len(names), len(experiments)

    def settle_run(self, run_id: str, force: bool = False) -> RunRecord:
        """Record a run whose process is gone as Failed, with what it logged until then.

        Refuses a run that has ended, and one whose process still looks alive (on this
        host, or by a recent heartbeat) unless ``force``: for a node that the checks
        cannot see, or a process known to be stuck.
        """
        from ..training.runner import now, record_results

        path = self._run_record(run_id)
        record = self._read_run(path)
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
            [f"settled by {user()}@{platform.node()} at {now()}: {why}", *problems]
        )
        if read_json(path)["status"] != "Running":
            raise SnakeyardError(f"run {run_id} ended while it was being settled; left as it is")
        self.contained(self.staging, f"run {run_id}")
        make_folders(self.staging)
        write_json_atomic(path, record, staging=self.staging)
        self.run_index.note(record, path.parent)
        return record

    def _read_run(self, path: Path) -> RunRecord:
        """The run record ``path`` (see :func:`read_run`), refused when a link leads it, or
        its run folder, out of the registry."""
        self.contained(path, f"run {path.parent.name}")
        return read_run(path)

    # ------------------------------------------------------------------ verify
    def verify(self) -> Iterator[tuple[str, list[str]]]:
        """Check every version and run record; yield ``(label, problems)`` for each.

        Problems are files whose sha256 differs or that are missing, files present but
        not listed, paths in metadata that leave their folder, folders of the registry
        that lead out of it, metadata files that cannot be read, and run folders without
        a record; each is described and the check goes on to the end.
        """
        checks = (
            (self.models, self._model_problems),
            (self.datasets, self._dataset_version_problems),
            (self.environments, self._environment_problems),
        )
        for store, check in checks:
            for label, folder in store.each_version():
                yield label, _problems_of(label, _check_version, store, folder, check)
        for folder in sorted(self.runs_root.glob("*/*")):
            if folder.is_dir() and not folder.name.startswith("."):  # not .index/
                label = f"run {folder.name}"
                yield label, _problems_of(label, self._run_problems, folder, label)
        for store in (self.models, self.datasets):
            for name in store.names():
                if store.lifecycle.history_folder(name).is_dir():
                    label = f"history of {store.kind} {name}"
                    yield label, _problems_of(label, _history_problems, store, name)
        # the listing index last, and only when a summary disagrees with its folder
        index = [
            *(p for name in self.models.names() for p in self.model_index.problems(name)),
            *(p for e in self.run_index.experiments() for p in self.run_index.problems(e)),
        ]
        if index:
            yield "index", index

    def _run_problems(self, folder: Path, label: str) -> list[str]:
        record = folder / "run.json"
        self.contained(record, label)
        if not record.exists():
            # a run whose setting up failed (a full disk) and whose folder could not be
            # removed; or one being set up at this very instant
            return [
                f"{label}: {folder} has no run.json (a run that could not be set up; "
                "delete the folder unless a run is starting in it now)"
            ]
        return _record_and_problems(record)[1]

    def _model_problems(self, meta: ModelVersion) -> list[str]:
        label = f"model {meta['name']}:{meta['version']}"
        artifacts = Path(meta["path"]) / "artifacts"
        return (
            _raised(_listed_artifact, meta, label)
            + check_manifest(artifacts, meta["files"], label)
            + unlisted_files(artifacts, meta["files"], label)
        )

    def _dataset_version_problems(self, meta: DatasetVersion) -> list[str]:
        try:
            located = self._with_location(meta)
        except MetadataError as error:
            # no folder to hash; the entries can still be checked
            label = f"dataset {meta['name']}:{meta['version']}"
            return [str(error), *entry_problems(meta.get("files"), label)[1]]
        return self._dataset_problems(located)

    def _environment_problems(self, meta: EnvironmentVersion) -> list[str]:
        label = f"environment {meta['name']}:{meta['version']}"
        folder = Path(meta["path"])
        return (
            _raised(_lock_file, meta)
            + check_manifest(folder, meta["files"], label)
            + unlisted_files(folder, meta["files"], label, expected=[self.environments.meta_file])
        )


def _problems_of(label: str, check: Callable[..., list[str]], *args: Any) -> list[str]:
    """The problems ``check(*args)`` finds, or the one that stopped it, as lines."""
    try:
        return check(*args)
    except (SnakeyardError, OSError) as error:
        text = str(error)
        return [text if text.startswith(label) else f"{label}: {text}"]
    except (KeyError, TypeError, AttributeError) as error:
        # a metadata file written by hand may lack a field or hold the wrong type
        return [f"{label}: invalid metadata ({type(error).__name__}: {error})"]


def _check_version(
    store: VersionStore, folder: Path, check: Callable[[Any], list[str]]
) -> list[str]:
    meta = store.read_folder(folder)
    if "deleted" in version_state(store.lifecycle.state(meta["name"]), meta["version"]):
        return []  # a tombstone: its record is read, its files are gone (or going)
    return check(meta)


def _history_problems(store: VersionStore, name: str) -> list[str]:
    """Every event of ``name`` must be readable, and name versions that exist."""
    problems, numbers = [], set(store.versions(name))
    for event in store.lifecycle.events(name):
        named = [event.get("version"), event.get("to") if event["action"] == "alias" else None]
        for number in filter(None, named):
            if number not in numbers:
                problems.append(
                    f"history of {store.kind} {name}: event {event['seq']} names version "
                    f"{number}, which does not exist"
                )
    return problems


def _raised(check: Callable[..., Any], *args: Any) -> list[str]:
    """The MetadataError ``check(*args)`` raises, as a list of one line (else empty): for
    a check that stops at its one fault, among others that report and go on."""
    try:
        check(*args)
    except MetadataError as error:
        return [str(error)]
    return []


def _artifact_name(meta: ModelVersion) -> str:
    """A model version's ``artifact``, checked: one name under ``artifacts/``, no link out."""
    label = f"model {meta['name']}:{meta['version']}"
    artifact = meta.get("artifact")
    if not isinstance(artifact, str) or "/" in artifact:
        raise MetadataError(
            f"{label}: artifact {artifact!r} is refused: expected the name of a file or "
            "folder under artifacts/"
        )
    inside(Path(meta["path"]) / "artifacts", artifact, label)
    return artifact


def _listed_artifact(meta: ModelVersion, label: str) -> list[str]:
    """The listed files of a model version's artifact: the artifact itself, or those
    below an artifact folder; MetadataError when it has none (nothing checks its bytes)."""
    artifact = _artifact_name(meta)
    listed = _listed_paths(meta)
    if artifact in listed:
        return [artifact]
    below = [path for path in listed if isinstance(path, str) and path.startswith(f"{artifact}/")]
    if not below:
        raise MetadataError(f"{label}: artifact {artifact!r} is not among the listed files")
    return below


def load_listed_model(
    meta: ModelVersion, artifacts: Path, mismatch: str | None = None
) -> Any:
    """Deserialise the loadable file of a model version whose files lie below
    ``artifacts`` (a registry version's folder, or a deployment bundle's copy).

    Its bytes are read once, hashed, and unpickled from memory, so nothing can replace
    the file between the check and the load. ``mismatch`` (a scikit-learn version
    mismatch, see :meth:`Registry._sklearn_mismatch`) is warned once as a
    :class:`FrameworkVersionWarning`, instead of scikit-learn's warning per estimator.
    """
    label = f"model {meta['name']}:{meta['version']}"
    relpath = _loadable_file(meta, label)
    data = read_listed(artifacts, meta["files"], relpath, label)
    import joblib

    with warnings.catch_warnings():
        if mismatch:
            warnings.warn(mismatch, FrameworkVersionWarning, stacklevel=3)
            from sklearn.exceptions import InconsistentVersionWarning

            warnings.simplefilter("ignore", InconsistentVersionWarning)
        try:
            return joblib.load(io.BytesIO(data))
        except Exception as error:  # unpickling can raise anything
            raise SnakeyardError(
                f"{label}: cannot load {relpath} with joblib ({type(error).__name__}: {error})"
            ) from error


def _loadable_file(meta: ModelVersion, label: str) -> str:
    """The listed file that :meth:`Registry.load_model` unpickles: the artifact itself,
    or the one ``.joblib``/``.pkl`` file listed under an artifact folder."""
    artifact, below = meta["artifact"], _listed_artifact(meta, label)
    suffixes = "/".join(LOADABLE_SUFFIXES)
    if below == [artifact]:
        if PurePosixPath(artifact).suffix not in LOADABLE_SUFFIXES:
            raise SnakeyardError(
                f"{label} artifact {artifact} is not a {suffixes} file; "
                "use get_model() and read it yourself"
            )
        return artifact
    candidates = [path for path in below if PurePosixPath(path).suffix in LOADABLE_SUFFIXES]
    if len(candidates) != 1:
        raise SnakeyardError(
            f"{label} is a folder of {len(below)} listed files without exactly one "
            f"{suffixes} file; use get_model() and read {meta['artifact_path']} yourself"
        )
    return candidates[0]


def read_run(path: Path) -> RunRecord:
    """The run record ``path`` (``<experiment>/<run id>/run.json``), checked.

    ``folder`` is set to where the record is (a registry may have moved since the run),
    and the images and uploads it names must stay inside the run folder, the outputs
    be plain relative paths, and the fields readers use be of their types
    (:func:`run_field_problems`); otherwise MetadataError names the record and every
    such path and field.
    """
    record, problems = _record_and_problems(path)
    if problems:
        raise MetadataError("; ".join(problems))
    return record


def _record_and_problems(path: Path) -> tuple[RunRecord, list[str]]:
    """The run record ``path`` and what is wrong with its status, fields and the paths
    it names, one line each; MetadataError when it is not the record of its folder."""
    record = read_json(path)
    folder = path.parent
    found = (record.get("experiment"), record.get("id")) if isinstance(record, dict) else record
    if found != (folder.parent.name, folder.name):
        raise MetadataError(
            f"{path} is not the record of run {folder.name} of experiment "
            f"{folder.parent.name} (it holds experiment and id {found!r})"
        )
    label = f"run {folder.name}"
    problems = []
    if record.get("status") not in RUN_STATUSES:
        problems.append(
            f"{label}: status is {record.get('status')!r} in {path}, expected one of "
            f"{', '.join(RUN_STATUSES)}"
        )
    problems += run_field_problems(record, f"{label}: ", f" in {path}")
    for kind in ("images", "uploads"):
        logged = record.get(kind) or {}
        if not isinstance(logged, dict):
            problems.append(f"{label}: {kind} is {logged!r}, expected name to {{path, sha256}}")
            continue
        for name, entry in logged.items():
            relpath = entry.get("path") if isinstance(entry, dict) else entry
            problems += _raised(inside, folder, relpath, f"{label}: {kind[:-1]} {name!r}")
    # outputs are listed as the script left them (links included) and opened by nobody
    # through the record: their paths need only be plain relative ones
    problems += entry_problems(record.get("outputs") or [], f"{label}: outputs")[1]
    record["folder"] = str(resolved(folder, label))
    return record, problems


# what listings, `runs show` and `runs compare` use from a run record straight away,
# and the types it may have (RunRecord): a field of another type, from an edit by hand,
# would stop them with a traceback. An older record may lack any but ``start``.
_RUN_FIELDS: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("start", (str,), "the UTC time the run started, e.g. 2026-11-30T10:00:00Z"),
    ("exit_code", (int, type(None)), "an integer or null"),
    ("host", (str, type(None)), "a host name or null"),
    ("metrics", (dict,), "an object of metric names to values"),
    ("arguments", (dict, list), "an object of argument names to values, or a list"),
    ("trial", (dict, type(None)), "{id, parameters} or null"),
    ("tags", (dict,), "an object of tag names to texts"),
    ("duration_seconds", (int, float, type(None)), "a number of seconds or null"),
    ("end_unix", (int, float, type(None)), "a time in seconds since 1970 or null"),
)


def run_field_problems(record: dict[str, Any], label: str = "", where: str = "") -> list[str]:
    """What is wrong with the types of the run record fields readers use (one line each,
    starting with ``label``, ``where`` after the field's name); empty when all is well.

    A few isinstance checks: listings read records of every run their index lacks.
    """
    problems = []
    for key, types, expected in _RUN_FIELDS:
        if key not in record:
            if key == "start":  # every listing orders runs by it
                problems.append(f"{label}start is missing{where}, expected {expected}")
            continue
        value = record[key]
        if not isinstance(value, types) or isinstance(value, bool):
            problems.append(f"{label}{key} is {_cut(value)}{where}, expected {expected}")
    trial = record.get("trial")
    if isinstance(trial, dict) and not (
        isinstance(trial.get("id"), str) and isinstance(trial.get("parameters"), dict)
    ):
        problems.append(
            f"{label}trial is {_cut(trial)}{where}, expected {{id, parameters}} or null "
            "(id a text, parameters an object)"
        )
    return problems


def model_field_problems(meta: dict[str, Any]) -> list[str]:
    """What is wrong with the types of the model version fields readers use (listings,
    `models show`, serving), one line each; empty when all is well. A version
    registered before a field existed may lack it."""
    problems = []
    if not isinstance(meta.get("metrics", {}), dict):
        metrics = _cut(meta["metrics"])
        problems.append(f"metrics is {metrics}, expected an object of metric names to values")
    for key in ("framework", "framework_version"):
        if not isinstance(meta.get(key), str | None):
            problems.append(f"{key} is {_cut(meta[key])}, expected a text or null")
    if not isinstance(meta.get("created", ""), str):
        problems.append(f"created is {_cut(meta['created'])}, expected a UTC time as text")
    if not isinstance(meta.get("tags", {}), dict):
        problems.append(f"tags is {_cut(meta['tags'])}, expected an object of tag names to texts")
    signature = meta.get("signature")
    if signature is not None:
        # the one shape check of a signature, which the register stage uses too
        from ..serving.signature import signature_problem

        problem = signature_problem(signature)
        if problem:
            problems.append(f"signature is {_cut(signature)}: {problem}")
    return problems


def _cut(value: Any, limit: int = 40) -> str:
    """``value`` as a message names it: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_read(record: RunRecord, folder: Path) -> RunRecord:
    """A run record as readers report it: ``Lost`` (and ``lost``, saying why) for a
    Running run whose process is gone. The file itself is left as it is."""
    seen = judge(record, folder)
    if seen is not None and seen.lost:
        record["status"] = "Lost"
        record["lost"] = seen.reason
    return record


def with_logged_so_far(record: RunRecord, folder: Path) -> RunRecord:
    """A run that has not ended (Running or Lost) with what its script has logged so far:
    metrics, tags, images and uploads folded from its ``events.jsonl`` the way its final
    record will be, and ``elapsed_seconds`` since it started. An ended run is returned
    as it is."""
    if record["status"] not in ("Running", "Lost"):
        return record
    from ..training.run_api import read_logged

    record["metrics"], record["tags"], logged_files = read_logged(folder)
    for kind, files in logged_files.items():
        # the script writes events.jsonl: a path leading out of the run folder is left out
        record[kind] = {  # type: ignore[literal-required]
            name: {"path": path} for name, path in files.items() if not _raised(
                inside, folder, path, f"run {record['id']}: {kind[:-1]} {name!r}")
        }  # fmt: skip
    start = record.get("start_unix")  # absent from records written by hand or long ago
    if isinstance(start, (int, float)) and not isinstance(start, bool):
        until = time.time()
        if record["status"] == "Lost":
            # its process is gone: it ran until its last sign of life, not until now
            until = _last_sign_of_life(folder) or until
        record["elapsed_seconds"] = round(max(0.0, until - float(start)), 1)
    return record


def _last_sign_of_life(folder: Path) -> float | None:
    """When a run last showed it was alive: the latest modification time (s since the
    epoch) of its heartbeat file and its event log; None when it left neither."""
    times = []
    for name in (HEARTBEAT_FILE, "events.jsonl"):
        try:
            times.append(os.stat(folder / name).st_mtime)
        except OSError:
            continue
    return max(times, default=None)


def _download_target(dest: Path) -> Path:
    """The folder ``models download`` makes: ``dest``, or the empty folder it links to.

    Refused: a ``dest`` that exists and is not an empty folder, a link to nothing, and a
    parent folder that does not exist (a typo should not create a tree of folders).
    """
    refused = f"cannot download into {dest}"
    target = resolved(dest, refused) if dest.is_symlink() else dest
    if dest.is_symlink() and not target.exists():
        raise SnakeyardError(f"{refused}: it is a symbolic link to {target}, which does not exist")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise SnakeyardError(f"{refused}: it exists and is not an empty folder")
    if not target.parent.is_dir():
        raise SnakeyardError(
            f"{refused}: its parent folder {target.parent} does not exist; create it first"
        )
    return target


def _lock_file(meta: EnvironmentVersion) -> str | None:
    """An environment version's ``lock_file``, checked: one of its listed files, or
    null for a version without a lock (a recorded interpreter has none; using a version
    whose method needs one then fails on the missing lock)."""
    # imported here: reading runs (`runs show`) needs nothing of environments.specs
    from ..environments.specs import METHOD_RECORDED

    recorded = meta.get("method") == METHOD_RECORDED
    # versions written before lock_file existed kept their lock as conda-lock.yml
    lock = meta.get("lock_file", None if recorded else "conda-lock.yml")
    if lock is None:
        return None
    listed = _listed_paths(meta)
    if not isinstance(lock, str) or lock not in listed:
        accepted = ", ".join(map(str, listed)) or "none"
        raise MetadataError(
            f"environment {meta['name']}:{meta['version']}: lock_file {lock!r} is refused: "
            f"expected one of its listed files ({accepted}), or null"
        )
    return lock


def _listed_paths(meta: ModelVersion | EnvironmentVersion) -> list[Any]:
    """The ``path`` of every entry of a version's ``files``, whatever their shape."""
    files = meta.get("files")
    return [e.get("path") for e in files if isinstance(e, dict)] if isinstance(files, list) else []


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
