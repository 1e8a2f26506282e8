"""The Run API that training scripts call: ``Run.get_context().log(name, value)``.

Standard library only, so it imports in any training environment. Inside a snakeyard
run (``SNAKEYARD_RUN_DIR`` is set by the runner) every call appends one JSON line to
``<run dir>/events.jsonl``, flushed at once, so the metrics of a script that crashes
half-way are kept; in an MPI run, ranks other than 0 append to
``<run dir>/ranks/<rank>/events.jsonl`` instead. Outside a run the calls print what they
would have logged and do nothing else, so the same script also runs by hand.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

RUN_DIR_VARIABLE = "SNAKEYARD_RUN_DIR"
RUN_ID_VARIABLE = "SNAKEYARD_RUN_ID"
EXPERIMENT_VARIABLE = "SNAKEYARD_EXPERIMENT"
EVENTS_FILE = "events.jsonl"
# set by the runner in an MPI run: ranks other than 0 log apart (see _rank_folder)
MPI_VARIABLE = "SNAKEYARD_MPI"


def _plain(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (numpy scalars and arrays become Python values)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


class Run:
    """The run a training script is part of; get it with :meth:`Run.get_context`."""

    _context: Run | None = None

    def __init__(self, run_dir: str | None, run_id: str, experiment: str | None):
        self._dir = run_dir
        self.id = run_id
        self.experiment = experiment
        self._metrics: dict[str, Any] = {}
        self._tags: dict[str, str] = {}

    @classmethod
    def get_context(cls) -> Run:
        """The current run, or an offline run that prints when outside the workflow."""
        if cls._context is None:
            run_dir = _rank_folder(os.environ.get(RUN_DIR_VARIABLE) or None)
            run_id = os.environ.get(RUN_ID_VARIABLE) or "OfflineRun"
            cls._context = cls(run_dir, run_id, os.environ.get(EXPERIMENT_VARIABLE))
        return cls._context

    @property
    def offline(self) -> bool:
        """True when the script runs by hand, outside a snakeyard run."""
        return self._dir is None

    def log(self, name: str, value: Any, description: str = "") -> None:
        """Log a scalar metric; logging one name again makes it a list of values."""
        value = _plain(value)
        if name in self._metrics:
            self._append(name, value)
        else:
            self._metrics[name] = value
        self._emit("metric", name, value, f"Attempted to log scalar metric {name}: {value}")

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        """Log a list of values under one metric name."""
        value = _plain(list(value))
        self._metrics[name] = value
        self._emit("list", name, value, f"Attempted to log list metric {name}: {value}")

    def log_row(self, name: str, description: str = "", **row: Any) -> None:
        """Log one row of a table metric (keyword arguments are the columns)."""
        row = _plain(row)
        self._append(name, row)
        self._emit("row", name, row, f"Attempted to log row metric {name}: {row}")

    def tag(self, key: str, value: Any = "") -> None:
        """Attach a tag to the run."""
        self._tags[key] = str(value)
        self._emit("tag", key, str(value), f"Attempted to set tag {key}: {value}")

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Attach several tags at once."""
        for key, value in tags.items():
            self.tag(key, value)

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """Metrics logged by this process so far, as ``{name: value or [values]}``."""
        if name is not None:
            return {name: self._metrics[name]} if name in self._metrics else {}
        return dict(self._metrics)

    def get_tags(self) -> dict[str, str]:
        """Tags set by this process so far."""
        return dict(self._tags)

    def _append(self, name: str, value: Any) -> None:
        previous = self._metrics.get(name, [])
        self._metrics[name] = (previous if isinstance(previous, list) else [previous]) + [value]

    def _emit(self, kind: str, name: str, value: Any, offline_message: str) -> None:
        if self._dir is None:
            print(offline_message, file=sys.stdout, flush=True)
            return
        line = json.dumps({"kind": kind, "name": name, "value": value})
        with open(os.path.join(self._dir, EVENTS_FILE), "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def _rank_folder(run_dir: str | None) -> str | None:
    """Where this process logs: the run folder, or for rank N > 0 of an MPI run
    (``SNAKEYARD_MPI`` set) its ``ranks/N/``, kept out of the run's record."""
    if run_dir is None or not os.environ.get(MPI_VARIABLE):
        return run_dir
    for variable in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"):
        rank = os.environ.get(variable)
        if rank:
            break
    if not rank or rank == "0":
        return run_dir
    folder = os.path.join(run_dir, "ranks", rank)
    os.makedirs(folder, exist_ok=True)
    return folder


def _events(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The events of a run's ``events.jsonl``, oldest first.

    A line cut short by a killed script, or one that is not a JSON object, is skipped.
    """
    try:
        with open(os.path.join(run_dir, EVENTS_FILE), encoding="utf-8") as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _name(name: Any) -> str:
    """A metric or tag name as the record's JSON can hold it: a name that is not a string
    (written by a script, not by :class:`Run`) becomes its JSON text, ``1`` or ``null``."""
    return name if isinstance(name, str) else json.dumps(name, sort_keys=True)


def read_events(run_dir: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    """Fold a run's ``events.jsonl`` into its metrics and tags, the way :class:`Run` does."""
    replay = Run(None, "replay", None)
    replay._emit = lambda *args: None  # type: ignore[method-assign]
    for event in _events(run_dir):
        kind, name, value = event.get("kind"), _name(event.get("name")), event.get("value")
        if kind == "metric":
            replay.log(name, value)
        elif kind == "list":
            replay.log_list(name, value if isinstance(value, list) else [value])
        elif kind == "row":
            replay._append(name, value)
        elif kind == "table":
            replay._metrics[name] = value
        elif kind == "tag":
            replay.tag(name, value)
    return replay.get_metrics(), replay.get_tags()


def read_files(run_dir: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Images and uploaded files a run logged: ``{"images": {name: path}, "uploads": ...}``.

    Paths are relative to the run folder; a name logged again points at its last file.
    """
    found: dict[str, dict[str, str]] = {"images": {}, "uploads": {}}
    for event in _events(run_dir):
        kind, value = event.get("kind"), event.get("value")
        if kind in ("image", "upload") and isinstance(value, str):
            found[kind + "s"][_name(event.get("name"))] = value
    return found
