"""A run whose process is gone never stays Running: readers report it Lost, `runs settle`
records it as Failed, and a full disk still leaves a record that says what happened."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from snakeyard.registry.registry import Registry
from snakeyard.training.liveness import Heartbeat, process_identity
from test_runner import SLOW_SCRIPT, run_script, start_train, started_run, wait_for

RUN_ID = "slow_1796000000_0a1b2c3d"


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m snakeyard --registry ROOT ARGS...``, as a user runs it."""
    command = [sys.executable, "-m", "snakeyard", "--registry", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True)


def script_pid(run: dict) -> int:
    """The training script's pid, which SLOW_SCRIPT prints when it starts."""
    std_log = Path(run["folder"]) / "work" / "logs" / "std_log.txt"
    return int(std_log.read_text().split()[1])


def gone_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_run_whose_stage_was_killed_is_lost_until_settled(tmp_path: Path):
    stage, root = start_train(tmp_path, SLOW_SCRIPT)
    running = started_run(Registry(root))
    assert cli(root, "runs", "list", "--status", "running").stdout.count("Running") == 1

    script = script_pid(running)
    stage.kill()  # SIGKILL, the OOM killer, a lost node: no chance to write anything
    stage.wait()
    # the script does not go on as an orphan: the kernel kills it with its stage
    assert gone_within(script, seconds=30)  # SLOW_SCRIPT would sleep for 60
    listed = cli(root, "runs", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(running["id"])]
    assert row.split()[2] == "Lost"
    assert "1 run Lost (process gone, no final record): `snakeyard runs settle RUN_ID`" in (
        listed.stdout
    )
    shown = cli(root, "runs", "show", running["id"])
    assert (
        f"status       Lost (its process {stage.pid} on {platform.node()} is gone; "
        f"`snakeyard runs settle {running['id']}` records it as Failed)"
    ) in shown.stdout
    as_json = json.loads(cli(root, "--json", "runs", "show", running["id"]).stdout)
    assert as_json["status"] == "Lost" and as_json["lost"].endswith("is gone")
    # reading never writes: the record on disk still says Running
    record_file = Path(running["folder"]) / "run.json"
    assert json.loads(record_file.read_text())["status"] == "Running"

    settled = cli(root, "runs", "settle", running["id"])
    assert settled.returncode == 0, settled.stderr
    assert settled.stdout.startswith(f"run {running['id']} settled: Failed (settled by ")
    record = json.loads(record_file.read_text())
    assert record["status"] == "Failed"
    assert f"@{platform.node()} at " in record["error"]
    assert record["error"].endswith(f": process lost (its process {stage.pid} on "
                                    f"{platform.node()} is gone)")  # fmt: skip
    assert record["metrics"] == {"epoch": 1}  # what it logged before it was lost
    assert "Failed" in cli(root, "runs", "list", "--status", "failed").stdout

    again = cli(root, "runs", "settle", running["id"])
    assert again.returncode == 1
    assert again.stderr == (
        f"snakeyard: error: run {running['id']} has ended already (Failed): "
        "only a Running or Lost run can be settled\n"
    )


def write_record(root: Path, **fields) -> Path:
    """A Running record of run RUN_ID, as the runner writes it, with ``fields`` changed."""
    folder = root / "runs" / "slow" / RUN_ID
    folder.mkdir(parents=True)
    record = {
        "id": RUN_ID, "experiment": "slow", "status": "Running", "exit_code": None,
        "start": "2026-11-30T10:00:00Z", "end": None, "start_unix": time.time() - 3600,
        "end_unix": None, "duration_seconds": None, "host": platform.node(),
        "cluster_job_id": None, "cluster": None, "command": ["python", "train.py"],
        "arguments": {}, "dataset": {"name": "d", "version": 1, "content_hash": "0" * 64},
        "environment": {"name": "e", "version": 1}, "snapshot_hash": "0" * 64,
        "snapshot_files": 1, "folder": str(folder), "metrics": {}, "tags": {},
        "outputs": [], "pid": os.getpid(), "pid_start": process_identity(os.getpid()),
        "heartbeat_seconds": 30,
        **fields,
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def status(root: Path) -> str:
    return Registry(root).get_run(RUN_ID)["status"]


def test_a_live_process_on_this_host_is_running_and_cannot_be_settled(tmp_path: Path):
    root = tmp_path / "registry"
    write_record(root)  # this test's own process: alive
    assert status(root) == "Running"
    refused = cli(root, "runs", "settle", RUN_ID)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"snakeyard: error: run {RUN_ID} may still be running: its process {os.getpid()} is "
        f"alive on this host ({platform.node()}); stop it first, or settle it anyway with "
        "--force\n"
    )
    forced = cli(root, "runs", "settle", RUN_ID, "--force")
    assert forced.returncode == 0, forced.stderr
    assert status(root) == "Failed"
    assert ": forced (its process" in Registry(root).get_run(RUN_ID)["error"]


def test_a_reused_pid_is_not_mistaken_for_the_run(tmp_path: Path):
    root = tmp_path / "registry"
    machine, _, started = process_identity(os.getpid()).rpartition("/")
    # same pid, started at another instant: a later process that got the same pid
    write_record(root, pid_start=f"{machine}/{int(started) + 1}")
    assert status(root) == "Lost"


def test_a_zombie_is_gone(tmp_path: Path):
    child = subprocess.Popen([sys.executable, "-c", ""])
    stat = Path(f"/proc/{child.pid}/stat")
    wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")
    root = tmp_path / "registry"
    write_record(root, pid=child.pid, pid_start=process_identity(child.pid))
    assert status(root) == "Lost"  # exited; only its parent has not collected it yet
    child.wait()


def test_another_hosts_run_is_judged_by_its_heartbeat(tmp_path: Path):
    root = tmp_path / "registry"
    folder = write_record(root, host="node17", pid=4242, pid_start="other-boot/1/99")
    heartbeat = folder / "heartbeat"
    heartbeat.touch()  # beating: the node's process touched it just now
    assert status(root) == "Running"
    refused = cli(root, "runs", "settle", RUN_ID)
    assert refused.returncode == 1
    # its age in whole seconds: 0 on a quiet machine, more when the command starts slowly
    assert re.search(r"its heartbeat from node17 is \d+ s old \(limit 150 s\)", refused.stderr)

    stale = time.time() - 151
    os.utime(heartbeat, (stale, stale))
    assert status(root) == "Lost"
    assert re.fullmatch(
        r"no heartbeat from node17 for 15\d s \(limit 150 s\)", Registry(root).get_run(RUN_ID)["lost"]
    )
    assert cli(root, "runs", "settle", RUN_ID).returncode == 0
    assert status(root) == "Failed"


def test_the_same_host_name_on_another_machine_is_judged_by_its_heartbeat(tmp_path: Path):
    # a container or a rebooted node: same name, but its pids are not this kernel's
    root = tmp_path / "registry"
    folder = write_record(root, pid=1, pid_start="another-boot-id/1/1")
    (folder / "heartbeat").touch()
    assert status(root) == "Running"


def test_records_older_than_signs_of_life_are_left_as_they_were(tmp_path: Path):
    root = tmp_path / "registry"
    folder = write_record(root)
    record = json.loads((folder / "run.json").read_text())
    for key in ("pid", "pid_start", "heartbeat_seconds"):
        del record[key]
    (folder / "run.json").write_text(json.dumps(record))
    assert status(root) == "Running"
    # nothing tells whether it lives; the user who knows can settle it
    assert cli(root, "runs", "settle", RUN_ID).returncode == 0
    assert "process lost (its record has no pid or heartbeat to check)" in (
        Registry(root).get_run(RUN_ID)["error"]
    )


def test_a_finished_run_is_not_settled(tmp_path: Path):
    root = tmp_path / "registry"
    write_record(root, status="Completed", end="2026-11-30T10:01:00Z")
    refused = cli(root, "runs", "settle", RUN_ID)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"snakeyard: error: run {RUN_ID} has ended already (Completed at "
        "2026-11-30T10:01:00Z): only a Running or Lost run can be settled\n"
    )


def test_the_heartbeat_beats_while_on_and_stops_after(tmp_path: Path):
    path = tmp_path / "heartbeat"
    with Heartbeat(path, interval=0.01) as heartbeat:
        os.utime(path, (0, 0))
        wait_for(lambda: path.stat().st_mtime > 0)
    assert not heartbeat._thread.is_alive()


FILLING_SCRIPT = """
import os
from snakeyard import Run
Run.get_context().log_list("curve", [i / 7 for i in range(4000)])  # a long record
disk = os.statvfs("outputs")
try:
    with open("outputs/filler", "wb") as filler:
        filler.write(b"0" * max(0, disk.f_bavail * disk.f_frsize - LEFT))
        while LEFT == 0:
            filler.write(b"0" * 4096)
            filler.flush()
except OSError:
    pass  # full
"""


def test_a_disk_too_full_for_the_record_leaves_a_short_failed_one(
    small_disk: Path, tmp_path: Path
):
    registry = Registry(small_disk / "registry")
    # 32 KiB left: room for a short record, not for the long metric
    run = run_script(registry, tmp_path, FILLING_SCRIPT.replace("LEFT", "32768"))
    assert run["status"] == "Failed" and run["exit_code"] == 0
    assert run["error"].startswith(
        "the full record could not be written (OSError: [Errno 28] No space left on device"
    )
    assert run["error"].endswith("metrics and tags are in events.jsonl, outputs in work/outputs/")
    assert run["metrics"] == {} and run["outputs"] == []
    assert registry.get_run(run["id"]) == run


def test_a_disk_too_full_for_any_record_shows_lost_until_settled(
    small_disk: Path, tmp_path: Path
):
    script = FILLING_SCRIPT.replace("LEFT", "0")  # nothing left
    stage, root = start_train(tmp_path, script, registry=small_disk / "registry")
    _, stderr = stage.communicate(timeout=60)
    assert stage.returncode == 1
    [line] = stderr.splitlines()
    assert line.startswith("snakeyard train: error: run slow_")
    assert "its final record (Completed) could not be written to " in line
    assert "[Errno 28] No space left on device" in line
    assert line.endswith("records it as Failed")
    [run] = Registry(root).list_runs()
    assert run["status"] == "Lost"

    refused = cli(root, "runs", "settle", run["id"])  # the disk is still full
    assert refused.returncode == 1
    assert refused.stderr.startswith("snakeyard: error: [Errno 28] No space left on device")
    assert len(refused.stderr.splitlines()) == 1
    (Path(run["folder"]) / "work" / "outputs" / "filler").unlink()
    assert cli(root, "runs", "settle", run["id"]).returncode == 0
    settled = Registry(root).get_run(run["id"])
    assert settled["status"] == "Failed" and settled["metrics"]["curve"][1] == 1 / 7
