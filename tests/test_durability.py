"""Durability: a published version survives a power loss, and dead writers' leftovers go.

The fsync tests run a real registration under ``strace`` and read which files and
folders the kernel was asked to flush, and in which order with the renames that
publish. The sweep tests leave temporaries of real processes (alive, killed with
SIGKILL, on another host, from snakeyard 0.1) and publish something else.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from snakeyard.environments import pip_env
from snakeyard.errors import SnakeyardError
from snakeyard.files import STALE_SECONDS, TEMPORARY, sweep_temporaries, temporary_name
from snakeyard.registry.registry import Registry

STRACE = shutil.which("strace")
NEEDS_STRACE = "needs strace (apt-get install strace) and ptrace permission"

REGISTER = """
import sys
from pathlib import Path
from snakeyard.registry.registry import Registry
registry = Registry(sys.argv[1])
registry.register_model("m", Path(sys.argv[2]) / "model")
registry.upload_dataset("d", Path(sys.argv[2]) / "data")
"""


def write_files(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def traced(tmp_path_factory) -> tuple[Path, list[tuple[str, str, str]]]:
    """A model and a data set registered under strace: (registry, [(call, path, path2)])."""
    if STRACE is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NEEDS_STRACE}; CI must not skip this proof")
        pytest.skip(NEEDS_STRACE)
    base = tmp_path_factory.mktemp("traced").resolve()
    write_files(base / "sources" / "model", {"a.bin": "a", "sub/b.bin": "b"})
    write_files(base / "sources" / "data", {"x.csv": "x\n1\n", "y.csv": "y\n2\n"})
    trace = base / "trace.txt"
    done = subprocess.run(
        [STRACE, "-f", "-y", "-s", "4096", "-o", str(trace),
         "-e", "trace=fsync,fdatasync,rename,renameat,renameat2",
         sys.executable, "-c", REGISTER, str(base / "registry"), str(base / "sources")],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"{NEEDS_STRACE}: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return base / "registry", parse_trace(trace.read_text())


def parse_trace(text: str) -> list[tuple[str, str, str]]:
    """The successful fsyncs (call, path, "") and renames (call, source, target), in the
    order they finished (a call that another thread interrupts is split over two lines)."""
    events, pending = [], {}
    for line in text.splitlines():
        pid, _, call = line.partition(" ")
        if "resumed>" in call:
            event = pending.pop(pid, None)
            if event and call.rstrip().endswith("= 0"):
                events.append(event)
            continue
        synced = re.search(r"\bf(?:data)?sync\(\d+<(.*)>", call)
        renamed = re.match(r"\s*rename(?:at2?)?\(", call)
        if synced:
            event = ("fsync", synced.group(1).split(">")[0], "")
        elif renamed:
            source, target = re.findall(r'"((?:[^"\\]|\\.)*)"', call)[:2]
            event = ("rename", source, target)
        else:
            continue
        if call.rstrip().endswith("<unfinished ...>"):
            pending[pid] = event
        elif call.rstrip().endswith("= 0"):
            events.append(event)
    return events


def synced_before(events: list[tuple[str, str, str]], target: str) -> tuple[set[str], int]:
    """The paths flushed before the rename onto ``target``, and that rename's index."""
    index = next(i for i, e in enumerate(events) if e[0] == "rename" and e[2] == target)
    return {e[1] for e in events[:index] if e[0] == "fsync"}, index


def test_every_file_and_folder_of_a_model_version_is_flushed_before_it_is_published(traced):
    root, events = traced
    version = root / "models" / "m" / "1"
    synced, index = synced_before(events, str(version))
    staging = Path(events[index][1])
    assert staging.parent == root / ".tmp"
    expected = {
        "model.json", "artifacts/model/a.bin", "artifacts/model/sub/b.bin",
        ".", "artifacts", "artifacts/model", "artifacts/model/sub",
    }  # fmt: skip
    assert {str(staging / path) for path in expected} <= synced
    # the version's new name itself, after the rename
    assert ("fsync", str(version.parent), "") in events[index + 1 :]
    # and the folders above it, created by this first registration of the name
    assert {str(root), str(root / "models")} <= synced


def test_a_data_set_is_flushed_blobs_first_then_its_folder_then_its_version(traced):
    root, events = traced
    registry = Registry(root)
    meta = registry.get_dataset("d")
    location = Path(meta["location"])
    synced, index = synced_before(events, str(location))
    for entry in meta["files"]:
        blob = registry.datastore.blob_path(entry["sha256"])
        blob_synced, blob_index = synced_before(events, str(blob))
        assert events[blob_index][1] in blob_synced, "the blob's bytes before its name"
        assert blob_index < index and str(blob.parent) in synced, "its name before any link"
    assert events[index][1] in synced, "the version folder's links before its name"
    assert ("fsync", str(location.parent), "") in events[index + 1 :]
    meta_synced, meta_index = synced_before(events, str(root / "datasets" / "d" / "1"))
    assert meta_index > index, "dataset.json is published after the files it describes"
    assert str(Path(events[meta_index][1]) / "dataset.json") in meta_synced


# --------------------------------------------------------------------------- sweeps
HELD_WRITER = """
import sys, time
from snakeyard.registry.registry import Registry

def fill(folder):
    (folder / "artifact.bin").write_bytes(b"x" * 100_000)
    print(folder, flush=True)
    time.sleep(600)

Registry(sys.argv[1]).models.publish(sys.argv[2], {}, fill)
"""


def start_writer(root: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """A real publication of ``name`` held inside its fill; returns it and its temporary."""
    writer = subprocess.Popen(
        [sys.executable, "-c", HELD_WRITER, str(root), name], stdout=subprocess.PIPE, text=True
    )
    return writer, Path(writer.stdout.readline().strip())


def kill(writer: subprocess.Popen) -> None:
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()


def test_a_killed_writers_temporary_goes_with_the_next_registration_of_another_name(
    registry: Registry, tmp_path: Path
):
    writer, temporary = start_writer(registry.root, "big")
    kill(writer)
    assert temporary.is_dir() and temporary.parent == registry.staging
    registry.register_model("other", write_files(tmp_path, {"m.pkl": "m"}) / "m.pkl")
    assert not temporary.exists()
    assert registry.models.versions("big") == []


def test_a_live_writers_temporary_is_left_alone(registry: Registry, tmp_path: Path):
    writer, temporary = start_writer(registry.root, "slow")
    try:
        registry.register_model("other", write_files(tmp_path, {"m.pkl": "m"}) / "m.pkl")
        assert (temporary / "artifact.bin").stat().st_size == 100_000
    finally:
        kill(writer)


def test_a_pid_reused_by_another_process_does_not_keep_a_dead_writers_temporary(
    registry: Registry, tmp_path: Path
):
    # named like a temporary of this very process, but with another start time: the
    # writer that had this pid before us is dead
    mine = TEMPORARY.fullmatch(temporary_name("models.old"))
    reused = registry.staging / temporary_name("models.old").replace(
        f"-{mine['pid']}-{mine['start']}-", f"-{mine['pid']}-{int(mine['start']) + 1}-"
    )
    reused.mkdir(parents=True)
    ours = registry.staging / temporary_name("models.ours")
    ours.mkdir()
    registry.register_model("other", write_files(tmp_path, {"m.pkl": "m"}) / "m.pkl")
    assert not reused.exists()
    assert ours.is_dir(), "a temporary of a live process (this one) stays"


@pytest.fixture(scope="module")
def dead_owner(tmp_path_factory) -> str:
    """The owner part of a temporary's name whose writer, on this host, was killed."""
    writer, temporary = start_writer(tmp_path_factory.mktemp("dead") / "registry", "x")
    kill(writer)
    match = TEMPORARY.fullmatch(temporary.name)
    return f"{match['host']}-{match['space']}-{match['pid']}-{match['start']}"


def foreign(label: str) -> str:
    """A temporary's name as a writer on another host would make it."""
    mine = TEMPORARY.fullmatch(temporary_name(label))
    return f"{label}@node-17.cluster-{mine['space']}-{mine['pid']}-{mine['start']}-0123abcd"


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda root: root / ".tmp" / foreign("models.far"), id="another host"),
        pytest.param(lambda root: root / "datastore" / ".tmp" / foreign("d.0123"),
                     id="datastore, another host"),
        pytest.param(lambda root: root / "models" / "other" / ".tmp" / uuid.uuid4().hex,
                     id="snakeyard 0.1, per name"),
    ],
)  # fmt: skip
def test_temporaries_whose_writer_cannot_be_seen_go_after_a_day(
    registry: Registry, tmp_path: Path, where
):
    temporary = where(registry.root)
    young = temporary.with_name(temporary.name + "0")
    old = temporary.with_name(temporary.name + "1")
    for folder, age in ((young, STALE_SECONDS - 3600), (old, STALE_SECONDS + 3600)):
        (folder / "part").mkdir(parents=True)
        os.utime(folder, (time.time() - age, time.time() - age))
    registry.register_model("other", write_files(tmp_path, {"m.pkl": "m"}) / "m.pkl")
    assert young.is_dir() and not old.exists()


def test_sweepers_racing_for_the_same_dead_temporaries_all_succeed(tmp_path: Path, dead_owner):
    staging = tmp_path / ".tmp"
    for index in range(40):
        write_files(
            staging / f"models.x@{dead_owner}-{index:04x}", {f"{i}/f": "x" for i in range(20)}
        )
    failures: list[BaseException] = []

    def sweep() -> None:
        try:
            sweep_temporaries(staging)
        except BaseException as error:  # noqa: BLE001 - any failure fails the test
            failures.append(error)

    sweepers = [threading.Thread(target=sweep) for _ in range(4)]
    for sweeper in sweepers:
        sweeper.start()
    for sweeper in sweepers:
        sweeper.join()
    assert failures == [] and list(staging.iterdir()) == []


def test_an_environment_build_sweeps_dead_builds_from_the_cache(tmp_path: Path, dead_owner):
    cache = tmp_path / "cache"
    dead = cache / f".pip-{'a' * 32}@{dead_owner}-0123.tmp"
    live = cache / f".{temporary_name('pip-' + 'b' * 32)}.tmp"
    built = cache / f"pip-{'c' * 32}"
    for folder in (dead, live, built):
        write_files(folder, {"bin/python": ""})
    missing = (tmp_path / "tinypkg-1.0-py3-none-any.whl").as_uri()
    with pytest.raises(SnakeyardError, match="could not build the environment"):
        pip_env.build_environment(
            f"tinypkg @ {missing} --hash=sha256:{'0' * 64}\n", sys.executable, lambda _: None, cache
        )
    assert not dead.exists()
    assert live.is_dir() and built.is_dir()
