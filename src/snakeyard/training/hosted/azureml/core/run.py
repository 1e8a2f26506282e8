"""``from azureml.core.run import Run`` for training scripts written for Azure ML.

A script that calls ``Run.get_context()`` and then the logging calls (``log``,
``log_list``, ``log_row``, ``log_table``, ``log_image``, ``tag``, ``set_tags``,
``upload_file``), reads the run (``id``, ``experiment.name``, ``experiment.workspace``,
``input_datasets``, ``parent``, ``get_metrics``, ``get_details``, ``get_file_names``,
``download_file``), registers a model (``register_model``), marks it (``add_properties``,
``fail``, ``cancel``) or makes child runs (``child_run``, ``create_children``) runs
through snakeyard unchanged: what it logs lands in the snakeyard run record. Outside a
snakeyard run the calls print what they would have logged and do nothing else, like the
SDK's offline run (an :class:`_OfflineRun`, whose ``id`` starts with ``OfflineRun``).
Anything else names itself as not provided (see ``_missing.py``). Built on
:class:`snakeyard.training.run_api.Run`, standard library only until a script asks for
the registry (a workspace, data set or model).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from typing import Any

from snakeyard.training import run_api as _run
from snakeyard.training.run_extras import CHILDREN, PARENT_DIR_VARIABLE

from ._binding import input_datasets
from ._missing import module_getattr, not_provided

# the runner's STDOUT_LOG, inside the run's work/ (not imported: the runner is not
# standard library only)
STD_LOG = "logs/std_log.txt"


def sweep_parent_placeholder_id(experiment: str) -> str:
    """What a sweep trial's ``run.parent.id`` is: ``<experiment>_0_00000000``, a valid
    run id (so tools that check ids accept it) that no recorded run has, since real ids
    hold the start time (see ``training.runner.new_run_id``)."""
    return f"{experiment}_0_00000000"


class Run(_run.Run):
    """The current run, with the Azure ML SDK's method names."""

    _context: Run | None = None

    def __init__(self, run_dir: str | None, run_id: str, experiment: Any,
                 parent: Run | None = None):  # fmt: skip
        super().__init__(run_dir, run_id, None)
        from .experiment import Experiment

        self.experiment = experiment if isinstance(experiment, Experiment) else Experiment(
            name=experiment
        )
        self._parent = parent
        self._properties: dict[str, str] = {}
        self._status = "Running"
        self._children: list[Run] = []
        self._display_name: str | None = None

    @classmethod
    def get_context(cls, allow_offline: bool = True, **_: Any) -> Run:
        """The snakeyard run this script is part of, else an offline run that prints."""
        if Run._context is None:
            run_dir = os.environ.get(_run.RUN_DIR_VARIABLE) or None
            if run_dir is None and not allow_offline:
                raise RuntimeError("not inside a snakeyard run and allow_offline is False")
            if run_dir is None:
                Run._context = _OfflineRun(None, f"OfflineRun_{uuid.uuid4()}", None)
            else:
                Run._context = Run(
                    run_dir, os.environ[_run.RUN_ID_VARIABLE],
                    os.environ.get(_run.EXPERIMENT_VARIABLE),
                )  # fmt: skip
        return Run._context

    def __getattr__(self, name: str) -> Any:
        raise not_provided("azureml.core.Run", name)

    # ------------------------------------------------------------ what the run is
    @property
    def parent(self) -> Run | None:
        """The parent run: for a sweep trial the sweep's parent run, whose ``log`` and
        ``tag`` land in the sweep's record; for a child run the run that made it; else
        None, as for the SDK's offline run.

        A trial cannot know its sweep's parent run id: the sweep stage gives the parent
        run its id when it records it, after the trials. Until then ``run.parent.id`` is
        a placeholder shaped like a run id (:func:`sweep_parent_placeholder_id`) that
        names no run; the real id is in ``results/<experiment>/sweep.json``
        (``parent_run.id``)."""
        if self._parent is None and self._dir is not None:
            folder = os.environ.get(PARENT_DIR_VARIABLE)
            if folder:
                os.makedirs(folder, exist_ok=True)
                name = self.experiment.name
                self._parent = Run(folder, sweep_parent_placeholder_id(name), self.experiment)
        return self._parent

    @property
    def number(self) -> int:
        """A run number; snakeyard's ids are not numbered, so always 1."""
        return 1

    @property
    def display_name(self) -> str:
        """The run's display name, its id unless the script sets one."""
        return self._display_name or self.id

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._display_name = str(value)

    @property
    def name(self) -> str:
        """The run's name, as ``display_name``."""
        return self.display_name

    @property
    def input_datasets(self) -> dict[str, Any]:
        """The experiment's data set, under its name in the configuration's ``datasets``
        and, if the experiment sets ``input_name``, under that name too (the hosted
        ``dataset.as_named_input(name)``)."""
        from .dataset import from_receipt

        return {key: from_receipt(receipt, key) for key, receipt in input_datasets().items()}

    def get_status(self) -> str:
        """``Running`` while the script runs; ``Failed``/``Canceled`` after :meth:`fail`
        or :meth:`cancel`, ``Completed`` after :meth:`complete`."""
        return self._status

    def get_details(self) -> dict[str, Any]:
        """What the hosted SDK's ``get_details()`` gives, from the snakeyard record."""
        record = self._run_record()
        return {
            "runId": self.id,
            "displayName": self.display_name,
            "target": "local",
            "status": self._status,
            "startTimeUtc": record.get("start"),
            "endTimeUtc": record.get("end"),
            "properties": dict(self._properties),
            "tags": self.get_tags(),
            "inputDatasets": [
                {"dataset": {"name": d["name"], "version": d["version"]}, "consumptionDetails":
                 {"inputName": key}} for key, d in input_datasets().items()
            ],  # fmt: skip
            "runDefinition": {
                "script": record.get("script"),
                "arguments": record.get("command", [])[2:],
            },
            "logFiles": {STD_LOG: os.path.join(self._work(), STD_LOG)}
            if self._dir else {},
        }

    def get_file_names(self) -> list[str]:
        """The run's files: uploads and images by name, ``outputs/...`` and ``logs/...``."""
        if self._dir is None:
            return []
        names = set()
        for files in _run.read_files(self._dir).values():
            names.update(files)
        for folder in ("outputs", "logs"):
            top = os.path.join(self._work(), folder)
            for where, _dirs, files in os.walk(top):
                for file in files:
                    path = os.path.relpath(os.path.join(where, file), self._work())
                    names.add(path.replace(os.sep, "/"))
        return sorted(names)

    def download_file(self, name: str, output_file_path: str | os.PathLike | None = None,
                      **_: Any) -> None:  # fmt: skip
        """Copy the run's file ``name`` (see :meth:`get_file_names`) to
        ``output_file_path`` (a file or a folder; default the current folder)."""
        source = self._file(name)
        target = os.fspath(output_file_path or os.path.basename(name))
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(name))
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        shutil.copyfile(source, target)

    def download_files(self, prefix: str | None = None, output_directory: str | None = None,
                       append_prefix: bool = True, **_: Any) -> None:  # fmt: skip
        """Copy every file whose name starts with ``prefix`` into ``output_directory``."""
        for name in self.get_file_names():
            if prefix and not name.startswith(prefix):
                continue
            kept = name if append_prefix or not prefix else name[len(prefix):].lstrip("/")
            self.download_file(name, os.path.join(output_directory or ".", kept))

    def get_metrics(self, name: str | None = None, recursive: bool = False,
                    **_: Any) -> dict[str, Any]:  # fmt: skip
        """Metrics logged so far; with ``recursive``, ``{run id: metrics}`` of this run
        and its child runs."""
        own = super().get_metrics(name)
        if not recursive:
            return own
        found = {self.id: own}
        for child in self._children:
            found.update(child.get_metrics(name, recursive=True))
        return found

    # ------------------------------------------------------------ marking the run
    def add_properties(self, properties: dict[str, Any]) -> None:
        """Attach properties (kept as ``properties`` in the run record)."""
        for key, value in properties.items():
            self._properties[str(key)] = str(value)
            self._emit("property", str(key), str(value), f"Attempted to add property {key}")

    def add_type_provider(self, *_: Any, **__: Any) -> None:
        """Nothing to do: snakeyard has no run types."""

    def get_properties(self) -> dict[str, str]:
        """Properties added by this process so far."""
        return dict(self._properties)

    def fail(self, error_details: Any = None, error_code: str | None = None, **_: Any) -> None:
        """Mark the run Failed: its record says Failed with ``error_details`` even if the
        script then exits 0."""
        self._end("Failed", error_details or error_code or "")

    def cancel(self) -> None:
        """Mark the run Canceled: its record says Failed, canceled by the script."""
        self._end("Canceled", "")

    def complete(self, **_: Any) -> None:
        """Mark the run Completed (snakeyard completes it anyway when the script exits)."""
        if self._status == "Running":
            self._end("Completed", "")

    def flush(self, **_: Any) -> None:
        """Nothing to do: every call is written at once."""

    def _end(self, status: str, details: Any) -> None:
        self._status = status
        self._emit("status", status, str(details), f"Attempted to mark the run {status}")

    # ------------------------------------------------------------ child runs
    def child_run(self, name: str | None = None, run_id: str | None = None,
                  outputs: Any = None) -> Run:  # fmt: skip
        """A child run of this one: what it logs is kept under the parent's record
        (``children``), shown by ``snakeyard runs show``."""
        child_id = _safe(run_id or f"{self.id}_{len(self._children) + 1}")
        folder = None
        if self._dir is not None:
            folder = os.path.join(self._dir, CHILDREN, child_id)
            os.makedirs(folder, exist_ok=True)
        child = Run(folder, child_id, self.experiment, parent=self)
        if name:
            child.display_name = name
        self._children.append(child)
        self._emit("child", child_id, name or child_id, f"Attempted to start child run {child_id}")
        return child

    def create_children(self, count: int | None = None, tag_key: str | None = None,
                        tag_values: list[Any] | None = None) -> list[Run]:  # fmt: skip
        """``count`` child runs, or one per value of ``tag_values`` tagged ``tag_key``."""
        if tag_values is not None:
            children = []
            for value in tag_values:
                child = self.child_run()
                child.tag(tag_key or "", value)
                children.append(child)
            return children
        return [self.child_run() for _ in range(count or 0)]

    def get_children(self, **_: Any) -> list[Run]:
        """The child runs this process made."""
        return list(self._children)

    # ------------------------------------------------------------ models
    def register_model(self, model_name: str, model_path: str | None = None,
                       tags: dict[str, Any] | None = None,
                       properties: dict[str, Any] | None = None, description: str = "",
                       model_framework: str | None = None,
                       model_framework_version: str | None = None, **_: Any) -> Any:  # fmt: skip
        """Register ``model_path`` (relative to the run's working folder, e.g.
        ``outputs/model.pkl``) as the next version of ``model_name``, with this run's
        lineage: its id, experiment, data set, environment and metrics so far."""
        from ._binding import registry
        from .model import Model, _strings

        if self._dir is None:
            print(f"Attempted to register model {model_name} from {model_path}", flush=True)
            return None
        record = self._run_record()
        path = os.path.join(self._work(), model_path or "outputs")
        meta = registry().register_model(
            model_name, path, framework=model_framework,
            framework_version=model_framework_version, description=description,
            tags=_strings({**(properties or {}), **(tags or {})}), run_id=self.id,
            experiment=self.experiment.name, dataset=record.get("dataset"),
            environment=record.get("environment"), metrics=self.get_metrics(),
        )  # fmt: skip
        self._emit("model", model_name, meta["version"], "")
        return Model(None, model_name, version=meta["version"])

    # ------------------------------------------------------------ helpers
    def _work(self) -> str:
        return os.path.join(self._dir, "work")

    def _run_record(self) -> dict[str, Any]:
        """The run's record as the runner wrote it when the script started."""
        if self._dir is None:
            return {}
        try:
            with open(os.path.join(self._dir, "run.json"), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}  # a child run's folder has no record of its own

    def _file(self, name: str) -> str:
        if self._dir is None:
            raise FileNotFoundError(f"an offline run has no file {name!r}")
        for files in _run.read_files(self._dir).values():
            if name in files:
                return os.path.join(self._dir, files[name])
        path = os.path.normpath(os.path.join(self._work(), name))
        if not path.startswith(self._work() + os.sep) or not os.path.isfile(path):
            raise FileNotFoundError(
                f"run {self.id} has no file {name!r}; its files: {', '.join(self.get_file_names())}"
            )
        return path

    def log_table(self, name: str, value: dict[str, list[Any]], description: str = "") -> None:
        """Log a table given as ``{column: [values, ...]}``."""
        self._record("table", name, value, f"Attempted to log table metric {name}: {value}")

    def upload_file(self, name: str, path_or_stream: Any, **_: Any) -> None:
        """Keep a file with the run, under ``name`` (for example ``outputs/report.txt``)."""
        if self._dir is None:
            print(f"Attempted to upload file {path_or_stream} as {name}", flush=True)
            return
        target = self._artifact("uploads", name)
        if hasattr(path_or_stream, "read"):
            with open(target, "wb") as handle:
                shutil.copyfileobj(path_or_stream, handle)
        else:
            shutil.copyfile(path_or_stream, target)
        self._emit("upload", name, os.path.relpath(target, self._dir), "")

    def upload_folder(self, name: str, path: str | os.PathLike, **_: Any) -> None:
        """Keep every file below ``path`` with the run, under ``name``."""
        for folder, _dirs, files in os.walk(path):
            for file in files:
                source = os.path.join(folder, file)
                inside = os.path.relpath(source, path).replace(os.sep, "/")
                self.upload_file(f"{name.rstrip('/')}/{inside}", source)

    def _record(self, kind: str, name: str, value: Any, offline_message: str) -> None:
        value = _run._plain(value)
        self._metrics[name] = value
        self._emit(kind, name, value, offline_message)

    def _artifact(self, kind: str, name: str) -> str:
        relative = os.path.normpath(name.replace("\\", "/"))
        if relative.startswith("..") or os.path.isabs(relative):
            raise ValueError(f"artifact name {name!r} must stay inside the run")
        target = os.path.join(self._dir, kind, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return target


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "image"


class _OfflineRun(Run):
    """The run of a script started by hand, outside snakeyard: it prints what it is
    given. Scripts test ``isinstance(run, _OfflineRun)`` or ``run.id.startswith(
    "OfflineRun")`` to tell; both work as with the hosted SDK."""


__getattr__ = module_getattr("azureml.core.run")
