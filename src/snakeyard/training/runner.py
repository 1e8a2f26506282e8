"""One run: an experiment's training script executed in a fresh snapshot of its sources.

The run's folder (``<registry>/runs/<experiment>/<run id>/``) holds::

    run.json       the run record, rewritten atomically as the run progresses
    heartbeat      touched every 30 s while the script runs (see liveness.py)
    events.jsonl   what the script logged through the Run API
    signature.json the signature of the model the run registers, learnt by the script's
                   process as it exited (see model_signature.py), when it could
    work/          the working directory: the source snapshot, plus
      outputs/     files the script writes for keeping (the model among them)
      logs/        std_log.txt (the script's stdout and stderr) and any logs it writes
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, MetadataError, SnakeyardError
from ..files import (
    content_hash,
    copy_files,
    inside,
    make_folders,
    manifest_of,
    sha256_file,
    tail_text,
    tree_files,
    write_json_atomic,
)
from ..records import DatasetReceipt, EnvironmentReceipt, RunRecord, TrialRef
from ..registry.registry import REGISTRY_VARIABLE, Registry
from .batch_job import job_context, slurm_notice
from .liveness import HEARTBEAT_FILE, Heartbeat, signs_of_life
from .model_signature import REQUEST_FILE, write_request
from .run_api import (
    EXPERIMENT_VARIABLE,
    RUN_DIR_VARIABLE,
    RUN_ID_VARIABLE,
    read_logged,
)
from .run_extras import (
    INPUT_DATASETS_VARIABLE,
    PARENT,
    PARENT_DIR_VARIABLE,
    read_children,
    read_properties,
    verdict_problem,
)
from .snapshot import snapshot_files

STDOUT_LOG = "logs/std_log.txt"
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])
# sitecustomize.py that makes snakeyard and the azureml shim importable as a last resort
BOOT = str(Path(__file__).resolve().parent / "boot")
HOSTED_SHIMS = str(Path(__file__).resolve().parent / "hosted")
PROVIDES_VARIABLE = "SNAKEYARD_PROVIDES"


class RunFailed(SnakeyardError):
    """The training script exited non-zero or was stopped; the record says Failed."""

    def __init__(self, message: str, record: RunRecord):
        super().__init__(message)
        self.record = record


def new_run_id(experiment: str) -> str:
    """A unique, sortable run id such as ``sklearn-iris_1732450000_1a2b3c4d``."""
    return f"{experiment}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def git_commit(folder: Path) -> str | None:
    """The commit checked out in the git repository holding ``folder``, if any."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def arguments_list(arguments: dict[str, Any] | list[Any]) -> list[str]:
    """Render ``{'kernel': 'linear', 'verbose': True}`` as ``['--kernel', 'linear', '--verbose']``.

    ``False`` leaves the flag out. A list (the hosted ``ScriptRunConfig`` form,
    ``['--C', 0.5, '--verbose']``) is passed word for word.
    """
    if isinstance(arguments, list):
        return [str(word) for word in arguments]
    words = []
    for name, value in arguments.items():
        if value is True:
            words.append(flag(name))  # a switch such as --verbose
        elif value is not False:
            words += [flag(name), str(value)]
    return words


def flag(name: str) -> str:
    """The option an argument's name gives the script: ``kernel`` and ``--kernel`` are
    ``--kernel``, ``-v`` stays ``-v``."""
    return name if name.startswith("-") else f"--{name}"


def execute(
    registry: Registry,
    *,
    experiment: str,
    source_directory: Path,
    script: str,
    arguments: dict[str, Any] | list[Any],
    dataset: DatasetReceipt | None,
    environment: EnvironmentReceipt,
    data_argument: str | None = "--data-folder",
    input_name: str | None = None,
    python: str = sys.executable,
    packages: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
    trial: TrialRef | None = None,
    monitor: Any = None,
    distributed: dict[str, Any] | None = None,
    signature: tuple[str, dict[str, Any], Path] | None = None,
) -> RunRecord:
    """Run ``script`` as a new run of ``experiment``; return the finished run record.

    ``python`` is the environment's interpreter and ``packages`` what it has installed,
    recorded with the run. ``trial`` (a sweep trial's id and parameter values) is kept in
    the record. ``dataset`` is None for an experiment without one; the script finds it
    in ``run.input_datasets`` under its name and under ``input_name``. ``monitor`` (a
    sweep trial's :class:`snakeyard.sweeps.monitor.TrialMonitor`) watches the script
    while it runs; a run it cancels is returned as ``Canceled``, with its reason under
    ``canceled``. ``distributed`` (an experiment's checked ``distributed:``) runs the
    script on a Dask cluster or as MPI ranks (see :mod:`.distributed`).
    ``signature`` (the model's path under ``work/``, the data set version's metadata and
    its local folder) asks the script's process to learn the model's signature as it
    exits (see :mod:`.model_signature`). Raises
    :class:`RunFailed` after recording a Failed run when the script fails, is stopped,
    or leaves what cannot be recorded; :class:`RecordNotWritten` when no final record
    can be written at all.
    """
    if not (source_directory / script).is_file():
        raise ConfigError(
            f"experiment {experiment!r}: training script {script!r} not found in "
            f"source directory {source_directory}"
        )
    run_id = new_run_id(experiment)
    folder = registry.run_folder(experiment, run_id)
    work = folder / "work"
    try:
        make_folders(folder)  # its name lasts as long as the record written into it
        make_folders(registry.staging)
        files = snapshot_files(source_directory)
        copy_files(source_directory, work, files)
        snapshot = manifest_of(work, files)
        (work / "outputs").mkdir(exist_ok=True)
        (work / "logs").mkdir(exist_ok=True)
        (folder / HEARTBEAT_FILE).touch()
    except OSError as error:  # a full disk, say
        raise not_started(folder, error) from None

    command = [python, script, *arguments_list(arguments)]
    if data_argument and dataset is not None:
        command += [data_argument, dataset["location"]]
    launch = None
    if distributed:
        from .distributed.launch import Launch

        launch = Launch(distributed, python, folder)
        command = launch.command(command)
    cluster = job_context()
    record: RunRecord = {
        "id": run_id,
        "experiment": experiment,
        "status": "Running",
        "exit_code": None,
        "start": now(),
        "end": None,
        "start_unix": round(time.time(), 3),
        "end_unix": None,
        "duration_seconds": None,
        "host": platform.node(),
        **signs_of_life(),  # pid, pid_start, heartbeat_seconds: how readers tell Lost
        "cluster_job_id": os.environ.get("SLURM_JOB_ID"),
        "cluster": cluster,
        "git_commit": git_commit(source_directory),
        "source_directory": str(source_directory),
        "script": script,
        "arguments": arguments,
        "command": command,
        "python": python,
        "dataset": (
            {k: dataset[k] for k in ("name", "version", "content_hash")} if dataset else None
        ),
        "environment": {k: environment[k] for k in ("name", "version", "method")},
        "packages": dict(packages or {}),
        "snapshot_hash": content_hash(snapshot),
        "snapshot_files": len(snapshot),
        "folder": str(folder.resolve()),
        "metrics": {},
        "tags": {},
        "images": {},
        "uploads": {},
        "outputs": [],
    }
    if trial is not None:
        record["trial"] = trial
    if launch is not None:
        record["distributed"] = launch.describe()

    env = child_environment(folder, run_id, experiment, python)
    env.update(hosted_bindings(registry, dataset, input_name, folder if trial else None))
    if monitor is not None:
        env.update(monitor.environment())
    if signature is not None and launch is None:
        try:
            env.update(write_request(folder, *signature))
        except OSError as error:  # register learns the signature itself
            log(f"run {run_id}: the model's signature is left to register: {error}")
    # a stop request (Slurm signals every process of the job, a closed terminal sends
    # SIGHUP) must not cut the record short; the heartbeat tells readers on other hosts
    # that this process still lives
    with _Stops() as stops, Heartbeat(folder / HEARTBEAT_FILE):
        try:
            write_json_atomic(folder / "run.json", record, staging=registry.staging)
        except OSError as error:
            raise not_started(folder, error) from None
        log(f"run {run_id}: {' '.join(command)} (in {work})")
        started = time.monotonic()
        try:
            if launch is not None:
                env = _start_distributed(launch, env, record, folder, registry.staging, stops)
            exit_code: int | None = _run_child(command, work, env, stops, monitor)
            problems = how_it_ended(exit_code, stops.first(), cluster)
            # the script's own words (its exception's line, else its last line): what a
            # sweep's table and `runs show` then name, not only the exit code
            if stops.first() is None and exit_code is not None and exit_code > 0:
                problems[0] += script_words(work / STDOUT_LOG)
        except OSError as error:  # the environment's interpreter is gone, say
            exit_code, problems = None, [f"the training script could not start: {error}"]
        except SnakeyardError as error:  # the Dask cluster did not start
            exit_code, problems = None, [str(error)]
        finally:
            # a request the script's process did not answer (it never got to exit)
            (folder / REQUEST_FILE).unlink(missing_ok=True)
            if monitor is not None:
                monitor.close()
            if launch is not None:
                # the backend's words first: the worker that died, the rank that failed
                found, said = launch.finish(tail_text(work / STDOUT_LOG, 65536))
                record["distributed"].update(found)
        if launch is not None:
            problems = said + problems
        canceled = monitor.canceled if monitor is not None else None
        if canceled:  # it ended because the monitor said so, whatever its exit code
            problems = []
        record["exit_code"] = exit_code
        record["end"] = now()
        record["end_unix"] = round(time.time(), 3)
        record["duration_seconds"] = round(time.monotonic() - started, 3)
        problems += record_results(record, folder)
        record["status"] = "Failed" if problems else "Canceled" if canceled else "Completed"
        if problems:
            record["error"] = "; ".join(problems)
        if canceled:
            record["canceled"] = canceled
        record = write_final_record(folder, record, log, registry.staging)
        registry.run_index.note(record, folder)

    std_log = work / STDOUT_LOG
    if record["status"] == "Failed":
        raise RunFailed(
            f"run {run_id} of {experiment!r} failed: {record['error']}; see {std_log}", record
        )
    if record["status"] == "Canceled":
        log(f"run {run_id}: Canceled after {record['duration_seconds']} s: {canceled}")
        return record
    log(f"run {run_id}: Completed in {record['duration_seconds']} s; output in {std_log}")
    return record


def hosted_bindings(
    registry: Registry, dataset: DatasetReceipt | None, input_name: str | None,
    trial_folder: Path | None,
) -> dict[str, str]:  # fmt: skip
    """The environment variables the hosted SDK's stand-in reads: the registry in use,
    the run's data set under its keys in ``run.input_datasets``, and for a sweep trial
    the folder its ``run.parent``'s calls are kept in."""
    env = {REGISTRY_VARIABLE: str(registry.root.resolve())}
    if dataset is not None:
        handed = {k: dataset[k] for k in ("name", "version", "content_hash", "location")}
        handed["format"] = dataset.get("format", "files")
        keys = dict.fromkeys([dataset["name"], input_name or dataset["name"]])
        env[INPUT_DATASETS_VARIABLE] = json.dumps({key: handed for key in keys})
    if trial_folder is not None:
        env[PARENT_DIR_VARIABLE] = str((trial_folder / PARENT).resolve())
    return env


def _start_distributed(
    launch: Any, env: dict[str, str], record: RunRecord, folder: Path, staging: Path,
    stops: _Stops,
) -> dict[str, str]:
    """Start what a distributed run needs before its script; the Running record then
    names it (a Dask cluster's dashboard, while the run is alive)."""
    env, found = launch.start(env, lambda: stops.child)
    if found:
        record["distributed"].update(found)
        write_json_atomic(folder / "run.json", record, staging=staging)
    return env


def not_started(folder: Path, error: OSError) -> SnakeyardError:
    """The error of a run that could not be set up: its folder (snapshot, no record yet)
    is removed, where the filesystem lets it, so no run is left without a record."""
    shutil.rmtree(folder, ignore_errors=True)
    left = f"; {folder} is left without a record" if folder.exists() else ""
    return SnakeyardError(
        f"run {folder.name} could not be set up, so the training script did not start: "
        f"{error}{left}"
    )


def child_environment(folder: Path, run_id: str, experiment: str, python: str) -> dict[str, str]:
    """The environment variables of the training script: the Run API's, and ``python``'s."""
    env = dict(os.environ)
    env[RUN_DIR_VARIABLE] = str(folder.resolve())
    env[RUN_ID_VARIABLE] = run_id
    env[EXPERIMENT_VARIABLE] = experiment
    # boot/sitecustomize.py has the kernel kill the script if this process is killed
    env["SNAKEYARD_STAGE_PID"] = str(os.getpid())
    # the Run API (and the azureml shim) must import in any interpreter, yet not shadow
    # the environment's own packages: boot/sitecustomize.py provides them as a last resort
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [BOOT, env.get("PYTHONPATH")]))
    if python != sys.executable:
        # as if the environment were activated: its own tools come first on PATH
        env["PATH"] = os.pathsep.join(filter(None, [str(Path(python).parent), env.get("PATH")]))
    env[PROVIDES_VARIABLE] = os.pathsep.join(
        [f"snakeyard={PACKAGE_PARENT}", f"azureml={HOSTED_SHIMS}"]
    )
    return env


def how_it_ended(
    exit_code: int, stopped_by: int | None, cluster: dict[str, Any] | None
) -> list[str]:
    """Why a run failed, from the script's exit code and the first stop signal the runner
    caught; empty for a run that completed."""
    if stopped_by is None and exit_code < 0:
        stopped_by = -exit_code  # the signal reached the script first
    if stopped_by is None:
        return [f"training script exited with code {exit_code}"] if exit_code else []
    said = f"stopped by signal {signal_name(stopped_by)} before the script finished"
    notice = slurm_notice(cluster["log"]) if cluster else None
    return [f"{said}; Slurm reported: {notice}" if notice else said]


def signal_name(signum: int) -> str:
    """``15 (SIGTERM)``: a signal's number, which the exit code shows, and its name."""
    try:
        return f"{signum} ({signal.Signals(signum).name})"
    except ValueError:
        return str(signum)


def record_results(record: RunRecord, folder: Path) -> list[str]:
    """Fold what the script left in ``folder`` into ``record``: metrics, tags, logged
    files and outputs. Return what could not be read, one sentence each.

    Whatever the script left behind (a bad event, an unreadable output), the run must
    still get its final record, so each part that fails is named instead of raised.
    """
    problems = []
    parts = [("events.jsonl", _fold_events), ("work/outputs/", _fold_outputs)]
    for source, fold in parts:
        try:
            fold(record, folder)
        except _ScriptVerdict as verdict:
            problems.append(str(verdict))
        except Exception as error:  # noqa: BLE001 - see the docstring
            problems.append(f"could not record {source}: {type(error).__name__}: {error}")
    return problems


def _fold_events(record: RunRecord, folder: Path) -> None:
    record["metrics"], record["tags"], logged_files = read_logged(folder)
    for kind, files in logged_files.items():
        record[kind] = kept_files(folder, files, f"run {record['id']}: {kind[:-1]}")
    _fold_hosted(record, folder)


def _fold_hosted(record: RunRecord, folder: Path) -> None:
    """Properties and child runs of the hosted SDK's calls, in the record when there are
    any; a script's ``run.fail()`` fails the run (raised, so that record_results names it)."""
    properties = read_properties(folder)
    if properties:
        record["properties"] = properties
    children = read_children(folder, "Failed" if record.get("exit_code") else "Completed")
    if children:
        record["children"] = children
    problems = verdict_problem(folder)
    if problems:
        raise _ScriptVerdict(problems[0])


class _ScriptVerdict(Exception):
    """The script marked its run Failed or Canceled although it exited 0."""


def kept_files(folder: Path, files: dict[str, Any], label: str) -> dict[str, dict[str, str]]:
    """``{name: {path, sha256}}`` of the images or uploads a script logged that are files
    inside the run folder; a logged path that leaves it (events.jsonl is the script's
    to write) is left out of the record, which readers would refuse."""
    kept = {}
    for name, path in files.items():
        try:
            stored = inside(folder, path, label)
        except MetadataError:
            continue
        if stored.is_file():
            kept[name] = {"path": path, "sha256": sha256_file(stored)}
    return kept


def _fold_outputs(record: RunRecord, folder: Path) -> None:
    """List the regular files under ``work/outputs/`` by the one link policy
    (``files.tree_files``: links inside followed); name what else is there in
    ``warnings``: a link out of outputs or to nothing, or a pipe, is not kept."""
    outputs = folder / "work" / "outputs"
    kept, skipped = tree_files(outputs) if outputs.is_dir() else ([], [])
    record["outputs"] = manifest_of(outputs, kept)
    if skipped:
        record["warnings"] = [
            *record.get("warnings", []),
            *(f"outputs/{problem}; left out of outputs" for problem in skipped),
        ]


class RecordNotWritten(SnakeyardError):
    """Not even a short final record could be written (a full disk): the record still
    says Running, and readers report the run as Lost once this process has ended."""


def write_final_record(
    folder: Path, record: RunRecord, log: Callable[[str], None], staging: Path | None = None
) -> RunRecord:
    """Write the final ``run.json`` and return what was written.

    When the record cannot be written whole (a full disk), write a short Failed record
    that says why; when not even that, raise :class:`RecordNotWritten`.
    """
    try:
        write_json_atomic(folder / "run.json", record, staging=staging)
        return record
    except Exception as error:  # noqa: BLE001 - any reason: the short record names it
        reason = f"{type(error).__name__}: {error}"
    # what may still fit: the record without its long parts, which stay in the folder
    short: RunRecord = {
        **record, "status": "Failed", "metrics": {}, "tags": {}, "images": {}, "uploads": {},
        "outputs": [], "packages": {},
    }  # fmt: skip
    short["error"] = "; ".join(filter(None, [
        record.get("error"),
        f"the full record could not be written ({reason}): metrics and tags are in "
        "events.jsonl, outputs in work/outputs/",
    ]))  # fmt: skip
    try:
        write_json_atomic(folder / "run.json", short, staging=staging)
    except OSError as error:
        raise RecordNotWritten(
            f"run {record['id']}: its final record ({record['status']}) could not be written "
            f"to {folder / 'run.json'} ({error}); `snakeyard runs` shows the run as Lost once "
            f"this process has ended; when the folder takes writes again (free space, say), "
            f"`snakeyard runs settle {record['id']}` records it as Failed"
        ) from None
    log(f"run {record['id']}: wrote a short Failed record: {short['error']}")
    return short


def script_words(std_log: Path) -> str:
    """`` (its error: <exception line>)`` from a failed script's output, else
    `` (its last line: <line>)``, else nothing."""
    error = exception_line(std_log)
    if error:
        return f" (its error: {error})"
    last = last_line(std_log)
    return f" (its last line: {last})" if last else ""


def exception_line(path: Path, window: int = 16384) -> str:
    """The exception line of the last traceback in a log (``AttributeError: module
    'numpy' has no attribute 'float'``), shortened to 200 characters; empty if none.

    Not the last line: a deprecation notice or a chained message may follow it.
    """
    lines = tail_text(path, window).splitlines()
    start = max((i for i, line in enumerate(lines) if line.startswith(TRACEBACK)), default=None)
    if start is None:
        return ""
    # frames and their source lines are indented; the exception line is the first not
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith((" ", "\t")):
            return line.strip()[:200]
    return ""


TRACEBACK = "Traceback (most recent call last):"


def last_line(path: Path, window: int = 4096) -> str:
    """The last non-blank line of a log file, shortened to 200 characters."""
    lines = [line.strip() for line in tail_text(path, window).splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _signals(*names: str) -> tuple[signal.Signals, ...]:
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


class _Stops:
    """Signals that end a process, while a run is on: passed on to the script, and the
    stopping ones remembered.

    ``STOPS`` are those whose default action ends a process and that a scheduler or a
    terminal sends: SIGTERM (Slurm, ``kill``), SIGINT (Ctrl-C), SIGHUP (a closed terminal
    or ssh session), SIGQUIT (Ctrl-\\) and SIGXCPU (a CPU time limit). ``PASSED_ON`` are
    SIGUSR1 and SIGUSR2, which Slurm's ``--signal`` sends as a warning before the time
    limit: the script may handle them and go on, and they stop the run only if they end
    the script. (Python ignores SIGPIPE and SIGXFSZ itself; SIGKILL cannot be caught, so
    readers tell such a run by its signs of life, see :mod:`.liveness`.)

    Caught from before the Running record is written until the record is final, so that
    a second signal (Slurm signals every process of a job; the job's own shell may signal
    again) cannot kill the runner between the script's end and the Failed record.
    """

    STOPS = _signals("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGXCPU")
    PASSED_ON = _signals("SIGUSR1", "SIGUSR2")

    def __init__(self) -> None:
        self.received: list[int] = []
        self.child: subprocess.Popen | None = None

    def __enter__(self) -> _Stops:
        self.previous = {s: signal.signal(s, self._catch) for s in self.STOPS + self.PASSED_ON}
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _catch(self, signum: int, _frame: Any) -> None:
        if signum in self.STOPS:
            self.received.append(signum)
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def first(self) -> int | None:
        return self.received[0] if self.received else None


def _run_child(
    command: list[str], work: Path, env: dict[str, str], stops: _Stops, monitor: Any = None
) -> int:
    """Run the script with its output in ``logs/``; return its exit code."""
    with open(work / STDOUT_LOG, "wb") as output:
        stops.child = subprocess.Popen(
            command, cwd=work, env=env, stdout=output, stderr=subprocess.STDOUT,
            pass_fds=monitor.pass_fds if monitor is not None else (),
        )  # fmt: skip
        if monitor is not None:
            monitor.watch(stops.child)
        if stops.received:  # stopped while starting it
            stops.child.send_signal(stops.received[0])
        return stops.child.wait()
