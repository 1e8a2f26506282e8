"""The workflow end to end: real snakemake in a temporary folder, then the registry it leaves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, Project, jobs_run
from snakeyard.registry.registry import Registry

pytestmark = pytest.mark.integration

FAILING_SCRIPT = """
import sys
from snakeyard import Run
Run.get_context().log("progress", 0.5)
print("about to fail", flush=True)
sys.exit("the training data made no sense")
"""

NO_MODEL_SCRIPT = """
import argparse
from snakeyard import Run
parser = argparse.ArgumentParser()
parser.add_argument("--data-folder")
parser.parse_args()
Run.get_context().log("accuracy", 1.0)
"""


def test_default_pipeline_end_to_end(project: Project):
    done = project.snakemake()
    for rule in ("fetch", "upload", "lock", "train", "collect", "register"):
        assert jobs_run(done.stdout + done.stderr, rule) == 1, rule
    registry = project.registry

    dataset = registry.get_dataset("iris")
    assert dataset["version"] == 1
    assert {f["path"] for f in dataset["files"]} == {"iris.csv", "iris.json"}
    assert (
        (Path(dataset["location"]) / "iris.csv")
        .read_text()
        .startswith(
            "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm),target\n5.1,3.5,1.4,0.2,0"
        )
    )
    manifest = json.loads((project.path / "results/data/iris/manifest.json").read_text())
    assert manifest["files"] == dataset["files"]

    environment = registry.get_environment("current")
    assert environment["version"] == 1 and environment["method"] == "recorded-interpreter"
    assert environment["packages"]["scikit-learn"]
    assert (
        "recording the" in (project.path / "logs/lock/current.log").read_text()
    )

    [run] = registry.list_runs("sklearn-iris")
    assert run["status"] == "Completed" and run["exit_code"] == 0
    assert run["arguments"] == {"kernel": "linear", "penalty": 1.0}
    assert run["command"][-4:] == ["--penalty", "1.0", "--data-folder", dataset["location"]]
    assert run["dataset"] == {"name": "iris", "version": 1, "content_hash": dataset["content_hash"]}
    assert run["environment"]["version"] == 1
    assert run["metrics"]["Accuracy"] > 0.9
    for key in ("id", "start", "end", "duration_seconds", "host", "git_commit", "snapshot_hash"):
        assert key in run
    work = Path(run["folder"]) / "work"
    assert (work / "train.py").is_file() and (work / ".snakeyardignore").is_file()
    assert "accuracy" in (work / "logs" / "std_log.txt").read_text()

    model = registry.get_model("sklearn-iris")
    assert model["version"] == 1 and model["run_id"] == run["id"]
    assert model["framework"] == "scikit-learn"
    assert model["framework_version"] == environment["packages"]["scikit-learn"]
    assert model["resource_configuration"] == {"cpu": 1, "memory_in_gb": 0.5}
    assert model["dataset"]["version"] == 1 and model["environment"] == {
        "name": "current",
        "version": 1,
    }
    assert model["metrics"] == run["metrics"]
    assert model["tags"] == {"data": "iris", "model": "svm"}

    metrics = (project.path / "results/sklearn-iris/metrics.tsv").read_text().splitlines()
    assert metrics[0] == "metric\tvalue" and any(
        line.startswith("Accuracy\t0.9") for line in metrics
    )
    assert (project.path / "results/sklearn-iris/outputs/model.joblib").is_file()

    # what the README tells a user to type next
    listing = project.cli("models", "list")
    assert listing.returncode == 0 and "sklearn-iris  1" in listing.stdout
    shown = project.cli("models", "show", "sklearn-iris").stdout
    assert "sklearn-iris:1" in shown and "Accuracy" in shown and "iris:1" in shown
    assert run["id"] in project.cli("runs", "list", "--experiment", "sklearn-iris").stdout
    predicted = subprocess.run(
        [sys.executable, "-c",
         "import snakeyard; print(snakeyard.load_model('sklearn-iris').predict([[5.1, 3.5, 1.4, 0.2]]))"],
        cwd=project.path, capture_output=True, text=True,
    )  # fmt: skip
    assert predicted.stdout.strip() == "[0]", predicted.stderr
    assert "every sha256 matches" in project.cli("verify").stdout
    assert "iris:1" in project.cli("datasets", "show", "iris").stdout
    assert project.cli("datasets", "list").stdout.splitlines()[1].split()[:3] == ["iris", "1", "1"]
    environment_shown = project.cli("environments", "show", "current:1").stdout
    assert "recorded-interpreter" in environment_shown and "scikit-learn" in environment_shown
    assert "current  1" in project.cli("environments", "list").stdout
    run_shown = project.cli("runs", "show", run["id"]).stdout
    assert "Completed" in run_shown and "Accuracy" in run_shown and "iris:1" in run_shown

    # nothing changed: nothing runs
    again = project.snakemake()
    assert "Nothing to be done" in again.stdout + again.stderr


def test_changed_argument_retrains_that_experiment_only(project: Project):
    config = project.config()
    config["experiments"]["iris-rbf"] = {
        **config["experiments"]["sklearn-iris"],
        "arguments": {"kernel": "rbf", "penalty": 1.0},
        "model": {"name": "iris-rbf"},
    }
    project.write_config(config)
    project.snakemake()
    config["experiments"]["sklearn-iris"]["arguments"]["penalty"] = 0.5
    project.write_config(config)

    done = project.snakemake()
    output = done.stdout + done.stderr
    assert jobs_run(output, "train") == 1 and "experiment=sklearn-iris" in output
    assert "experiment=iris-rbf" not in output
    assert project.registry.get_model("sklearn-iris")["version"] == 2
    assert project.registry.get_model("sklearn-iris")["metrics"]["Penalty"] == 0.5
    assert project.registry.models.versions("iris-rbf") == [1]
    assert len(project.registry.list_runs("iris-rbf")) == 1


def test_a_configfile_replaces_the_default_configuration(project: Project):
    config = project.config()
    config["experiments"] = {
        "iris-rbf": {**config["experiments"]["sklearn-iris"], "arguments": {"kernel": "rbf"}}
    }
    del config["experiments"]["iris-rbf"]["model"]
    (project.path / "other.yaml").write_text(yaml.safe_dump(config))
    done = project.snakemake("--configfile", "other.yaml")
    assert jobs_run(done.stdout + done.stderr, "train") == 1
    assert project.registry.models.names() == ["iris-rbf"]


def test_forced_retrain_gives_identical_model_and_no_new_version(project: Project):
    project.snakemake()
    first = project.registry.get_model("sklearn-iris")
    done = project.snakemake("--forcerun", "train")
    assert jobs_run(done.stdout + done.stderr, "train") == 1
    runs = project.registry.list_runs("sklearn-iris")
    assert len(runs) == 2
    assert runs[0]["outputs"] == runs[1]["outputs"], "the deterministic script gives the same bytes"
    assert project.registry.models.versions("sklearn-iris") == [1]
    receipt = json.loads((project.path / "results/sklearn-iris/model.json").read_text())
    assert receipt == {**receipt, "version": 1, "new": False, "run_id": first["run_id"]}


def test_failing_script_leaves_a_failed_run_and_registers_nothing(project: Project):
    project.add_experiment("broken", FAILING_SCRIPT)
    done = project.snakemake("results/broken/model.json", check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "snakeyard train: error: run broken_" in output
    assert (
        "training script exited with code 1 (its last line: the training data made no sense); see "
        in output
    )
    assert "logs/train/broken.log" in output

    [run] = project.registry.list_runs("broken")
    assert run["status"] == "Failed" and run["exit_code"] == 1
    assert run["metrics"] == {"progress": 0.5}
    std_log = Path(run["folder"]) / "work" / "logs" / "std_log.txt"
    assert "about to fail" in std_log.read_text()
    assert "the training data made no sense" in std_log.read_text()
    assert (
        str(std_log.relative_to(project.path))
        in (project.path / "logs/train/broken.log").read_text()
    )
    assert project.registry.models.names() == []
    assert not (project.path / "results/broken/run.json").exists()


LINKED_MODEL_SCRIPT = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--data-folder")
parser.parse_args()
os.symlink("/etc/hostname", "outputs/model.joblib")
"""


def test_a_model_linked_out_of_the_outputs_is_not_registered(project: Project):
    project.add_experiment("linked", LINKED_MODEL_SCRIPT)
    done = project.snakemake("results/linked/model.json", check=False)
    assert done.returncode != 0
    assert "model.path 'outputs/model.joblib' of run linked_" in done.stderr
    assert "leads outside the run's outputs/ (to /etc/hostname)" in done.stderr
    assert project.registry.models.names() == []


def test_missing_model_path_is_named(project: Project):
    project.add_experiment("no-model", NO_MODEL_SCRIPT)
    done = project.snakemake("results/no-model/model.json", check=False)
    assert done.returncode != 0
    assert (
        "experiment 'no-model': model.path 'outputs/model.joblib' is not in the outputs of run no-model_"
        in done.stderr
    )
    assert project.registry.models.names() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(colour="blue"), "snakeyard: config: unknown key 'colour' in top level"),
        (
            lambda c: c["experiments"]["sklearn-iris"]["arguments"].update(penalty=[1]),
            "snakeyard: config: experiments.sklearn-iris.arguments.penalty: [1] is not of type",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"].update(dataset="irises"),
            "snakeyard: experiments.sklearn-iris.dataset: 'irises' is not defined under datasets",
        ),
        (
            lambda c: c["datasets"]["iris"].update(source="ftp:iris"),
            "snakeyard: data set 'iris': unknown source 'ftp:iris'",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"].update(script="nope.py"),
            "snakeyard: experiments.sklearn-iris.script: training script 'nope.py' not found",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"].update(model={"path": "/etc/passwd"}),
            "snakeyard: experiments.sklearn-iris.model.path: '/etc/passwd' must name a file",
        ),
        (
            lambda c: c["experiments"]["sklearn-iris"].update(script="../sklearn-mnist/train.py"),
            "snakeyard: experiments.sklearn-iris.script: '../sklearn-mnist/train.py' must name a file",
        ),
    ],
)
def test_bad_config_stops_before_any_job(project: Project, change, message):
    config = project.config()
    change(config)
    project.write_config(config)
    done = project.snakemake(check=False)
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (project.path / "registry").exists() and not (project.path / "results").exists()


def test_local_dataset_versions_follow_its_content(project: Project):
    table = project.path / "local" / "iris.csv"
    table.parent.mkdir()
    table.write_text((ROOT / "tests" / "data" / "iris-head.csv").read_text())
    config = project.config()
    config["datasets"]["iris"] = {"source": f"path:{table}", "description": "a local copy"}
    project.write_config(config)
    project.snakemake()
    assert project.registry.get_dataset("iris")["version"] == 1

    # same bytes, newer file: no new version and no retraining
    table.write_text(table.read_text())
    done = project.snakemake()
    assert jobs_run(done.stdout + done.stderr, "train") == 0
    assert project.registry.datasets.versions("iris") == [1]
    # fetched again on purpose: upload finds the content it already holds
    project.snakemake("--forcerun", "fetch")
    assert project.registry.datasets.versions("iris") == [1]
    assert (
        "unchanged; already registered as version 1"
        in (project.path / "logs/upload/iris.log").read_text()
    )

    table.write_text(table.read_text() + "5.0,3.3,1.4,0.2,0\n")
    project.snakemake()
    assert project.registry.datasets.versions("iris") == [1, 2]
    assert project.registry.list_runs("sklearn-iris")[-1]["dataset"]["version"] == 2


def test_registry_from_environment_and_datastore_elsewhere(project: Project, tmp_path: Path):
    shared = tmp_path / "shared"
    config = project.config()
    config["datastore"] = str(shared / "datastore")
    project.write_config(config)
    project.snakemake(env={"SNAKEYARD_REGISTRY": str(shared / "registry")})
    assert not (project.path / "registry").exists()
    registry = Registry(shared / "registry", shared / "datastore")
    assert registry.get_model("sklearn-iris")["version"] == 1
    location = Path(registry.get_dataset("iris")["location"])
    assert location.parent.parent == shared / "datastore" and (location / "iris.csv").is_file()
    [run] = registry.list_runs("sklearn-iris")
    assert run["command"][-1] == str(location)


def test_used_as_a_module_from_another_workflow(tmp_path: Path):
    caller = tmp_path / "other-project"
    caller.mkdir()
    (caller / "Snakefile").write_text(
        f"""
import yaml

config["snakeyard"] = yaml.safe_load(open({str(ROOT / "config" / "config.yaml")!r}))


rule report:
    input:
        "results/sklearn-iris/model.json",
    output:
        "report.txt",
    shell:
        "cp {{input}} {{output}}"


module snakeyard:
    snakefile:
        {str(ROOT / "Snakefile")!r}
    config:
        config["snakeyard"]


use rule * from snakeyard as snakeyard_*
"""
    )
    done = subprocess.run(["snakemake", "--cores", "2"], cwd=caller, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    receipt = json.loads((caller / "report.txt").read_text())
    assert receipt["name"] == "sklearn-iris" and receipt["version"] == 1
    assert Registry(caller / "registry").get_model("sklearn-iris")["dataset"]["name"] == "iris"
    assert not (ROOT / "results" / "report.txt").exists()


def test_the_local_profile_runs_the_default_experiment(project: Project):
    done = project.snakemake("--profile", str(ROOT / "profiles" / "local"))
    for rule in ("fetch", "upload", "lock", "train", "collect", "register"):
        assert jobs_run(done.stdout + done.stderr, rule) == 1, rule
    record = json.loads((project.path / "results/sklearn-iris/run.json").read_text())
    assert record["status"] == "Completed" and record["cluster"] is None
    assert project.registry.get_model("sklearn-iris")["run_id"] == record["id"]


def test_a_copied_project_trains_on_its_own_registry(project: Project, tmp_path: Path):
    """The receipts under results/ name absolute folders; a copy of the project (or a
    moved one) must still train on the data set of its own registry."""
    project.snakemake()
    copy = Project.__new__(Project)
    copy.path = tmp_path / "copy"
    shutil.copytree(project.path, copy.path, symlinks=True)
    shutil.rmtree(project.path / "registry")  # nothing of the original may be read
    copy.snakemake("--forcerun", "train")
    [_, run] = sorted(Registry(copy.path / "registry").list_runs(), key=lambda r: r["start"])
    data_folder = run["command"][run["command"].index("--data-folder") + 1]
    assert Path(data_folder).is_relative_to(copy.path / "registry" / "datastore")
    assert run["status"] == "Completed"
