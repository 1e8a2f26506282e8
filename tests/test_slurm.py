"""Training on a real Slurm: the workflow with --profile profiles/slurm, read back from Slurm.

These tests need a running Slurm (tests/cluster/slurm-up.sh starts a one-node cluster on
this host; .ci/run calls it). Without one they skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SLURM_ARGS, SNAKEFILE, Project, jobs_run
from test_sweeps_workflow import SCORE_SCRIPT, most_overlapping

pytestmark = [pytest.mark.slurm, pytest.mark.integration]

STAGES = ("fetch", "upload", "lock", "train", "collect", "register")

# Trains at once, unless the file named by --hold exists: then it waits to be stopped.
# With --once it removes that file first, so that a retry trains.
HOLDING_SCRIPT = """
import argparse, os, time
from pathlib import Path
import joblib
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--data-folder")
parser.add_argument("--hold", default="")
parser.add_argument("--once", action="store_true")
args = parser.parse_args()
hold = Path(args.hold) if args.hold else None
if hold is not None and hold.exists():
    if args.once:
        hold.unlink()
    print("holding until Slurm stops this job", flush=True)
    time.sleep(3600)
Run.get_context().log("accuracy", 1.0)
os.makedirs("outputs", exist_ok=True)
joblib.dump({"trained": os.environ["SNAKEYARD_RUN_ID"]}, "outputs/model.joblib")
print("trained", flush=True)
"""


def slurm_job(job_id: str) -> dict[str, str]:
    """Slurm's own record of a job, as ``scontrol show job`` prints it."""
    done = subprocess.run(
        ["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return dict(word.split("=", 1) for word in done.stdout.split() if "=" in word)


def runs_of(project: Project, experiment: str) -> list[dict]:
    """Every run record of ``experiment``, oldest first."""
    folder = project.path / "registry" / "runs" / experiment
    records = [json.loads(p.read_text()) for p in folder.glob("*/run.json")]
    return sorted(records, key=lambda r: (r["start"], r["id"]))


def wait_for_running_job(project: Project, experiment: str, snakemake: subprocess.Popen) -> str:
    """The Slurm job id of the experiment's run once its script is running."""
    for _ in range(600):
        for record in runs_of(project, experiment):
            log = Path(record["folder"]) / "work" / "logs" / "std_log.txt"
            if record["status"] == "Running" and "holding" in _read(log):
                return record["cluster"]["job_id"]
        if snakemake.poll() is not None:
            raise AssertionError(f"snakemake ended before {experiment} ran:\n{_output(snakemake)}")
        time.sleep(0.5)
    raise AssertionError(f"no running job of {experiment} appeared")


def start_snakemake(project: Project, *args: str) -> subprocess.Popen:
    command = ["snakemake", "-s", str(SNAKEFILE), "--cores", "2", *SLURM_ARGS, *args]
    return subprocess.Popen(
        command, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _output(process: subprocess.Popen) -> str:
    return process.communicate()[0]


def add_holding_experiment(project: Project, name: str, hold: Path, **overrides) -> None:
    arguments = {"hold": str(hold), **overrides.pop("arguments", {})}
    project.add_experiment(name, HOLDING_SCRIPT, arguments=arguments, **overrides)


def test_training_goes_through_slurm_with_the_configured_resources(slurm, project: Project):
    config = project.config()
    config["experiments"]["sklearn-iris"]["resources"] = {
        "cpus": 2,
        "mem_mb": 1500,
        "runtime": 7,
        "partition": "main",
        "slurm_extra": "--nice=3",
    }
    project.write_config(config)

    done = project.snakemake(*SLURM_ARGS)
    output = done.stdout + done.stderr
    for rule in STAGES:
        assert jobs_run(output, rule) == 1, rule

    record = json.loads((project.path / "results/sklearn-iris/run.json").read_text())
    assert record["status"] == "Completed"
    cluster = record["cluster"]
    assert cluster["scheduler"] == "slurm" and cluster["job_id"] == record["cluster_job_id"]
    job = slurm_job(cluster["job_id"])
    assert job["JobState"] == "COMPLETED"
    assert job["NodeList"] == cluster["node"] and job["Partition"] == cluster["partition"]
    # what the experiment asked for is what Slurm granted
    assert job["Partition"] == "main"
    assert job["NumCPUs"] == "2" and job["CPUs/Task"] == "2"
    assert "mem=1500M" in job["TRES"]
    assert job["TimeLimit"] == "00:07:00"
    assert job["Nice"] == "3"
    # only train went to Slurm; the light stages ran here
    slurm_logs = project.path / "logs" / "slurm"
    assert [p.name for p in slurm_logs.iterdir()] == ["rule_train"]
    assert Path(job["StdOut"]).is_relative_to(slurm_logs / "rule_train")
    assert cluster["log"] == job["StdErr"]
    for rule in ("fetch", "upload", "lock", "collect", "register"):
        assert f"localrule {rule}:" in output
    assert "rule train:" in output

    shown = project.cli("runs", "show", record["id"]).stdout
    assert f"slurm job {cluster['job_id']} on {cluster['node']} (partition main)" in shown

    model = project.registry.get_model("sklearn-iris")
    assert model["run_id"] == record["id"]
    assert project.cli("verify").returncode == 0


def test_profile_defaults_fill_what_an_experiment_leaves_out(slurm, project: Project):
    config = project.config()
    config["experiments"]["sklearn-iris"]["resources"] = {"cpus": 1}
    project.write_config(config)

    project.snakemake(*SLURM_ARGS, "--default-resources", "mem_mb=1200", "runtime=11")

    record = json.loads((project.path / "results/sklearn-iris/run.json").read_text())
    job = slurm_job(record["cluster"]["job_id"])
    assert "mem=1200M" in job["TRES"] and job["TimeLimit"] == "00:11:00"


def test_killed_jobs_fail_others_register_and_a_rerun_redoes_only_those(
    slurm, project: Project, tmp_path: Path
):
    hold = tmp_path / "hold"
    hold.touch()
    # over its time: Slurm's smallest limit is a minute; the script would wait an hour
    add_holding_experiment(project, "overtime", hold, resources={"runtime": 1})
    add_holding_experiment(project, "cancelled", hold)
    # several jobs register versions of one model concurrently
    for index in range(3):
        project.add_experiment(
            f"good{index}", HOLDING_SCRIPT, model={"name": "shared"}, resources={"runtime": 5}
        )

    snakemake = start_snakemake(project, "--keep-going")
    cancelled_job = wait_for_running_job(project, "cancelled", snakemake)
    subprocess.run(["scancel", cancelled_job], check=True)
    output = _output(snakemake)
    assert snakemake.returncode != 0, output

    overtime, cancelled = runs_of(project, "overtime"), runs_of(project, "cancelled")
    assert [r["status"] for r in overtime + cancelled] == ["Failed", "Failed"]
    overtime_job = overtime[0]["cluster"]["job_id"]
    assert slurm_job(overtime_job)["JobState"] == "TIMEOUT"
    assert slurm_job(cancelled_job)["JobState"] == "CANCELLED"
    # the run record says what Slurm reported
    assert f"Slurm reported: JOB {overtime_job} ON" in overtime[0]["error"]
    assert overtime[0]["error"].endswith("DUE TO TIME LIMIT")
    assert f"Slurm reported: JOB {cancelled_job} ON" in cancelled[0]["error"]
    assert "CANCELLED AT" in cancelled[0]["error"]
    # their logs are kept; nothing is registered from them
    for record in overtime + cancelled:
        assert "holding" in (Path(record["folder"]) / "work/logs/std_log.txt").read_text()
        assert not (project.path / f"results/{record['experiment']}/model.json").exists()
    assert project.cli("models", "show", "overtime").returncode == 1
    assert project.cli("models", "show", "cancelled").returncode == 1

    # the other experiments finished and registered: distinct versions, all verifiable
    shared = project.registry.model_versions("shared")
    assert sorted(m["version"] for m in shared) == [1, 2, 3]
    good_runs = {runs_of(project, f"good{i}")[0]["id"] for i in range(3)}
    assert {m["run_id"] for m in shared} == good_runs
    assert project.cli("verify").returncode == 0

    # once the cause is gone, a re-run trains only what did not complete
    hold.unlink()
    done = project.snakemake(*SLURM_ARGS)
    output = done.stdout + done.stderr
    assert jobs_run(output, "train") == 2 and jobs_run(output, "register") == 2
    assert "experiment=good0" not in output
    assert (
        project.registry.get_model("overtime")["run_id"] == runs_of(project, "overtime")[-1]["id"]
    )
    assert len(project.registry.model_versions("shared")) == 3


def test_a_cancelled_job_is_retried_as_a_new_run(slurm, project: Project, tmp_path: Path):
    hold = tmp_path / "hold"
    hold.touch()
    add_holding_experiment(project, "retried", hold, arguments={"once": True})
    config = project.config()
    del config["experiments"]["sklearn-iris"]
    project.write_config(config)

    snakemake = start_snakemake(project, "--retries", "1")
    first_job = wait_for_running_job(project, "retried", snakemake)
    subprocess.run(["scancel", first_job], check=True)
    output = _output(snakemake)
    assert snakemake.returncode == 0, output

    first, second = runs_of(project, "retried")
    assert first["status"] == "Failed" and "CANCELLED AT" in first["error"]
    assert second["status"] == "Completed" and second["id"] != first["id"]
    assert second["cluster"]["job_id"] != first_job
    assert project.registry.get_model("retried")["run_id"] == second["id"]


def test_light_stages_can_run_on_the_cluster_too(slurm, project: Project):
    config = project.config()
    config["local_stages"] = False
    project.write_config(config)

    done = project.snakemake(*SLURM_ARGS)
    output = done.stdout + done.stderr
    stages = (*STAGES, "experiment_report")  # the report's job too
    for rule in stages:
        assert f"rule {rule}:" in output and f"localrule {rule}:" not in output
    submitted = sorted(p.name for p in (project.path / "logs" / "slurm").iterdir())
    assert submitted == sorted(f"rule_{rule}" for rule in stages)
    assert project.cli("verify").returncode == 0


def only_sweep(project: Project, name: str, sweep: dict) -> subprocess.CompletedProcess:
    """Run the workflow on Slurm with one experiment: ``name``, sweeping SCORE_SCRIPT."""
    project.add_experiment(name, SCORE_SCRIPT, sweep=sweep, model={"path": "outputs/model.txt"})
    config = project.config()
    del config["experiments"]["sklearn-iris"]
    project.write_config(config)
    return project.snakemake(*SLURM_ARGS)


def test_a_sweep_fans_out_on_slurm_within_its_concurrency_limit(slurm, project: Project):
    # the node has room for two one-CPU jobs at once; the sweep allows one
    sweep = {"sampling": "grid", "parameters": {"x": [1, 2, 3, 4]}, "max_concurrent_runs": 1,
             "primary_metric": "score"}  # fmt: skip
    done = only_sweep(project, "swept", sweep)
    output = done.stdout + done.stderr
    assert jobs_run(output, "trial") == 4
    # the limit is a global resource of the scheduler (printed differently per executor)
    assert re.search(r"Provided resources: sweep_swept=(1|Resource\(\"sweep_swept\", 1\))", output)

    runs = project.registry.list_runs("swept")
    assert len(runs) == 4
    for run in runs:  # every trial was a Slurm job of its own
        assert slurm_job(run["cluster"]["job_id"])["JobState"] == "COMPLETED"
    assert len({run["cluster"]["job_id"] for run in runs}) == 4
    assert most_overlapping(runs) == 1
    # x = 3 fails inside its job: left out, and the best trial registered
    assert sorted(r["status"] for r in runs) == ["Completed"] * 3 + ["Failed"]
    best = max((r for r in runs if r["status"] == "Completed"), key=lambda r: r["metrics"]["score"])
    assert best["arguments"]["x"] == 4
    assert project.registry.get_model("swept")["run_id"] == best["id"]


def test_a_training_job_cancelled_on_slurm_is_trained_again_by_the_next_run(
    slurm, project: Project, tmp_path: Path
):
    """A model trained, the arguments changed, the new train job cancelled with scancel
    while its script runs: the next run trains again and registers the current
    configuration; it never says "Nothing to be done" with the older model."""
    hold = tmp_path / "hold"
    add_holding_experiment(project, "held", hold, arguments={"once": False})
    config = project.config()
    del config["experiments"]["sklearn-iris"]
    project.write_config(config)
    project.snakemake(*SLURM_ARGS)
    [first] = runs_of(project, "held")

    # the next attempt holds, and takes the file away: the one after it trains
    hold.touch()
    config["experiments"]["held"]["arguments"]["once"] = True
    project.write_config(config)
    snakemake = start_snakemake(project)
    cancelled_job = wait_for_running_job(project, "held", snakemake)
    subprocess.run(["scancel", cancelled_job], check=True)
    output = _output(snakemake)
    assert snakemake.returncode != 0 and "Nothing to be done" not in output, output

    done = project.snakemake(*SLURM_ARGS)
    output = done.stdout + done.stderr
    assert "Nothing to be done" not in output and jobs_run(output, "train") == 1
    _, cancelled, trained = runs_of(project, "held")
    assert cancelled["status"] == "Failed" and cancelled["cluster"]["job_id"] == cancelled_job
    assert trained["status"] == "Completed" and trained["arguments"]["once"] is True
    model = project.registry.get_model("held")
    assert model["version"] == 2 and model["run_id"] == trained["id"] != first["id"]
    receipt = json.loads((project.path / "results/held/model.json").read_text())
    assert (receipt["version"], receipt["run_id"]) == (2, trained["id"])
    again = project.snakemake(*SLURM_ARGS)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_grouped_trials_share_a_slurm_job_and_keep_their_own_runs(slurm, project: Project):
    """cluster_group: 4 short trials go to Slurm as one job, sized for the trials that fit
    side by side, which run side by side in it; each is still its own run with its own
    record, and the trial that fails (x = 3) fails only its own record."""
    sweep = {"sampling": "grid", "parameters": {"x": [1, 2, 3, 4]}, "cluster_group": 4,
             "primary_metric": "score"}  # fmt: skip
    done = only_sweep(project, "grouped", sweep)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = project.registry.list_runs("grouped")
    assert len({run["id"] for run in runs}) == 4
    assert len({run["cluster"]["job_id"] for run in runs}) == 1  # one submission for four
    # the job holds two trials side by side (one CPU each, --cores 2) and runs them so:
    # two at a time, never more, rather than the four one after another
    assert slurm_job(runs[0]["cluster"]["job_id"])["NumCPUs"] == "2"
    assert most_overlapping(runs) == 2
    assert sorted(r["status"] for r in runs) == ["Completed"] * 3 + ["Failed"]
    best = max((r for r in runs if r["status"] == "Completed"), key=lambda r: r["metrics"]["score"])
    assert project.registry.get_model("grouped")["run_id"] == best["id"]
