"""A registered model's signature, learnt by the training script's own process: what
register records from it, and when it learns the signature itself instead."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from snakeyard.registry.registry import Registry
from snakeyard.serving.signature import infer_signature
from snakeyard.training.model_signature import MODEL_PATHS_VARIABLE, SIGNATURE_FILE

TRAIN_SCRIPT = """
import csv, joblib, numpy as np
from sklearn.tree import DecisionTreeClassifier
rows = list(csv.reader(open("DATA/iris.csv")))[1:]
X = np.array([[float(v) for v in row[:4]] for row in rows])
y = np.array([int(row[4]) for row in rows])
joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), "outputs/model.joblib")
"""
NAMES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
MODEL = {"name": "iris-tree", "path": "outputs/model.joblib", "framework": "scikit-learn",
         "framework_version": None, "description": "", "tags": {},
         "resource_configuration": None}  # fmt: skip
# the register stage, telling whether it loaded scikit-learn
REGISTER = """
import sys
from snakeyard.stages import main
code = main(sys.argv[1:])
print("sklearn loaded" if "sklearn" in sys.modules else "sklearn not loaded")
sys.exit(code)
"""


def stage(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakeyard.stages", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def trained_run(tmp_path: Path, monkeypatch) -> tuple[Registry, Path, Path]:
    """A run of a script that trains a tree on iris, through the train stage of an
    experiment that registers ``outputs/model.joblib``; its registry, the run record
    and the environment receipt."""
    iris = load_iris()
    data = tmp_path / "data"
    data.mkdir()
    table = np.column_stack([iris.data, iris.target])
    header = ",".join([*NAMES, "target"])
    np.savetxt(data / "iris.csv", table, delimiter=",", header=header, comments="", fmt="%g")
    (data / "iris.json").write_text(json.dumps({"feature_names": NAMES, "target": "target"}))
    registry = Registry(tmp_path / "registry")
    dataset = registry.upload_dataset("iris", data)
    environment = registry.register_environment(
        "e", spec_file="envs/e.yaml", spec_text="dependencies: [scikit-learn]\n",
        packages={"scikit-learn": "1.0"}, method="recorded",
    )  # fmt: skip
    # the receipts upload and lock write; training with the interpreter running the stage
    keys = ("name", "version", "content_hash", "location")
    (tmp_path / "d.json").write_text(json.dumps({k: dataset[k] for k in keys}))
    (tmp_path / "e.json").write_text(json.dumps(
        {"name": "e", "version": environment["version"], "method": "recorded-interpreter"}
    ))  # fmt: skip
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(TRAIN_SCRIPT.replace("DATA", str(data)))
    spec = {"source_directory": str(source), "script": "train.py", "arguments": {},
            "data_argument": None}  # fmt: skip
    monkeypatch.setenv(MODEL_PATHS_VARIABLE, json.dumps({"iris": MODEL["path"]}))
    trained = stage(
        "train", "--experiment", "iris", "--spec", json.dumps(spec),
        "--dataset", str(tmp_path / "d.json"), "--environment", str(tmp_path / "e.json"),
        "--registry", str(registry.root), "--out", str(tmp_path / "run.json"),
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    return registry, tmp_path / "run.json", tmp_path / "e.json"


def register(registry: Registry, run: Path, environment: Path, tmp_path: Path) -> list[str]:
    """Run the register stage; return its last stdout line and its log's lines."""
    done = subprocess.run(
        [sys.executable, "-c", REGISTER, "register", "--run", str(run),
         "--environment", str(environment), "--model", json.dumps(MODEL),
         "--registry", str(registry.root), "--out", str(tmp_path / "model.json"),
         "--log", str(tmp_path / "register.log")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [
        done.stdout.strip().splitlines()[-1],
        *(tmp_path / "register.log").read_text().splitlines(),
    ]


def expected_signature(model_file: Path) -> dict:
    """The signature register learnt before the script's process did: the model's
    predictions on the data set's first rows, with its columns' names and types."""
    model = joblib.load(model_file)
    return infer_signature(model, load_iris().data[:5], NAMES, ["float"] * 4)


def test_register_records_the_signature_the_training_script_learnt_without_loading_sklearn(
    tmp_path, monkeypatch
):
    registry, run, environment = trained_run(tmp_path, monkeypatch)
    folder = Path(json.loads(run.read_text())["folder"])
    assert (folder / SIGNATURE_FILE).is_file(), "the script's process learnt the signature"
    model_file = folder / "work" / MODEL["path"]

    said = register(registry, run, environment, tmp_path)

    assert said[0] == "sklearn not loaded"
    registered = registry.get_model("iris-tree", 1)
    assert registered["signature"] == expected_signature(model_file)
    assert registered["signature"]["inputs"]["feature_names"] == NAMES
    assert registered["signature"]["outputs"]["classes"] == [0, 1, 2]


def test_a_model_file_written_again_after_the_run_is_refused_naming_the_run(
    tmp_path, monkeypatch
):
    registry, run, environment = trained_run(tmp_path, monkeypatch)
    record = json.loads(run.read_text())
    model_file = Path(record["folder"]) / "work" / MODEL["path"]
    # another model in its place: its version would name a run that never made it
    iris = load_iris()
    model_file.unlink()
    two = DecisionTreeClassifier(random_state=0).fit(iris.data[:100], iris.target[:100])
    joblib.dump(two, model_file)

    done = stage(
        "register", "--run", str(run), "--environment", str(environment),
        "--model", json.dumps(MODEL), "--registry", str(registry.root),
        "--out", str(tmp_path / "model.json"), "--log", str(tmp_path / "register.log"),
    )  # fmt: skip

    assert done.returncode != 0
    error = done.stderr.strip().splitlines()
    assert len(error) == 1 and "Traceback" not in done.stderr
    assert f"outputs/model.joblib was written again after run {record['id']} recorded it" in error[0]
    assert registry.models.versions("iris-tree") == []
    assert not (tmp_path / "model.json").exists()


def edit_recorded_signature(run: Path, edit) -> None:
    """Change the signature the script's process recorded, keeping its model's sha256."""
    path = Path(json.loads(run.read_text())["folder"]) / SIGNATURE_FILE
    answer = json.loads(path.read_text())
    edit(answer["signature"])
    path.write_text(json.dumps(answer))


def test_a_recorded_signature_that_disagrees_with_the_data_set_is_learnt_again(
    tmp_path, monkeypatch
):
    registry, run, environment = trained_run(tmp_path, monkeypatch)
    model_file = Path(json.loads(run.read_text())["folder"]) / "work" / MODEL["path"]

    def three_features(signature):
        signature["inputs"].update(n_features=3, feature_names=["a", "b", "c"],
                                   feature_types=["float"] * 3)  # fmt: skip
        signature["sample_input"] = [row[:3] for row in signature["sample_input"]]

    edit_recorded_signature(run, three_features)
    said = register(registry, run, environment, tmp_path)

    assert said[0] == "sklearn loaded"
    assert any("signature.json disagrees with the run's data set in its inputs" in line
               for line in said)  # fmt: skip
    assert registry.get_model("iris-tree", 1)["signature"] == expected_signature(model_file)


def test_a_recorded_signature_of_the_wrong_shape_is_learnt_again(tmp_path, monkeypatch):
    registry, run, environment = trained_run(tmp_path, monkeypatch)
    model_file = Path(json.loads(run.read_text())["folder"]) / "work" / MODEL["path"]

    def damaged(signature):
        signature["inputs"] = 5

    edit_recorded_signature(run, damaged)
    said = register(registry, run, environment, tmp_path)

    assert any("signature.json is no signature: it lacks an inputs" in line for line in said)
    assert registry.get_model("iris-tree", 1)["signature"] == expected_signature(model_file)
