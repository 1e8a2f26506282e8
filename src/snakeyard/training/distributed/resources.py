"""An experiment's ``distributed:`` configuration: its checks, its process count, and
the Snakemake resources it asks the executor for.

Standard library only: ``workflow/rules/common.smk`` and :mod:`snakeyard.config` use it
when the workflow is parsed.
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError

BACKENDS = ("dask", "mpi")
# the hosted estimator's names of the same settings, accepted as equivalents
HOSTED_NAMES = {"node_count": "nodes", "process_count_per_node": "processes_per_node"}
# the launcher the executor plugins' ``mpi`` resource names: with it set, the Slurm
# jobstep runs the job's command in the batch step instead of one `srun -n1` task, and
# the command starts its own tasks (snakeyard calls srun itself)
SLURM_LAUNCHER = "srun"


def check(key: str, distributed: dict[str, Any]) -> dict[str, Any]:
    """``distributed`` with the hosted names replaced by snakeyard's and the counts
    filled in (1 node, 2 processes per node); ConfigError when both spellings of one
    setting disagree, or when the run would have fewer than 2 processes."""
    checked = dict(distributed)
    for hosted, own in HOSTED_NAMES.items():
        if hosted not in checked:
            continue
        if own in distributed and distributed[own] != distributed[hosted]:
            raise ConfigError(
                f"{key}.{hosted}: {distributed[hosted]!r} contradicts {key}.{own}: "
                f"{distributed[own]!r}; {hosted} is the hosted service's name for {own}, "
                "give one of them"
            )
        checked[own] = checked.pop(hosted)
    checked.setdefault("nodes", 1)
    checked.setdefault("processes_per_node", 2)
    if processes(checked) < 2:
        # the Slurm plugin refuses an `mpi` job of one task, and one process is no cluster
        raise ConfigError(
            f"{key}: nodes x processes_per_node is {processes(checked)}; a distributed run "
            "needs at least 2 processes (leave distributed: out to train in one process)"
        )
    return checked


def processes(distributed: dict[str, Any]) -> int:
    """How many processes (Dask workers or MPI ranks) the job runs in all."""
    return int(distributed["nodes"]) * int(distributed["processes_per_node"])


def snakemake_resources(distributed: dict[str, Any] | None) -> dict[str, Any]:
    """The resources of the train job: ``nodes``, ``tasks`` (one per process),
    ``cpus_per_task`` (threads per process), ``mpi`` and ``mem_mb`` (per node); empty for
    a job that is not distributed."""
    if not distributed:
        return {}
    found = {
        "nodes": distributed["nodes"],
        "tasks": processes(distributed),
        "cpus_per_task": distributed["threads_per_process"],
        "mpi": SLURM_LAUNCHER,
    }
    memory = distributed.get("memory_per_process_mb")
    if memory:
        # sbatch --mem is per node; the train stage and the Dask scheduler share the
        # first node with its workers, hence a little more
        found["mem_mb"] = memory * distributed["processes_per_node"] + 500
    return found


def threads(distributed: dict[str, Any] | None) -> int | None:
    """The cores a distributed job takes on one machine (its ``threads:``), or None."""
    if not distributed:
        return None
    return processes(distributed) * int(distributed["threads_per_process"])
