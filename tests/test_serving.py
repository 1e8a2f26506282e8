"""`snakeyard models serve`: a registered model over HTTP, through the hosted no-code
contract (/score) and the Open Inference Protocol (/v2), checked request by request.

Every test runs a real uvicorn server on a free 127.0.0.1 port and talks to it with
httpx, as any client would.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from serving_helpers import SRC, Server, free_port, snakeyard_server
from snakeyard.registry.registry import Registry
from snakeyard.serving.signature import infer_signature

X, Y = load_iris(return_X_y=True)


def register_iris(tmp_path: Path, signature: bool = True, name: str = "iris") -> Registry:
    registry = Registry(tmp_path / "registry")
    model = LogisticRegression(max_iter=1000).fit(X, Y)
    joblib.dump(model, tmp_path / "model.joblib")
    registry.register_model(
        name, tmp_path / "model.joblib", framework="scikit-learn",
        signature=infer_signature(model, X[:5], ["a", "b", "c", "d"]) if signature else None,
    )  # fmt: skip
    return registry


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    # one server for the tests that only send requests: starting one takes seconds
    tmp_path = tmp_path_factory.mktemp("served")
    registry = register_iris(tmp_path)
    server = snakeyard_server(tmp_path, "--registry", str(registry.root), "models", "serve", "iris")
    yield server, registry
    server.stop()


def test_predictions_equal_load_model_through_both_protocols(served):
    server, registry = served
    model = registry.load_model("iris")
    sample = registry.get_model("iris")["signature"]["sample_input"]
    expected = model.predict(np.asarray(sample)).tolist()

    scored = httpx.post(server.url + "/score", json={"data": sample}, timeout=30)
    assert scored.status_code == 200
    assert scored.json() == expected

    request = {
        "id": "r1",
        "inputs": [{"name": "input-0", "shape": [len(sample), 4], "datatype": "FP64",
                    "data": np.asarray(sample).ravel().tolist()}],
    }  # fmt: skip
    inferred = httpx.post(server.url + "/v2/models/iris/infer", json=request, timeout=30).json()
    assert inferred["model_name"] == "iris" and inferred["id"] == "r1"
    assert inferred["outputs"][0]["name"] == "predict"
    assert inferred["outputs"][0]["data"] == expected
    # the same tensor with its data nested as its shape says
    request["inputs"][0]["data"] = sample
    nested = httpx.post(server.url + "/v2/models/iris/infer", json=request, timeout=30).json()
    assert nested["outputs"][0]["data"] == expected
    request["inputs"][0]["data"] = np.asarray(sample).ravel().tolist()

    probabilities = httpx.post(
        server.url + "/score", json={"data": sample, "method": "predict_proba"}, timeout=30
    ).json()
    assert np.allclose(probabilities, model.predict_proba(np.asarray(sample)))
    request["outputs"] = [{"name": "predict_proba"}]
    tensor = httpx.post(server.url + "/v2/models/iris/infer", json=request, timeout=30).json()
    assert tensor["outputs"][0]["shape"] == [len(sample), 3]
    assert np.allclose(tensor["outputs"][0]["data"], np.ravel(probabilities))


def test_health_metadata_and_openapi_for_standard_clients(served):
    server, _ = served
    assert httpx.get(server.url + "/v2/health/live").json() == {"live": True}
    assert httpx.get(server.url + "/v2/models/iris/ready").json()["ready"] is True
    metadata = httpx.get(server.url + "/v2/models/iris").json()
    assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]
    assert metadata["parameters"]["feature_names"] == ["a", "b", "c", "d"]
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert {"/score", "/v2/models/{name}/infer", "/v2/health/ready"} <= set(paths)


BAD_REQUESTS = [
    ("/score", '{"data": [[5.1, 3.5, 1.4]]}', 400, "has 3 features, the model takes 4"),
    ("/score", '{"data": [[5.1, 3.5, 1.4, "wide"]]}', 400, "is the string 'wide', expected a number"),
    ("/score", '{"data": [[5.1, 3.5, 1.4, 0.2]], "method": "transform"}', 400, "unknown method 'transform'"),
    ("/score", '{"data": [[5.1, 3.5', 400, "not valid JSON"),
    ("/score", '[[5.1, 3.5, 1.4, 0.2]]', 400, 'expected a JSON object {"data"'),
    ("/v2/models/iris/infer",
     '{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}',
     400, "has 3 features, the model takes 4"),
    ("/v2/models/iris/infer",
     '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}]}',
     400, "datatype 'BYTES' is not accepted"),
    # a tensor's data must fill its shape: flat with as many values, or nested as rows
    ("/v2/models/iris/infer",
     '{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}]}',
     400, "input 'x': shape [2, 4] holds 8 values, data has 6"),
    ("/v2/models/iris/infer",
     '{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [[1, 2, 3, 4]]}]}',
     400, "input 'x': shape [2, 4] has 2 rows, data has 1"),
    ("/v2/models/iris/infer",
     '{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", '
     '"data": [[1, 2, 3, 4, 5], [1, 2, 3]]}]}',
     400, "input 'x': shape [2, 4] has 4 values per row, data[0] has 5"),
    # values from the request are named as JSON spells them, never in Python's words
    ("/v2/models/iris/infer",
     '{"inputs": [{"name": "x", "shape": null, "datatype": "FP64", "data": [1, 2, 3, 4]}]}',
     400, "input 'x': shape null must be [rows, features]"),
    ("/v2/models/iris/infer",
     '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, true, 4]}]}',
     400, "data[0][2] is the boolean true, expected a number"),
    ("/score", '{"data": [[5.1, 3.5, 1.4, 0.2]], "method": null}', 400, "unknown method null"),
    ("/score", '{"data": [[5.1, 3.5, 1.4, null]]}', 400, "data[0][3] is null, expected a number"),
    ("/score", '{"data": [5.1, 3.5, 1.4, 0.2]}', 400, "data[0] is 5.1, expected a row"),
    ("/v2/models/other/infer", '{"inputs": []}', 404, "model other is not served here"),
    ("/score", '{"data": ' + "[" * 100000 + "]" * 100000 + "}", 400, "not valid JSON"),
    ("/v2/models/iris/infer", '{"inputs": ' + "[" * 100000 + "]" * 100000 + "}", 400,
     "not valid JSON"),
]


def test_each_bad_request_gets_a_4xx_saying_what_was_wrong_in_one_line(served):
    server, _ = served
    for path, body, status, message in BAD_REQUESTS:
        answer = httpx.post(server.url + path, content=body, timeout=30)
        assert answer.status_code == status, (path, body, answer.text)
        error = answer.json()["error"]
        assert message in error and "\n" not in error and "Traceback" not in error
        assert not any(word in error for word in ("None", "True", "False", "<class", "list'"))
    # an unknown path or method answers in the same shape
    for answer, status in [(httpx.get(server.url + "/nowhere"), 404),
                           (httpx.get(server.url + "/score"), 405)]:  # fmt: skip
        assert answer.status_code == status and list(answer.json()) == ["error"], answer.text
        assert "\n" not in answer.json()["error"]
    # the server is still up and answering
    assert httpx.post(server.url + "/score", json={"data": [X[0].tolist()]}).json() == [0]
    log = server.log()
    assert "POST /score 400" in log and "POST /score 200" in log
    assert "Traceback" not in log


def test_a_damaged_artifact_refuses_to_start_with_one_clear_line(tmp_path: Path):
    registry = register_iris(tmp_path)
    artifact = Path(registry.get_model("iris")["artifact_path"])
    artifact.chmod(0o644)
    artifact.write_bytes(artifact.read_bytes()[:-10] + b"0123456789")
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "snakeyard", "--registry", str(registry.root), "models", "serve",
         "iris", "--port", str(port)],
        capture_output=True, text=True, timeout=120, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "sha256" in lines[0] and "model.joblib" in lines[0], done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr


def run_serve(registry: Registry, ref: str, port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakeyard", "--registry", str(registry.root), "models", "serve",
         ref, "--port", str(port)],
        capture_output=True, text=True, timeout=120, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_a_model_without_predict_refuses_to_start_naming_it(tmp_path: Path):
    registry = Registry(tmp_path / "registry")
    joblib.dump({"a": 1}, tmp_path / "dict.joblib")
    registry.register_model("dictm", tmp_path / "dict.joblib")
    done = run_serve(registry, "dictm", free_port())
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "dictm" in lines[0] and "no predict method" in lines[0], done.stderr


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path):
    registry = register_iris(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_serve(registry, "iris", port)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"snakeyard: error: cannot listen on 127.0.0.1:{port}: address already in use"
    ), done.stderr
    assert "serving model" not in done.stdout + done.stderr


def test_a_version_without_signature_serves_with_the_models_own_width(tmp_path: Path):
    registry = register_iris(tmp_path, signature=False)
    assert "signature" not in registry.get_model("iris")
    server = snakeyard_server(tmp_path, "--registry", str(registry.root), "models", "serve", "iris:1")
    try:
        ok = httpx.post(server.url + "/score", json={"data": X[:2].tolist()}).json()
        assert ok == registry.load_model("iris").predict(X[:2]).tolist()
        short = httpx.post(server.url + "/score", json={"data": [[1.0, 2.0]]})
        assert short.status_code == 400 and "the model takes 4" in short.json()["error"]
    finally:
        server.stop()


ENTRY_SCRIPT = '''
import json
import os

import joblib
import numpy as np
from azureml.core.model import Model


def init():
    global model
    # as in the hosted tutorials: the registered model's path, by name
    model_path = Model.get_model_path("iris")
    assert os.path.isdir(os.environ["AZUREML_MODEL_DIR"])
    model = joblib.load(model_path)


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    y_hat = model.predict(data)
    return {"species": y_hat.tolist(), "count": len(y_hat)}
'''


def test_a_hosted_entry_script_runs_unchanged(tmp_path: Path):
    registry = register_iris(tmp_path)
    script = tmp_path / "score.py"
    script.write_text(ENTRY_SCRIPT)
    server = snakeyard_server(tmp_path, "--registry", str(registry.root), "models", "serve",
                              "iris", "--entry-script", str(script))  # fmt: skip
    try:
        answer = httpx.post(server.url + "/score", json={"data": X[48:52].tolist()}, timeout=30)
        assert answer.json() == {"species": registry.load_model("iris").predict(X[48:52]).tolist(),
                                 "count": 4}  # fmt: skip
        # run() raising is the script's failure: one line, as the hosted service answers
        broken = httpx.post(server.url + "/score", content="not json", timeout=30)
        assert broken.status_code == 502 and "entry script run() failed" in broken.json()["error"]
    finally:
        server.stop()


def test_register_with_sample_input_records_a_signature_models_show_prints(tmp_path: Path):
    model = SVC().fit(X, Y)
    joblib.dump(model, tmp_path / "svc.joblib")
    (tmp_path / "sample.csv").write_text(
        "sl,sw,pl,pw\n" + "\n".join(",".join(map(str, row)) for row in X[:3]) + "\n"
    )
    cli = [sys.executable, "-m", "snakeyard", "--registry", str(tmp_path / "registry"), "models"]
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([*cli, "register", "svc", str(tmp_path / "svc.joblib"),
                           "--sample-input", str(tmp_path / "sample.csv")],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([*cli, "show", "svc"], capture_output=True, text=True, env=env).stdout
    assert "4 features, float64 (sl, sw, pl, pw)" in shown
    assert "classes 0, 1, 2; methods predict" in shown
    signature = json.loads(subprocess.run([*cli, "show", "svc", "--json"], capture_output=True,
                                          text=True, env=env).stdout)["signature"]  # fmt: skip
    assert signature["sample_input"] == X[:3].tolist()
    (tmp_path / "narrow.csv").write_text("a,b\n1,2\n")
    refused = subprocess.run([*cli, "register", "svc2", str(tmp_path / "svc.joblib"),
                              "--sample-input", str(tmp_path / "narrow.csv")],
                             capture_output=True, text=True, env=env)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"snakeyard: error: --sample-input {tmp_path / 'narrow.csv'}: rows have 2 features, "
        "the model takes 4"
    )


@pytest.mark.mlflow
def test_the_mlflow_export_served_by_mlflow_gives_the_same_predictions(tmp_path: Path):
    pytest.importorskip("mlflow")
    registry = register_iris(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "snakeyard", "--registry", str(registry.root), "models", "export",
         "iris:1", str(tmp_path / "exported"), "--format", "mlflow"],
        capture_output=True, text=True, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "signature" in (tmp_path / "exported" / "MLmodel").read_text()
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(tmp_path / "exported"),
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    server = Server(command, port, tmp_path, "/health")
    try:
        answer = httpx.post(server.url + "/invocations", json={"inputs": X[45:55].tolist()},
                            timeout=30)  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == registry.load_model("iris").predict(X[45:55]).tolist()
    finally:
        server.stop()


def fresh_python(code: str) -> str:
    """What ``code`` prints, stripped, run by a new interpreter that imports this tree."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_serving_libraries_stay_out_of_import_snakeyard_and_the_training_job():
    code = (
        "import sys, snakeyard, snakeyard.stages, snakeyard.training.stage, "
        "snakeyard.registry.stage\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'mlflow') if m in sys.modules))"
    )
    assert fresh_python(code) == "[]"


def test_chunks_cover_every_row_once_in_order():
    from snakeyard.serving.scoring import chunk_bounds

    for rows, chunks in [(1797, 4), (10, 3), (3, 8), (1_000_000, 8)]:
        bounds = [chunk_bounds(rows, i, chunks) for i in range(chunks)]
        assert bounds[0][0] == 0 and bounds[-1][1] == rows
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
        assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def score_in_chunks(loaded, folder: Path, count: int, method: str, dataset: dict, fmt: str) -> None:
    """Score X in ``count`` chunks as the scoring stages do, gathered into
    ``folder/predictions.<fmt>``."""
    from snakeyard.serving.scoring import gather, score_chunk, write_features

    write_features(X, folder / "features.npy")
    chunks = [folder / f"{i}.npz" for i in range(count)]
    for i, out in enumerate(chunks):
        score_chunk(loaded, folder / "features.npy", i, count, method, out)
    gather(chunks, dataset, fmt, folder / f"predictions.{fmt}")


def test_chunk_predictions_gather_into_parquet_whose_metadata_names_the_versions(tmp_path: Path):
    pq = pytest.importorskip("pyarrow.parquet")
    from snakeyard.serving.loading import from_registry

    registry = register_iris(tmp_path)
    loaded = from_registry(registry, "iris")
    dataset = {"name": "iris", "version": 4, "content_hash": "ab" * 32}
    score_in_chunks(loaded, tmp_path, 3, "predict_proba", dataset, "parquet")
    table = pq.read_table(tmp_path / "predictions.parquet")
    assert table.schema.metadata[b"snakeyard.model"] == b"iris:1"
    assert table.schema.metadata[b"snakeyard.dataset"] == b"iris:4"
    assert table.column_names == ["row", "probability_0", "probability_1", "probability_2"]
    expected = loaded.model.predict_proba(X)
    assert np.allclose(table.column("probability_2").to_numpy(), expected[:, 2])


@pytest.mark.parametrize("with_pyarrow", [True, False])
def test_csv_predictions_keep_text_classes_whole_and_read_back_equal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_pyarrow: bool
):
    import csv

    from snakeyard.serving.loading import from_registry

    if with_pyarrow:
        pytest.importorskip("pyarrow.csv")
    else:  # the standard csv module writes it when pyarrow is not installed
        monkeypatch.setitem(sys.modules, "pyarrow.csv", None)
    # class names read from a table come as Python objects, and may hold a comma
    names = np.array(["setosa, wild", "versicolor", 'virginica "v"'], dtype=object)
    model = LogisticRegression(max_iter=1000).fit(X, names[Y])
    joblib.dump(model, tmp_path / "named.joblib")
    registry = Registry(tmp_path / "registry")
    registry.register_model("named", tmp_path / "named.joblib", framework="scikit-learn")
    loaded = from_registry(registry, "named")
    dataset = {"name": "iris", "version": 2, "content_hash": "cd" * 32}
    score_in_chunks(loaded, tmp_path, 2, "predict", dataset, "csv")

    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    assert header["model"] == "named:1" and header["dataset"] == "iris:2"
    table = list(csv.reader(line for line in lines if not line.startswith("#")))
    assert table[0] == ["row", "prediction"]
    assert [row[0] for row in table[1:]] == [str(i) for i in range(len(X))]
    assert [row[1] for row in table[1:]] == model.predict(X).tolist()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_scoring_method_the_model_lacks_is_refused_before_any_job(tmp_path: Path):
    from snakeyard.errors import SnakeyardError
    from snakeyard.serving.scoring import check_method_of

    registry = Registry(tmp_path / "registry")
    svc = SVC().fit(X, Y)  # no probability=True: no predict_proba
    joblib.dump(svc, tmp_path / "svc.joblib")
    registry.register_model("svc", tmp_path / "svc.joblib", framework="scikit-learn",
                            signature=infer_signature(svc, X[:5]))  # fmt: skip
    meta = registry.get_model("svc")
    check_method_of(meta, "predict")
    with pytest.raises(SnakeyardError) as refused:
        check_method_of(meta, "predict_proba")
    assert str(refused.value) == "model svc:1 has no method predict_proba; it answers predict"


def test_gathering_numeric_predictions_leaves_pandas_unimported(tmp_path: Path):
    # pandas' import alone costs a gather job about a second; numbers never need it
    pytest.importorskip("pyarrow.parquet")
    code = (
        "import sys, json, numpy as np\n"
        "from pathlib import Path\n"
        "from snakeyard.serving.scoring import gather\n"
        "model = json.dumps({'name': 'm', 'version': 1, 'content_hash': 'ab' * 32})\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "np.savez(folder / 'c.npz', predictions=np.random.rand(10, 3), start=0, model=model)\n"
        "dataset = {'name': 'd', 'version': 1, 'content_hash': 'cd' * 32}\n"
        "for fmt in ('csv', 'parquet'):\n"
        "    gather([folder / 'c.npz'], dataset, fmt, folder / f'p.{fmt}')\n"
        "print('pandas' in sys.modules)"
    )
    assert fresh_python(code) == "False"
    assert (tmp_path / "p.csv").read_text().count("\n") == 5 + 1 + 10


@pytest.mark.parametrize("signature", [True, False])
def test_the_v2_metadata_names_the_datatype_infer_answers_with(tmp_path: Path, signature: bool):
    # a version registered without a signature too: the model's classes tell the dtype
    from snakeyard.serving.loading import from_registry
    from snakeyard.serving.predict import infer, model_metadata

    loaded = from_registry(register_iris(tmp_path, signature=signature), "iris")
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": X[0].tolist()}
    [answer] = [o for o in infer(loaded, {"inputs": [tensor]})["outputs"] if o["name"] == "predict"]
    [told] = [o for o in model_metadata(loaded)["outputs"] if o["name"] == "predict"]
    assert told["datatype"] == answer["datatype"] == "INT64"
