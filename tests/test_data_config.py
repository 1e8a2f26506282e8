"""Configuration of downloaded, idx and tabular data sets and of the datastore: the errors."""

from __future__ import annotations

import copy

import pytest

from conftest import ROOT, default_config
from snakeyard import config as snakeyard_config
from snakeyard.errors import SnakeyardError

URL = "https://example.org/mnist/x.gz"
SHA = "a" * 64


def check(config: dict) -> dict:
    snakeyard_config.validate(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    return snakeyard_config.resolve(config, ROOT, ROOT)


def with_iris(**changes) -> dict:
    config = copy.deepcopy(default_config())
    config["datasets"]["iris"].update(changes)
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            with_iris(source=URL),
            f"data set 'iris': a URL source is a list of downloads, each with its sha256: source: [{{url: {URL}, sha256: <64 hex digits>}}]",
        ),
        (
            with_iris(source=[{"url": URL, "sha256": "abc"}]),
            f"data set 'iris', download 1: invalid sha256 'abc' for {URL}: use 64 hexadecimal digits (lower case), or 'unchecked' to skip the check",
        ),
        (with_iris(source=[{"url": URL}]), "config: datasets.iris.source.0: 'sha256' is required"),
        (
            with_iris(
                source=[{"url": URL, "sha256": SHA}, {"url": "http://other/x.gz", "sha256": SHA}]
            ),
            "data set 'iris', download 2: two downloads are named 'x.gz'; give one a 'path'",
        ),
        (
            with_iris(source=[{"url": "ftp://h/x", "sha256": SHA}]),
            "data set 'iris', download 1: unsupported URL 'ftp://h/x'; use http://, https:// or file://",
        ),
        (
            with_iris(source=[{"url": URL, "sha256": SHA, "path": "../x"}]),
            "data set 'iris', download 1: invalid path '../x'; use a relative file name",
        ),
        (
            with_iris(source=[{"url": "https://h/", "sha256": SHA}]),
            "data set 'iris', download 1: URL https://h/ does not end in a file name; give the entry a 'path'",
        ),
        (
            with_iris(source=5),
            "config: datasets.iris.source: 5 is not valid; use sklearn:<iris|digits|wine|breast_cancer>, path:<file or folder>, or a list of downloads {url, sha256, path}",
        ),
        (with_iris(format="tabular"), "datasets.iris: format tabular needs a label_column"),
        (
            with_iris(label_column="y"),
            "datasets.iris.label_column: only used with format: tabular (the format is files)",
        ),
        (
            with_iris(format="parquet"),
            "config: datasets.iris.format: 'parquet' is not one of ['files', 'idx', 'tabular']",
        ),
        (
            with_iris(download={"timeout": 0}),
            "config: datasets.iris.download.timeout: 0 is less than or equal to the minimum of 0",
        ),
        (
            {**default_config(), "datastore": {"s3": {}}},
            "config: datastore.s3: 'bucket' is required",
        ),
        (
            {**default_config(), "datastore": {"gcs": {"bucket": "b"}}},
            "config: unknown key 'gcs' in datastore; allowed keys: s3",
        ),
    ],
)
def test_bad_data_configuration_is_one_clear_line(config: dict, message: str):
    with pytest.raises(SnakeyardError) as raised:
        check(config)
    assert str(raised.value) == message


def test_downloads_get_their_file_names_and_defaults():
    config = check(
        with_iris(
            source=[
                {"url": URL, "sha256": "unchecked"},
                {"url": URL + "?v=2", "sha256": SHA, "path": "y.gz"},
            ],
            format="idx",
        )
    )
    dataset = config["datasets"]["iris"]
    assert dataset["source"] == [
        {"url": URL, "sha256": "unchecked", "path": "x.gz"},
        {"url": URL + "?v=2", "sha256": SHA, "path": "y.gz"},
    ]
    assert dataset["download"] == {"timeout": 60, "retries": 4} and dataset["format"] == "idx"


def test_the_examples_are_valid():
    mnist = check(yaml_example("mnist"))
    assert [e["path"] for e in mnist["datasets"]["mnist"]["source"]] == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    ]  # fmt: skip
    tabular = check(yaml_example("tabular"))
    assert tabular["datasets"]["wine"]["source"] == f"path:{ROOT / 'data' / 'wine.csv'}"


def yaml_example(name: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config" / "examples" / f"{name}.yaml").read_text())
