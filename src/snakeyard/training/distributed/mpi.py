"""A ``backend: mpi`` run: the script's ranks started by the allocation's MPI launcher.

On this machine the launcher is Open MPI's ``mpirun -n N``; inside a Slurm allocation
it is ``srun`` with the MPI plugin of :data:`SLURM_MPI` (Debian's Slurm 22.05 with Open
MPI 4.1: ``pmix``; see docs/distributed.md). Each rank's output lines carry its rank
(``mpirun --tag-output``, ``srun --label``) in ``logs/std_log.txt``.

Rank 0 is the run: its ``Run.log`` calls make the record. Every other rank logs into
``ranks/<rank>/events.jsonl`` of the run folder (see :mod:`..run_api`), kept apart.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..run_api import MPI_VARIABLE
from .resources import processes

SLURM_MPI = os.environ.get("SNAKEYARD_SLURM_MPI", "pmix")

# how the launchers name a rank that failed, in the output they leave in std_log.txt
_FAILED_RANK = [
    # Open MPI 4: "Process name: [[4711,1],1]\n  Exit code:    3"
    re.compile(r"Process name:\s*\[\[\d+,\d+\],(?P<rank>\d+)\]\s*Exit code:\s*(?P<code>\d+)"),
    # Open MPI 4: "process rank 1 with PID 123 on node vm exited on signal 9 (Killed)."
    re.compile(
        r"process rank (?P<rank>\d+) with PID \d+ on node (?P<host>\S+) exited on signal "
        r"(?P<signal>\d+)"
    ),
    # srun: "srun: error: vm: task 1: Exited with exit code 3", "... task 1: Killed"
    re.compile(
        r"srun: error: (?P<host>\S+): tasks? (?P<rank>\d+)[-\d,]*: "
        r"(?:Exited with exit code (?P<code>\d+)|(?P<what>[A-Z][a-z]+))"
    ),
]


def launcher(distributed: dict[str, Any], inside_slurm: bool) -> list[str]:
    """The words before the script's command: ``srun ...`` or ``mpirun -n N ...``."""
    count = processes(distributed)
    if inside_slurm:
        return ["srun", f"--ntasks={count}", f"--mpi={SLURM_MPI}", "--label"]
    words = [shutil.which("mpirun") or "mpirun", "-n", str(count), "--tag-output"]
    if count > (os.cpu_count() or 1):
        words.append("--oversubscribe")  # more ranks than cores on this machine
    if os.geteuid() == 0:
        words.append("--allow-run-as-root")  # Open MPI refuses root unless told
    return words


def failed_ranks(output: str) -> list[str]:
    """The ranks the launcher says failed, one sentence each, first failure first."""
    found: dict[str, str] = {}
    for pattern in _FAILED_RANK:
        for match in pattern.finditer(output):
            parts = match.groupdict()
            rank = parts["rank"]
            where = f" on host {parts['host']}" if parts.get("host") else ""
            if parts.get("code"):
                how = f"exited with code {parts['code']}"
            elif parts.get("signal"):
                how = f"was stopped by signal {parts['signal']}"
            else:
                how = f"ended: {parts.get('what')}"
            found.setdefault(rank, f"MPI rank {rank}{where} {how}")
    return list(found.values())


def environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` for the ranks: the Run API learns it runs in an MPI run. The stage's pid
    goes: a rank's parent is the launcher, which boot/sitecustomize.py would take for a
    sign that the stage has died."""
    found = {k: v for k, v in env.items() if k != "SNAKEYARD_STAGE_PID"}
    found[MPI_VARIABLE] = "1"
    return found


def rank_logs(folder: Path) -> dict[str, str]:
    """``{rank: path}`` of the other ranks' event files, relative to the run folder."""
    ranks = folder / "ranks"
    if not ranks.is_dir():
        return {}
    return {
        p.parent.name: p.relative_to(folder).as_posix()
        for p in sorted(ranks.glob("*/events.jsonl"))
    }
