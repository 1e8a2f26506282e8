"""The batch scheduler a run executes under: its job, its node, and what it said on a kill.

Only Slurm is known today. A job it kills (time limit, memory limit, ``scancel``) gets
SIGTERM; before that, slurmstepd writes a notice such as
``*** JOB 12 ON node1 CANCELLED AT 2026-11-25T15:12:50 DUE TO TIME LIMIT ***`` to the
job's standard error file, which :func:`slurm_notice` finds so that the run record can
say what Slurm reported. Where that file is comes from ``scontrol`` when the run starts.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from pathlib import Path

from ..files import tail_text

NOTICE = re.compile(r"\*\*\* ((?:JOB|STEP) \S+ ON \S+ .*?) \*\*\*")


def job_context() -> dict[str, str | None] | None:
    """The Slurm job this process runs in (id, node, partition, log file), or None
    outside Slurm."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    log = _stderr_file(job_id)
    return {
        "scheduler": "slurm",
        "job_id": job_id,
        "node": os.environ.get("SLURMD_NODENAME") or platform.node(),
        "partition": os.environ.get("SLURM_JOB_PARTITION"),
        "log": str(log) if log else None,
    }


def slurm_notice(log: str | None, wait: float = 3.0) -> str | None:
    """Slurm's last ``*** JOB ... ***`` notice in the job's log (else its last ``*** STEP
    ... ***`` one), waiting up to ``wait`` s for one to appear.

    Reads the file only: while Slurm stops a job, it signals every process of it, so a
    command started then (such as ``scontrol``) may be killed before it answers. None
    when the log is unknown or no notice shows up in time.
    """
    if not log:
        return None
    log = Path(log)
    deadline = time.monotonic() + wait
    while True:
        notices = NOTICE.findall(tail_text(log))
        # a whole-job notice says more than a step's, which may come before or after it
        jobs = [notice for notice in notices if notice.startswith("JOB ")]
        if jobs:
            return jobs[-1]
        if time.monotonic() >= deadline:
            return notices[-1] if notices else None
        time.sleep(0.2)


def _stderr_file(job_id: str) -> Path | None:
    try:
        done = subprocess.run(
            ["scontrol", "show", "job", "--oneliner", job_id],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\bStdErr=(\S+)", done.stdout)
    return Path(found.group(1)) if done.returncode == 0 and found else None
