"""After a failed or killed stage, the next ``snakemake`` redoes what did not complete.

The promise (issue "Trust", points 1 and 7): after any failure or kill of any stage, the
next ``snakemake`` either redoes exactly what did not complete for the current
configuration, or stops with a message saying what to do; it never reports success
("Nothing to be done", exit 0) for a configuration that was not trained. And how
Snakemake was started is no change: the interpreter's spelling re-runs nothing.

Each test runs the real snakemake in a temporary project, makes one stage fail for a
real reason (a wrong checksum, a datastore path taken by a file, an unsolvable spec, a
script that fails or is killed) or SIGKILLs its process, and then reads the registry and
the files under ``results/`` that the next runs leave.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import SNAKEFILE, Project, jobs_run
from servers import FileServer

# the local conda channel and the session's environment cache, for the lock stage
from test_environments import channel, env_cache  # noqa: F401

pytestmark = pytest.mark.integration

NOTHING = "Nothing to be done"
RULES = ("fetch", "upload", "lock", "train", "trial", "sweep", "sweep_report", "collect",
         "register", "experiment_report")  # fmt: skip

# A quick training script. --x is its score; --hold FILE makes the first attempt that
# takes FILE wait until its runner (the train stage's process) is gone, after writing
# that runner's pid to FILE.runner; --oom FILE makes the trial with x = 2 kill itself
# with SIGKILL while FILE exists, as the kernel's out-of-memory killer would;
# --scratch FOLDER leaves in outputs/ a link to that folder, as a script keeping a
# checkpoint in a job's scratch space would. Each run's model is its own (it names the
# run), so that the registry never takes a new run's model for an earlier version.
TINY_SCRIPT = """
import argparse, os, signal, sys, time
from pathlib import Path
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--data-folder")
parser.add_argument("--x", type=float, default=1.0)
parser.add_argument("--hold", default="")
parser.add_argument("--oom", default="")
parser.add_argument("--scratch", default="")
args, _ = parser.parse_known_args()

def take(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True

if args.hold and take(args.hold):
    runner = os.getppid()
    Path(args.hold + ".tmp").write_text(str(runner))
    os.replace(args.hold + ".tmp", args.hold + ".runner")
    print("holding", flush=True)
    while os.getppid() == runner:
        time.sleep(0.05)
    sys.exit("the runner is gone")
if args.oom and Path(args.oom).exists() and args.x == 2:
    os.kill(os.getpid(), signal.SIGKILL)
Run.get_context().log("score", args.x)
os.makedirs("outputs", exist_ok=True)
if args.scratch:
    os.makedirs(args.scratch, exist_ok=True)
    Path(args.scratch, "checkpoint.txt").write_text("step 100\\n")
    os.symlink(args.scratch, "outputs/checkpoints")
Path("outputs/model.txt").write_text(f"model of run {os.environ['SNAKEYARD_RUN_ID']}\\n")
"""

SWEEP = {"sampling": "grid", "parameters": {"x": [1, 2]}, "primary_metric": "score"}


# ----------------------------------------------------------------------------- helpers
def output_of(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tiny_project(project: Project, sweep: dict | None = None, **overrides) -> Path:
    """Only experiment ``tiny`` (TINY_SCRIPT, arguments x = 1), trained on data set
    ``toy``, the file data.csv; return that file."""
    data = project.path / "data.csv"
    data.write_text("a,label\n1,0\n2,1\n")
    config = project.config()
    config["datasets"] = {"toy": {"source": f"path:{data}", "description": "a toy table"}}
    config["experiments"] = {}
    project.write_config(config)
    experiment = {
        "dataset": "toy",
        "arguments": {"x": 1},
        "model": {"path": "outputs/model.txt"},
        **overrides,
    }
    if sweep:
        experiment["sweep"] = sweep
    project.add_experiment("tiny", TINY_SCRIPT, **experiment)
    return data


def set_arguments(project: Project, experiment: str, **arguments) -> None:
    """Change some of the experiment's arguments (None removes one)."""
    config = project.config()
    current = config["experiments"][experiment].setdefault("arguments", {})
    current.update(arguments)
    for name in [name for name, value in current.items() if value is None]:
        del current[name]
    project.write_config(config)


def assert_redone_and_failed(done: subprocess.CompletedProcess, rule: str) -> None:
    """The run did not report success: it ran ``rule`` again and that stage failed with
    one line saying why."""
    output = output_of(done)
    assert done.returncode != 0, output
    assert NOTHING not in output
    assert jobs_run(output, rule) >= 1, output
    stage = "train" if rule == "trial" else rule
    assert f"snakeyard {stage}: error: " in output, output
    assert "Traceback" not in output, output


def assert_current(project: Project, experiment: str) -> dict:
    """Every stage's output of ``experiment`` is there and comes from its current
    configuration: the latest registered model's run has the configured arguments and
    trained on the data set and environment of the current receipts, and ``results/``
    holds that run's record, metrics and outputs. Return the run record."""
    spec = project.config()["experiments"][experiment]
    results = project.path / "results" / experiment
    receipt = read_json(results / "model.json")
    latest = project.registry.get_model(receipt["name"])
    assert (latest["version"], latest["run_id"]) == (receipt["version"], receipt["run_id"])
    run = project.registry.get_run(latest["run_id"])
    assert run["status"] == "Completed"
    swept = run.get("trial", {}).get("parameters", {})
    assert run["arguments"] == {**spec.get("arguments", {}), **swept}
    assert read_json(results / "run.json")["id"] == run["id"]
    if spec.get("sweep"):
        assert read_json(results / "sweep.json")["best"]["run_id"] == run["id"]

    dataset = read_json(project.path / f"results/datasets/{spec['dataset']}.json")
    assert run["dataset"] == {k: dataset[k] for k in ("name", "version", "content_hash")}
    assert project.registry.get_dataset(spec["dataset"])["version"] == dataset["version"]
    source = project.config()["datasets"][spec["dataset"]]["source"]
    fetched = read_json(project.path / f"results/data/{spec['dataset']}/manifest.json")
    if isinstance(source, list):  # downloads: the configured checksums were fetched
        assert sorted(f["sha256"] for f in fetched["files"]) == sorted(
            entry["sha256"] for entry in source
        )
    elif source.startswith("path:"):  # one local file: its current bytes were fetched
        [entry] = fetched["files"]
        assert entry["sha256"] == sha256_of(Path(source[len("path:") :]).read_bytes())

    environment = read_json(project.path / f"results/environments/{spec['environment']}.json")
    latest_environment = project.registry.get_environment(spec["environment"])
    assert run["environment"]["version"] == environment["version"] == latest_environment["version"]

    rows = (results / "metrics.tsv").read_text().splitlines()[1:]
    assert {row.split("\t")[0] for row in rows} == set(run["metrics"])
    outputs = results / "outputs"
    collected = {p.relative_to(outputs).as_posix() for p in outputs.rglob("*") if p.is_file()}
    collected.discard(".snakemake_timestamp")  # Snakemake's mark of a directory output
    assert collected == {entry["path"] for entry in run["outputs"]}
    return run


def assert_nothing_left(project: Project) -> None:
    """Once the current configuration is complete, the next run has nothing to do."""
    done = project.snakemake()
    assert NOTHING in output_of(done), output_of(done)


# -------------------------------------------------------------- processes and kills
def process_args(pid: int | str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def stage_processes(project: Project) -> dict[int, str]:
    """The stage processes (``python -m snakeyard.stages STAGE``) running in this
    project, as {pid: rule}; a train stage of a sweep trial is rule ``trial``."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        args = process_args(entry.name)
        if "snakeyard.stages" not in args[:-1]:
            continue  # its shell's command line is one word: not an element of its own
        try:
            if Path(os.readlink(f"/proc/{entry.name}/cwd")) != project.path:
                continue  # another project's, maybe another engineer's test
        except OSError:
            continue
        rule = args[args.index("snakeyard.stages") + 1].replace("-", "_")
        out = args[args.index("--out") + 1] if "--out" in args[:-1] else ""
        found[int(entry.name)] = "trial" if rule == "train" and "/trials/" in out else rule
    return found


def stage_process(project: Project, rule: str) -> int | None:
    """The pid of a stage process of ``rule`` running in this project, if one is."""
    return next((pid for pid, r in stage_processes(project).items() if r == rule), None)


class Snakemake:
    """``snakemake`` running in the background, in a process group of its own."""

    def __init__(self, project: Project, *args: str):
        self.log = project.path / "test-output" / f"snakemake-{time.monotonic_ns()}.txt"
        self.log.parent.mkdir(exist_ok=True)
        command = ["snakemake", "-s", str(SNAKEFILE), "--cores", "2", *args]
        with open(self.log, "w") as output:
            self.process = subprocess.Popen(
                command, cwd=project.path, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def running(self) -> bool:
        return self.process.poll() is None

    def jobs_started(self) -> int | None:
        """How many jobs its log shows as started, None before the first."""
        output = self.log.read_text()
        return sum(jobs_run(output, rule) for rule in RULES) or None

    def kill_group(self) -> None:
        """SIGKILL snakemake and every process it started (they share its group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it had ended by itself

    def wait(self) -> tuple[int, str]:
        code = self.process.wait(timeout=600)
        return code, self.log.read_text()


def wait_for(find: Callable[[], int | None], snakemake: Snakemake, what: str) -> int:
    """Poll every few milliseconds until ``find`` names a process (or a number other
    than None); return it."""
    deadline = time.monotonic() + 120  # a bound against hanging, not a speed check
    while time.monotonic() < deadline:
        pid = find()
        if pid is not None:
            return pid
        if not snakemake.running():
            raise AssertionError(f"snakemake ended before {what}:\n{snakemake.wait()[1]}")
        time.sleep(0.003)
    snakemake.kill_group()
    raise AssertionError(f"no {what} within 120 s:\n{snakemake.wait()[1]}")


def holding_runner(hold: Path) -> Callable[[], int | None]:
    """Finds the train stage process whose script is holding on ``hold``."""

    def find() -> int | None:
        runner = Path(f"{hold}.runner")
        return int(runner.read_text()) if runner.exists() else None

    return find


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------------- point 1
def test_after_a_failed_training_the_next_run_trains_again(project: Project):
    """The command sequence of the issue, on the default experiment."""
    project.snakemake()  # model v1, kernel linear
    assert project.registry.get_model("sklearn-iris")["version"] == 1

    set_arguments(project, "sklearn-iris", kernel="nosuchkernel")
    failed = project.snakemake(check=False)  # the script rejects the kernel
    assert_redone_and_failed(failed, "train")
    again = project.snakemake(check=False)  # not "Nothing to be done": it trains again
    assert_redone_and_failed(again, "train")
    assert [r["status"] for r in project.registry.list_runs("sklearn-iris")] == [
        "Completed", "Failed", "Failed",
    ]  # fmt: skip

    set_arguments(project, "sklearn-iris", kernel="rbf")
    done = project.snakemake()
    assert jobs_run(output_of(done), "train") == 1
    run = assert_current(project, "sklearn-iris")
    assert run["arguments"]["kernel"] == "rbf"
    metrics = (project.path / "results/sklearn-iris/metrics.tsv").read_text()
    assert "Kernel type\trbf\n" in metrics
    shown = project.cli("models", "show", "sklearn-iris").stdout
    assert "sklearn-iris:2" in shown and run["id"] in shown
    assert re.search(r"\n  Kernel type +rbf\n", shown)
    assert_nothing_left(project)


# --------------------------------------------------- point 1: a failure of each stage
@pytest.fixture
def server():
    with FileServer() as running:
        yield running


def test_fetch_failure_checksum(project: Project, server: FileServer):
    """New data configured with the old file's sha256: fetch fails on every run until the
    checksum is right; then the new data set version is trained on and registered."""
    old, new = b"a,label\n1,0\n2,1\n", b"a,label\n1,0\n2,1\n3,1\n"
    server.files["/v1.csv"], server.files["/v2.csv"] = old, new
    tiny_project(project)
    config = project.config()
    source = [{"url": server.url("/v1.csv"), "sha256": sha256_of(old)}]
    config["datasets"]["toy"]["source"] = source
    project.write_config(config)
    project.snakemake()

    # new data, but the checksum of the old file pasted with it
    source[0]["url"] = server.url("/v2.csv")
    project.write_config(config)
    assert_redone_and_failed(project.snakemake(check=False), "fetch")
    assert_redone_and_failed(project.snakemake(check=False), "fetch")
    assert server.requests["/v2.csv"] == 2

    source[0]["sha256"] = sha256_of(new)
    project.write_config(config)
    project.snakemake()
    run = assert_current(project, "tiny")
    assert run["dataset"]["version"] == 2
    assert project.registry.get_model("tiny")["version"] == 2
    assert_nothing_left(project)


def test_upload_failure_datastore_path_is_a_file(project: Project):
    """New data and a datastore path where a file stands: the workflow stops before any
    job, one line naming the path, on every run until the file is gone; then the data
    set is stored there."""
    data = tiny_project(project)
    project.snakemake()

    # new data, and a datastore path where a file stands: nothing could be stored there
    data.write_text("a,label\n1,0\n2,1\n3,1\n")
    (project.path / "shared").write_text("not a folder\n")
    config = project.config()
    config["datastore"] = "shared"
    project.write_config(config)
    for _ in range(2):
        refused = project.snakemake(check=False)
        assert refused.returncode != 0 and jobs_run(output_of(refused), "upload") == 0
        assert "snakeyard: datastore: 'shared' is a file, not a folder" in output_of(refused)

    (project.path / "shared").unlink()
    project.snakemake()
    run = assert_current(project, "tiny")
    assert run["dataset"]["version"] == 2
    stored = read_json(project.path / "results/datasets/toy.json")["location"]
    assert Path(stored).is_relative_to(project.path / "shared")
    assert_nothing_left(project)


def conda_tiny(project: Project, request: pytest.FixtureRequest, spec_text: str) -> Path:
    """Experiment ``tiny`` trained in environment ``tiny`` locked from ``spec_text``
    against the test channel (tests/conda_channel.py); return the spec file."""
    tiny_project(project, environment="tiny")
    spec = project.path / "envs" / "tiny.yaml"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(spec_text)
    config = project.config()
    url = request.getfixturevalue("channel")
    config["environments"] = {"tiny": {"file": "envs/tiny.yaml", "channels": [url]}}
    project.write_config(config)
    return spec


def test_lock_failure_unsolvable_spec(project: Project, request: pytest.FixtureRequest):
    """A spec naming a package no channel has: lock fails on every run until the spec is
    fixed; then the model is trained in the new environment version."""
    cache = request.getfixturevalue("env_cache")
    spec = conda_tiny(project, request, "dependencies:\n  - python=3.11\n")
    project.snakemake(env=cache)

    spec.write_text("dependencies:\n  - python=3.11\n  - nosuchpackage\n")
    assert_redone_and_failed(project.snakemake(check=False, env=cache), "lock")
    assert_redone_and_failed(project.snakemake(check=False, env=cache), "lock")

    spec.write_text("dependencies:\n  - python=3.11\n  - numpy\n")
    project.snakemake(env=cache)
    run = assert_current(project, "tiny")
    assert run["environment"]["version"] == 2 and "numpy" in run["packages"]
    done = project.snakemake(env=cache)
    assert NOTHING in output_of(done)


def test_train_failure_is_tried_again_until_fixed(project: Project):
    """The train stage's failure, on a quick script: point 1's sequence covers it on the
    default experiment; here the failure is the script's own bad argument."""
    tiny_project(project)
    project.snakemake()
    set_arguments(project, "tiny", x="not-a-number")
    assert_redone_and_failed(project.snakemake(check=False), "train")
    assert_redone_and_failed(project.snakemake(check=False), "train")
    set_arguments(project, "tiny", x=3)
    project.snakemake()
    assert assert_current(project, "tiny")["metrics"]["score"] == 3
    assert_nothing_left(project)


def test_trial_killed_by_the_system_runs_again(project: Project):
    """A trial stopped by a signal (here SIGKILL, as from the out-of-memory killer) fails
    its job; the next runs retry it; once it can finish, the sweep uses it."""
    oom = project.path / "short-of-memory"
    tiny_project(project, sweep=SWEEP, arguments={"oom": str(oom)})
    project.snakemake()

    oom.touch()
    set_arguments(project, "tiny", note="second")
    first = project.snakemake(check=False)
    assert_redone_and_failed(first, "trial")
    assert "stopped by signal 9" in output_of(first)
    again = project.snakemake(check=False)
    assert_redone_and_failed(again, "trial")
    assert jobs_run(output_of(again), "trial") == 1  # only the killed one

    oom.unlink()
    done = project.snakemake()
    assert jobs_run(output_of(done), "trial") == 1
    run = assert_current(project, "tiny")
    assert run["trial"]["parameters"] == {"x": 2}  # the retried trial is the best
    assert_nothing_left(project)


def test_a_link_out_of_outputs_to_scratch_is_left_out_with_a_warning(
    project: Project, tmp_path: Path
):
    """The script links a checkpoint folder in the job's scratch space into outputs/. The
    link leads out of outputs/, so by the one link policy it is not kept: the train job
    names it in a warning (the record in ``warnings``), and collect and register carry on
    without it, also once the scratch space is wiped (as a cluster does with $TMPDIR)."""
    tiny_project(project)
    project.snakemake()

    scratch = tmp_path / "scratch" / "checkpoints"
    set_arguments(project, "tiny", scratch=str(scratch))
    trained = project.snakemake("results/tiny/run.json")  # the job, up to its end
    warning = next(line for line in output_of(trained).splitlines()
                   if line.startswith("snakeyard train: warning: "))  # fmt: skip
    assert f"outputs/checkpoints is a symbolic link to {scratch}, outside" in warning
    assert warning.endswith("left out of outputs")
    shutil.rmtree(scratch.parent)  # the scratch space wiped
    project.snakemake()
    assert not (project.path / "results/tiny/outputs/checkpoints").exists()
    assert (project.path / "results/tiny/outputs/model.txt").is_file()

    # the fix: the script keeps its checkpoints in outputs/ itself
    script = project.path / "sources" / "tiny" / "train.py"
    script.write_text(script.read_text().replace(
        'os.symlink(args.scratch, "outputs/checkpoints")',
        'shutil.copytree(args.scratch, "outputs/checkpoints")',
    ).replace("import argparse,", "import shutil, argparse,"))  # fmt: skip
    project.snakemake()
    run = assert_current(project, "tiny")
    assert (project.path / "results/tiny/outputs/checkpoints/checkpoint.txt").is_file()
    assert run["arguments"]["scratch"] == str(scratch)
    assert_nothing_left(project)


def test_register_failure_script_writes_no_model(project: Project):
    """An edited script that writes no model: register fails on every run (train is not
    redone: its run completed) until the script is fixed; then a new version."""
    tiny_project(project)
    project.snakemake()

    script = project.path / "sources" / "tiny" / "train.py"
    original = script.read_text()
    script.write_text(original.replace('Path("outputs/model.txt").write_text(', "print("))
    first = project.snakemake(check=False)
    assert_redone_and_failed(first, "register")
    assert "model.path 'outputs/model.txt' is not in the outputs" in output_of(first)
    again = project.snakemake(check=False)
    assert_redone_and_failed(again, "register")
    assert jobs_run(output_of(again), "train") == 0  # the run itself completed

    script.write_text(original)
    project.snakemake()
    run = assert_current(project, "tiny")
    assert project.registry.get_model("tiny")["version"] == 2
    assert run["snapshot_hash"] == project.registry.list_runs("tiny")[0]["snapshot_hash"]
    assert_nothing_left(project)


# ------------------------------------------------------ point 1: a SIGKILL of each stage
def change_for(project: Project, rule: str, data: Path, hold: Path, spec: Path | None) -> None:
    """A change of the configuration that makes ``rule`` run again (and all after it);
    for train and trial, the first attempt holds until its stage process is killed."""
    if rule in ("fetch", "upload"):
        data.write_text(data.read_text() + "3,1\n")
    elif rule == "lock":
        spec.write_text(spec.read_text() + "  - numpy\n")
    else:
        hold.touch()
        set_arguments(project, "tiny", hold=str(hold) if rule in ("train", "trial") else None,
                      note="second")  # fmt: skip


@pytest.mark.parametrize(
    "rule", ["fetch", "upload", "lock", "train", "trial", "sweep", "collect", "register"]
)
def test_a_killed_stage_is_redone_by_the_next_run(
    project: Project, rule: str, request: pytest.FixtureRequest, tmp_path: Path
):
    """A model, then a change that makes ``rule`` run again; its stage process SIGKILLed
    (train and trial while their script runs, the quick stages as soon as they start):
    snakemake fails, the registry holds no half-written version, and the next run
    completes the current configuration."""
    env = None
    spec = None
    if rule == "lock":
        env = request.getfixturevalue("env_cache")
        spec = conda_tiny(project, request, "dependencies:\n  - python=3.11\n")
        data = project.path / "data.csv"
    else:
        data = tiny_project(project, sweep=SWEEP if rule in ("trial", "sweep") else None)
    project.snakemake(env=env)
    before = project.registry.get_model("tiny")

    hold = tmp_path / "hold"
    change_for(project, rule, data, hold, spec)
    snakemake = Snakemake(project)
    if rule in ("train", "trial"):  # killed while its script runs
        stage = wait_for(holding_runner(hold), snakemake, f"a holding {rule}")
        assert stage_processes(project).get(stage) == rule  # two trials may run at once
    else:  # killed as soon as it starts: these stages are quick
        stage = wait_for(lambda: stage_process(project, rule), snakemake, f"a {rule} stage")
    kill(stage)
    code, output = snakemake.wait()
    assert code != 0 and NOTHING not in output, output
    assert project.cli("verify").returncode == 0  # no half-written version

    done = project.snakemake(env=env)
    assert jobs_run(output_of(done), rule) >= 1
    run = assert_current(project, "tiny")
    assert project.registry.get_model("tiny")["version"] == before["version"] + 1
    if rule in ("train", "trial"):  # the run whose stage was killed is not the model's
        killed = [r for r in project.registry.list_runs("tiny")
                  if r["arguments"].get("hold") and r["status"] != "Completed"]  # fmt: skip
        assert len(killed) == 1 and killed[0]["id"] != run["id"]
    done = project.snakemake(env=env)
    assert NOTHING in output_of(done), output_of(done)


def test_after_snakemake_is_killed_the_next_run_says_to_unlock(project: Project, tmp_path: Path):
    """SIGKILL of snakemake and all its processes mid-training leaves Snakemake's lock:
    the next run stops saying to use --unlock; after it, the next run trains."""
    tiny_project(project)
    project.snakemake()
    hold = tmp_path / "hold"
    hold.touch()
    set_arguments(project, "tiny", hold=str(hold))
    snakemake = Snakemake(project)
    wait_for(holding_runner(hold), snakemake, "a holding train")
    snakemake.kill_group()
    code, _ = snakemake.wait()
    assert code != 0

    locked = project.snakemake(check=False)
    output = output_of(locked)
    assert locked.returncode != 0 and NOTHING not in output
    assert "Directory cannot be locked" in output and "--unlock" in output  # Snakemake's
    assert jobs_run(output, "train") == 0
    project.snakemake("--unlock")
    done = project.snakemake()
    assert jobs_run(output_of(done), "train") == 1
    assert assert_current(project, "tiny")["arguments"]["hold"] == str(hold)
    assert_nothing_left(project)


LATE_SCRIPT = """
import argparse, os, time
from pathlib import Path
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--data-folder")
parser.add_argument("--x", type=float, default=1.0)
parser.add_argument("--release", default="")
args, _ = parser.parse_known_args()
if args.release:
    Path(args.release + ".started").write_text(str(os.getppid()))
    while not Path(args.release).exists():
        time.sleep(0.05)
Run.get_context().log("score", args.x)
os.makedirs("outputs", exist_ok=True)
Path("outputs/model.txt").write_text(f"model of run {os.environ['SNAKEYARD_RUN_ID']}\\n")
"""


def test_a_train_job_outliving_a_killed_snakemake_never_replaces_a_newer_result(
    project: Project, tmp_path: Path
):
    """Only snakemake is killed: its train job goes on (as a batch job on a cluster
    would). A later snakemake trains the new configuration; when the old job ends after
    that, it keeps its run in the registry but leaves the newer result in place."""
    project.add_experiment("late", LATE_SCRIPT, arguments={"x": 1},
                           model={"path": "outputs/model.txt"})  # fmt: skip
    release = tmp_path / "release"
    set_arguments(project, "late", release=str(release))
    first = Snakemake(project, "results/late/model.json")
    started = Path(f"{release}.started")
    old_stage = wait_for(lambda: int(started.read_text()) if started.exists() else None,
                         first, "the first train job")  # fmt: skip
    first.process.kill()  # snakemake alone; its job's processes go on
    try:
        assert first.wait()[0] != 0
        set_arguments(project, "late", x=2, release=None)
        project.snakemake("--unlock")
        project.snakemake()
        assert assert_current(project, "late")["arguments"] == {"x": 2}
        newer = read_json(project.path / "results/late/run.json")["id"]
    finally:
        release.touch()  # the old job ends now, after the newer one
    deadline = time.monotonic() + 120  # a bound against hanging, not a speed check
    while Path(f"/proc/{old_stage}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{old_stage}").exists()
    assert read_json(project.path / "results/late/run.json")["id"] == newer
    old_runs = [r for r in project.registry.list_runs("late") if r["id"] != newer]
    assert [(r["status"], r["arguments"]["x"]) for r in old_runs] == [("Completed", 1)]
    again = project.snakemake()
    assert NOTHING in output_of(again)
    assert assert_current(project, "late")["arguments"] == {"x": 2}


# ------------------------------------------------------------------ the kill loop
def registered_arguments(project: Project) -> dict | None:
    """The arguments of the run behind results/sklearn-iris/model.json, if it exists."""
    receipt = project.path / "results/sklearn-iris/model.json"
    if not receipt.exists():
        return None
    return project.registry.get_run(read_json(receipt)["run_id"])["arguments"]


def test_killed_at_random_the_next_runs_complete_the_current_configuration(project: Project):
    """Six rounds, seeded: change the penalty, start snakemake and, at a random moment of
    its jobs, SIGKILL it with all its processes, or the stage process running; then
    run again (unlocking when told to) until a run succeeds. No run may say "Nothing to
    be done" while the registered model is not of the current configuration."""
    chooser = random.Random(1978)
    project.snakemake()
    for round_number in range(6):
        set_arguments(project, "sklearn-iris", penalty=0.5 + round_number / 4)
        current = project.config()["experiments"]["sklearn-iris"]["arguments"]
        snakemake = Snakemake(project)
        # Snakemake's own start takes seconds here: the delay counts from its first job
        wait_for(snakemake.jobs_started, snakemake, "a first job")
        time.sleep(chooser.uniform(0, 3))
        if chooser.choice(["snakemake", "stage"]) == "snakemake":
            snakemake.kill_group()
        else:  # the stage running now, or the next one to start
            while snakemake.running():
                stages = stage_processes(project)
                if stages:
                    kill(min(stages))
                    break
                time.sleep(0.003)
        snakemake.wait()

        for _attempt in range(3):
            done = project.snakemake(check=False)
            output = output_of(done)
            if NOTHING in output:
                assert registered_arguments(project) == current, f"round {round_number}"
            if done.returncode == 0:
                break
            assert "--unlock" in output, f"round {round_number}: {output}"
            project.snakemake("--unlock")
        else:
            raise AssertionError(f"round {round_number}: still failing:\n{output}")
        assert assert_current(project, "sklearn-iris")["arguments"] == current


# ------------------------------------------------------------------------- point 7
def interpreter_spellings(tmp_path: Path) -> list[str]:
    """Several paths of the interpreter running the tests, each its own sys.executable;
    the last is a link to it in a folder of its own."""
    link = tmp_path / "bin" / "python"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    spellings = [sys.executable, str(Path(sys.executable).resolve())]
    spellings += [str(Path(sys.executable).parent / name) for name in ("python", "python3")]
    spellings = [s for s in dict.fromkeys(spellings) if Path(s).exists()] + [str(link)]
    seen = [
        subprocess.run([s, "-c", "import sys; print(sys.executable)"],
                       capture_output=True, text=True, check=True).stdout.strip()
        for s in spellings
    ]  # fmt: skip
    assert len(set(seen)) == len(seen) >= 3, seen
    return spellings


def test_the_interpreters_spelling_reruns_nothing(project: Project, tmp_path: Path):
    """A complete sweep, run by the snakemake script; then `python -m snakemake` with
    other spellings of the same interpreter finds nothing to do."""
    tiny_project(project, sweep=SWEEP)
    project.snakemake()  # the snakemake script: its shebang's spelling
    for python in interpreter_spellings(tmp_path):
        command = [python, "-m", "snakemake", "-s", str(SNAKEFILE), "--cores", "2"]
        done = subprocess.run([*command, "-n"], cwd=project.path, capture_output=True, text=True)
        assert done.returncode == 0 and NOTHING in output_of(done), (python, output_of(done))
    # and for real, through the link
    done = subprocess.run(command, cwd=project.path, capture_output=True, text=True)
    assert NOTHING in output_of(done), output_of(done)
    assert len(project.registry.list_runs("tiny")) == 2  # the two trials, once each

    # the shell command Snakemake keeps names the interpreter by a variable, not a path
    commands = [read_json(p)["shellcmd"] for p in (project.path / ".snakemake/metadata").iterdir()]
    assert commands and all('"$SNAKEYARD_PYTHON" -m snakeyard.stages' in c for c in commands)
    real = str(Path(sys.executable).resolve())
    assert not any(str(Path(sys.executable).parent) in c or real in c for c in commands)


def test_stages_run_with_the_workflows_interpreter_whatever_path_says(
    project: Project, tmp_path: Path
):
    """A `python` first on PATH (one that exits 99) and a SNAKEYARD_PYTHON left in the
    shell do not change the interpreter the stages and the training run with."""
    fake = tmp_path / "fake-bin" / "python"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 99\n")
    fake.chmod(0o755)
    (fake.parent / "python3").symlink_to(fake)
    tiny_project(project)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
           "SNAKEYARD_PYTHON": str(fake)}  # fmt: skip
    # python -m snakemake: the snakemake script of a pyenv or conda shim may put its own
    # bin folder first on PATH, which would hide the fake python
    command = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--cores", "2"]
    done = subprocess.run(command, cwd=project.path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, output_of(done)
    run = assert_current(project, "tiny")
    assert run["python"] == sys.executable
