"""Nothing in a registry reaches outside it, and stored bytes are trusted only after their
hash: metadata files written by hand, by a buggy tool or by someone else cannot make
snakeyard read, write or unpickle a file outside the version's folder, and a damaged
blob is never handed on to a new version."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import pytest

from snakeyard.errors import IntegrityError, MetadataError, SnakeyardError
from snakeyard.files import sha256_file
from snakeyard.registry.registry import Registry

OLD_RUN = (
    Path(__file__).parent
    / "data/registry-0.1.0/runs/sklearn-iris/sklearn-iris_1796058238_1929045d/run.json"
)


class Marker:
    """A pickle whose unpickling makes the folder ``path``: proof that it was loaded."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.path,))


def marker_pickle(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Marker(marker)))
    return path


def edit(path: Path, change: Callable[[dict], None]) -> None:
    """Rewrite a metadata file the way a careless tool or a person would."""
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def cli(registry: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakeyard", "--registry", str(registry), *args]
    return subprocess.run(command, capture_output=True, text=True)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    return done.stderr


def verify_problems(registry: Registry) -> list[str]:
    return [problem for _label, found in registry.verify() for problem in found]


@pytest.fixture
def model(registry: Registry, tmp_path: Path) -> dict:
    source = tmp_path / "src" / "model.joblib"
    source.parent.mkdir()
    joblib.dump({"coef": [1, 2]}, source)
    return registry.register_model("m", source)


def test_pickle_marker_works(tmp_path: Path):
    # the proof the other tests rely on: loading this pickle does leave the marker
    path = marker_pickle(tmp_path / "probe.pkl", tmp_path / "loaded")
    joblib.load(path)
    assert (tmp_path / "loaded").is_dir()


# ---------------------------------------------------------------------- models
def test_download_refuses_an_absolute_file_path(registry: Registry, model: dict, tmp_path: Path):
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious")
    edit(Path(model["path"]) / "model.json", lambda m: m["files"][0].update(path=str(victim)))
    dest = tmp_path / "dest"
    error = one_line_error(cli(registry.root, "models", "download", "m", str(dest)))
    assert f"file path '{victim}' is refused" in error
    assert victim.read_text() == "precious" and not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_download_refuses_a_path_with_dot_dot(registry: Registry, model: dict, tmp_path: Path):
    # a file two levels up from artifacts/ exists, so a careless copy would find it
    escape = "../../../escaped.txt"
    (Path(model["path"]) / "artifacts" / escape).resolve().write_text("x")
    edit(Path(model["path"]) / "model.json", lambda m: m["files"][0].update(path=escape))
    dest = tmp_path / "deep" / "dest"
    error = one_line_error(cli(registry.root, "models", "download", "m", str(dest)))
    assert "'../../../escaped.txt' is refused" in error
    assert not dest.exists() and not (dest / escape).resolve().exists()
    assert "'../../../escaped.txt' is refused" in "\n".join(verify_problems(registry))


def test_an_artifact_outside_the_registry_is_never_unpickled(
    registry: Registry, model: dict, tmp_path: Path
):
    outside = marker_pickle(tmp_path / "outside" / "file.pkl", tmp_path / "marker")
    edit(Path(model["path"]) / "model.json", lambda m: m.update(artifact=str(outside), files=[]))
    with pytest.raises(MetadataError, match=f"artifact '{outside}' is refused"):
        registry.load_model("m")
    assert not (tmp_path / "marker").exists()
    loading = f"import snakeyard; snakeyard.load_model('m', registry={str(registry.root)!r})"
    done = subprocess.run([sys.executable, "-c", loading], capture_output=True, text=True)
    assert done.returncode != 0 and "is refused" in done.stderr
    assert not (tmp_path / "marker").exists()
    assert "is refused" in "\n".join(verify_problems(registry))


def test_an_unlisted_artifact_is_never_unpickled(registry: Registry, model: dict, tmp_path: Path):
    # a plain name under artifacts/, but no file entry (and so no sha256) for it
    marker_pickle(Path(model["path"]) / "artifacts" / "evil.pkl", tmp_path / "marker")
    edit(Path(model["path"]) / "model.json", lambda m: m.update(artifact="evil.pkl"))
    with pytest.raises(MetadataError, match="artifact 'evil.pkl' is not among the listed files"):
        registry.load_model("m")
    assert not (tmp_path / "marker").exists()
    assert any("file evil.pkl is present but not listed" in p for p in verify_problems(registry))


def test_a_pickle_dropped_into_a_folder_model_is_reported_and_ignored(
    registry: Registry, tmp_path: Path
):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    joblib.dump({"coef": [3]}, bundle / "model.joblib")
    (bundle / "vocab.txt").write_text("words")
    meta = registry.register_model("bundle", bundle)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "vocab.txt").write_text("words")
    notes = registry.register_model("notes", tmp_path / "notes")  # nothing to unpickle
    for version in (meta, notes):
        folder = Path(version["path"]) / "artifacts" / version["artifact"]
        marker_pickle(folder / "dropped.pkl", tmp_path / "marker")

    done = cli(registry.root, "verify")
    assert done.returncode == 1
    assert "model bundle:1: file bundle/dropped.pkl is present but not listed" in done.stderr
    assert "model notes:1: file notes/dropped.pkl is present but not listed" in done.stderr
    assert registry.load_model("bundle") == {"coef": [3]}  # the listed file, not the other
    with pytest.raises(SnakeyardError, match="without exactly one .joblib/.pkl/.pickle file"):
        registry.load_model("notes")
    assert not (tmp_path / "marker").exists()


def test_a_link_out_of_the_version_folder_is_refused(
    registry: Registry, model: dict, tmp_path: Path
):
    stored = Path(model["path"]) / "artifacts" / "model.joblib"
    # the same bytes outside: the sha256 matches, the place does not
    outside = tmp_path / "outside.joblib"
    shutil.copyfile(stored, outside)
    stored.unlink()
    stored.symlink_to(outside)
    with pytest.raises(MetadataError, match="'model.joblib' is refused: it leads out of"):
        registry.load_model("m")
    error = one_line_error(cli(registry.root, "models", "download", "m", str(tmp_path / "d")))
    assert "leads out of" in error and not (tmp_path / "d").exists()
    assert any("leads out of" in p for p in verify_problems(registry))


def listed_marker(folder: Path, marker: Path) -> dict:
    """A marker pickle ``evil.pkl`` in ``folder``, as a listed file entry with its sha256."""
    path = marker_pickle(folder / "evil.pkl", marker)
    return {"path": "evil.pkl", "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def test_an_artifacts_folder_linked_out_of_the_registry_is_refused(
    registry: Registry, model: dict, tmp_path: Path
):
    # a folder outside, whose pickle is listed with its true sha256: only the place is wrong
    outside = tmp_path / "adv-art"
    entry = listed_marker(outside, tmp_path / "marker")
    edit(Path(model["path"]) / "model.json", lambda m: m.update(artifact="evil.pkl", files=[entry]))
    artifacts = Path(model["path"]) / "artifacts"
    shutil.rmtree(artifacts)
    artifacts.symlink_to(outside)

    with pytest.raises(
        MetadataError,
        match=f"artifacts is refused: it leads out of the registry .* \\(to {outside}\\)",
    ):
        registry.load_model("m")
    error = one_line_error(cli(registry.root, "models", "download", "m", str(tmp_path / "d")))
    assert "leads out of the registry" in error and not (tmp_path / "d").exists()
    assert [p for p in verify_problems(registry) if "leads out of the registry" in p] != []
    assert not (tmp_path / "marker").exists()


def test_a_version_folder_linked_out_of_the_registry_is_refused(
    registry: Registry, model: dict, tmp_path: Path
):
    # version 2 is a link to a complete version elsewhere, its pickle listed with its sha256
    outside = tmp_path / "adv-version"
    entry = listed_marker(outside / "artifacts", tmp_path / "marker")
    meta = {**json.loads((Path(model["path"]) / "model.json").read_text())}
    meta.update(version=2, artifact="evil.pkl", files=[entry])
    (outside / "model.json").write_text(json.dumps(meta))
    (registry.root / "models" / "m" / "2").symlink_to(outside)

    for version in (2, "latest"):
        with pytest.raises(MetadataError, match="models/m/2 is refused: it leads out of the reg"):
            registry.load_model("m", version)
    error = one_line_error(cli(registry.root, "models", "download", "m:2", str(tmp_path / "d")))
    assert f"(to {outside})" in error and not (tmp_path / "d").exists()
    assert any(p.startswith("model m:2: ") and "leads out" in p for p in verify_problems(registry))
    assert not (tmp_path / "marker").exists()


def test_a_name_folder_linked_out_of_the_registry_gets_no_version(
    registry: Registry, model: dict, tmp_path: Path
):
    elsewhere = tmp_path / "elsewhere"  # the same filesystem: a rename there would work
    shutil.move(registry.root / "models" / "m", elsewhere)
    (registry.root / "models" / "m").symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir())
    joblib.dump({"coef": [9]}, tmp_path / "b.pkl")

    error = one_line_error(cli(registry.root, "models", "register", "m", str(tmp_path / "b.pkl")))
    assert "models/m/1 is refused: it leads out of the registry" in error
    with pytest.raises(MetadataError, match="leads out of the registry"):
        registry.models.publish("m", {"kind": "model"})  # the writer checks before writing
    assert sorted(p.name for p in elsewhere.iterdir()) == before
    assert list((registry.root / ".tmp").iterdir()) == []
    assert any("model m:1: " in p and "leads out" in p for p in verify_problems(registry))


def test_a_registry_that_is_itself_a_link_works(registry: Registry, model: dict, tmp_path: Path):
    # a registry on a shared filesystem, reached through a link: everything is inside it
    linked = Registry(tmp_path / "linked")
    linked.root.symlink_to(registry.root)
    assert linked.load_model("m") == {"coef": [1, 2]}
    joblib.dump({"coef": [3]}, tmp_path / "b.pkl")
    assert linked.register_model("m", tmp_path / "b.pkl")["version"] == 2
    assert verify_problems(linked) == []


def test_temporaries_are_never_swept_through_a_link_out_of_the_registry(
    registry: Registry, model: dict, tmp_path: Path
):
    # another folder whose old files look like abandoned temporaries of a dead writer
    precious = tmp_path / "precious"
    precious.mkdir()
    old = precious / "notes.txt"
    old.write_text("keep me")
    os.utime(old, (0, 0))
    legacy = registry.root / "models" / "m" / ".tmp"  # snakeyard 0.1's per-name folder
    legacy.symlink_to(precious)
    joblib.dump({"coef": [3]}, tmp_path / "b.pkl")
    assert registry.register_model("m", tmp_path / "b.pkl")["version"] == 2
    assert old.read_text() == "keep me"

    shutil.rmtree(registry.root / ".tmp")
    (registry.root / ".tmp").symlink_to(precious)
    joblib.dump({"coef": [4]}, tmp_path / "c.pkl")
    error = one_line_error(cli(registry.root, "models", "register", "m", str(tmp_path / "c.pkl")))
    assert ".tmp is refused: it leads out of the registry" in error
    assert old.read_text() == "keep me" and sorted(p.name for p in precious.iterdir()) == [
        "notes.txt"
    ]


def test_a_symbolic_link_loop_is_one_line(registry: Registry, model: dict, tmp_path: Path):
    stored = Path(model["path"]) / "artifacts" / "model.joblib"
    stored.unlink()
    stored.symlink_to("model.joblib")  # a link to itself
    error = one_line_error(cli(registry.root, "models", "download", "m", str(tmp_path / "d")))
    assert "model m:1: " in error and "model.joblib cannot be followed" in error
    assert any("cannot be followed" in p for p in verify_problems(registry))


def test_a_file_listed_twice_is_reported_and_refused(
    registry: Registry, model: dict, tmp_path: Path
):
    edit(Path(model["path"]) / "model.json", lambda m: m["files"].append(m["files"][0]))
    assert verify_problems(registry) == ["model m:1: file model.joblib is listed twice"]
    # a SnakeyardError like every refusal: the command line prints it as one line
    with pytest.raises(MetadataError, match="model m:1: file model.joblib is listed twice"):
        registry.load_model("m")
    error = one_line_error(cli(registry.root, "models", "download", "m", str(tmp_path / "d")))
    assert error == "snakeyard: error: model m:1: file model.joblib is listed twice\n"


def test_an_artifact_present_but_not_listed_is_reported_and_never_copied(
    registry: Registry, model: dict, tmp_path: Path
):
    marker_pickle(Path(model["path"]) / "artifacts" / "extra.pkl", tmp_path / "marker")
    edit(Path(model["path"]) / "model.json", lambda m: m.update(artifact="extra.pkl"))
    assert verify_problems(registry) == [
        "model m:1: artifact 'extra.pkl' is not among the listed files",
        "model m:1: file extra.pkl is present but not listed in the metadata "
        f"({Path(model['path']) / 'artifacts' / 'extra.pkl'})",
    ]
    error = one_line_error(cli(registry.root, "models", "download", "m", str(tmp_path / "d")))
    assert "artifact 'extra.pkl' is not among the listed files" in error
    assert not (tmp_path / "d").exists() and not (tmp_path / "marker").exists()


def test_verify_lists_every_problem_of_a_model_version(registry: Registry, model: dict):
    def break_both(meta: dict) -> None:
        meta["artifact"] = "../../escape"
        meta["files"][0]["path"] = "/etc/hostname"

    edit(Path(model["path"]) / "model.json", break_both)
    problems = verify_problems(registry)
    assert problems[0].startswith("model m:1: artifact '../../escape' is refused")
    assert problems[1].startswith("model m:1: file path '/etc/hostname' is refused")
    assert problems[2].startswith("model m:1: file model.joblib is present but not listed")
    assert len(problems) == 3


# -------------------------------------------------------------------- data sets
@pytest.fixture
def dataset(registry: Registry, tmp_path: Path) -> dict:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.bin").write_bytes(b"a" * 100)
    (tmp_path / "data" / "b.bin").write_bytes(b"b" * 50)
    return registry.upload_dataset("d", tmp_path / "data")


def test_a_data_set_file_path_that_leaves_its_folder_is_reported(
    registry: Registry, dataset: dict, tmp_path: Path
):
    meta_file = Path(dataset["path"]) / "dataset.json"
    edit(meta_file, lambda m: m["files"][0].update(path="/etc/hostname"))
    edit(meta_file, lambda m: m["files"][1].update(path="../../../../outside"))
    problems = verify_problems(registry)
    assert any("dataset d:1: file path '/etc/hostname' is refused" in p for p in problems)
    assert any("dataset d:1: file path '../../../../outside' is refused" in p for p in problems)
    # both files are still in the folder, now unlisted
    assert sum("present but not listed" in p for p in problems) == 2


def test_a_data_set_location_must_be_its_own_datastore_folder(
    registry: Registry, dataset: dict, tmp_path: Path
):
    meta_file = Path(dataset["path"]) / "dataset.json"
    for location in (str(tmp_path), "../../elsewhere/d/" + dataset["content_hash"], "datastore"):
        edit(meta_file, lambda m, where=location: m.update(location=where))
        with pytest.raises(MetadataError, match=f"location '{location}' is refused"):
            registry.get_dataset("d")
        error = one_line_error(cli(registry.root, "datasets", "show", "d"))
        assert f"location '{location}' is refused" in error
        assert any("is refused" in p for p in verify_problems(registry))
    # an absolute location is the form a datastore outside the registry is recorded in
    edit(meta_file, lambda m: m.update(location=dataset["location"]))
    assert registry.get_dataset("d")["location"] == dataset["location"]
    assert verify_problems(registry) == []


def test_a_data_set_file_linked_out_of_its_folder_is_refused(
    registry: Registry, dataset: dict, tmp_path: Path
):
    stored = Path(dataset["location"]) / "a.bin"
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"a" * 100)
    stored.unlink()
    stored.symlink_to(outside)
    assert any("file path 'a.bin' is refused: it leads out" in p for p in verify_problems(registry))
    # uploading the content again puts the stored file back in place of the link
    assert registry.upload_dataset("d", tmp_path / "data")["version"] == 1
    assert not stored.is_symlink() and verify_problems(registry) == []
    assert outside.read_bytes() == b"a" * 100


def test_an_object_store_version_writes_nothing_outside_the_cache(
    registry: Registry, dataset: dict, tmp_path: Path
):
    from snakeyard.data.datastore import local_folder

    def to_s3(meta: dict) -> None:
        # an S3 endpoint that does not answer: the paths are refused before any request
        meta.update(location="s3://b", datastore={"s3": {"bucket": "b", "endpoint": "http://0"}})
        meta["files"][0]["path"] = "../../../../written-outside.bin"

    edit(Path(dataset["path"]) / "dataset.json", to_s3)
    cache = tmp_path / "cache"
    with pytest.raises(MetadataError, match="written-outside.bin' is refused"):
        local_folder(registry.get_dataset("d"), registry.root, cache, lambda _: None)
    assert list(tmp_path.rglob("written-outside.bin")) == []


# ----------------------------------------------------------------- environments
@pytest.fixture
def environment(registry: Registry) -> dict:
    return registry.register_environment(
        "e",
        spec_file="envs/e.yaml",
        spec_text="dependencies: [numpy]\n",
        packages={"numpy": "2.0.0"},
        method="conda-lock",
        lock_text="version: 1\n",
        lock_name="conda-lock.yml",
    )


def test_an_environment_lock_outside_its_folder_is_never_read(
    registry: Registry, environment: dict, tmp_path: Path
):
    from snakeyard.environments.specs import activate

    outside = tmp_path / "outside.yml"
    outside.write_text("version: 1\n")
    edit(Path(environment["path"]) / "environment.json", lambda m: m.update(lock_file=str(outside)))
    with pytest.raises(MetadataError, match="lock_file '.*outside.yml' is refused: expected one"):
        activate(registry.get_environment("e"), lambda _: None)

    def listed_outside(meta: dict) -> None:
        meta["lock_file"] = meta["files"][0]["path"] = "../../../outside.yml"

    edit(Path(environment["path"]) / "environment.json", listed_outside)
    with pytest.raises(MetadataError, match="'../../../outside.yml' is refused"):
        activate(registry.get_environment("e"), lambda _: None)
    problems = verify_problems(registry)
    assert any(
        "environment e:1: file path '../../../outside.yml' is refused" in p for p in problems
    )
    assert any(
        "environment e:1: file conda-lock.yml is present but not listed" in p for p in problems
    )


def test_an_environment_lock_is_used_only_with_its_recorded_sha256(
    registry: Registry, environment: dict
):
    from snakeyard.environments.specs import activate

    (Path(environment["path"]) / "conda-lock.yml").write_text("version: 2\n")
    with pytest.raises(IntegrityError, match="file conda-lock.yml has sha256 .* recorded"):
        activate(registry.get_environment("e"), lambda _: None)


def test_a_file_dropped_into_an_environment_version_is_reported(
    registry: Registry, environment: dict
):
    (Path(environment["path"]) / "extra.yml").write_text("channels: [evil]\n")
    assert verify_problems(registry) == [
        f"environment e:1: file extra.yml is present but not listed in the metadata "
        f"({Path(environment['path']) / 'extra.yml'})"
    ]


@pytest.fixture
def recorded(registry: Registry) -> dict:
    """An environment version of the workflow's own interpreter: no lock file."""
    return registry.register_environment(
        "current",
        spec_file="current",
        spec_text="",
        packages={"python": "3.11.7"},
        method="recorded-interpreter",
    )


@pytest.mark.parametrize("lock", ["/etc/passwd", "../../../../etc/passwd", "nothere.txt"])
@pytest.mark.parametrize("method", ["pip-lock", "recorded-interpreter"])
def test_an_environment_lock_file_must_be_a_listed_file(
    registry: Registry, recorded: dict, lock: str, method: str
):
    assert verify_problems(registry) == []  # null is right for a recorded interpreter
    meta_file = Path(recorded["path"]) / "environment.json"
    edit(meta_file, lambda m: m.update(lock_file=lock, method=method, lock_hash=None))
    refused = f"environment current:1: lock_file {lock!r} is refused: expected one of its listed files (spec.yaml)"
    assert [p for p in verify_problems(registry) if p.startswith(refused)] != []
    done = cli(registry.root, "environments", "show", "current")
    assert one_line_error(done).startswith(f"snakeyard: error: {refused}")
    assert done.stdout == ""  # nothing shown, so no path outside either
    with pytest.raises(MetadataError, match="is refused: expected one of its listed files"):
        registry.get_environment("current")


# ------------------------------------------------------------------ run records
def run_record(registry: Registry, change: Callable[[dict], None]) -> Path:
    """A run record in the registry, as a run writes it, with ``change`` made to it."""
    record = json.loads(OLD_RUN.read_text())
    folder = registry.runs_root / record["experiment"] / record["id"]
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "plot.png").write_bytes(b"png")
    record["images"] = {"plot": {"path": "images/plot.png", "sha256": sha256_file(OLD_RUN)}}
    change(record)
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_a_run_record_path_that_leaves_the_run_folder_is_refused(
    registry: Registry, tmp_path: Path
):
    def escape(record: dict) -> None:
        record["uploads"] = {"secret": {"path": "../../../../etc/passwd", "sha256": "0" * 64}}

    folder = run_record(registry, escape)
    error = one_line_error(cli(registry.root, "runs", "show", folder.name))
    assert "upload 'secret': file path '../../../../etc/passwd' is refused" in error
    assert registry.list_runs() == []  # left out of listings, and reported by verify:
    assert any("'../../../../etc/passwd' is refused" in p for p in verify_problems(registry))


def test_every_bad_path_of_a_run_record_is_reported(registry: Registry):
    def escape(record: dict) -> None:
        record["images"]["plot"]["path"] = "/etc/hostname"
        record["uploads"] = {"secret": {"path": "../../../../etc/passwd", "sha256": "0" * 64}}
        record["outputs"] = [{"path": "../model.joblib", "bytes": 1, "sha256": "0" * 64}]

    folder = run_record(registry, escape)
    problems = verify_problems(registry)
    assert [p.split(": file path ")[0] for p in problems] == [
        f"run {folder.name}: image 'plot'",
        f"run {folder.name}: upload 'secret'",
        f"run {folder.name}: outputs",
    ]
    error = one_line_error(cli(registry.root, "runs", "show", folder.name))
    assert all(p in error for p in problems)


def test_a_run_folder_linked_out_of_the_registry_is_refused(registry: Registry, tmp_path: Path):
    folder = run_record(registry, lambda record: None)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere)
    error = one_line_error(cli(registry.root, "runs", "show", folder.name))
    assert "run.json is refused: it leads out of the registry" in error
    assert registry.list_runs() == []
    assert any("leads out of the registry" in p for p in verify_problems(registry))
    # nor does a new run write there: its experiment's folder leads out
    shutil.rmtree(folder.parent)
    folder.parent.symlink_to(elsewhere.parent)
    with pytest.raises(MetadataError, match="leads out of the registry"):
        registry.run_folder(folder.parent.name, "sklearn-iris_1796000000_0a1b2c3d")


def test_a_run_record_image_linked_out_of_the_run_folder_is_refused(
    registry: Registry, tmp_path: Path
):
    folder = run_record(registry, lambda record: None)
    assert registry.get_run(folder.name)["folder"] == str(folder.resolve())
    (folder / "images" / "plot.png").unlink()
    (folder / "images" / "plot.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(MetadataError, match="image 'plot': file path 'images/plot.png' is refused"):
        registry.get_run(folder.name)


def test_a_script_cannot_log_a_file_outside_its_run(registry: Registry, tmp_path: Path):
    from snakeyard.training.runner import kept_files

    folder = tmp_path / "run"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "a.png").write_bytes(b"png")
    logged = {"a": "images/a.png", "b": "/etc/hostname", "c": "../outside.png"}
    (tmp_path / "outside.png").write_bytes(b"png")
    assert list(kept_files(folder, logged, "run r: image")) == ["a"]


# ------------------------------------------------------------- damaged blobs
def test_a_damaged_blob_is_reported_and_never_reused(
    registry: Registry, dataset: dict, tmp_path: Path
):
    entry = next(e for e in dataset["files"] if e["path"] == "a.bin")
    blob = registry.root / "datastore" / ".blobs" / "sha256" / entry["sha256"][:2] / entry["sha256"]
    os.chmod(blob, 0o644)
    damaged = bytearray(blob.read_bytes())
    damaged[10] ^= 0x01  # one flipped bit, the size unchanged
    blob.write_bytes(bytes(damaged))
    assert [p for p in verify_problems(registry) if "has sha256" in p] == [
        f"dataset d:1: file a.bin has sha256 {sha256_file(blob)}, recorded {entry['sha256']}"
    ]

    # the same content under another name: the blob is stored again, not reused
    other = registry.upload_dataset("other", tmp_path / "data")
    assert other["report"].written_files == 1 and "damaged blob" in other["report"].summary()
    assert sha256_file(blob) == entry["sha256"]
    assert [p for p in verify_problems(registry) if "other:1" in p] == []

    # the same content again under its own name repairs the version that had it
    again = registry.upload_dataset("d", tmp_path / "data")
    assert again["version"] == 1 and not again["new"]
    assert verify_problems(registry) == []


# ----------------------------------------------------------------------- verify
def test_verify_reports_every_problem_past_an_invalid_metadata_file(
    registry: Registry, tmp_path: Path, environment: dict
):
    for name in ("a", "b", "c"):
        joblib.dump({"name": name}, tmp_path / f"{name}.joblib")
        registry.register_model(name, tmp_path / f"{name}.joblib")
    (registry.models.path("a", 1) / "model.json").write_text("{not json")
    (registry.models.path("b", 1) / "model.json").write_text("[]")
    (registry.models.path("c", 1) / "artifacts" / "c.joblib").write_bytes(b"damaged")
    (Path(environment["path"]) / "spec.yaml").unlink()

    done = cli(registry.root, "verify")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "snakeyard: error: 4 problem(s) in 4 versions and 0 run records:"
    assert "model a:1: " in lines[1] and "model.json is not valid JSON" in lines[1]
    assert "model b:1: " in lines[2] and "is not the metadata of model b:1" in lines[2]
    assert lines[3].startswith("model c:1: file c.joblib has sha256 ")
    assert lines[4].startswith("environment e:1: file spec.yaml is missing")
