"""Environments, end to end with the real snakemake: lock, train inside, record.

No conda binary and no public conda channel exist here: conda specs are locked and
installed with py-rattler from a local ``file://`` channel of tiny packages built by
``tests/conda_channel.py``. The pip-only test really resolves and installs from PyPI
(once per session; the environments are cached).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conda_lock.lockfile import parse_conda_lock_file

from conftest import ROOT, Project, jobs_run
from snakeyard.environments.package_list import interpreter_packages

pytestmark = pytest.mark.integration

PLATFORMS = ["linux-64", "osx-arm64", "osx-64", "win-64"]


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("channel")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "conda_channel.py"), str(folder)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One environment cache for the session, so each environment is built once."""
    return {"SNAKEYARD_ENV_CACHE": str(tmp_path_factory.mktemp("env-cache"))}


VERSIONS_SCRIPT = """
import os, shutil, sys
import numpy, sklearn
from snakeyard import Run
run = Run.get_context()
run.log("python_on_path", shutil.which("python"))
run.log("sklearn", sklearn.__version__)
run.log("numpy", numpy.__version__)
run.log("prefix", sys.prefix)
os.makedirs("outputs", exist_ok=True)
open("outputs/model.joblib", "wb").write(b"not really a model")
"""

CONDA_SCRIPT = """
import os
from snakeyard import Run
Run.get_context().log("spec", os.environ.get("SPEC_NOTE", "-"))
os.makedirs("outputs", exist_ok=True)
open("outputs/model.joblib", "wb").write(b"a model")
"""


def conda_project(project: Project, channel: str, spec_text: str) -> Path:
    spec = project.path / "envs" / "tiny.yaml"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(spec_text)
    config = project.config()
    config["environments"]["tiny"] = {"file": "envs/tiny.yaml", "channels": [channel]}
    project.write_config(config)
    project.add_experiment("in-conda", CONDA_SCRIPT, environment="tiny")
    return spec


def test_conda_spec_is_locked_installed_and_trained_in_without_conda(
    project: Project, channel: str, env_cache: dict[str, str]
):
    spec = conda_project(project, channel, (ROOT / "envs" / "sklearn.yaml").read_text())
    first = project.snakemake("results/in-conda/model.json", env=env_cache)
    assert "solving with py-rattler" in (project.path / "logs/lock/tiny.log").read_text()

    # the lock is conda-lock's own format, for every configured platform
    lockfile = project.path / "envs" / "tiny.conda-lock.yml"
    parsed = parse_conda_lock_file(lockfile)
    assert parsed.metadata.platforms == PLATFORMS
    for platform in PLATFORMS:
        locked = {p.name: p for p in parsed.package if p.platform == platform}
        assert locked["scikit-learn"].version == "1.5.2" and locked["python"].version == "3.11.9"
        pins = (project.path / "envs" / f"tiny.{platform}.pin.txt").read_text().splitlines()
        assert "@EXPLICIT" in pins
        urls = [line for line in pins if line.startswith("file://")]
        assert sorted(urls) == sorted(f"{p.url}#{p.hash.md5}" for p in locked.values())

    # training ran with the python of the environment installed from the lock
    environment = project.registry.get_environment("tiny")
    assert environment["method"] == "conda-lock" and environment["platforms"] == PLATFORMS
    assert environment["packages"]["scikit-learn"] == "1.5.2"
    [run] = project.registry.list_runs("in-conda")
    cache = Path(env_cache["SNAKEYARD_ENV_CACHE"])
    assert Path(run["python"]).parent.parent.parent == cache
    assert run["packages"] == {
        "joblib": "1.4.2", "numpy": "1.26.4", "python": "3.11.9",
        "scikit-learn": "1.5.2", "scipy": "1.13.1", "threadpoolctl": "3.5.0",
    }  # fmt: skip
    assert run["environment"] == {"name": "tiny", "version": 1, "method": "conda-lock"}
    assert project.registry.get_model("in-conda")["environment"] == {"name": "tiny", "version": 1}
    shown = project.cli("environments", "show", "tiny:1")
    assert "conda-lock" in shown.stdout and "scikit-learn" in shown.stdout
    assert jobs_run(first.stdout + first.stderr, "lock") == 1

    # the lock is redone only when the spec's content changes, and then re-trains
    again = project.snakemake("results/in-conda/model.json", env=env_cache)
    assert "Nothing to be done" in again.stdout + again.stderr
    os.utime(spec)  # touched, same content
    touched = project.snakemake("results/in-conda/model.json", env=env_cache)
    assert "Nothing to be done" in touched.stdout + touched.stderr
    spec.write_text(spec.read_text().replace("scikit-learn>=1.3", "scikit-learn>=1.4"))
    changed = project.snakemake("results/in-conda/model.json", env=env_cache)
    log = changed.stdout + changed.stderr
    assert jobs_run(log, "lock") == 1 and jobs_run(log, "train") == 1
    assert project.registry.get_environment("tiny")["version"] == 2
    second = project.registry.list_runs("in-conda")[-1]
    assert second["environment"]["version"] == 2 and second["python"] != run["python"]


def test_unsolvable_spec_fails_the_lock_with_the_solvers_explanation(
    project: Project, channel: str, env_cache: dict[str, str]
):
    conda_project(project, channel, "dependencies:\n  - python=3.11\n  - numpy>=99\n")
    done = project.snakemake("results/in-conda/model.json", check=False, env=env_cache)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    [error] = [line for line in output.splitlines() if line.startswith("snakeyard lock: error")]
    assert "cannot lock" in error and "tiny.yaml for linux-64" in error
    assert "No candidates were found for numpy >=99" in error  # the solver's own words
    assert jobs_run(output, "train") == 0
    assert project.registry.list_runs() == []
    assert not (project.path / "envs" / "tiny.conda-lock.yml").exists()


def test_pip_only_environment_trains_with_its_own_older_scikit_learn(
    project: Project, env_cache: dict[str, str]
):
    # the example as it is, with its spec and committed lock copied in, so that the
    # lock written by the test stays in the test's folder
    (project.path / "envs").mkdir()
    for name in ("pinned-sklearn.yaml", "pinned-sklearn.pip-lock.txt"):
        shutil.copy(ROOT / "envs" / name, project.path / "envs" / name)
    project.write_config(yaml.safe_load((ROOT / "config/examples/pinned-env.yaml").read_text()))
    project.add_experiment("versions", VERSIONS_SCRIPT, environment="pinned-sklearn")
    project.snakemake(env=env_cache)

    import sklearn

    assert sklearn.__version__ != "1.5.2"  # the workflow's own is another version
    lock_log = (project.path / "logs/lock/pinned-sklearn.log").read_text()
    assert "using it as it is" in lock_log  # the committed lock, not a new resolution
    [run] = project.registry.list_runs("versions")
    assert run["metrics"]["sklearn"] == "1.5.2" and run["metrics"]["numpy"] == "1.26.4"
    cache = Path(env_cache["SNAKEYARD_ENV_CACHE"])
    assert Path(run["metrics"]["prefix"]).parent == cache
    assert run["python"] == str(Path(run["metrics"]["prefix"]) / "bin" / "python")
    assert run["metrics"]["python_on_path"] == run["python"]  # as if activated
    assert run["packages"]["scikit-learn"] == "1.5.2" and run["packages"]["numpy"] == "1.26.4"
    assert "snakeyard" not in run["packages"]  # provided to the script, not installed
    assert run["environment"] == {"name": "pinned-sklearn", "version": 1, "method": "pip-lock"}

    [pinned] = project.registry.list_runs("pinned-iris")
    assert pinned["metrics"]["Accuracy"] > 0.9 and pinned["python"] == run["python"]
    model = project.registry.get_model("sklearn-iris-pinned")
    assert model["framework_version"] == "1.5.2"
    assert model["environment"] == {"name": "pinned-sklearn", "version": 1}
    environment = project.registry.get_environment("pinned-sklearn")
    lock = (Path(environment["path"]) / "pip-lock.txt").read_text()
    assert "scikit-learn==1.5.2 --hash=sha256:" in lock
    assert all("--hash=sha256:" in line for line in lock.splitlines() if "==" in line)


HOSTED_SCRIPT = """
import argparse, os
from azureml.core.run import Run

parser = argparse.ArgumentParser()
parser.add_argument("--data-folder")
parser.parse_args()

run = Run.get_context()
run.log("accuracy", 0.5)
run.log("accuracy", 0.75)
run.log_list("losses", [0.9, 0.4, 0.2])
run.log_row("curve", epoch=1, loss=0.9)
run.log_row("curve", epoch=2, loss=0.4)
run.log_table("confusion", {"predicted": [0, 1], "count": [5, 7]})
with open("plot.png", "wb") as handle:
    handle.write(b"\\x89PNG not really")
run.log_image("roc", path="plot.png")
run.tag("team", "vision")
run.set_tags({"stage": "dev", "seed": 3})
with open("report.txt", "w") as handle:
    handle.write("all good\\n")
run.upload_file("outputs/report.txt", "report.txt")
print("metrics", run.get_metrics())
print("parent", run.parent)
print("id", run.id)
os.makedirs("outputs", exist_ok=True)
open("outputs/model.joblib", "wb").write(b"hosted")
"""


def test_hosted_ml_training_script_runs_unchanged(project: Project, tmp_path: Path):
    project.add_experiment("hosted", HOSTED_SCRIPT)
    # register and collect both follow the run: ask for both
    project.snakemake("results/hosted/model.json", "results/hosted/metrics.tsv")
    [run] = project.registry.list_runs("hosted")
    assert run["metrics"] == {
        "accuracy": [0.5, 0.75],
        "losses": [0.9, 0.4, 0.2],
        "curve": [{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.4}],
        "confusion": {"predicted": [0, 1], "count": [5, 7]},
    }
    assert run["tags"] == {"team": "vision", "stage": "dev", "seed": "3"}
    folder = Path(run["folder"])
    image, upload = run["images"]["roc"], run["uploads"]["outputs/report.txt"]
    assert (folder / image["path"]).read_bytes() == b"\x89PNG not really"
    assert (folder / upload["path"]).read_text() == "all good\n"
    printed = (folder / "work/logs/std_log.txt").read_text()
    assert f"id {run['id']}" in printed and "parent None" in printed
    assert "'accuracy': [0.5, 0.75]" in printed
    assert "accuracy" in (project.path / "results/hosted/metrics.tsv").read_text()

    # by hand, outside a run, with only the shim installed: it prints and does not fail
    script = Path(run["folder"]) / "work" / "train.py"
    by_hand = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "src" / "snakeyard" / "training" / "hosted"), str(ROOT / "src")])},
    )  # fmt: skip
    assert by_hand.returncode == 0, by_hand.stderr
    assert "Attempted to log scalar metric accuracy: 0.5" in by_hand.stdout
    assert "id OfflineRun_" in by_hand.stdout
    assert len(project.registry.list_runs("hosted")) == 1


def test_an_installed_azureml_sdk_is_not_shadowed(project: Project, tmp_path: Path):
    sdk = tmp_path / "site" / "azureml" / "core"
    sdk.mkdir(parents=True)
    (sdk.parent / "__init__.py").write_text("")
    (sdk / "__init__.py").write_text("")
    (sdk / "run.py").write_text(
        "class Run:\n"
        "    @classmethod\n"
        "    def get_context(cls):\n"
        "        print('the real SDK')\n"
        "        return cls()\n"
        "    def log(self, name, value):\n"
        "        pass\n"
    )
    project.add_experiment("hosted", HOSTED_SCRIPT.split("run.log_list")[0] + (
        "os.makedirs('outputs', exist_ok=True)\n"
        "open('outputs/model.joblib', 'wb').write(b'sdk')\n"
    ))  # fmt: skip
    pythonpath = os.pathsep.join(filter(None, [str(sdk.parent.parent), os.environ.get("PYTHONPATH")]))
    project.snakemake("results/hosted/model.json", env={"PYTHONPATH": pythonpath})
    [run] = project.registry.list_runs("hosted")
    assert "the real SDK" in (Path(run["folder"]) / "work/logs/std_log.txt").read_text()
    assert run["metrics"] == {}  # the SDK got them, not snakeyard


def test_the_current_interpreters_packages_are_those_importlib_metadata_reports():
    # interpreter_packages reads only the metadata headers; it must agree with the
    # full parse of every distribution's metadata
    expected = {"python": sys.version.split()[0]}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            expected.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
    assert interpreter_packages() == expected
    assert expected["scikit-learn"] == importlib.metadata.version("scikit-learn")
