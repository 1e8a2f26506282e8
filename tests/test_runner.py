"""A run's life outside Snakemake: snapshot, record, and what a stop signal, a bad event
or a strange output leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snakeyard.errors import SnakeyardError
from snakeyard.registry.registry import Registry
from snakeyard.training.runner import RunFailed, execute
from snakeyard.training.stage import collect

SLOW_SCRIPT = """
import os, time
from snakeyard import Run
Run.get_context().log("epoch", 1)
print("started", os.getpid(), flush=True)
time.sleep(60)
"""
DATASET = {"name": "d", "version": 1, "content_hash": "0" * 64, "location": "."}
ENVIRONMENT = {"name": "e", "version": 1, "method": "recorded-interpreter"}


def start_train(
    tmp_path: Path,
    script: str,
    registry: Path | None = None,
    files: dict[str, bytes] | None = None,
) -> tuple[subprocess.Popen, Path]:
    """Start the train stage (``python -m snakeyard.stages train``) of experiment ``slow``
    running ``script`` (beside ``files`` in its source folder); return the stage process
    and its registry folder."""
    registry = registry or tmp_path / "registry"
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(script)
    for name, data in (files or {}).items():
        (source / name).write_bytes(data)
    (source / "secret.env").write_text("TOKEN=1")
    (source / ".snakeyardignore").write_text("*.env\n")
    receipts = tmp_path / "receipts"
    receipts.mkdir()
    # the train stage finds the data set in the registry, as upload left it there
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("a\n1\n")
    dataset = Registry(registry).upload_dataset("d", data)
    dataset = {k: dataset[k] for k in ("name", "version", "content_hash", "location")}
    environment = {"name": "e", "version": 1, "method": "recorded-interpreter"}
    (receipts / "d.json").write_text(json.dumps(dataset))
    (receipts / "e.json").write_text(json.dumps(environment))
    spec = {"source_directory": str(source), "script": "train.py", "arguments": {"seed": 3},
            "data_argument": None}  # fmt: skip
    command = [
        sys.executable, "-m", "snakeyard.stages", "train", "--experiment", "slow",
        "--spec", json.dumps(spec), "--dataset", str(receipts / "d.json"),
        "--environment", str(receipts / "e.json"), "--registry", str(registry),
        "--out", str(tmp_path / "run.json"), "--log", str(tmp_path / "train.log"),
    ]  # fmt: skip
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True), registry


def wait_for(predicate, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_stopped_run_is_recorded_as_failed(tmp_path: Path):
    stage, root = start_train(tmp_path, SLOW_SCRIPT)
    registry = Registry(root)
    wait_for(lambda: registry.list_runs("slow"))
    [running] = registry.list_runs("slow")
    assert running["status"] == "Running" and running["end"] is None
    std_log = Path(running["folder"]) / "work" / "logs" / "std_log.txt"
    wait_for(lambda: std_log.is_file() and "started" in std_log.read_text())

    stage.send_signal(signal.SIGTERM)  # what Slurm and Ctrl-C do to a job
    _, stderr = stage.communicate(timeout=30)
    assert stage.returncode == 1
    assert "stopped by signal 15 (SIGTERM) before the script finished" in stderr
    [run] = registry.list_runs("slow")
    assert run["status"] == "Failed" and run["exit_code"] == -signal.SIGTERM
    assert run["metrics"] == {"epoch": 1}
    assert run["command"][2:] == ["--seed", "3"]
    assert not (tmp_path / "run.json").exists()
    # the ignore file kept the secret out of the snapshot
    assert sorted(p.name for p in (Path(run["folder"]) / "work").iterdir()) == [
        ".snakeyardignore", "logs", "outputs", "train.py",
    ]  # fmt: skip


def started_run(registry: Registry) -> dict:
    """The record of experiment ``slow``'s run once its script has started."""
    wait_for(lambda: registry.list_runs("slow"))
    [running] = registry.list_runs("slow")
    std_log = Path(running["folder"]) / "work" / "logs" / "std_log.txt"
    wait_for(lambda: std_log.is_file() and "started" in std_log.read_text())
    return running


@pytest.mark.parametrize("stop", [signal.SIGHUP, signal.SIGQUIT, signal.SIGXCPU])
def test_every_signal_that_ends_a_job_leaves_a_failed_record(tmp_path: Path, stop: int):
    # SIGHUP: the terminal or ssh session closed; SIGQUIT: Ctrl-\; SIGXCPU: a CPU limit
    stage, root = start_train(tmp_path, SLOW_SCRIPT)
    running = started_run(Registry(root))
    assert running["pid"] == stage.pid  # the process that writes the final record

    stage.send_signal(stop)
    _, stderr = stage.communicate(timeout=30)
    assert stage.returncode == 1
    name = signal.Signals(stop).name
    assert f"stopped by signal {stop} ({name}) before the script finished" in stderr
    [run] = Registry(root).list_runs("slow")
    assert run["status"] == "Failed" and run["exit_code"] == -stop
    assert run["error"] == f"stopped by signal {stop} ({name}) before the script finished"
    assert run["metrics"] == {"epoch": 1}


WARNED_SCRIPT = """
import signal, time
from snakeyard import Run
warned = []
signal.signal(signal.SIGUSR1, lambda *_: warned.append(True))
print("started", flush=True)
deadline = time.monotonic() + 60
while not warned and time.monotonic() < deadline:
    time.sleep(0.02)
Run.get_context().log("checkpointed", len(warned))
"""


def test_a_slurm_warning_signal_reaches_the_script_and_the_run_completes(tmp_path: Path):
    # sbatch --signal=USR1@60 warns the job before its time limit; a script may handle it
    stage, root = start_train(tmp_path, WARNED_SCRIPT)
    started_run(Registry(root))
    stage.send_signal(signal.SIGUSR1)
    _, stderr = stage.communicate(timeout=30)
    assert stage.returncode == 0, stderr
    [run] = Registry(root).list_runs("slow")
    assert run["status"] == "Completed" and run["metrics"] == {"checkpointed": 1}


def run_script(registry: Registry, tmp_path: Path, script: str, **options) -> dict:
    """Execute ``script`` as a run of experiment ``x`` in this process; its final record."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(script)
    try:
        return execute(
            registry, experiment="x", source_directory=source, script="train.py",
            arguments={}, dataset=DATASET, environment=ENVIRONMENT, data_argument=None,
            log=lambda message: None, **options,
        )  # fmt: skip
    except RunFailed as failure:
        return failure.record


BAD_EVENTS_SCRIPT = r"""
import json, os
from snakeyard import Run
Run.get_context().log("accuracy", 0.9)
# lines no Run call writes, but a script (or a hand-made Run) may
with open(os.path.join(os.environ["SNAKEYARD_RUN_DIR"], "events.jsonl"), "a") as events:
    for event in ({"kind": "metric", "name": 1, "value": 0.5},
                  {"kind": "metric", "name": ["a", "b"], "value": 2},
                  {"kind": "tag", "name": None, "value": "x"},
                  {"kind": "list", "name": "curve", "value": 3},
                  {"kind": "image", "name": "plot", "value": 7},
                  [1, 2], "text"):
        events.write(json.dumps(event) + "\n")
"""


def test_metric_names_that_are_not_strings_still_give_a_final_record(
    registry: Registry, tmp_path: Path
):
    run = run_script(registry, tmp_path, BAD_EVENTS_SCRIPT)
    assert run["status"] == "Completed", run.get("error")
    assert run["metrics"] == {"accuracy": 0.9, "1": 0.5, '["a", "b"]': 2, "curve": [3]}
    assert run["tags"] == {"null": "x"}
    assert registry.get_run(run["id"])["status"] == "Completed"


DANGLING_SCRIPT = """
import os
with open("outputs/model.txt", "w") as model:
    model.write("weights")
os.symlink("checkpoints/epoch-3.txt", "outputs/latest.txt")  # removed since, say
"""


def test_a_dangling_link_in_outputs_is_named_and_left_out(registry: Registry, tmp_path: Path):
    run = run_script(registry, tmp_path, DANGLING_SCRIPT)
    assert run["status"] == "Completed"
    assert [o["path"] for o in run["outputs"]] == ["model.txt"]
    assert run["warnings"] == [
        "outputs/latest.txt is a symbolic link to checkpoints/epoch-3.txt, which does not "
        "exist; left out of outputs"
    ]
    assert registry.get_run(run["id"])["warnings"] == run["warnings"]
    # the collect stage copies what the record lists
    record_file = tmp_path / "run.json"
    record_file.write_text(json.dumps(run))
    collected = tmp_path / "collected"
    collect(run=record_file, outputs=collected, metrics=tmp_path / "m.tsv", log=lambda m: None)
    assert sorted(p.name for p in collected.iterdir()) == ["model.txt"]


UNREADABLE_EVENTS_SCRIPT = """
import os
from snakeyard import Run
with open("outputs/model.txt", "w") as model:
    model.write("weights")
# events.jsonl made a folder: the runner cannot read it, and must still end the run
os.mkdir(os.path.join(os.environ["SNAKEYARD_RUN_DIR"], "events.jsonl"))
"""


def test_what_cannot_be_recorded_fails_the_run_with_the_reason(
    registry: Registry, tmp_path: Path
):
    run = run_script(registry, tmp_path, UNREADABLE_EVENTS_SCRIPT)
    assert run["status"] == "Failed" and run["exit_code"] == 0
    assert run["error"].startswith("could not record events.jsonl: IsADirectoryError: [Errno 21]")
    assert [o["path"] for o in run["outputs"]] == ["model.txt"]  # the rest is recorded
    assert registry.get_run(run["id"]) == run


def test_a_pipe_in_outputs_is_named_and_left_out(registry: Registry, tmp_path: Path):
    script = 'import os\nos.mkfifo("outputs/progress")\n'
    run = run_script(registry, tmp_path, script)
    assert run["status"] == "Completed" and run["outputs"] == []
    assert run["warnings"] == [
        "outputs/progress is a named pipe (FIFO), not a regular file; left out of outputs"
    ]


def test_an_interpreter_that_cannot_start_fails_the_run(registry: Registry, tmp_path: Path):
    run = run_script(registry, tmp_path, "", python=str(tmp_path / "gone" / "python"))
    assert run["status"] == "Failed" and run["exit_code"] is None
    assert run["error"].startswith("the training script could not start: [Errno 2]")


# ------------------------------------------------------------------ a full disk
def test_a_disk_too_full_for_the_snapshot_fails_the_stage_in_one_line(
    small_disk: Path, tmp_path: Path
):
    big = {"weights.bin": b"0" * 2_000_000}  # twice the disk
    stage, root = start_train(tmp_path, SLOW_SCRIPT, registry=small_disk / "registry", files=big)
    _, stderr = stage.communicate(timeout=60)
    assert stage.returncode == 1
    [line] = stderr.splitlines()
    assert line.startswith("snakeyard train: error: run slow_")
    assert "could not be set up, so the training script did not start: [Errno 28]" in line
    # no run folder without a record is left behind
    assert list((root / "runs" / "slow").iterdir()) == []
    assert [problems for _, problems in Registry(root).verify() if problems] == []


def test_a_disk_too_full_for_the_first_record_leaves_no_run_folder(
    small_disk: Path, tmp_path: Path
):
    registry = Registry(small_disk / "registry")
    disk = os.statvfs(small_disk)
    # room for the snapshot of train.py, not for a record listing many packages
    (small_disk / "filler").write_bytes(b"0" * (disk.f_bavail * disk.f_frsize - 65536))
    packages = {f"package-{i}": "1.0.0" for i in range(10_000)}
    with pytest.raises(SnakeyardError, match=r"did not start: \[Errno 28\] No space left"):
        run_script(registry, tmp_path, "print('never')", packages=packages)
    assert list((registry.runs_root / "x").iterdir()) == []


def test_verify_reports_a_run_folder_without_a_record(registry: Registry):
    # what a failed set-up leaves when its folder cannot be removed
    folder = registry.runs_root / "x" / "x_1796000000_0a1b2c3d"
    (folder / "work").mkdir(parents=True)
    assert list(registry.verify()) == [
        (
            "run x_1796000000_0a1b2c3d",
            [
                f"run x_1796000000_0a1b2c3d: {folder} has no run.json (a run that could not be "
                "set up; delete the folder unless a run is starting in it now)"
            ],
        )
    ]
