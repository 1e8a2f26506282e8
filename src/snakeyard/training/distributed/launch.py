"""What the runner does differently for a run with ``distributed:``.

:class:`Launch` wraps the script's command (MPI), starts and stops what the script
needs around it (a Dask cluster), and says what the record keeps and why the run
failed, in the words of the backend: the Dask worker that died, the MPI rank that
exited non-zero.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import mpi
from .resources import processes


class Launch:
    """One distributed run of a script, from its command to its record."""

    def __init__(self, distributed: dict[str, Any], python: str, folder: Path):
        self.distributed = distributed
        self.python = python
        self.folder = folder
        self.inside_slurm = bool(os.environ.get("SLURM_JOB_ID"))
        self.cluster = None

    def command(self, command: list[str]) -> list[str]:
        """The command that starts the script: under the MPI launcher for ``mpi``."""
        if self.distributed["backend"] == "mpi":
            return [*mpi.launcher(self.distributed, self.inside_slurm), *command]
        return command

    def describe(self) -> dict[str, Any]:
        """The record's ``distributed`` entry before the run starts."""
        d = self.distributed
        return {
            "backend": d["backend"],
            "launcher": "slurm" if self.inside_slurm else "local",
            "nodes": d["nodes"],
            "processes_per_node": d["processes_per_node"],
            "processes": processes(d),
            "threads_per_process": d["threads_per_process"],
            "memory_per_process_mb": d.get("memory_per_process_mb"),
        }

    def start(
        self, env: dict[str, str], script: Callable[[], subprocess.Popen | None]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Start what the script needs; return its environment and what the Running
        record adds (a Dask cluster's scheduler, dashboard and workers). ``script`` gives
        the script's process once started: it is stopped when a Dask worker dies. Raises
        :class:`~snakeyard.errors.SnakeyardError` when the cluster does not start."""
        if self.distributed["backend"] == "mpi":
            return mpi.environment(env), {}
        from .dask_backend import DaskCluster

        self.cluster = DaskCluster(self.distributed, self.python, self.folder, env)
        found = self.cluster.start()
        self.cluster.watch(script)
        return self.cluster.script_environment(env), found

    def finish(self, output: str) -> tuple[dict[str, Any], list[str]]:
        """Stop what :meth:`start` started; return what the final record adds, and why
        the run failed (``output``: the end of the script's log, where MPI launchers
        name the ranks that failed)."""
        if self.distributed["backend"] == "mpi":
            found = {"rank_logs": mpi.rank_logs(self.folder)}
            return found, mpi.failed_ranks(output)
        if self.cluster is None:
            return {}, []
        self.cluster.stop()
        return self.cluster.summary(), self.cluster.problems()
