"""``from azureml.core.run import Run`` for training scripts written for Azure ML.

A script that calls ``Run.get_context()`` and then ``log``, ``log_list``, ``log_row``,
``log_table``, ``log_image``, ``tag``, ``set_tags``, ``upload_file``, ``get_metrics``,
``parent`` or ``id`` runs through snakeyard unchanged: the calls are recorded in the
snakeyard run (metrics, tags, images and uploaded files in its run record). Outside a
snakeyard run they print what they would have logged and do nothing else, like the
SDK's offline run. Built on :class:`snakeyard.training.run_api.Run`, standard library only.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Any

from snakeyard.training import run_api as _run


class Run(_run.Run):
    """The current run, with the Azure ML SDK's method names."""

    _context: Run | None = None

    @classmethod
    def get_context(cls, allow_offline: bool = True, **_: Any) -> Run:
        """The snakeyard run this script is part of, else an offline run that prints."""
        if cls._context is None:
            run_dir = os.environ.get(_run.RUN_DIR_VARIABLE) or None
            if run_dir is None and not allow_offline:
                raise RuntimeError("not inside a snakeyard run and allow_offline is False")
            run_id = os.environ.get(_run.RUN_ID_VARIABLE) or f"OfflineRun_{uuid.uuid4()}"
            cls._context = cls(run_dir, run_id, os.environ.get(_run.EXPERIMENT_VARIABLE))
        return cls._context

    @property
    def parent(self) -> Run | None:
        """The parent run; snakeyard runs have none, so this is None, as for the SDK."""
        return None

    @property
    def number(self) -> int:
        """A run number; snakeyard's ids are not numbered, so always 1."""
        return 1

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

    def complete(self, **_: Any) -> None:
        """Nothing to do: snakeyard completes the run when the script exits."""

    def flush(self, **_: Any) -> None:
        """Nothing to do: every call is written at once."""

    def _record(self, kind: str, name: str, value: Any, offline_message: str) -> None:
        value = _run._plain(value)
        self._metrics[name] = value
        self._emit(kind, name, value, offline_message)
