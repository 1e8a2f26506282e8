"""Data at scale through the real workflow: downloads, MNIST-format, tabular, S3 datastore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, Project
from digits_idx import MNIST_FILES, write_digits_idx
from servers import FileServer, S3Server

pytestmark = pytest.mark.integration


def example(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / "examples" / f"{name}.yaml").read_text())


def mnist_config(server: FileServer, files: Path, sha256: dict[str, str]) -> dict:
    """The MNIST example with its URLs pointed at the loopback server's digits files."""
    config = example("mnist")
    for entry in config["datasets"]["mnist"]["source"]:
        name = entry["url"].rsplit("/", 1)[1]
        server.files[f"/mnist/{name}"] = (files / name).read_bytes()
        entry["url"], entry["sha256"] = server.url(f"/mnist/{name}"), sha256[name]
    config["datasets"]["mnist"]["download"] = {"timeout": 10, "retries": 2}
    return config


@pytest.fixture
def server():
    with FileServer() as running:
        yield running


def test_mnist_example_downloads_registers_and_trains(
    project: Project, server: FileServer, tmp_path: Path
):
    sha256 = write_digits_idx(tmp_path / "digits")
    project.write_config(mnist_config(server, tmp_path / "digits", sha256))
    server.behaviour["/mnist/t10k-labels-idx1-ubyte.gz"] = "503"
    server.fail_times["/mnist/t10k-labels-idx1-ubyte.gz"] = 1
    project.snakemake()

    dataset = project.registry.get_dataset("mnist")
    assert dataset["format"] == "idx" and sorted(f["path"] for f in dataset["files"]) == sorted(
        MNIST_FILES
    )
    assert dataset["schema"]["files"]["train-images-idx3-ubyte.gz"] == {
        "dtype": "uint8",
        "shape": [1500, 8, 8],
    }
    assert dataset["origin"].startswith(server.url("/mnist/train-images-idx3-ubyte.gz"))
    fetch_log = (project.path / "logs/fetch/mnist.log").read_text()
    assert "HTTP 503 Service Unavailable; attempt 2 of 3" in fetch_log
    size = (tmp_path / "digits" / "train-images-idx3-ubyte.gz").stat().st_size
    assert f"-> train-images-idx3-ubyte.gz ({size} bytes, sha256 checked)" in fetch_log

    [run] = project.registry.list_runs("sklearn-mnist")
    assert run["arguments"] == {"regularization": 0.5}
    assert run["command"][-2:] == ["--data-folder", dataset["location"]]
    assert run["metrics"]["accuracy"] > 0.9 and run["metrics"]["regularization rate"] == 0.5
    model = project.registry.get_model("sklearn-mnist")
    assert model["artifact"] == "sklearn_mnist_model.pkl" and model["dataset"]["name"] == "mnist"

    shown = project.cli("datasets", "show", "mnist").stdout
    assert "format       idx" in shown and "train-images-idx3-ubyte.gz  uint8 1500 x 8 x 8" in shown
    for name in MNIST_FILES:
        assert f"sha256 {sha256[name]}" in shown
    again = project.snakemake()
    assert "Nothing to be done" in again.stdout + again.stderr


def test_checksum_mismatch_uploads_and_registers_nothing(
    project: Project, server: FileServer, tmp_path: Path
):
    sha256 = write_digits_idx(tmp_path / "digits")
    config = mnist_config(server, tmp_path / "digits", sha256)
    url = server.url("/mnist/train-labels-idx1-ubyte.gz")
    server.files["/mnist/train-labels-idx1-ubyte.gz"] = b"these are not the labels"
    project.write_config(config)
    done = project.snakemake(check=False)
    assert done.returncode != 0
    expected = sha256["train-labels-idx1-ubyte.gz"]
    assert (
        f"snakeyard fetch: error: checksum mismatch for {url}: expected sha256 {expected}, got "
        in done.stderr
    )
    assert not (project.path / "results/data/mnist/files").exists()
    assert not (project.path / "registry/datasets").exists()
    assert not (project.path / "registry/datastore").exists()


def test_tabular_example_records_columns_and_hands_over_the_csv(project: Project):
    done = project.snakemake("--configfile", str(ROOT / "config/examples/tabular.yaml"))
    assert "sklearn-iris" not in done.stdout + done.stderr
    dataset = project.registry.get_dataset("wine")
    schema = dataset["schema"]
    assert dataset["format"] == "tabular" and schema["file"] == "wine.csv" and schema["rows"] == 178
    assert schema["label_column"] == "cultivar"
    assert schema["columns"][0] == {"name": "alcohol", "type": "float", "missing": 0}
    assert schema["columns"][-1] == {"name": "cultivar", "type": "string", "missing": 0}
    [run] = project.registry.list_runs("sklearn-tabular")
    assert run["command"][-2:] == ["--data", str(Path(dataset["location"]) / "wine.csv")]
    assert run["metrics"]["accuracy"] > 0.9 and run["metrics"]["features"] == 13
    shown = project.cli("datasets", "show", "wine").stdout
    assert "table        wine.csv: 178 rows, label column cultivar" in shown
    assert shown.splitlines()[shown.splitlines().index("columns") + 13].split() == [
        "proline",
        "float",
    ]


def test_training_gets_its_data_from_an_s3_datastore(project: Project, tmp_path: Path):
    pytest.importorskip("boto3")
    with S3Server(tmp_path / "moto.log") as s3:
        s3.client().create_bucket(Bucket="snakeyard-data")
        config = project.config()
        config["datastore"] = {
            "s3": {"endpoint": s3.endpoint, "bucket": "snakeyard-data", "prefix": "lab"}
        }
        project.write_config(config)
        cache = tmp_path / "node-cache"
        env = {**S3Server.CREDENTIALS, "SNAKEYARD_DATA_CACHE": str(cache)}
        project.snakemake(env=env)
        keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket="snakeyard-data")["Contents"]]

    dataset = project.registry.get_dataset("iris")
    assert dataset["location"] == "s3://snakeyard-data/lab"
    assert sorted(keys) == sorted(f"lab/blobs/sha256/{f['sha256']}" for f in dataset["files"])
    assert not (project.path / "registry" / "datastore").exists()
    [run] = project.registry.list_runs("sklearn-iris")
    local = cache / "iris" / dataset["content_hash"]
    assert run["command"][-2:] == ["--data-folder", str(local)] and (local / "iris.csv").is_file()
    assert run["metrics"]["Accuracy"] > 0.9
    assert (
        "from s3://snakeyard-data/lab into"
        in (project.path / "logs/train/sklearn-iris.log").read_text()
    )
    receipt = json.loads((project.path / "results/datasets/iris.json").read_text())
    assert receipt["location"] == "s3://snakeyard-data/lab"


def test_datasets_diff_names_what_changed(project: Project, tmp_path: Path):
    data = tmp_path / "raw"
    data.mkdir()
    (data / "keep.csv").write_text("a,b\n1,2\n")
    (data / "edit.csv").write_text("a,b\n1,2\n")
    (data / "gone.txt").write_text("bye")
    registry = project.registry
    registry.upload_dataset("raw", data)
    (data / "edit.csv").write_text("a,b\n1,2\n3,4\n")
    (data / "gone.txt").unlink()
    (data / "new.txt").write_text("hello")
    registry.upload_dataset("raw", data)
    done = project.cli("datasets", "diff", "raw", "1", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "data set raw: version 1 -> 2"
    assert lines[1].split() == ["added", "new.txt", "5", "B", "sha256", lines[1].split()[-1]]
    assert lines[2].split()[:4] == ["removed", "gone.txt", "3", "B"]
    assert lines[3].split()[:8] == ["changed", "edit.csv", "8", "B", "->", "12", "B", "sha256"]
    assert lines[4] == "  1 file unchanged (8 B)"
    data_json = json.loads(project.cli("datasets", "diff", "raw", "1", "latest", "--json").stdout)
    assert data_json["unchanged"] == ["keep.csv"] and [c["path"] for c in data_json["changed"]] == [
        "edit.csv"
    ]
    bad = project.cli("datasets", "diff", "raw", "1", "7")
    assert (
        bad.returncode == 1
        and bad.stderr.strip()
        == "snakeyard: error: dataset 'raw' has no version 7 (versions 1 to 2)"
    )
