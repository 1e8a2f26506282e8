"""Data set sources: scikit-learn's bundled sets and local paths, with their manifests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snakeyard.data.sources import SKLEARN_DATASETS, fetch
from snakeyard.errors import ConfigError
from snakeyard.files import sha256_file


@pytest.mark.parametrize("name", SKLEARN_DATASETS)
def test_bundled_sets_become_a_csv_with_a_manifest(tmp_path: Path, name: str):
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    manifest = fetch(f"sklearn:{name}", tmp_path / "files", tmp_path / "manifest.json", name)
    assert [entry["path"] for entry in manifest] == [f"{name}.csv", f"{name}.json"]
    table = np.loadtxt(tmp_path / "files" / f"{name}.csv", delimiter=",", skiprows=1)
    assert np.array_equal(table[:, :-1], bunch.data) and np.array_equal(table[:, -1], bunch.target)
    info = json.loads((tmp_path / "files" / f"{name}.json").read_text())
    assert info["feature_names"] == [str(n) for n in bunch.feature_names]
    assert info["target_names"] == [str(n) for n in bunch.target_names]
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert written["source"] == f"sklearn:{name}" and written["files"] == manifest
    for entry in manifest:
        path = tmp_path / "files" / entry["path"]
        assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size


@pytest.mark.parametrize("name", SKLEARN_DATASETS)
def test_direct_reading_matches_scikit_learns_loader(name: str):
    from sklearn import datasets

    from snakeyard.data.bundled import FEATURE_NAMES
    from snakeyard.data.sources import _bundled_table, _loaded_table

    assert _bundled_table(name) == _loaded_table(name)
    bunch = getattr(datasets, f"load_{name}")()
    assert FEATURE_NAMES[name] == [str(n) for n in bunch.feature_names]


def test_local_folder_is_copied_whole(tmp_path: Path):
    source = tmp_path / "raw"
    (source / "nested").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "nested" / "b.txt").write_text("bb")
    manifest = fetch(f"path:{source}", tmp_path / "files", tmp_path / "manifest.json")
    assert [(e["path"], e["bytes"]) for e in manifest] == [("a.txt", 1), ("nested/b.txt", 2)]


def test_missing_local_path_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="data set 'd': source path '/no/where' does not exist"):
        fetch("path:/no/where", tmp_path / "files", tmp_path / "manifest.json", "d")
