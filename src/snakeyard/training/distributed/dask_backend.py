"""The train stage's side of a ``backend: dask`` run: start the run's Dask cluster, hand
the script its address, and stop the cluster and read what it did.

Imports no Dask: the cluster's processes (:mod:`.dask_cluster`) run with the
environment's interpreter, and report through a state file in the run folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import SnakeyardError
from .dask_client import SCHEDULER_FILE_VARIABLE
from .resources import processes

CLUSTER_MODULE = "snakeyard.training.distributed.dask_cluster"
STATE_FILE = "dask.json"
SCHEDULER_FILE = "dask-scheduler.json"
# seconds for the workers to join; a Slurm step on a busy cluster may take a while
START_TIMEOUT = 180
# seconds for the cluster to close after SIGTERM before it is killed
STOP_TIMEOUT = 20


class ClusterNotStarted(SnakeyardError):
    """The Dask cluster did not come up: the script was not started."""


def last_line(path: Path) -> str:
    """The last non-blank line of a log, shortened to 200 characters."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip()]
    return lines[-1][:200] if lines else ""


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class DaskCluster:
    """The run's Dask cluster, from :meth:`start` to :meth:`stop`.

    On this machine it is one ``LocalCluster`` process; inside a Slurm allocation
    (``SLURM_JOB_ID`` set) the scheduler runs here and one worker per task of the
    allocation is started with ``srun``. Every process is started in a session of its
    own, and :meth:`stop` ends each session whole, so no worker outlives the run.
    """

    def __init__(self, distributed: dict[str, Any], python: str, folder: Path, env: dict):
        self.distributed = distributed
        self.python = python
        self.folder = folder = folder.resolve()  # the cluster runs in work/
        self.env = {k: v for k, v in env.items() if k != SCHEDULER_FILE_VARIABLE}
        self.state_file = folder / STATE_FILE
        self.scheduler_file = folder / SCHEDULER_FILE
        self.slurm_job = os.environ.get("SLURM_JOB_ID")
        self.processes: list[subprocess.Popen] = []
        self.log = folder / "work" / "logs" / "dask_cluster.txt"
        self.stopped = threading.Event()

    def _spawn(self, command: list[str], env: dict[str, str]) -> None:
        with open(self.log, "ab") as output:
            self.processes.append(
                subprocess.Popen(
                    command, cwd=self.folder / "work", env=env, stdout=output,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            )

    def _options(self) -> list[str]:
        d = self.distributed
        return [
            "--scheduler-file", str(self.scheduler_file),
            "--threads", str(d["threads_per_process"]),
            "--memory-mb", str(d.get("memory_per_process_mb") or 0),
        ]  # fmt: skip

    def start(self) -> dict[str, Any]:
        """Start the cluster and wait for all its workers; return what the record keeps
        of it while the run is alive (scheduler, dashboard, workers). Raises
        :class:`ClusterNotStarted` (after stopping what did start)."""
        module = [self.python, "-m", CLUSTER_MODULE]
        state = ["--state", str(self.state_file)]
        if self.slurm_job is None:
            count = ["--processes", str(processes(self.distributed))]
            self._spawn([*module, "local", *state, *count, *self._options()], self.env)
        else:
            # the scheduler outside the step, on this node; the workers are the step's
            # tasks, one per task of the allocation (what sbatch --ntasks granted)
            self._spawn([*module, "scheduler", *state, *self._options()], self.env)
            worker_env = {k: v for k, v in self.env.items() if k != "SNAKEYARD_STAGE_PID"}
            srun = ["srun", f"--ntasks={processes(self.distributed)}", "--kill-on-bad-exit=0"]
            self._wait_for(lambda s: s.get("scheduler"), "the scheduler to start")
            self._spawn([*srun, *module, "worker", *self._options()], worker_env)
        wanted = processes(self.distributed)
        self._wait_for(lambda s: len(s.get("workers", {})) >= wanted, f"{wanted} workers")
        return self.summary()

    def _wait_for(self, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready(_read(self.state_file)):
            ended = [p for p in self.processes if p.poll() is not None]
            if ended or time.monotonic() > deadline:
                self.stop()
                why = (
                    f"a cluster process exited with code {ended[0].returncode}"
                    if ended
                    else f"not within {START_TIMEOUT} s"
                )
                last = last_line(self.log)
                said = f"; its log ends: {last}" if last else ""
                raise ClusterNotStarted(
                    f"the Dask cluster did not start ({what}: {why}{said}); the environment "
                    f"must hold dask[distributed] (and dask-jobqueue under Slurm); see {self.log}"
                )
            time.sleep(0.2)

    def script_environment(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` for the training script: it connects to this cluster at start-up."""
        return {**env, SCHEDULER_FILE_VARIABLE: str(self.scheduler_file)}

    def summary(self) -> dict[str, Any]:
        """The cluster as the run record keeps it: scheduler, dashboard, the workers by
        name with their host, threads, memory limit and the tasks each ran."""
        state = _read(self.state_file)
        workers = sorted(state.get("workers", {}).items(), key=lambda item: item[1]["name"])
        return {
            "scheduler": state.get("scheduler"),
            "dashboard": state.get("dashboard"),
            "workers": [
                {"address": address, **{k: v for k, v in w.items() if k != "pid"}}
                for address, w in workers
            ],
        }

    def watch(self, script: Callable[[], subprocess.Popen | None]) -> None:
        """Stop the script (SIGTERM) as soon as a worker dies, until :meth:`stop`.

        Dask does not retry the dead worker's task, but a script may go on waiting for
        other work, or a worker may die between tasks: either way the run has failed,
        and the rest of the fit would be spent for nothing.
        """

        def look() -> None:
            while not self.stopped.wait(0.5):
                child = script()
                if _read(self.state_file).get("died") and child is not None:
                    if child.poll() is None:
                        child.send_signal(signal.SIGTERM)
                    return

        threading.Thread(target=look, name="dask-worker-deaths", daemon=True).start()

    def stop(self) -> None:
        """Close the cluster (SIGTERM, then SIGKILL for what is left of each session)."""
        self.stopped.set()
        for process in self.processes:
            _signal_session(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes:
            # the session's other processes (a LocalCluster's workers) go as well
            _signal_session(process, signal.SIGKILL)
            process.wait()
        self.scheduler_file.unlink(missing_ok=True)

    def problems(self) -> list[str]:
        """The workers that died during the run, one sentence each."""
        return [
            f"Dask worker {w.get('name')} ({w['address']} on host {w.get('host')}) died "
            "during the run"
            for w in _read(self.state_file).get("died", [])
        ]


def _signal_session(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
