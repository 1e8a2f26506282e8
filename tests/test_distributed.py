"""Distributed training of one model on this machine: a Dask cluster behind joblib, and
MPI ranks under Open MPI's mpirun (docs/distributed.md).

The runs go through the real train stage (``python -m snakeyard.stages train``) with a
real cluster: Dask's LocalCluster with 2 worker processes, mpirun with 2 ranks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from snakeyard.errors import ConfigError
from snakeyard.registry.registry import Registry
from snakeyard.training.distributed import resources
from snakeyard.training.distributed.mpi import failed_ranks

pytest.importorskip("distributed")

FOREST_SCRIPT = """
import os, sys
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from snakeyard import Run
X, y = make_classification(n_samples=300, n_features=8, random_state=0)
model = RandomForestClassifier(n_estimators=40, n_jobs=-1, random_state=0).fit(X, y)
os.makedirs("outputs", exist_ok=True)
np.save("outputs/proba.npy", model.predict_proba(X))
Run.get_context().log("accuracy", model.score(X, y))
Run.get_context().log("dask_loaded", "distributed" in sys.modules)
"""

# fits until a worker dies under it (the test kills one once "fitting" shows)
LONG_FIT_SCRIPT = """
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
print("fitting", flush=True)
RandomForestClassifier(n_estimators=20000, n_jobs=-1, random_state=0).fit(X, y)
"""

ALLREDUCE_SCRIPT = """
import argparse, os, sys
from mpi4py import MPI
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--fail-rank", type=int, default=-1)
args, _ = parser.parse_known_args()  # and --data-folder, from the workflow
comm = MPI.COMM_WORLD
rank = comm.Get_rank()
run = Run.get_context()
run.log("rank_sum", comm.allreduce(rank, op=MPI.SUM))
run.log("size", comm.Get_size())
run.log("rank", rank)
if rank == 0:
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.txt", "w") as handle:
        handle.write("trained")
if rank == args.fail_rank:
    sys.exit(3)
"""


def train_stage(
    tmp_path: Path, script: str, distributed: dict | None, arguments: dict | None = None
) -> tuple[subprocess.Popen, Path, Path]:
    """Start the train stage of experiment ``dist`` running ``script``; return the stage
    process, its registry folder and its output (the run record it writes)."""
    registry = tmp_path / "registry"
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(script)
    receipts = tmp_path / "receipts"
    receipts.mkdir(exist_ok=True)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "rows.csv").write_text("a\n1\n")
    dataset = Registry(registry).upload_dataset("d", data)
    dataset = {k: dataset[k] for k in ("name", "version", "content_hash", "location")}
    (receipts / "d.json").write_text(json.dumps(dataset))
    (receipts / "e.json").write_text(json.dumps({"name": "e", "version": 1, "method": "recorded-interpreter"}))
    spec = {"source_directory": str(source), "script": "train.py",
            "arguments": arguments or {}, "data_argument": None}  # fmt: skip
    if distributed is not None:
        spec["distributed"] = resources.check("distributed", distributed)
        spec["distributed"].setdefault("threads_per_process", 1)
    out = tmp_path / f"run-{len(list(tmp_path.glob('run-*')))}.json"
    command = [
        sys.executable, "-m", "snakeyard.stages", "train", "--experiment", "dist",
        "--spec", json.dumps(spec), "--dataset", str(receipts / "d.json"),
        "--environment", str(receipts / "e.json"), "--registry", str(registry),
        "--out", str(out), "--log", str(tmp_path / "train.log"),
    ]  # fmt: skip
    stage = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return stage, registry, out


def run_records(registry: Path) -> list[dict]:
    folder = registry / "runs" / "dist"
    records = [json.loads(p.read_text()) for p in folder.glob("*/run.json")]
    return sorted(records, key=lambda r: r["start_unix"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


def processes_naming(text: str) -> list[int]:
    """The processes whose command line mentions ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode("utf-8", "replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


# ---------------------------------------------------------------- configuration


def test_hosted_names_count_as_nodes_and_processes_per_node():
    checked = resources.check("x.distributed", {"backend": "mpi", "node_count": 2, "process_count_per_node": 3})
    assert (checked["nodes"], checked["processes_per_node"]) == (2, 3)
    assert "node_count" not in checked


def test_two_spellings_that_disagree_are_refused_naming_both():
    with pytest.raises(ConfigError, match=r"x\.distributed\.node_count: 2 contradicts x\.distributed\.nodes: 3"):
        resources.check("x.distributed", {"backend": "dask", "node_count": 2, "nodes": 3})


def test_a_single_process_is_refused():
    with pytest.raises(ConfigError, match="needs at least 2 processes"):
        resources.check("x.distributed", {"backend": "dask", "processes_per_node": 1})


def test_the_allocation_is_one_task_per_process():
    distributed = resources.check(
        "d", {"backend": "dask", "nodes": 3, "processes_per_node": 4, "memory_per_process_mb": 2000}
    )
    distributed["threads_per_process"] = 2
    found = resources.snakemake_resources(distributed)
    assert found == {"nodes": 3, "tasks": 12, "cpus_per_task": 2, "mpi": "srun", "mem_mb": 8500}
    assert resources.threads(distributed) == 24
    assert resources.snakemake_resources(None) == {} and resources.threads(None) is None


def test_the_workflow_refuses_a_bad_backend_in_one_line(project):
    config = project.config()
    config["experiments"]["sklearn-iris"]["distributed"] = {"backend": "spark"}
    project.write_config(config)
    done = project.snakemake("-n", check=False)
    assert done.returncode != 0
    assert "experiments.sklearn-iris.distributed.backend: 'spark' is not one of ['dask', 'mpi']" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_launcher_messages_name_the_failed_rank():
    mpirun = "mpirun detected ...\n\n  Process name: [[6411,1],1]\n  Exit code:    3\n"
    assert failed_ranks(mpirun) == ["MPI rank 1 exited with code 3"]
    srun = "srun: error: node7: task 1: Exited with exit code 2\nsrun: error: node8: task 3: Killed\n"
    assert failed_ranks(srun) == ["MPI rank 1 on host node7 exited with code 2", "MPI rank 3 on host node8 ended: Killed"]


# ---------------------------------------------------------------- Dask


def test_a_forest_on_two_dask_workers_predicts_as_a_serial_fit(tmp_path: Path):
    stage, registry, out = train_stage(tmp_path, FOREST_SCRIPT, {"backend": "dask", "processes_per_node": 2})
    _, err = stage.communicate(timeout=600)
    assert stage.returncode == 0, err
    record = json.loads(out.read_text())
    assert record["status"] == "Completed"
    dask = record["distributed"]
    assert dask["backend"] == "dask" and dask["processes"] == 2
    assert dask["scheduler"].startswith("tcp://") and dask["dashboard"].startswith("http://")
    # both workers took part in the fit: the forest's trees went to each of them
    assert len(dask["workers"]) == 2
    for worker in dask["workers"]:
        assert worker["tasks"] > 0, dask["workers"]
        assert worker["host"] and worker["threads"] == 1 and worker["memory_limit"] > 0
    shown = subprocess.run(
        [sys.executable, "-m", "snakeyard", "--registry", str(registry), "runs", "show", record["id"]],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "dask (local), 2 processes on 1 node" in shown
    assert f"worker 0   {dask['workers'][0]['host']}, 1 thread, " in shown
    # the same script in one process, joblib's default backend
    serial, _, serial_out = train_stage(tmp_path, FOREST_SCRIPT, None)
    _, err = serial.communicate(timeout=600)
    assert serial.returncode == 0, err
    serial_record = json.loads(serial_out.read_text())
    assert "distributed" not in serial_record
    proba = np.load(Path(record["folder"]) / "work/outputs/proba.npy")
    serial_proba = np.load(Path(serial_record["folder"]) / "work/outputs/proba.npy")
    assert np.array_equal(proba, serial_proba)
    assert record["metrics"]["accuracy"] == serial_record["metrics"]["accuracy"]
    # a run without distributed: never loads Dask
    assert record["metrics"]["dask_loaded"] is True
    assert serial_record["metrics"]["dask_loaded"] is False
    # the cluster is gone with the job: no process names the run's folder
    assert processes_naming(record["folder"]) == []
    state = json.loads((Path(record["folder"]) / "dask.json").read_text())
    assert not any(alive(w["pid"]) for w in state["workers"].values())


def test_a_dask_worker_killed_mid_fit_fails_the_run_naming_it(tmp_path: Path):
    stage, registry, out = train_stage(tmp_path, LONG_FIT_SCRIPT, {"backend": "dask", "processes_per_node": 2})
    deadline = time.monotonic() + 300
    while True:
        records = run_records(registry) if (registry / "runs").exists() else []
        log = Path(records[0]["folder"]) / "work/logs/std_log.txt" if records else None
        if log is not None and log.exists() and "fitting" in log.read_text():
            break
        assert stage.poll() is None, stage.communicate()
        assert time.monotonic() < deadline, "the script did not start fitting"
        time.sleep(0.2)
    # the Running record shows the dashboard while the run is alive
    running = json.loads((Path(records[0]["folder"]) / "run.json").read_text())
    assert running["status"] == "Running" and running["distributed"]["dashboard"]
    time.sleep(2)  # well into the fit
    state = json.loads((Path(records[0]["folder"]) / "dask.json").read_text())
    victim = next(w for w in state["workers"].values() if w["name"] == "1")
    os.kill(victim["pid"], signal.SIGKILL)

    _, err = stage.communicate(timeout=300)
    assert stage.returncode != 0
    assert "Dask worker 1 (" in err and f"on host {victim['host']}) died during the run" in err
    assert "Traceback" not in err
    record = run_records(registry)[0]
    assert record["status"] == "Failed"
    assert record["error"].startswith("Dask worker 1 (tcp://")
    # no run record for snakemake to register, and no cluster process left
    assert not out.exists()
    assert processes_naming(record["folder"]) == []
    state = json.loads((Path(record["folder"]) / "dask.json").read_text())
    assert not any(alive(w["pid"]) for w in state["workers"].values())


# ---------------------------------------------------------------- MPI

needs_mpirun = pytest.mark.skipif(shutil.which("mpirun") is None, reason="no mpirun (apt install openmpi-bin)")


@needs_mpirun
def test_two_mpi_ranks_allreduce_and_rank_0_makes_the_record(tmp_path: Path):
    pytest.importorskip("mpi4py")
    stage, registry, out = train_stage(tmp_path, ALLREDUCE_SCRIPT, {"backend": "mpi", "processes_per_node": 2})
    _, err = stage.communicate(timeout=300)
    assert stage.returncode == 0, err
    record = json.loads(out.read_text())
    assert record["command"][1:3] == ["-n", "2"] and Path(record["command"][0]).name == "mpirun"
    assert record["metrics"] == {"rank_sum": 1, "size": 2, "rank": 0}
    assert [o["path"] for o in record["outputs"]] == ["model.txt"]
    # rank 1's own log is kept apart, in ranks/1/
    assert record["distributed"]["rank_logs"] == {"1": "ranks/1/events.jsonl"}
    rank_1 = (Path(record["folder"]) / "ranks/1/events.jsonl").read_text()
    assert '"name": "rank", "value": 1' in rank_1


@needs_mpirun
def test_a_rank_that_exits_non_zero_fails_the_run_naming_it(tmp_path: Path):
    pytest.importorskip("mpi4py")
    stage, registry, out = train_stage(
        tmp_path, ALLREDUCE_SCRIPT, {"backend": "mpi", "processes_per_node": 2}, {"fail-rank": 1}
    )
    _, err = stage.communicate(timeout=300)
    assert stage.returncode != 0
    assert "MPI rank 1 exited with code 3" in err and "Traceback" not in err
    record = run_records(registry)[0]
    assert record["status"] == "Failed" and record["error"].startswith("MPI rank 1 exited with code 3")
    assert not out.exists()
