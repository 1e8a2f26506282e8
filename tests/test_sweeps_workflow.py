"""Sweeps end to end: real snakemake in a temporary folder, then the runs, registry and report."""

from __future__ import annotations

import base64
import csv
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, Project, jobs_run
from snakeyard.sweeps.plan import plan

pytestmark = pytest.mark.integration

# a quick stand-in for a training script: its score is x, it fails for x == 3, and it
# sleeps so that trials allowed to overlap would overlap
SCORE_SCRIPT = """
import argparse, sys, time
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int)
parser.add_argument("--data-folder")
args = parser.parse_args()
time.sleep(0.6)
if args.x == 3:
    sys.exit("x = 3 is not allowed")
Run.get_context().log("score", float(args.x))
open("outputs/model.txt", "w").write(f"model {args.x}\\n")
"""


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def report_results(report: Path) -> dict:
    """The results a Snakemake HTML report embeds, by path, each with its data URI."""
    html = report.read_text()
    found = re.search(r"var results = (\{.*?\});\s*</script>", html, re.DOTALL)
    assert found, "no results in the report"
    return json.loads(found.group(1))


def embedded_bytes(result: dict) -> bytes:
    return base64.b64decode(result["data_uri"].split("base64,", 1)[1])


SVG = {"svg": "http://www.w3.org/2000/svg"}


def svg_groups(element: ET.Element, prefix: str) -> list[ET.Element]:
    """The groups of an SVG picture whose id (a matplotlib gid) starts with ``prefix``,
    in drawing order."""
    return [g for g in element.iterfind(".//svg:g", SVG) if g.get("id", "").startswith(prefix)]


def svg_texts(element: ET.Element, prefix: str) -> list[str]:
    """The texts drawn in those groups, one per line of text, in drawing order."""
    return ["".join(t.itertext()) for g in svg_groups(element, prefix) for t in g.iterfind(".//svg:text", SVG)]


def most_overlapping(runs: list[dict]) -> int:
    """The largest number of runs whose [start, end] intervals share one instant."""
    events = sorted(
        [(r["start_unix"], 1) for r in runs] + [(r["end_unix"], -1) for r in runs],
        key=lambda event: (event[0], event[1]),  # an end before a start at the same instant
    )
    running = highest = 0
    for _, change in events:
        running += change
        highest = max(highest, running)
    return highest


def test_the_tutorial_sweep_registers_the_best_run_and_reports_it(project: Project):
    example = yaml.safe_load((ROOT / "config" / "examples" / "iris-sweep.yaml").read_text())
    project.write_config(example)
    done = project.snakemake()
    assert jobs_run(done.stdout + done.stderr, "trial") == 12
    assert jobs_run(done.stdout + done.stderr, "train") == 0

    runs = project.registry.list_runs("sklearn-iris-sweep")
    assert len(runs) == 12 and all(r["status"] == "Completed" for r in runs)
    parameters = {(r["trial"]["parameters"]["kernel"], r["trial"]["parameters"]["penalty"]) for r in runs}
    assert parameters == {(k, p) for k in ("linear", "rbf", "poly", "sigmoid") for p in (0.5, 1, 1.5)}
    for run in runs:
        assert run["arguments"] == run["trial"]["parameters"]
        assert run["command"][2:6] == ["--kernel", run["arguments"]["kernel"], "--penalty", str(run["arguments"]["penalty"])]
    assert most_overlapping(runs) <= 4

    rows = read_tsv(project.path / "results/sklearn-iris-sweep/sweep.tsv")
    assert len(rows) == 12
    scores = [float(row["Accuracy"]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    best = rows[0]
    model = project.registry.get_model("sklearn-iris-sweep")
    assert model["version"] == 1 and model["run_id"] == best["run_id"]
    assert model["metrics"]["Accuracy"] == pytest.approx(max(scores))
    # the documented tie-break: among equal scores, the smaller trial id
    assert best["trial"] == min(row["trial"] for row in rows if float(row["Accuracy"]) == scores[0])
    receipt = json.loads((project.path / "results/sklearn-iris-sweep/run.json").read_text())
    assert receipt["id"] == best["run_id"]

    listed = project.cli("runs", "list", "--experiment", "sklearn-iris-sweep", "--sort", "Accuracy")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [row["run_id"] for row in rows]

    again = project.snakemake()
    assert "Nothing to be done" in again.stdout + again.stderr

    project.snakemake("--report", "report.html")
    results = report_results(project.path / "report.html")
    expected = {
        "results/sklearn-iris-sweep/report/sweep.html": "text/html",
        "results/sklearn-iris-sweep/report/primary-metric.svg": "image/svg+xml",
        "results/sklearn-iris-sweep/report/confusion-matrix.svg": "image/svg+xml",
        "results/sklearn-iris-sweep/report/model-metrics.html": "text/html",
    }
    for path, mime in expected.items():
        assert results[path]["mime_type"] == mime
        assert embedded_bytes(results[path]) == (project.path / path).read_bytes()
    # the metric by parameter: one panel per parameter, in each one marker per trial
    plot = ET.fromstring(embedded_bytes(results["results/sklearn-iris-sweep/report/primary-metric.svg"]))
    assert plot.tag == "{http://www.w3.org/2000/svg}svg" and plot.get("viewBox")
    panels = svg_groups(plot, "panel-")
    assert [svg_texts(panel, "x-label") for panel in panels] == [["kernel"], ["penalty"]]
    for panel in panels:
        stars = svg_groups(panel, "best-trial-")
        circles = svg_groups(panel, "trial-marker-")
        assert len(stars) == 1 and len(stars) + len(circles) == len(rows) == 12
        assert stars[0].get("id").endswith(best["trial"])
        assert svg_texts(panel, "y-label") == ["Accuracy"]
    assert sorted(svg_texts(panels[0], "x-tick")) == ["linear", "poly", "rbf", "sigmoid"]
    assert f"best trial {best['trial']}" in " ".join(svg_texts(plot, "title"))
    table = embedded_bytes(results["results/sklearn-iris-sweep/report/sweep.html"]).decode()
    # every trial, in the order of sweep.tsv, the best one marked
    positions = [table.index(row["run_id"]) for row in rows]
    assert positions == sorted(positions)
    assert f'<tr class="best"><td class="number">1</td><td>{best["trial"]}</td>' in table
    metrics_page = embedded_bytes(results["results/sklearn-iris-sweep/report/model-metrics.html"]).decode()
    assert "<td>model</td><td>sklearn-iris-sweep:1</td>" in metrics_page
    assert f"<td>run</td><td>{best['run_id']}</td>" in metrics_page
    assert "<td>Accuracy</td>" in metrics_page
    matrix = receipt["metrics"]["Confusion matrix"]
    assert matrix["class_labels"] == ["setosa", "versicolor", "virginica"]
    assert sum(map(sum, matrix["matrix"])) == 45  # the 30 % test split of 150 flowers
    # the registered model's confusion matrix: its labels and counts, row by row
    picture = ET.fromstring(embedded_bytes(results["results/sklearn-iris-sweep/report/confusion-matrix.svg"]))
    assert svg_texts(picture, "y-tick") == matrix["class_labels"] == svg_texts(picture, "x-tick")
    assert svg_texts(picture, "count") == [str(count) for row in matrix["matrix"] for count in row]
    assert svg_texts(picture, "x-label") == ["predicted class"]
    assert svg_texts(picture, "y-label") == ["true class"]


def test_trials_are_limited_incremental_and_survive_failures(project: Project):
    sweep = {
        "sampling": "grid",
        "parameters": {"x": "choice(1, 2, 3, 4, 5, 6)"},
        "max_total_runs": 4,
        "max_concurrent_runs": 1,
        "primary_metric": "score",
        "goal": "maximize",
    }
    project.add_experiment("scores", SCORE_SCRIPT, sweep=sweep, model={"path": "outputs/model.txt"})
    done = project.snakemake("results/scores/model.json")
    output = done.stdout + done.stderr
    assert jobs_run(output, "trial") == 4
    runs = project.registry.list_runs("scores")
    assert sorted(r["status"] for r in runs) == ["Completed"] * 3 + ["Failed"]
    # two cores, yet never two trials at once
    assert most_overlapping(runs) == 1
    failed = next(r for r in runs if r["status"] == "Failed")
    assert failed["trial"]["parameters"] == {"x": 3}
    assert re.search(rf"trial {failed['trial']['id']} \(run {failed['id']}\) left out: training script exited with code 1", output)

    rows = read_tsv(project.path / "results/scores/sweep.tsv")
    assert [(row["param:x"], row["status"], row["rank"]) for row in rows] == [
        ("4", "Completed", "1"), ("2", "Completed", "2"), ("1", "Completed", "3"), ("3", "Failed", "")
    ]  # fmt: skip
    model = project.registry.get_model("scores")
    assert model["run_id"] == rows[0]["run_id"] and model["version"] == 1

    # a bigger budget runs only the new trials; the best is then x = 6
    sweep["max_total_runs"] = 6
    config = project.config()
    config["experiments"]["scores"]["sweep"] = sweep
    project.write_config(config)
    done = project.snakemake("results/scores/model.json")
    assert jobs_run(done.stdout + done.stderr, "trial") == 2
    assert len(project.registry.list_runs("scores")) == 6
    assert project.registry.get_model("scores")["version"] == 2
    assert read_tsv(project.path / "results/scores/sweep.tsv")[0]["param:x"] == "6"

    again = project.snakemake("results/scores/model.json")
    assert jobs_run(again.stdout + again.stderr, "trial") == 0


def test_a_sweep_whose_trials_all_fail_registers_nothing(project: Project):
    project.add_experiment(
        "hopeless",
        "import sys\nsys.exit('no luck')\n",
        sweep={"sampling": "grid", "parameters": {"x": [1, 2]}, "primary_metric": "score"},
    )
    done = project.snakemake("results/hopeless/model.json", check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert jobs_run(output, "trial") == 2
    assert (
        "snakeyard sweep: error: sweep of experiment 'hopeless': none of its 2 trials can be "
        "chosen (failed, canceled, or no number logged under 'score'), so nothing is registered"
        in output
    )
    assert not (project.registry.root / "models" / "hopeless").exists()
    assert not (project.path / "results/hopeless/run.json").exists()


def test_an_invalid_expression_stops_the_workflow_before_any_job(project: Project):
    project.add_experiment(
        "bad",
        "print('never runs')\n",
        sweep={"parameters": {"penalty": "uniform(2, 1)"}, "max_total_runs": 3, "primary_metric": "a"},
    )
    done = project.snakemake(check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "snakeyard: experiments.bad.sweep.parameters.penalty: uniform() needs lo < hi, "
        "got 'uniform(2, 1)'"
    )
    assert not (project.path / "results").exists()


def test_adding_a_value_runs_only_the_new_trials(project: Project):
    sweep = {"sampling": "grid", "parameters": {"x": [1, 2]}, "primary_metric": "score"}
    project.add_experiment("grow", SCORE_SCRIPT.replace("time.sleep(0.6)", ""), sweep=sweep,
                           model={"path": "outputs/model.txt"})  # fmt: skip
    project.snakemake("results/grow/model.json")
    old = {t.id for t in plan("s", sweep)}
    sweep["parameters"]["x"] = [1, 2, 4, 5]
    config = project.config()
    config["experiments"]["grow"]["sweep"] = sweep
    project.write_config(config)
    done = project.snakemake("results/grow/model.json")
    assert jobs_run(done.stdout + done.stderr, "trial") == len({t.id for t in plan("s", sweep)} - old) == 2


def test_runs_sorted_by_a_metric_nobody_logged_is_an_error(project: Project):
    project.add_experiment("one", SCORE_SCRIPT.replace("time.sleep(0.6)", ""), arguments={"x": 2},
                           model={"path": "outputs/model.txt"})  # fmt: skip
    project.snakemake("results/one/run.json")
    listed = project.cli("runs", "list", "--experiment", "one", "--sort", "Score")
    assert listed.returncode == 1
    assert listed.stderr == (
        "snakeyard: error: invalid --sort 'Score': no run here logged a number under it "
        "(metrics logged: score)\n"
    )
    listed = project.cli("runs", "list", "--experiment", "one", "--sort", "score", "--ascending")
    assert listed.returncode == 0 and "x=2" in listed.stdout


# a stand-in for sbatch: start the job script in the background and print its id
SUBMIT = """#!/bin/sh
nohup sh "$1" > "$1.out" 2>&1 &
echo $!
"""


def test_max_concurrent_runs_holds_under_a_cluster_executor(project: Project):
    # the cluster-generic executor submits each job like a Slurm one: Snakemake gives
    # remote executors no core limit, only --jobs, here more than the sweep allows
    submit = project.path / "submit.sh"
    submit.write_text(SUBMIT)
    submit.chmod(0o755)
    sweep = {"sampling": "grid", "parameters": {"x": [1, 2, 4, 5]}, "max_concurrent_runs": 2,
             "primary_metric": "score"}  # fmt: skip
    script = SCORE_SCRIPT.replace("time.sleep(0.6)", "time.sleep(1.5)")
    project.add_experiment("remote", script, sweep=sweep, model={"path": "outputs/model.txt"})
    done = project.snakemake(
        "results/remote/model.json", "--executor", "cluster-generic",
        "--cluster-generic-submit-cmd", str(submit), "--jobs", "4",
        "--seconds-between-status-checks", "1", "--latency-wait", "10",
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert "Provided remote nodes: 4" in output
    assert len(re.findall(r"Submitted job \d+ with external jobid", output)) == 4
    runs = project.registry.list_runs("remote")
    assert len(runs) == 4 and all(r["status"] == "Completed" for r in runs)
    assert most_overlapping(runs) <= 2
    assert project.registry.get_model("remote")["run_id"] == max(runs, key=lambda r: r["metrics"]["score"])["id"]

