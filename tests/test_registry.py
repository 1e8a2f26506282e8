"""The registry's promises: versions, atomicity, concurrency, integrity, idempotency, names."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snakeyard.errors import IntegrityError, InvalidNameError, NotFoundError
from snakeyard.registry.registry import Registry
from snakeyard.registry.versions import LATEST_EVERY


def artifact(folder: Path, name: str, content: bytes | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_versions_start_at_one_and_never_change(registry: Registry, tmp_path: Path):
    first = registry.register_model("m", artifact(tmp_path, "a/model.pkl", "one"))
    second = registry.register_model("m", artifact(tmp_path, "b/model.pkl", "two"))
    assert (first["version"], second["version"]) == (1, 2)
    assert first["new"] and second["new"]
    assert registry.get_model("m", 1)["content_hash"] == first["content_hash"]
    assert (Path(registry.get_model("m", 1)["artifact_path"])).read_text() == "one"
    assert registry.get_model("m")["version"] == 2
    assert registry.models.versions("m") == [1, 2]


def test_folder_artifacts_keep_their_layout(registry: Registry, tmp_path: Path):
    artifact(tmp_path, "bundle/model.joblib", "m")
    artifact(tmp_path, "bundle/vocab/words.txt", "w")
    meta = registry.register_model("bundle", tmp_path / "bundle")
    assert sorted(f["path"] for f in meta["files"]) == [
        "bundle/model.joblib",
        "bundle/vocab/words.txt",
    ]
    assert (Path(meta["path"]) / "artifacts" / "bundle" / "vocab" / "words.txt").read_text() == "w"
    assert registry.verified_model("bundle")["version"] == 1


def _register_one(root: str, index: int, barrier) -> int:
    registry = Registry(root)
    source = Path(root).parent / f"src{index}" / "model.pkl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(f"model number {index}")
    barrier.wait()
    return registry.register_model("shared", source, run_id=f"run-{index}")["version"]


def test_sixteen_concurrent_writers_get_sixteen_distinct_versions(tmp_path: Path):
    root = str(tmp_path / "registry")
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(16)
    with context.Pool(16) as pool:
        versions = pool.starmap(_register_one, [(root, i, barrier) for i in range(16)])
    assert sorted(versions) == list(range(1, 17))
    registry = Registry(root)
    metas = registry.model_versions("shared")
    assert sorted(m["run_id"] for m in metas) == sorted(f"run-{i}" for i in range(16))
    assert len({m["content_hash"] for m in metas}) == 16
    assert all(not problems for _label, problems in registry.verify())
    assert registry.models.latest("shared") == 16


WRITER = """
import sys
from pathlib import Path
from snakeyard.registry.registry import Registry
registry = Registry(sys.argv[1])
source = Path(sys.argv[2])
print("registering", flush=True)  # imports done: the kills land among registrations
for index in range(10_000):
    source.write_bytes(str(index).encode() * 2000)
    registry.register_model("victim", source)
"""


def test_writer_killed_at_any_instant_leaves_no_partial_version(tmp_path: Path):
    """kill -9 a writer that registers in a loop, many times at random instants."""
    root = tmp_path / "registry"
    source = tmp_path / "model.pkl"
    rng = random.Random(7)
    for _ in range(12):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(source)], stdout=subprocess.PIPE
        )
        # a slow start (a loaded machine) must not turn a kill into one before any write
        assert writer.stdout.readline() == b"registering\n"
        time.sleep(rng.uniform(0.1, 0.6))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        registry = Registry(root)
        versions = registry.models.versions("victim")
        assert versions == list(range(1, len(versions) + 1)), "versions are contiguous from 1"
        for meta in registry.model_versions("victim") if versions else []:
            assert registry.verified_model("victim", meta["version"])  # complete and intact
    hints = {".latest", ".by-content", ".index"}
    leftovers = {p.name for p in (root / "models" / "victim").iterdir()} - hints
    assert leftovers == {str(v) for v in versions}, "killed writers leave nothing beside versions"
    after = Registry(root).register_model("victim", artifact(tmp_path, "x/new.pkl", "fresh"))
    assert after["version"] == len(versions) + 1
    assert len(versions) > 12, "the writers did register between kills"
    # what they left in .tmp/ (invisible to readers) went with the next publication
    assert list((root / ".tmp").iterdir()) == []


def test_writer_killed_while_copying_a_large_artifact(tmp_path: Path):
    root = tmp_path / "registry"
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        handle.truncate(400 * 1024 * 1024)  # sparse: cheap to create, slow to copy and hash
    code = "import sys; from snakeyard.registry.registry import Registry; Registry(sys.argv[1]).register_model('big', sys.argv[2])"
    writer = subprocess.Popen([sys.executable, "-c", code, str(root), str(big)])
    staging = root / ".tmp"
    deadline = time.monotonic() + 60
    while not (staging.is_dir() and any(staging.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    registry = Registry(root)
    assert registry.models.versions("big") == []
    with pytest.raises(NotFoundError):
        registry.get_model("big")
    assert registry.register_model("big", artifact(tmp_path, "small.bin", "s"))["version"] == 1


def test_identical_content_returns_the_existing_version(registry: Registry, tmp_path: Path):
    model = artifact(tmp_path, "model.pkl", "same bytes")
    first = registry.register_model("m", model, run_id="run-1")
    again = registry.register_model("m", model, run_id="run-1")
    assert again["version"] == first["version"] == 1
    assert again["new"] is False
    # a forced re-run that reproduces the latest version's bytes registers nothing new
    assert registry.register_model("m", model, run_id="run-2")["version"] == 1
    # a later different version, then the first run registers its model again
    registry.register_model("m", artifact(tmp_path, "other.pkl", "different"), run_id="run-3")
    assert registry.register_model("m", model, run_id="run-1")["version"] == 1
    assert registry.models.versions("m") == [1, 2]


def test_load_checks_sha256(registry: Registry, tmp_path: Path):
    import joblib

    joblib.dump({"weights": [1, 2, 3]}, tmp_path / "model.joblib")
    meta = registry.register_model("m", tmp_path / "model.joblib")
    assert registry.load_model("m") == {"weights": [1, 2, 3]}
    stored = Path(meta["path"]) / "artifacts" / "model.joblib"
    stored.write_bytes(stored.read_bytes() + b"tampered")
    with pytest.raises(IntegrityError, match="model.joblib has sha256 .* recorded"):
        registry.load_model("m")
    problems = [p for _label, found in registry.verify() for p in found]
    assert len(problems) == 1 and "model m:1" in problems[0]


def test_latest_is_right_when_the_hint_is_stale_or_missing(registry: Registry, tmp_path: Path):
    for index in range(3):
        registry.register_model("m", artifact(tmp_path, f"{index}/m.pkl", str(index)))
    hint = registry.root / "models" / "m" / ".latest"
    hint.write_text("1")
    assert registry.models.latest("m") == 3
    hint.unlink()
    assert registry.models.latest("m") == 3
    hint.write_text("garbage")
    assert registry.register_model("m", artifact(tmp_path, "4/m.pkl", "4"))["version"] == 4


def test_latest_walks_up_from_a_hint_written_every_few_versions(registry: Registry, tmp_path):
    for index in range(LATEST_EVERY + 3):
        registry.register_model("m", artifact(tmp_path, f"{index}/m.pkl", str(index)))
    hint = registry.root / "models" / "m" / ".latest"
    assert json.loads(hint.read_text()) == LATEST_EVERY  # not rewritten at every version
    assert registry.models.latest("m") == LATEST_EVERY + 3
    assert registry.get_model("m")["version"] == LATEST_EVERY + 3
    again = registry.register_model("m", artifact(tmp_path, "again/m.pkl", "again"))
    assert again["version"] == LATEST_EVERY + 4


@pytest.mark.parametrize("bad", ["a/b", "..", "a..b", "", ".hidden", "-x", "x" * 129, "a b", "é"])
def test_bad_names_are_refused(registry: Registry, tmp_path: Path, bad: str):
    with pytest.raises(InvalidNameError, match="invalid model name"):
        registry.register_model(bad, artifact(tmp_path, "m.pkl", "x"))
    assert not (registry.root / "models").exists() or not any((registry.root / "models").iterdir())


@pytest.mark.parametrize("good", ["sklearn-iris", "a.b_c-1", "X", "9" * 128])
def test_good_names_are_accepted(registry: Registry, tmp_path: Path, good: str):
    assert registry.register_model(good, artifact(tmp_path, "m.pkl", "x"))["name"] == good


def test_unknown_names_and_versions_are_clear_errors(registry: Registry, tmp_path: Path):
    with pytest.raises(NotFoundError, match="no model named 'nope'"):
        registry.get_model("nope")
    registry.register_model("m", artifact(tmp_path, "m.pkl", "x"))
    with pytest.raises(NotFoundError, match="has no version 7 \\(versions 1 to 1\\)"):
        registry.get_model("m", 7)


def test_dataset_versions_follow_content(registry: Registry, tmp_path: Path):
    data = tmp_path / "data"
    artifact(data, "a.csv", "x,y\n1,2\n")
    artifact(data, "sub/b.csv", "x,y\n3,4\n")
    first = registry.upload_dataset("table", data, description="two files")
    assert (first["version"], first["new"]) == (1, True)
    copied = Path(first["location"])
    assert (copied / "sub" / "b.csv").read_text() == "x,y\n3,4\n"
    before = os.stat(copied / "a.csv").st_mtime_ns

    same = registry.upload_dataset("table", data)
    assert (same["version"], same["new"]) == (1, False)
    assert os.stat(copied / "a.csv").st_mtime_ns == before, "no second copy"

    artifact(data, "a.csv", "x,y\n1,5\n")
    changed = registry.upload_dataset("table", data)
    assert (changed["version"], changed["new"]) == (2, True)
    assert registry.get_dataset("table", 1)["files"] != registry.get_dataset("table", 2)["files"]
    assert (copied / "a.csv").read_text() == "x,y\n1,2\n", "version 1's files are untouched"


def test_environment_versions_follow_spec_and_packages(registry: Registry):
    args = {
        "spec_file": "envs/e.yaml",
        "spec_text": "dependencies: [numpy]\n",
        "method": "recorded",
    }
    first = registry.register_environment("e", packages={"numpy": "2.0.0"}, **args)
    assert registry.register_environment("e", packages={"numpy": "2.0.0"}, **args)["version"] == 1
    upgraded = registry.register_environment("e", packages={"numpy": "2.1.0"}, **args)
    assert (first["version"], upgraded["version"]) == (1, 2)
    assert registry.get_environment("e", 2)["packages"] == {"numpy": "2.1.0"}


def test_metadata_is_plain_json(registry: Registry, tmp_path: Path):
    meta = registry.register_model(
        "m", artifact(tmp_path, "m.pkl", "x"), framework="scikit-learn", tags={"k": "v"}
    )
    on_disk = json.loads((Path(meta["path"]) / "model.json").read_text())
    assert on_disk["version"] == 1 and on_disk["tags"] == {"k": "v"}
    assert on_disk["files"][0]["sha256"] == meta["files"][0]["sha256"]
