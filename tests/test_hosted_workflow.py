"""Training scripts written for the hosted ML SDK, run unchanged through the real
``snakemake``, each shape with the configuration the hosted way: arguments as a list,
an experiment without a data set or without a model, a sweep whose goal is spelled
``MAXIMIZE`` and whose trials log to their parent run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, Project, jobs_run

pytestmark = pytest.mark.integration

ANALYSIS_SCRIPT = """
import os, sys
from azureml.core import Run
run = Run.get_context()
run.log("argv", " ".join(sys.argv[1:]))
run.log("experiment", run.experiment.name)
run.log("datasets", len(run.input_datasets))
os.makedirs("outputs", exist_ok=True)
open("outputs/summary.txt", "w").write("no model here\\n")
"""

TABULAR_SCRIPT = """
import os
from azureml.core import Dataset, Run, Workspace
run = Run.get_context()
frame = run.input_datasets["training"].to_pandas_dataframe()
ws = run.experiment.workspace
same = Dataset.get_by_name(Workspace.from_config(), "flowers").to_pandas_dataframe()
run.log("rows", len(frame))
run.log("same", bool((frame == same).all().all()))
run.tag("workspace", ws.name)
os.makedirs("outputs", exist_ok=True)
open("outputs/model.joblib", "wb").write(b"not a model")
"""

SILENT_SCRIPT = """
import os
os.makedirs("outputs", exist_ok=True)
open("outputs/model.joblib", "wb").write(b"not a model")
"""

BROKEN_SCRIPT = """
import sys
try:
    raise AttributeError("module 'numpy' has no attribute 'float'")
finally:
    print("https://numpy.org/devdocs/release/1.20.0-notes.html#deprecations", file=sys.stderr)
"""


def test_hosted_shapes_run_unchanged(project: Project):
    config = project.config()
    config["datasets"]["flowers"] = {
        "source": f"path:{ROOT / 'tests/data/iris-head.csv'}",
        "format": "tabular", "label_column": "target",
    }  # fmt: skip
    project.write_config(config)
    project.add_experiment(
        "analysis", ANALYSIS_SCRIPT, dataset=None, model=None,
        arguments=["--C", 0.5, "--verbose"],
    )  # fmt: skip
    project.add_experiment("tabular", TABULAR_SCRIPT, dataset="flowers", input_name="training")
    project.add_experiment("silent", SILENT_SCRIPT)
    project.add_experiment("broken", BROKEN_SCRIPT)
    done = project.snakemake("--keep-going", check=False)
    assert done.returncode != 0  # broken fails; the others go on

    # no data set, no model: no data argument, the outputs collected, nothing registered
    [analysis] = project.registry.list_runs("analysis")
    assert analysis["status"] == "Completed" and analysis["dataset"] is None
    assert analysis["metrics"] == {"argv": "--C 0.5 --verbose", "experiment": "analysis",
                                   "datasets": 0}  # fmt: skip
    results = project.path / "results"
    assert (results / "analysis/outputs/summary.txt").read_text() == "no model here\n"
    assert not (results / "analysis/model.json").exists()
    assert "analysis" not in project.registry.models.names()

    # a tabular data set under its input name, and the workspace bound to the registry
    [tabular] = project.registry.list_runs("tabular")
    assert tabular["metrics"] == {"rows": 30, "same": True}  # iris-head.csv
    assert tabular["tags"] == {"workspace": "registry"}
    assert json.loads((results / "tabular/model.json").read_text())["version"] == 1

    # a run that logs nothing while its model records metrics: warned in log and console
    warning = "logged no metric, but its registered model version records the run's metrics"
    assert warning in (project.path / "logs/train/silent.log").read_text()
    assert warning in done.stderr
    assert "logged no metric" not in (project.path / "logs/train/analysis.log").read_text()

    # the failure names the exception, not the notice printed after it
    said = "(its error: AttributeError: module 'numpy' has no attribute 'float')"
    assert said in (project.path / "logs/train/broken.log").read_text()
    assert said in done.stderr


SWEEP_SCRIPT = """
import argparse, os
from azureml.core.run import Run
parser = argparse.ArgumentParser()
parser.add_argument("--C", type=float)
parser.add_argument("--verbose", action="store_true")
parser.add_argument("--data-folder")
args = parser.parse_args()
run = Run.get_context()
run.log("accuracy", args.C / 10)
run.parent.log("C_tried", args.C)
run.parent.tag("verbose", args.verbose)
child = run.child_run("fold-1")
child.log("fold_accuracy", args.C / 20)
os.makedirs("outputs", exist_ok=True)
open("outputs/model.joblib", "wb").write(b"not a model")
"""


def test_a_hosted_sweep_logs_to_its_parent_run(project: Project):
    project.add_experiment(
        "hosted-sweep", SWEEP_SCRIPT, arguments=["--C", 1, "--verbose"],
        sweep={"sampling": "grid", "parameters": {"C": "choice(2, 4)"},
               "primary_metric": "accuracy", "goal": "MAXIMIZE"},
    )  # fmt: skip
    done = project.snakemake("results/hosted-sweep/report/sweep.html")
    assert jobs_run(done.stdout + done.stderr, "trial") == 2
    summary = json.loads((project.path / "results/hosted-sweep/sweep.json").read_text())
    assert summary["goal"] == "maximize" and summary["best"]["parameters"] == {"C": 4}

    # both trials' run.parent calls are in the sweep's parent run, shown by runs show
    parent = project.registry.get_run(summary["parent_run"]["id"])
    assert sorted(parent["metrics"]["C_tried"]) == [2.0, 4.0]
    assert parent["tags"] == {"verbose": "True"}
    trials = [r for r in project.registry.list_runs("hosted-sweep") if r.get("trial")]
    assert sorted(parent["sweep_trials"]) == sorted(t["id"] for t in trials)
    shown = project.cli("runs", "show", parent["id"]).stdout
    assert "C_tried" in shown and "sweep trials" in shown
    report = (project.path / "results/hosted-sweep/report/sweep.html").read_text()
    assert f"the sweep&#x27;s parent run {parent['id']}" in report and "C_tried" in report

    # each trial's child run is in its record, and shown by runs show
    for trial in trials:
        assert trial["arguments"][:2] == ["--C", trial["trial"]["parameters"]["C"]]
        [child] = trial["children"]
        assert child["name"] == "fold-1" and child["status"] == "Completed"
    shown = project.cli("runs", "show", trials[0]["id"]).stdout
    assert "children" in shown and "fold-1: Completed" in shown


REAL_SDK_SPEC = """\
# a hosted environment's file, as they list the SDK (azureml-defaults pulls in azureml-core)
dependencies:
  - python=3.11
  - pip:
      - azureml-core==1.61.0
      # azureml-core imports pkg_resources, which setuptools 81 removed
      - setuptools==75.8.0
"""

REAL_SDK_SCRIPT = """
import azureml.core
from azureml.core.run import Run, _OfflineRun
run = Run.get_context()
print("SDK", azureml.core.VERSION, isinstance(run, _OfflineRun), flush=True)
run.log("accuracy", 0.5)
run.log("accuracy", 0.75)
run.log_row("curve", epoch=1, loss=0.9)
run.tag("team", "vision")
run.set_tags({"stage": "dev"})
open("roc.png", "wb").write(b"\\x89PNG not really")
run.log_image("roc", path="roc.png")
"""


def test_what_a_script_logs_through_the_real_sdk_lands_in_the_record(
    project: Project, tmp_path_factory: pytest.TempPathFactory
):
    # a pip-only environment that really installs azureml-core from PyPI
    (project.path / "envs").mkdir()
    (project.path / "envs" / "hosted.yaml").write_text(REAL_SDK_SPEC)
    config = project.config()
    config["environments"] = {"hosted": {"file": "envs/hosted.yaml"}}
    project.write_config(config)
    project.add_experiment("real-sdk", REAL_SDK_SCRIPT, environment="hosted", model=None)
    cache = {"SNAKEYARD_ENV_CACHE": str(tmp_path_factory.mktemp("env-cache"))}
    project.snakemake("results/real-sdk/metrics.tsv", env=cache)

    [run] = project.registry.list_runs("real-sdk")
    printed = (Path(run["folder"]) / "work/logs/std_log.txt").read_text()
    assert "SDK 1.61.0 True" in printed  # the real SDK's offline run, not snakeyard's
    assert "Attempted to add tag team with value vision" in printed  # it still prints
    assert run["packages"]["azureml-core"] == "1.61.0"
    assert run["metrics"] == {"accuracy": [0.5, 0.75], "curve": [{"epoch": 1, "loss": 0.9}]}
    assert run["tags"] == {"team": "vision", "stage": "dev"}
    image = Path(run["folder"]) / run["images"]["roc"]["path"]
    assert image.read_bytes() == b"\x89PNG not really"
