"""A run's life outside Snakemake: snapshot, record, and what a stop signal leaves behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from snakeyard.registry.registry import Registry

SLOW_SCRIPT = """
import time
from snakeyard import Run
Run.get_context().log("epoch", 1)
print("started", flush=True)
time.sleep(60)
"""


def start_train(tmp_path: Path, script: str) -> tuple[subprocess.Popen, Path]:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(script)
    (source / "secret.env").write_text("TOKEN=1")
    (source / ".snakeyardignore").write_text("*.env\n")
    receipts = tmp_path / "receipts"
    receipts.mkdir()
    dataset = {"name": "d", "version": 1, "content_hash": "0" * 64, "location": str(tmp_path)}
    environment = {"name": "e", "version": 1, "method": "recorded-interpreter"}
    (receipts / "d.json").write_text(json.dumps(dataset))
    (receipts / "e.json").write_text(json.dumps(environment))
    spec = {"source_directory": str(source), "script": "train.py", "arguments": {"seed": 3},
            "data_argument": None}  # fmt: skip
    command = [
        sys.executable, "-m", "snakeyard.stages", "train", "--experiment", "slow",
        "--spec", json.dumps(spec), "--dataset", str(receipts / "d.json"),
        "--environment", str(receipts / "e.json"), "--registry", str(tmp_path / "registry"),
        "--out", str(tmp_path / "run.json"), "--log", str(tmp_path / "train.log"),
    ]  # fmt: skip
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True), tmp_path / "registry"


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
    assert "stopped by signal 15 before the script finished" in stderr
    [run] = registry.list_runs("slow")
    assert run["status"] == "Failed" and run["exit_code"] == -signal.SIGTERM
    assert run["metrics"] == {"epoch": 1}
    assert run["command"][2:] == ["--seed", "3"]
    assert not (tmp_path / "run.json").exists()
    # the ignore file kept the secret out of the snapshot
    assert sorted(p.name for p in (Path(run["folder"]) / "work").iterdir()) == [
        ".snakeyardignore", "logs", "outputs", "train.py",
    ]  # fmt: skip
