"""Distributed training on a real Slurm: one allocation of several tasks per train job,
a Dask cluster started inside it with dask-jobqueue's SLURMRunner, and MPI ranks started
with ``srun --mpi=pmix`` (docs/distributed.md).

The one-node test cluster (tests/cluster/slurm-up.sh) has 2 CPUs: each job asks for 2
tasks of 1 CPU, which fits without oversubscription, because the Dask scheduler and the
training script run in the batch step, outside the tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SLURM_ARGS, Project
from test_distributed import ALLREDUCE_SCRIPT, FOREST_SCRIPT
from test_slurm import slurm_job

pytestmark = [pytest.mark.slurm, pytest.mark.integration]


def test_dask_and_mpi_runs_are_one_slurm_allocation_each(slurm, project: Project):
    pytest.importorskip("distributed")
    pytest.importorskip("dask_jobqueue")
    pytest.importorskip("mpi4py")
    project.add_experiment(
        "forest",
        FOREST_SCRIPT,
        model={"path": "outputs/proba.npy"},
        distributed={"backend": "dask", "node_count": 1, "process_count_per_node": 2,
                     "memory_per_process_mb": 600},
    )  # fmt: skip
    project.add_experiment(
        "allreduce",
        ALLREDUCE_SCRIPT,
        model={"path": "outputs/model.txt"},
        distributed={"backend": "mpi", "nodes": 1, "processes_per_node": 2},
    )
    config = project.config()
    del config["experiments"]["sklearn-iris"]
    project.write_config(config)

    project.snakemake(*SLURM_ARGS)

    forest = json.loads((project.path / "results/forest/run.json").read_text())
    assert forest["status"] == "Completed"
    job = slurm_job(forest["cluster"]["job_id"])
    # one allocation: 2 tasks of 1 CPU, the memory of 2 workers and the stage
    assert job["NumTasks"] == "2" and job["CPUs/Task"] == "1" and job["NumNodes"] == "1"
    assert "mem=1700M" in job["TRES"]
    dask = forest["distributed"]
    assert dask["launcher"] == "slurm" and dask["processes"] == 2
    # the workers are the allocation's tasks, named by their Slurm rank, on its node
    assert sorted(w["name"] for w in dask["workers"]) == ["0", "1"]
    for worker in dask["workers"]:
        assert worker["host"] == forest["cluster"]["node"]
        assert worker["memory_limit"] == 600 * 10**6 and worker["threads"] == 1
    assert sum(w["tasks"] for w in dask["workers"]) > 0

    ranks = json.loads((project.path / "results/allreduce/run.json").read_text())
    assert ranks["status"] == "Completed"
    assert ranks["command"][:4] == ["srun", "--ntasks=2", "--mpi=pmix", "--label"]
    assert ranks["metrics"] == {"rank_sum": 1, "size": 2, "rank": 0}
    assert slurm_job(ranks["cluster"]["job_id"])["NumTasks"] == "2"
    assert (Path(ranks["folder"]) / "ranks/1/events.jsonl").exists()
    assert project.registry.get_model("allreduce")["run_id"] == ranks["id"]
