"""A registry written by snakeyard 0.1.0 before the package was reorganised (the default
experiment, made by commit 92beb08) is read, verified and loaded by today's code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import snakeyard

OLD = Path(__file__).parent / "data" / "registry-0.1.0"


@pytest.fixture
def old_registry(tmp_path: Path) -> Path:
    copy = tmp_path / "registry"
    shutil.copytree(OLD, copy, symlinks=True)
    return copy


def cli(registry: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakeyard", "--registry", str(registry), *args]
    return subprocess.run(command, capture_output=True, text=True)


def test_every_version_of_the_old_registry_verifies(old_registry: Path):
    done = cli(old_registry, "verify")
    assert done.returncode == 0, done.stderr
    assert "checked 3 versions" in done.stdout and "every sha256 matches" in done.stdout


def test_the_old_model_loads_and_predicts(old_registry: Path):
    model = snakeyard.load_model("sklearn-iris", registry=old_registry)
    assert list(model.predict([[5.1, 3.5, 1.4, 0.2]])) == [0]
    meta = snakeyard.get_model("sklearn-iris", 1, registry=old_registry)
    assert meta["framework"] == "scikit-learn" and meta["dataset"]["name"] == "iris"


def test_old_versions_runs_and_data_sets_show(old_registry: Path):
    shown = json.loads(cli(old_registry, "models", "show", "sklearn-iris:1", "--json").stdout)
    assert shown["version"] == 1 and shown["metrics"]["Accuracy"] > 0.9
    runs = json.loads(cli(old_registry, "runs", "list", "--json").stdout)
    assert [run["status"] for run in runs] == ["Completed"]
    dataset = snakeyard.get_dataset("iris", registry=old_registry)
    assert Path(dataset["location"], "iris.csv").is_file()
    environment = cli(old_registry, "environments", "show", "current", "--json")
    assert json.loads(environment.stdout)["method"] == "recorded-interpreter"
