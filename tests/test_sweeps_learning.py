"""Sweeps that learn, end to end with real snakemake: Bayesian waves, early termination
policies applied as trials log, and a time budget that runs out mid-sweep."""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import pytest

from conftest import Project, jobs_run
from test_sweeps_workflow import read_tsv

pytestmark = pytest.mark.integration
pytest.importorskip("optuna")

# logs its primary metric once per epoch: q + 0.01 * epoch, epochs 1 to 4
EPOCHS_SCRIPT = """
import argparse
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--q", type=float)
parser.add_argument("--data-folder")
args = parser.parse_args()
run = Run.get_context()
for epoch in range(1, 5):
    print("epoch", epoch)
    run.log("score", round(args.q + 0.01 * epoch, 4))
open("outputs/model.txt", "w").write(f"model {args.q}\\n")
"""

POLICIES = {
    "bandit": {"policy": "bandit", "slack_factor": 0.2},
    "median": {"policy": "median_stopping"},
    "truncation": {"policy": "truncation_selection", "truncation_percentage": 50},
}


def series(q: float) -> list[float]:
    return [round(q + 0.01 * epoch, 4) for epoch in range(1, 5)]


def hand_cancels(policy: dict, history: list[float], before: list[list[float]]) -> bool:
    """The hosted service's definitions, written out for the test (docs/sweeps.md)."""
    n = len(history)
    if n < max(1, policy.get("delay_evaluation", 0)) or n % policy.get("evaluation_interval", 1):
        return False
    if policy["policy"] == "bandit":
        best = max([h[n - 1] for h in before if len(h) >= n] + [history[-1]])
        return history[-1] < best / (1 + policy["slack_factor"])
    if policy["policy"] == "median_stopping":
        averages = [statistics.fmean(h[:n]) for h in before if len(h) >= n]
        return bool(averages) and max(history) < statistics.median(averages)
    at_n = [h[n - 1] for h in before if len(h) >= n]
    cut = (len(at_n) + 1) * policy["truncation_percentage"] // 100
    return sum(value < history[-1] for value in at_n) < cut


def expected_histories(policy: dict, qs_in_start_order: list[float]) -> list[list[float]]:
    """What each trial logs before it ends or is canceled, the trials one at a time."""
    done: list[list[float]] = []
    for q in qs_in_start_order:
        history: list[float] = []
        for value in series(q):
            history.append(value)
            if hand_cancels(policy, history, done):
                break
        done.append(history)
    return done


def waves_planned(output: str) -> int:
    """How many wave plannings (checkpoint jobs) a snakemake log shows as started."""
    lines = [line.strip() for line in output.splitlines()]
    return sum(line in ("checkpoint sweep_wave:", "localcheckpoint sweep_wave:") for line in lines)


def logged(record: dict) -> list[float]:
    value = record["metrics"].get("score", [])
    return value if isinstance(value, list) else [value]


def test_each_policy_cancels_exactly_the_trials_its_definition_says(project: Project):
    # q = 0.9 runs alone first (max_total_runs: 1); then 0.1 (known bad) and 0.85, one at
    # a time in whatever order Snakemake picks: the test computes what each policy must do
    # in that order. The truncation sweep's script is written for the hosted service.
    for name, policy in POLICIES.items():
        sweep = {"sampling": "grid", "parameters": {"q": [0.9, 0.1, 0.85]}, "max_total_runs": 1,
                 "max_concurrent_runs": 1, "primary_metric": "score", "early_termination": policy}  # fmt: skip
        script = EPOCHS_SCRIPT
        if name == "truncation":
            script = script.replace("from snakeyard import Run", "from azureml.core.run import Run")
        project.add_experiment(name, script, sweep=sweep, model={"path": "outputs/model.txt"})
    targets = [f"results/{name}/model.json" for name in POLICIES]
    project.snakemake(*targets)
    config = project.config()
    for name in POLICIES:
        config["experiments"][name]["sweep"]["max_total_runs"] = 3
    project.write_config(config)
    done = project.snakemake(*targets)
    assert jobs_run(done.stdout + done.stderr, "trial") == 6

    for name, policy in POLICIES.items():
        runs = sorted(project.registry.list_runs(name), key=lambda r: r["start_unix"])
        qs = [r["trial"]["parameters"]["q"] for r in runs]
        assert qs[0] == 0.9
        expected = expected_histories(policy, qs)
        assert [logged(r) for r in runs] == expected, name
        for run, history in zip(runs, expected, strict=True):
            canceled = len(history) < 4
            assert run["status"] == ("Canceled" if canceled else "Completed"), (name, run)
            if canceled:
                assert run["canceled"].startswith(f"canceled by the {policy['policy']} policy")
                assert f"at interval {len(history)}:" in run["canceled"]
                # its log is kept, and says why it stopped
                log = (Path(run["folder"]) / "work/logs/std_log.txt").read_text()
                assert f"epoch {len(history)}\n" in log and f"epoch {len(history) + 1}" not in log
                assert f"snakeyard: trial canceled: {run['canceled']}" in log
                stage_log = (project.path / f"logs/train/{name}/{run['trial']['id']}.log").read_text()
                assert "Canceled after" in stage_log and run["canceled"] in stage_log
        # the known bad trial is canceled whatever the order
        assert next(r for r in runs if r["trial"]["parameters"]["q"] == 0.1)["status"] == "Canceled"

        rows = read_tsv(project.path / f"results/{name}/sweep.tsv")
        assert len(rows) == 3 and rows[0]["param:q"] == "0.9" and rows[0]["rank"] == "1"
        for row in rows:
            run = next(r for r in runs if r["id"] == row["run_id"])
            assert row["status"] == run["status"]
            if run["status"] == "Canceled":
                assert row["rank"] == "" and row["note"] == run["canceled"]
        model = project.registry.get_model(name)
        assert model["run_id"] == runs[0]["id"]

    listed = project.cli("runs", "list", "--experiment", "median", "--status", "Canceled")
    assert listed.returncode == 0 and "Canceled" in listed.stdout


BAYES_SCRIPT = """
import argparse
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--kernel")
parser.add_argument("--data-folder")
args = parser.parse_args()
Run.get_context().log("score", -(args.x - 0.3) ** 2 + (args.kernel == "rbf"))
open("outputs/model.txt", "w").write("model\\n")
"""


def test_a_bayesian_sweep_runs_wave_by_wave_and_only_what_is_new(project: Project):
    from snakeyard.sweeps.study import open_study, plan_wave

    sweep = {"sampling": "bayesian", "parameters": {"x": "uniform(0, 1)", "kernel": "choice(linear, rbf)"},
             "max_total_runs": 5, "max_concurrent_runs": 2, "primary_metric": "score", "seed": 7}  # fmt: skip
    project.add_experiment("bayes", BAYES_SCRIPT, sweep=sweep, model={"path": "outputs/model.txt"})
    config = project.config()
    del config["experiments"]["sklearn-iris"]
    project.write_config(config)
    done = project.snakemake()
    output = done.stdout + done.stderr
    assert jobs_run(output, "trial") == 5 and waves_planned(output) == 3

    runs = project.registry.list_runs("bayes")
    assert len(runs) == 5 and all(r["status"] == "Completed" for r in runs)
    # each wave ran after the one before it had finished, and learnt from it
    waves = sorted((project.path / "results/bayes/waves").glob("*/*.json"))
    planned = [json.loads(path.read_text()) for path in waves]
    assert [len(w["trials"]) for w in planned] == [2, 2, 1]
    by_trial = {r["trial"]["id"]: r for r in runs}
    for earlier, later in itertools.pairwise(planned):
        assert max(by_trial[t["id"]]["end_unix"] for t in earlier["trials"]) <= min(
            by_trial[t["id"]]["start_unix"] for t in later["trials"])
    # the same seed proposes the same first wave anywhere
    settings = {**sweep, "sampler": "tpe", "goal": "maximize"}
    fresh = plan_wave(project.path / "elsewhere", settings, 0, 2, [], log=lambda _: None)
    assert fresh["trials"] == planned[0]["trials"]
    # trial ids, sweep.tsv and the best run as for any sweep
    rows = read_tsv(project.path / "results/bayes/sweep.tsv")
    assert len(rows) == 5 and {row["trial"] for row in rows} == set(by_trial)
    assert project.registry.get_model("bayes")["run_id"] == rows[0]["run_id"]
    listed = project.cli("runs", "list", "--experiment", "bayes", "--sort", "score")
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [row["run_id"] for row in rows]
    report = (project.path / "results/bayes/report/sweep.html").read_text()
    assert all(row["run_id"] in report for row in rows)

    again = project.snakemake()
    assert "Nothing to be done" in again.stdout + again.stderr

    # one trial forced again: it runs, the waves after it are not planned again, and the
    # study is not told about it twice
    forced = rows[-1]["trial"]
    done = project.snakemake("--forcerun", f"results/bayes/trials/{forced}/run.json")
    output = done.stdout + done.stderr
    assert jobs_run(output, "trial") == 1 and waves_planned(output) == 0

    # a bigger budget runs only the new trials
    config = project.config()
    config["experiments"]["bayes"]["sweep"]["max_total_runs"] = 8
    project.write_config(config)
    done = project.snakemake()
    output = done.stdout + done.stderr
    assert jobs_run(output, "trial") == 3
    assert len(project.registry.list_runs("bayes")) == 9  # 5, the forced one, 3 new
    assert len(read_tsv(project.path / "results/bayes/sweep.tsv")) == 8
    study = open_study(project.path / "results/bayes/study", planned[0]["study"], "maximize")
    # told when the next wave is planned: every trial of the first three waves, once each
    told = [t.user_attrs["snakeyard_trial"] for t in study.get_trials() if t.value is not None]
    assert len(told) == len(set(told)) == 6 and forced in told


# the first trial to start finishes at once; every later one logs every half second for
# ten minutes, unless something stops it
BUDGET_SCRIPT = """
import argparse, os, time
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int)
parser.add_argument("--marker")
parser.add_argument("--data-folder")
args = parser.parse_args()
run = Run.get_context()
try:
    os.close(os.open(args.marker, os.O_CREAT | os.O_EXCL))
    first = True
except FileExistsError:
    first = False
open("outputs/model.txt", "w").write("model\\n")
if first:
    run.log("score", 1.0)
else:
    for step in range(1200):
        run.log("score", 0.5)
        time.sleep(0.5)
"""


def test_a_time_budget_that_runs_out_mid_sweep(project: Project, tmp_path: Path):
    sweep = {"sampling": "grid", "parameters": {"x": [1, 2, 3, 4]}, "max_concurrent_runs": 1,
             "primary_metric": "score", "max_duration_minutes": 0.3}  # fmt: skip
    project.add_experiment("timed", BUDGET_SCRIPT, sweep=sweep, model={"path": "outputs/model.txt"},
                           arguments={"marker": str(tmp_path / "first")})  # fmt: skip
    done = project.snakemake("results/timed/model.json")
    assert jobs_run(done.stdout + done.stderr, "trial") == 4

    records = [json.loads((project.path / f"results/timed/trials/{t}/run.json").read_text())
               for t in (p.name for p in (project.path / "results/timed/trials").iterdir())]  # fmt: skip
    finished = [r for r in records if r["status"] == "Completed"]
    canceled = [r for r in records if r["status"] == "Canceled" and r["id"]]
    not_started = [r for r in records if r["status"] == "Canceled" and not r["id"]]
    assert len(finished) == 1 and len(canceled) == 1 and len(not_started) == 2
    reason = "the sweep's time budget (max_duration_minutes: 0.3) ran out"
    # the running one was stopped at the budget's end, keeping what it had logged
    running = canceled[0]
    assert running["canceled"] == reason and running["exit_code"] == -15
    assert len(logged(running)) > 1
    clock = json.loads((project.path / "results/timed/study/clock.json").read_text())
    assert running["end_unix"] >= clock["start_unix"] + 18
    # the others never started: no run in the registry
    assert all(r["canceled"] == f"not started: {reason}" for r in not_started)
    assert len(project.registry.list_runs("timed")) == 2
    # the best finished trial is registered; the others are listed, never chosen
    rows = read_tsv(project.path / "results/timed/sweep.tsv")
    assert [row["status"] for row in rows] == ["Completed", "Canceled", "Canceled", "Canceled"]
    assert project.registry.get_model("timed")["run_id"] == finished[0]["id"] == rows[0]["run_id"]


# the first trial to start scores 1.0 and ends; a later one scores 0.1 per epoch and would
# go on for five minutes
SLURM_SCRIPT = """
import argparse, os, time
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int)
parser.add_argument("--marker")
parser.add_argument("--data-folder")
args = parser.parse_args()
run = Run.get_context()
open("outputs/model.txt", "w").write("model\\n")
try:
    os.close(os.open(args.marker, os.O_CREAT | os.O_EXCL))
    run.log("score", 1.0)
except FileExistsError:
    for epoch in range(10):
        run.log("score", 0.1)
        time.sleep(30)
"""


@pytest.mark.slurm
def test_a_trial_canceled_on_slurm_ends_its_slurm_job(slurm, project: Project, tmp_path: Path):
    from conftest import SLURM_ARGS
    from test_slurm import slurm_job

    sweep = {"sampling": "grid", "parameters": {"x": [1, 2]}, "max_concurrent_runs": 1,
             "primary_metric": "score",
             "early_termination": {"policy": "bandit", "slack_amount": 0.1}}  # fmt: skip
    project.add_experiment("remote", SLURM_SCRIPT, sweep=sweep, model={"path": "outputs/model.txt"},
                           arguments={"marker": str(tmp_path / "first")})  # fmt: skip
    done = project.snakemake("results/remote/model.json", *SLURM_ARGS)
    assert jobs_run(done.stdout + done.stderr, "trial") == 2

    runs = sorted(project.registry.list_runs("remote"), key=lambda r: r["start_unix"])
    assert [r["status"] for r in runs] == ["Completed", "Canceled"]
    canceled = runs[1]
    assert canceled["canceled"].startswith("canceled by the bandit policy (slack_amount=0.1) at interval 1")
    assert logged(canceled) == [0.1]
    # its Slurm job ended when the policy stopped the script, not five minutes later
    job = slurm_job(canceled["cluster"]["job_id"])
    assert job["JobState"] == "COMPLETED"
    assert canceled["cluster"]["job_id"] != runs[0]["cluster"]["job_id"]
    assert project.registry.get_model("remote")["run_id"] == runs[0]["id"]
