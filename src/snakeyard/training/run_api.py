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
import math
import os
import shutil
import sys
from typing import Any

from ..errors import InvalidNameError

RUN_DIR_VARIABLE = "SNAKEYARD_RUN_DIR"
RUN_ID_VARIABLE = "SNAKEYARD_RUN_ID"
EXPERIMENT_VARIABLE = "SNAKEYARD_EXPERIMENT"
EVENTS_FILE = "events.jsonl"
TRIAL_CHANNEL_VARIABLE = "SNAKEYARD_TRIAL_CHANNEL"  # snakeyard.sweeps.channel's
OFFLINE_MESSAGES = {
    "metric": "Attempted to log scalar metric {name}: {value}",
    "list": "Attempted to log list metric {name}: {value}",
    "row": "Attempted to log row metric {name}: {value}",
    "tag": "Attempted to set tag {name}: {value}",
}
# one encoder for every event (json.dumps with options builds a new one at each call)
_ENCODER = json.JSONEncoder(allow_nan=False)
# set by the runner in an MPI run: ranks other than 0 log apart (see _rank_folder)
MPI_VARIABLE = "SNAKEYARD_MPI"


def _plain(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (numpy scalars and arrays become Python values).

    NaN and infinities become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``,
    as in every snakeyard file (``snakeyard.files.strict_json``): strict JSON has no
    such numbers.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else json.dumps(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if hasattr(value, "item"):
        return _plain(value.item())
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
        self._events: int | None = None  # events.jsonl, opened for appending at first use

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
        _check_name(name, "metric")
        value = _plain(value)
        self._fold("metric", name, value)
        self._emit("metric", name, value)
        if self._dir is not None and os.environ.get(TRIAL_CHANNEL_VARIABLE):
            # a sweep trial with an early termination policy or a time budget: its stage
            # decides whether it goes on (snakeyard.sweeps.channel, standard library only)
            from ..sweeps.channel import report

            report(name, value)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        """Log a list of values under one metric name."""
        _check_name(name, "metric")
        value = _plain(list(value))
        self._fold("list", name, value)
        self._emit("list", name, value)

    def log_row(self, name: str, description: str = "", **row: Any) -> None:
        """Log one row of a table metric (keyword arguments are the columns)."""
        _check_name(name, "metric")
        row = _plain(row)
        self._fold("row", name, row)
        self._emit("row", name, row)

    def tag(self, key: str, value: Any = "") -> None:
        """Attach a tag to the run."""
        _check_name(key, "tag")
        self._fold("tag", key, str(value))
        self._emit("tag", key, str(value))

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Attach several tags at once."""
        for key, value in tags.items():
            self.tag(key, value)

    def log_image(
        self,
        name: str,
        path: str | os.PathLike | None = None,
        plot: Any = None,
        description: str = "",
    ) -> None:
        """Keep an image file (``path``) or a matplotlib figure or pyplot (``plot``) with
        the run, as ``images/<name>.png``; the report shows every one."""
        if (path is None) == (plot is None):
            raise ValueError("log_image needs exactly one of path= or plot=")
        if self._dir is None:
            print(f"Attempted to log image metric {name}: {path or plot}", flush=True)
            return
        target = self._artifact("images", f"{_safe(name)}.png")
        if path is not None:
            shutil.copyfile(path, target)
        else:
            plot.savefig(target)
        self._emit("image", name, os.path.relpath(target, self._dir), "")

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """Metrics logged by this process so far, as ``{name: value or [values]}``."""
        # copies of the lists: later logging appends to them in place
        found = self._metrics if name is None else {
            key: value for key, value in self._metrics.items() if key == name
        }
        return {key: list(v) if isinstance(v, list) else v for key, v in found.items()}

    def get_tags(self) -> dict[str, str]:
        """Tags set by this process so far."""
        return dict(self._tags)

    def _fold(self, kind: str, name: str, value: Any) -> None:
        """Add one event to the metrics and tags; the one rule for logging and replaying."""
        if kind == "tag":
            self._tags[name] = value
        elif kind in ("list", "table") or (kind == "metric" and name not in self._metrics):
            self._metrics[name] = value
        elif kind in ("metric", "row"):
            # in place: a metric logged 100,000 times must not be copied at every value
            previous = self._metrics.get(name)
            if isinstance(previous, list):
                previous.append(value)
            else:
                self._metrics[name] = [value] if name not in self._metrics else [previous, value]

    def _artifact(self, kind: str, name: str) -> str:
        """Where a file kept under ``name`` goes in the run folder (``<kind>/<name>``)."""
        relative = os.path.normpath(name.replace("\\", "/"))
        if relative.startswith("..") or os.path.isabs(relative):
            raise ValueError(f"artifact name {name!r} must stay inside the run")
        target = os.path.join(self._dir or ".", kind, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return target

    def _emit(self, kind: str, name: str, value: Any, offline_message: str = "") -> None:
        if self._dir is None:
            # built only here: formatting it at every call would double the cost of logging
            message = offline_message or OFFLINE_MESSAGES[kind].format(name=name, value=value)
            print(message, file=sys.stdout, flush=True)
            return
        line = _ENCODER.encode({"kind": kind, "name": name, "value": value})
        if self._events is None:
            self._events = os.open(
                os.path.join(self._dir, EVENTS_FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666
            )
        # one write of a whole line to a file opened for appending: it reaches the kernel
        # at once (kept if the script crashes next), and lines of processes that share the
        # run (forked workers) do not interleave
        data = (line + "\n").encode("utf-8")
        while data:
            data = data[os.write(self._events, data) :]


def _check_name(name: Any, what: str) -> None:
    """Refuse a metric or tag name that is not a non-empty string, naming it."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(
            f"{what} name {name!r} is refused: use a non-empty string, such as 'accuracy'"
        )


def _safe(name: str) -> str:
    """``name`` as a file name: letters, digits and ``._-``, the rest as ``_``."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "image"


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
        with open(os.path.join(run_dir, EVENTS_FILE), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    try:  # the common case, every line whole: one parse of the file as one JSON list
        events = json.loads("[" + text.strip().replace("\n", ",") + "]")
        return [event for event in events if isinstance(event, dict)]
    except json.JSONDecodeError:
        pass
    events = []
    for line in text.splitlines():
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
    metrics, tags, _ = read_logged(run_dir)
    return metrics, tags


def read_files(run_dir: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Images and uploaded files a run logged: ``{"images": {name: path}, "uploads": ...}``.

    Paths are relative to the run folder; a name logged again points at its last file.
    """
    return read_logged(run_dir)[2]


def read_logged(
    run_dir: str | os.PathLike,
) -> tuple[dict[str, Any], dict[str, str], dict[str, dict[str, str]]]:
    """``(metrics, tags, files)`` of a run's ``events.jsonl``, read and parsed once:
    :func:`read_events` and :func:`read_files` together."""
    replay = Run(None, "replay", None)
    fold = replay._fold
    files: dict[str, dict[str, str]] = {"images": {}, "uploads": {}}
    metrics = replay._metrics
    for event in _events(run_dir):
        kind, name, value = event.get("kind"), event.get("name"), event.get("value")
        if kind == "metric" and name.__class__ is str:
            # the common event, a metric already logged twice: appended here as _fold
            # would, without its call (100,000 events must fold in a fraction of a second)
            previous = metrics.get(name)
            if previous.__class__ is list:
                previous.append(value)
                continue
        elif not isinstance(name, str):
            name = _name(name)
        if kind == "list" and not isinstance(value, list):
            value = [value]
        elif kind == "tag":
            value = str(value)
        elif kind in ("image", "upload"):
            if isinstance(value, str):
                files[kind + "s"][name] = value
            continue
        fold(kind, name, value)
    return replay._metrics, replay._tags, files
