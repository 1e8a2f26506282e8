"""Declarative serving with the real snakemake: `scoring:` scores a data set in chunks,
each its own job, and `deployments:` writes a bundle that serves without the registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from conftest import jobs_run
from serving_helpers import snakeyard_server
from snakeyard.serving.signature import infer_signature

pytestmark = pytest.mark.integration


def register_digits_model(project, regularization: float) -> None:
    X, y = load_digits(return_X_y=True)
    model = LogisticRegression(C=regularization, max_iter=3000).fit(X[:600], y[:600])
    path = project.path / f"digits-{regularization}.joblib"
    joblib.dump(model, path)
    project.registry.register_model("digits-model", path, framework="scikit-learn")


def predictions(path: Path) -> tuple[dict[str, str], np.ndarray]:
    lines = path.read_text().splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    table = [line for line in lines if not line.startswith("#")]
    assert table[0] == "row,prediction"
    return header, np.array([int(line.split(",")[1]) for line in table[1:]])


def write_digits_table(path: Path, rows: int) -> np.ndarray:
    """The digits as a tabular data set (64 pixel columns and the label); its features."""
    X, y = load_digits(return_X_y=True)
    header = ",".join([*(f"p{i}" for i in range(64)), "digit"])
    lines = [",".join(map(str, [*map(int, row), label])) for row, label in zip(X[:rows], y[:rows], strict=True)]
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    return X[:rows]


def test_bulk_scoring_in_chunks_equals_one_predict_and_reruns_only_when_the_model_moves(project):
    register_digits_model(project, 0.05)
    X = write_digits_table(project.path / "digits.csv", 1797)
    config = project.config()
    config["datasets"]["digits"] = {
        "source": f"path:{project.path / 'digits.csv'}", "format": "tabular", "label_column": "digit",
    }
    config["scoring"] = {"digits-all": {"model": "digits-model", "dataset": "digits", "chunks": 4}}
    project.write_config(config)

    first = project.snakemake()
    assert jobs_run(first.stderr + first.stdout, "score_chunk") == 4
    out = project.path / "results/scoring/digits-all/predictions.csv"
    header, scored = predictions(out)
    assert np.array_equal(scored, project.registry.load_model("digits-model", 1).predict(X))
    assert header["model"] == "digits-model:1" and header["dataset"] == "digits:1"

    again = project.snakemake()
    assert "Nothing to be done" in again.stdout + again.stderr

    register_digits_model(project, 5.0)  # the reference now resolves to version 2
    moved = project.snakemake()
    assert jobs_run(moved.stderr + moved.stdout, "score_chunk") == 4
    header, scored = predictions(out)
    assert header["model"] == "digits-model:2"
    assert np.array_equal(scored, project.registry.load_model("digits-model", 2).predict(X))

    X = write_digits_table(project.path / "digits.csv", 1000)  # the data changes
    changed = project.snakemake()
    assert jobs_run(changed.stderr + changed.stdout, "score_chunk") == 4
    header, scored = predictions(out)
    assert header["dataset"] == "digits:2" and header["model"] == "digits-model:2"
    assert np.array_equal(scored, project.registry.load_model("digits-model", 2).predict(X))


def test_scoring_with_a_method_the_model_lacks_stops_before_any_job(project):
    X, y = load_iris(return_X_y=True)
    svc = SVC().fit(X, y)  # no probability=True: no predict_proba
    joblib.dump(svc, project.path / "svc.joblib")
    project.registry.register_model("svc", project.path / "svc.joblib", framework="scikit-learn",
                                    signature=infer_signature(svc, X[:5]))  # fmt: skip
    config = project.config()
    config["scoring"] = {"iris-odds": {"model": "svc", "dataset": "iris", "method": "predict_proba"}}
    project.write_config(config)

    planned = project.snakemake("-n", check=False)
    assert planned.returncode != 0
    assert ("snakeyard: scoring.iris-odds.method: model svc:1 has no method predict_proba; "
            "it answers predict") in planned.stderr  # fmt: skip
    assert "Traceback" not in planned.stderr
    assert not (project.path / "results" / "scoring").exists()


def test_a_deployment_bundle_serves_from_a_copy_with_the_registry_removed(project, tmp_path):
    config = project.config()
    config["deployments"] = {"iris-web": {"model": "sklearn-iris", "port": 5077}}
    project.write_config(config)
    project.snakemake()

    # the model registered from the run records its signature: the data set's columns
    shown = project.cli("models", "show", "sklearn-iris").stdout
    assert "4 features, float64 (sepal length (cm)" in shown
    bundle = project.path / "results/deployments/iris-web/bundle"
    assert "--port 5077" in (bundle / "serve.sh").read_text()
    assert (bundle / "environment" / "requirements.txt").is_file()
    deployment = project.registry.deployments.read("iris-web")
    assert deployment["model"]["name"] == "sklearn-iris" and deployment["model"]["version"] == 1
    expected_model = project.registry.load_model("sklearn-iris")
    verified = project.cli("verify")  # the deployment record leaves the registry whole
    assert verified.returncode == 0, verified.stderr

    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(bundle, elsewhere / "bundle")
    shutil.rmtree(project.path / "registry")
    server = snakeyard_server(elsewhere, "serve", "--bundle", str(elsewhere / "bundle"))
    try:
        rows = load_iris().data[::10]
        answer = httpx.post(server.url + "/score", json={"data": rows.tolist()}, timeout=30)
        assert answer.json() == expected_model.predict(rows).tolist()
    finally:
        server.stop()
