"""A registry people run for years: aliases, tag and description edits, archive and
delete with tombstones, garbage collection, and one copy of a run's model."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pytest

from snakeyard.errors import InvalidNameError, NotFoundError, SnakeyardError
from snakeyard.registry.gc import collect_garbage, find_garbage
from snakeyard.registry.lifecycle import alias_history
from snakeyard.registry.registry import Registry, get_model, load_model
from snakeyard.registry.versions import parse_ref


def model_file(folder: Path, name: str, value: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    joblib.dump(value, path)
    return path


def three_versions(registry: Registry, tmp_path: Path) -> None:
    for index in range(1, 4):
        registry.register_model("m", model_file(tmp_path / f"v{index}", "model.joblib", index))


def cli(registry: Registry, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakeyard", "--registry", str(registry.root), *args]
    return subprocess.run(command, capture_output=True, text=True)


def problems(registry: Registry) -> list[str]:
    return [p for _, found in registry.verify() for p in found]


# ----------------------------------------------------------------------- aliases
def test_an_alias_names_a_version_everywhere_a_reference_is_taken(registry, tmp_path):
    three_versions(registry, tmp_path)
    assert registry.set_alias("m", 2, "production")["to"] == 2
    assert parse_ref("m@production") == ("m", "@production")
    assert get_model("m@production", registry=registry)["version"] == 2
    assert registry.get_model("m", "@production")["aliases"] == ["production"]
    assert load_model("m@production", registry=registry) == 2
    assert load_model("m:3", registry=registry) == 3
    registry.download_model("m", "@production", tmp_path / "copy")
    assert joblib.load(tmp_path / "copy" / "model.joblib") == 2
    shown = cli(registry, "models", "show", "m@production")
    assert shown.returncode == 0 and "m:2" in shown.stdout and "production" in shown.stdout
    listed = cli(registry, "models", "list")
    assert "production=2" in listed.stdout


def test_moving_an_alias_keeps_every_move_as_history(registry, tmp_path):
    three_versions(registry, tmp_path)
    registry.set_alias("m", 1, "candidate")
    registry.set_alias("m", 3, "candidate")
    assert registry.set_alias("m", 3, "candidate") is None  # already there: no event
    registry.delete_alias("m", "candidate")
    moves = alias_history(registry.history("model", "m"), "candidate")
    assert [(m["from"], m["to"]) for m in moves] == [(None, 1), (1, 3), (3, None)]
    assert all(m["user"] and m["host"] and m["time"] for m in moves)
    shown = cli(registry, "models", "show", "m@candidate", "--history", "--json")
    assert [(m["from"], m["to"]) for m in json.loads(shown.stdout)] == [(None, 1), (1, 3), (3, None)]


def test_unknown_and_forbidden_aliases_are_one_line_errors(registry, tmp_path):
    three_versions(registry, tmp_path)
    registry.set_alias("m", 1, "production")
    done = cli(registry, "models", "show", "m@staging")
    assert done.returncode == 1
    assert done.stderr == (
        "snakeyard: error: model 'm' has no alias 'staging' (its aliases: production)\n"
    )
    for bad in ("latest", "42", "../x", ""):
        with pytest.raises(InvalidNameError):
            registry.set_alias("m", 1, bad)
    done = cli(registry, "models", "alias", "m", "1", "latest")
    assert done.returncode == 1 and "invalid alias 'latest'" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(NotFoundError):
        registry.set_alias("m", 9, "x")


# ------------------------------------------------------------ tags, description
def test_tags_and_description_change_but_the_artifact_does_not(registry, tmp_path):
    registry.register_model(
        "m", model_file(tmp_path, "model.joblib", 1), tags={"team": "a", "stage": "dev"}
    )
    before = registry.get_model("m")
    registry.tag_model("m", 1, {"stage": "prod", "owner": "kim"})
    registry.tag_model("m:1", "latest", remove=["team"])
    registry.describe_model("m", 1, "the good one")
    after = registry.get_model("m")
    assert after["tags"] == {"stage": "prod", "owner": "kim"}
    assert after["description"] == "the good one"
    assert (after["content_hash"], after["files"]) == (before["content_hash"], before["files"])
    stored = json.loads((Path(after["path"]) / "model.json").read_text())
    assert stored["tags"] == {"team": "a", "stage": "dev"}  # the version folder is untouched
    assert [e["action"] for e in registry.history("model", "m")] == ["tag", "tag", "describe"]
    done = cli(registry, "models", "tag", "m:1", "x=1", "--remove", "owner")
    assert done.returncode == 0, done.stderr
    assert registry.get_model("m")["tags"] == {"stage": "prod", "x": "1"}
    assert problems(registry) == []


def test_removing_a_tag_the_version_lacks_is_refused_and_records_nothing(registry, tmp_path):
    registry.register_model("m", model_file(tmp_path, "model.joblib", 1), tags={"team": "a"})
    done = cli(registry, "models", "tag", "m:1", "--remove", "nosuch")
    assert done.returncode == 1
    assert done.stderr == "snakeyard: error: model m:1 has no tag 'nosuch' (its tags: team)\n"
    assert registry.history("model", "m") == []
    assert registry.get_model("m")["tags"] == {"team": "a"}


# ------------------------------------------------------------ archive, delete
def test_archive_hides_from_latest_and_lists_until_restored(registry, tmp_path):
    three_versions(registry, tmp_path)
    registry.archive_model("m", 3)
    assert registry.get_model("m")["version"] == 2
    assert [m["version"] for m in registry.model_versions("m")] == [1, 2]
    assert [m["version"] for m in registry.model_versions("m", include_hidden=True)] == [1, 2, 3]
    assert load_model("m:3", registry=registry) == 3  # loadable by number
    with pytest.raises(SnakeyardError, match="archived already"):
        registry.archive_model("m", 3)
    done = cli(registry, "models", "archive", "m:3")
    assert done.returncode == 1 and "is archived already" in done.stderr
    assert "3" in cli(registry, "models", "versions", "m", "--all").stdout
    registry.restore_model("m", 3)
    assert registry.get_model("m")["version"] == 3
    with pytest.raises(InvalidNameError):
        registry.archive_model("m", "latest")


def test_a_deleted_number_is_a_tombstone_never_reused(registry, tmp_path):
    three_versions(registry, tmp_path)
    registry.delete_model("m", 3)
    meta = registry.get_model("m:3")
    assert meta["deleted"]["user"] and not (Path(meta["path"]) / "artifacts").exists()
    assert registry.get_model("m")["version"] == 2  # latest skips it
    with pytest.raises(NotFoundError, match="deleted"):
        load_model("m:3", registry=registry)
    again = registry.register_model("m", model_file(tmp_path / "v3", "model.joblib", 3))
    assert (again["version"], again["new"]) == (4, True)  # same bytes, a new number
    shown = cli(registry, "models", "show", "m:3")
    assert shown.returncode == 0 and "deleted" in shown.stdout
    # its files went with it: show lists none, and no path that points at nothing
    keys = [line.split()[0] for line in shown.stdout.splitlines() if line[:1].strip()]
    assert "files" not in keys and "path" not in keys and "model.joblib" not in shown.stdout
    live = cli(registry, "models", "show", "m:2").stdout
    assert "path" in [line.split()[0] for line in live.splitlines() if line[:1].strip()]
    assert problems(registry) == []
    with pytest.raises(SnakeyardError, match="was deleted"):
        registry.set_alias("m", 3, "production")


def test_deleting_an_aliased_version_needs_force_which_removes_the_alias(registry, tmp_path):
    three_versions(registry, tmp_path)
    registry.set_alias("m", 2, "production")
    done = cli(registry, "models", "delete", "m:2")
    assert done.returncode == 1
    assert "alias(es) production point at it" in done.stderr and "--force" in done.stderr
    assert load_model("m@production", registry=registry) == 2
    assert cli(registry, "models", "delete", "m:2", "--force").returncode == 0
    with pytest.raises(NotFoundError, match="no alias 'production'"):
        registry.get_model("m@production")
    moves = alias_history(registry.history("model", "m"), "production")
    assert [(m["from"], m["to"]) for m in moves] == [(None, 2), (2, None)]


def test_a_data_set_a_live_model_came_from_cannot_be_archived_or_deleted(registry, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n")
    dataset = registry.upload_dataset("d", data)
    ref = {"name": "d", "version": 1, "content_hash": dataset["content_hash"]}
    for index in (1, 2):
        registry.register_model("m", model_file(tmp_path / f"m{index}", "model.joblib", index), dataset=ref)
    for verb in ("archive", "delete"):
        done = cli(registry, "datasets", verb, "d:1")
        assert done.returncode == 1
        assert f"cannot {verb} dataset d:1: the live model version(s) m:1, m:2" in done.stderr
    registry.delete_model("m", 1)
    registry.delete_model("m", 2)
    registry.delete_dataset("d", 1)
    assert "deleted" in registry.get_dataset("d:1")
    with pytest.raises(NotFoundError):
        registry.get_dataset("d")
    # the same files uploaded again: a new version, not the tombstone
    assert registry.upload_dataset("d", data)["version"] == 2


# --------------------------------------------------------------- concurrency
def _move_and_tag(root: str, index: int, barrier) -> None:
    registry = Registry(root)
    barrier.wait()
    registry.set_alias("m", 1 + index, "production")  # each writer its own version
    registry.tag_model("m", 1, {f"writer{index}": str(index), "last": str(index)})


def test_sixteen_concurrent_alias_moves_and_tag_edits(tmp_path):
    registry = Registry(tmp_path / "registry")
    for index in range(1, 17):
        registry.register_model("m", model_file(tmp_path / f"v{index}", "model.joblib", index))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(16)
    workers = [
        context.Process(target=_move_and_tag, args=(str(registry.root), i, barrier))
        for i in range(16)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0] * 16
    events = registry.history("model", "m")
    moves = [e for e in events if e["action"] == "alias"]
    tags = [e for e in events if e["action"] == "tag"]
    assert len(tags) == 16 and sorted(e["set"]["last"] for e in tags) == sorted(map(str, range(16)))
    assert sorted(e["to"] for e in moves) == list(range(1, 17))  # all 16 moves kept
    # in one order, each from where the one before left it
    assert [e["from"] for e in moves] == [None] + [e["to"] for e in moves[:-1]]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    final = registry.get_model("m@production")["version"]
    assert final == moves[-1]["to"]  # the last write decides
    tagged = registry.get_model("m", 1)["tags"]
    assert {k: v for k, v in tagged.items() if k.startswith("writer")} == {
        f"writer{i}": str(i) for i in range(16)
    }  # no edit lost
    assert tagged["last"] == tags[-1]["set"]["last"]
    assert problems(registry) == []


# ------------------------------------------------------------------------- gc
def _finished_run(registry: Registry, experiment: str, content: object, status: str) -> str:
    """A run folder as the train stage leaves it, ended long ago."""
    run_id = f"{experiment}_{1000 + hash(str(content)) % 1000}_{os.urandom(4).hex()}"
    folder = registry.run_folder(experiment, run_id)
    outputs = folder / "work" / "outputs"
    model_file(outputs, "model.joblib", content)
    record = {
        "id": run_id, "experiment": experiment, "status": status,
        "start": "1970-01-01T00:00:00Z", "end_unix": 1.0,
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))
    return run_id


def test_gc_dry_run_lists_exactly_what_gc_removes_and_live_models_still_load(registry, tmp_path):
    kept = _finished_run(registry, "e", "kept", "Completed")
    registry.register_model(
        "m", registry.run_folder("e", kept) / "work" / "outputs" / "model.joblib", run_id=kept
    )
    gone = _finished_run(registry, "e", "gone", "Completed")
    failed = _finished_run(registry, "e", "failed", "Failed")
    deleted = _finished_run(registry, "e", "deleted", "Completed")
    registry.register_model(
        "m", registry.run_folder("e", deleted) / "work" / "outputs" / "model.joblib",
        run_id=deleted,
    )  # fmt: skip
    registry.delete_model("m", 2)
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("old\n")
    registry.upload_dataset("d", data)
    registry.delete_dataset("d", 1)
    dead = registry.staging / "models.m@somehost-1-1-1-0123abcd"
    dead.mkdir()
    os.utime(dead, (0, 0))  # another host's, older than a day

    planned = find_garbage(registry, runs_older_than=0, grace=0)
    paths = sorted(g["path"] for g in planned)
    run_work = {str(registry.run_folder("e", r) / "work") for r in (gone, failed, deleted)}
    assert run_work <= set(paths) and str(dead) in paths
    assert str(registry.run_folder("e", kept) / "work") not in paths
    assert {g["kind"] for g in planned} >= {"run work", "data folder", "blob", "temporary"}
    assert all(Path(p).exists() for p in paths)  # listing removes nothing
    dry = cli(registry, "gc", "--dry-run", "--runs-older-than", "0", "--json")
    listed = sorted(g["path"] for g in json.loads(dry.stdout))
    # the data set's files are younger than the hour of grace the command keeps
    assert listed == sorted(g["path"] for g in planned if g["kind"] not in ("data folder", "blob"))
    assert all(Path(p).exists() for p in listed)  # a dry run removes nothing
    done = cli(registry, "gc", "--runs-older-than", "0", "--json")
    assert sorted(g["path"] for g in json.loads(done.stdout)) == listed
    assert not any(Path(p).exists() for p in listed)

    young = sorted(g["path"] for g in planned if g["kind"] in ("data folder", "blob"))
    removed = collect_garbage(registry, runs_older_than=0, grace=0)
    assert sorted(g["path"] for g in removed) == young
    assert not any(Path(p).exists() for p in paths)
    assert problems(registry) == []
    assert load_model("m:1", registry=registry) == "kept"
    assert find_garbage(registry, runs_older_than=0, grace=0) == []


def test_gc_keeps_failed_runs_and_young_runs_as_asked(registry):
    failed = _finished_run(registry, "e", "failed", "Failed")
    done = _finished_run(registry, "e", "done", "Completed")
    young = _finished_run(registry, "e", "young", "Completed")
    record = registry.run_folder("e", young) / "run.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "end_unix": time.time()}))
    running = _finished_run(registry, "e", "running", "Running")
    folder = registry.run_folder("e", running)
    record = {**json.loads((folder / "run.json").read_text()), "pid": 1, "host": "node99"}
    (folder / "run.json").write_text(json.dumps(record))
    (folder / "heartbeat").touch()  # its train stage on node99 beats: it runs
    found = {g["path"] for g in find_garbage(registry, runs_older_than=1, keep_failed=1e9)}
    assert found == {str(registry.run_folder("e", done) / "work")}
    assert str(registry.run_folder("e", failed) / "work") not in found
    found = {g["path"] for g in find_garbage(registry, runs_older_than=0)}
    assert str(folder / "work") not in found  # never what a running run needs
    os.utime(folder / "heartbeat", (0, 0))  # no beat for ages: Lost, so it goes
    assert str(folder / "work") in {g["path"] for g in find_garbage(registry, runs_older_than=0)}


def test_the_log_of_a_run_gc_removed_is_a_one_line_error(registry):
    run_id = _finished_run(registry, "e", "logged", "Completed")
    log = registry.run_folder("e", run_id) / "work" / "logs" / "std_log.txt"
    log.parent.mkdir()
    log.write_text("step 0\n")
    assert cli(registry, "runs", "logs", run_id).stdout == "step 0\n"
    assert cli(registry, "gc", "--runs-older-than", "0").returncode == 0
    done = cli(registry, "runs", "logs", run_id)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"snakeyard: error: run {run_id}: its log is gone")
    assert "gc" in done.stderr and len(done.stderr.splitlines()) == 1


WRITER = """
import sys, joblib
from pathlib import Path
from snakeyard.registry.registry import Registry
registry, folder = Registry(sys.argv[1]), Path(sys.argv[2])
for index in range(40):
    path = folder / f"{index}" / "model.joblib"
    path.parent.mkdir(parents=True)
    joblib.dump(index, path)
    version = registry.register_model("busy", path)["version"]
    registry.set_alias("busy", version, "candidate")
    data = folder / f"data{index}"
    data.mkdir()
    (data / "rows.csv").write_text(f"{index}\\n")
    registry.upload_dataset("rows", data)
    if index:
        registry.delete_dataset("rows", index)  # the previous one: garbage from now on
"""


def test_gc_is_safe_while_another_process_registers(registry, tmp_path):
    registry.register_model("busy", model_file(tmp_path / "first", "model.joblib", -1))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(registry.root), str(tmp_path / "sources")]
    )
    rounds = 0
    while writer.poll() is None or rounds == 0:
        # the default grace: what an upload is building may not be listed yet
        collect_garbage(registry, runs_older_than=0)
        rounds += 1
    assert writer.wait() == 0
    assert problems(registry) == []
    assert registry.get_dataset("rows")["version"] == 40
    versions = registry.model_versions("busy")
    assert [m["version"] for m in versions] == list(range(1, 42))
    assert load_model("busy@candidate", registry=registry) == 39
    for meta in versions:
        registry.verified_model("busy", meta["version"])


# -------------------------------------------------------------- one copy
def test_a_model_registered_from_a_run_shares_its_bytes_read_only(registry, tmp_path):
    run_id = _finished_run(registry, "e", "big", "Completed")
    source = registry.run_folder("e", run_id) / "work" / "outputs" / "model.joblib"
    registry.register_model("m", source, run_id=run_id)
    stored = Path(registry.get_model("m")["artifact_path"])
    assert os.path.samestat(stored.stat(), source.stat())
    assert stored.stat().st_mode & 0o222 == 0
    # a byte changed through any holder of the bytes is a byte changed in the registry
    os.chmod(source, 0o644)
    with open(source, "r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        handle.write(b"\x00")
    assert any("model m:1: file model.joblib has sha256" in p for p in problems(registry))
    # a file registered by hand stays the user's own: a copy
    own = model_file(tmp_path, "own.joblib", 1)
    registry.register_model("own", own)
    copied = Path(registry.get_model("own")["artifact_path"])
    assert not os.path.samestat(copied.stat(), own.stat())


def test_across_filesystems_a_read_only_copy_is_made(tmp_path):
    from snakeyard.files import link_files

    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem here")
    source = tmp_path / "outputs"
    model_file(source, "model.joblib", 1)
    target = shm / f"snakeyard-test-{os.getpid()}"
    try:
        assert link_files(source, target, [Path("model.joblib")]) == 1  # one file copied
        assert joblib.load(target / "model.joblib") == 1
        assert (target / "model.joblib").stat().st_mode & 0o222 == 0
    finally:
        subprocess.run(["rm", "-rf", str(target)], check=True)


# --------------------------------------------------------------- the workflow
def test_the_workflow_sets_the_declared_alias_and_stores_the_model_once(project):
    config = project.config()
    config["experiments"]["sklearn-iris"]["model"]["alias"] = "candidate"
    project.write_config(config)
    project.snakemake()
    registry = project.registry
    meta = registry.get_model("sklearn-iris@candidate")
    assert meta["version"] == 1 and meta["aliases"] == ["candidate"]
    run = registry.get_run(meta["run_id"])
    in_run = Path(run["folder"]) / "work" / "outputs" / "model.joblib"
    in_results = project.path / "results" / "sklearn-iris" / "outputs" / "model.joblib"
    stored = Path(meta["artifact_path"])
    assert os.path.samestat(in_run.stat(), stored.stat())
    assert os.path.samestat(in_results.stat(), stored.stat())
    assert stored.stat().st_nlink == 3 and stored.stat().st_mode & 0o222 == 0
    assert list(load_model("sklearn-iris@candidate", registry=registry).predict([[5.1, 3.5, 1.4, 0.2]])) == [0]
    moves = project.cli("models", "show", "sklearn-iris@candidate", "--history")
    assert moves.returncode == 0 and moves.stdout.splitlines()[1].split()[-2:] == ["-", "1"]


def test_a_model_alias_follows_the_alias_rules(project):
    from conftest import ROOT
    from snakeyard.config import resolve, validate

    config = project.config()
    config["experiments"]["sklearn-iris"]["model"]["alias"] = "latest"
    schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    with pytest.raises(SnakeyardError, match=r"experiments.sklearn-iris.model.alias: invalid alias 'latest'"):
        resolve(validate(config, schema), ROOT, ROOT)


def test_a_history_folder_leading_out_of_the_registry_is_refused(registry, tmp_path):
    three_versions(registry, tmp_path)
    registry.set_alias("m", 1, "production")
    history = registry.root / "models" / "m" / ".history"
    elsewhere = tmp_path / "elsewhere"
    history.rename(elsewhere)
    history.symlink_to(elsewhere)
    (registry.root / "models" / "m" / ".state").unlink()
    with pytest.raises(SnakeyardError, match="leads out of the registry"):
        registry.get_model("m@production")
    with pytest.raises(SnakeyardError, match="leads out of the registry"):
        registry.set_alias("m", 2, "production")


def test_gc_keeps_the_files_of_a_deleted_data_set_a_running_run_trains_on(registry, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1\n")
    dataset = registry.upload_dataset("d", data)
    running = _finished_run(registry, "e", "running", "Running")
    folder = registry.run_folder("e", running)
    record = {
        **json.loads((folder / "run.json").read_text()), "pid": 1, "host": "node99",
        "dataset": {"name": "d", "version": 1, "content_hash": dataset["content_hash"]},
    }  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))
    (folder / "heartbeat").touch()
    registry.delete_dataset("d", 1)
    kinds = {g["kind"] for g in find_garbage(registry, runs_older_than=0, grace=0)}
    assert not kinds & {"data folder", "blob"}
    os.utime(folder / "heartbeat", (0, 0))  # the run is lost: nothing trains on it now
    kinds = {g["kind"] for g in find_garbage(registry, runs_older_than=0, grace=0)}
    assert {"data folder", "blob"} <= kinds


# --------------------------------------------------------------- damaged records
def test_a_damaged_record_is_one_warning_and_the_rest_are_still_listed(registry, tmp_path):
    registry.register_model("good", model_file(tmp_path / "g", "model.joblib", 1))
    damaged = registry.register_model("bad", model_file(tmp_path / "b", "model.joblib", 2))
    (Path(damaged["path"]) / "model.json").write_text("{not json")
    kept = _finished_run(registry, "e", "kept", "Completed")
    record = registry.run_folder("e", kept) / "run.json"
    listed = {"exit_code": 0, "start": "2026-11-30T20:00:00Z", "duration_seconds": 1.0,
              "host": "node1", "metrics": {}}  # fmt: skip
    record.write_text(json.dumps({**json.loads(record.read_text()), **listed}))
    broken = _finished_run(registry, "e", "broken", "Completed")
    (registry.run_folder("e", broken) / "run.json").write_text("{not json")
    for args, listed in (
        (("models", "list"), "good"),
        (("runs", "list"), kept),
    ):
        shown = cli(registry, *args)
        assert shown.returncode == 0 and listed in shown.stdout
        as_json = cli(registry, *args, "--json")
        assert as_json.returncode == 0
        assert len(json.loads(as_json.stdout)) == 1  # stdout stays valid JSON
        for done in (shown, as_json):
            [line] = done.stderr.splitlines()
            assert line.startswith("snakeyard: warning: ") and "snakeyard verify" in line
            assert ("model bad:1 " if args[0] == "models" else f"run {broken} ") in line
