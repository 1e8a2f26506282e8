"""Odd inputs from the field (issue 19): each is one clear line, nothing lost, nothing
silently dropped."""

from __future__ import annotations

import copy
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from snakeyard.cli import main
from snakeyard.errors import InvalidNameError, SnakeyardError
from snakeyard.files import json_text, read_json, write_json_atomic
from snakeyard.sweeps.ranking import choose_best
from snakeyard.training.run_api import Run, read_events


def strict_loads(text: str):
    """Parse JSON as strict parsers do: bare NaN and Infinity are refused."""

    def refuse(constant: str):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# ------------------------------------------------------------------ NaN and infinity
def test_nan_and_infinities_are_written_as_strings_in_strict_json(tmp_path: Path):
    path = tmp_path / "record.json"
    write_json_atomic(path, {"metrics": {"a": math.nan, "b": [1.0, math.inf], "c": -math.inf}})
    assert strict_loads(path.read_text()) == {
        "metrics": {"a": "NaN", "b": [1.0, "Infinity"], "c": "-Infinity"}
    }
    assert strict_loads(json_text([0.5, math.nan])) == [0.5, "NaN"]


def test_a_script_logging_nan_and_inf_leaves_strict_events(tmp_path: Path):
    run = Run(str(tmp_path), "r1", "e")
    run.log("loss", float("nan"))
    run.log("loss", float("inf"))
    run.log_row("table", score=float("-inf"))
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [strict_loads(line)["value"] for line in lines] == ["NaN", "Infinity", {"score": "-Infinity"}]
    assert read_events(tmp_path)[0] == {"loss": ["NaN", "Infinity"], "table": [{"score": "-Infinity"}]}


def test_json_output_of_the_cli_is_strict_for_an_old_record_with_bare_infinity(
    tmp_path: Path, capsys
):
    # a record written before non-finite numbers became strings
    run_id = "exp_1795000000_0123abcd"
    folder = tmp_path / "registry" / "runs" / "exp" / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(
        f'{{"experiment": "exp", "id": "{run_id}", "status": "Completed", '
        '"start": "2026-11-18T10:00:00Z", "metrics": {"loss": Infinity, "acc": NaN}}'
    )
    assert main(["--registry", str(tmp_path / "registry"), "--json", "runs", "show", run_id]) == 0
    shown = strict_loads(capsys.readouterr().out)
    assert shown["metrics"] == {"loss": "Infinity", "acc": "NaN"}


def trial(number: int, value, status: str = "Completed") -> dict:
    return {
        "id": f"e_179500000{number}_0000000{number}",
        "status": status,
        "metrics": {"accuracy": value},
        "trial": {"id": f"t{number}", "parameters": {"C": number}},
    }


@pytest.mark.parametrize("bad", [math.inf, "Infinity", math.nan, "NaN", "-Infinity"])
def test_a_trial_with_a_non_finite_primary_metric_is_never_best(bad):
    records = [trial(1, 0.9), trial(2, bad)]
    summary, rows, best = choose_best("e", records, "accuracy", "maximize", log=lambda _: None)
    assert best["trial"]["id"] == "t1"
    assert summary["left_out"][0]["trial"] == "t2"
    assert "not a finite number" in summary["left_out"][0]["reason"]
    assert strict_loads(json_text(summary))["best"]["value"] == 0.9


def test_a_sweep_whose_only_trial_is_infinite_registers_nothing():
    with pytest.raises(SnakeyardError, match="none of its 1 trials can be chosen"):
        choose_best("e", [trial(1, math.inf)], "accuracy", "minimize", log=lambda _: None)


# ------------------------------------------------------------------------- names
@pytest.mark.parametrize("name", [None, 1, "", ("a",)])
def test_run_log_with_a_name_that_is_not_a_string_is_refused(tmp_path: Path, name):
    run = Run(str(tmp_path), "r1", "e")
    with pytest.raises(InvalidNameError, match=r"metric name .* is refused: use a non-empty string"):
        run.log(name, 1)
    with pytest.raises(InvalidNameError, match="tag name"):
        run.tag(name, "x")
    assert not (tmp_path / "events.jsonl").exists()  # nothing half-recorded


# ------------------------------------------------------------------- many values
def test_many_values_of_one_metric_are_all_logged_and_folded_in_order(tmp_path: Path):
    run = Run(str(tmp_path), "r1", "e")
    for i in range(20_000):
        run.log("loss", i)
    assert run.get_metrics("loss")["loss"] == list(range(20_000))
    assert read_events(tmp_path)[0]["loss"] == list(range(20_000))


def test_a_line_cut_short_by_a_killed_script_is_skipped_and_the_rest_kept(tmp_path: Path):
    run = Run(str(tmp_path), "r1", "e")
    run.log("a", 1)
    with open(tmp_path / "events.jsonl", "a") as handle:
        handle.write('{"kind": "metric", "name": "a", "val\n')
    run.log("a", 2)
    assert read_events(tmp_path)[0] == {"a": [1, 2]}


def test_read_json_of_a_strict_file_round_trips(tmp_path: Path):
    write_json_atomic(tmp_path / "x.json", {"v": math.inf})
    assert read_json(tmp_path / "x.json") == {"v": "Infinity"}


# ---------------------------------------------------------- a damaged registry
DAMAGES = {
    "invalid UTF-8": (b'{"name": "m", "version": 1, "x": "\xff\xfe"}', "is not UTF-8 text"),
    "a list": (b"[]", "is not the metadata of model m:1 (it holds name and version [])"),
    "no files": (None, "'files' is None, expected a list of {path, bytes, sha256} entries"),
    "files a string": (
        "model.joblib", "'files' is 'model.joblib', expected a list of {path, bytes, sha256}"
    ),
}  # fmt: skip
COMMANDS = [["models", "list"], ["models", "show", "m"], ["models", "versions", "m"],
            ["verify"], ["models", "download", "m", "DEST"]]  # fmt: skip


@pytest.fixture
def damaged(tmp_path: Path, request) -> tuple[Path, str]:
    """A registry whose model m:1 has a damaged model.json, and the message expected."""
    import joblib

    from snakeyard.registry.registry import Registry

    joblib.dump({"coef": 1}, tmp_path / "model.joblib")
    registry = Registry(tmp_path / "registry")
    registry.register_model("m", tmp_path / "model.joblib", framework="scikit-learn")
    meta_file = tmp_path / "registry" / "models" / "m" / "1" / "model.json"
    content, message = DAMAGES[request.param]
    if isinstance(content, bytes):
        meta_file.write_bytes(content)
    else:
        meta = json.loads(meta_file.read_text())
        meta["files"] = content
        if content is None:
            del meta["files"]
        meta_file.write_text(json.dumps(meta))
    return tmp_path / "registry", message


@pytest.mark.parametrize("damaged", list(DAMAGES), indirect=True)
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_damaged_model_json_is_one_line_from_every_command(damaged, command, tmp_path, capsys):
    registry, message = damaged
    args = [str(tmp_path / "dest") if word == "DEST" else word for word in command]
    code = main(["--registry", str(registry), *args])
    captured = capsys.readouterr()
    if command[:2] in (["models", "list"], ["models", "versions"]):
        # a listing goes on without the damaged version, and names it in one warning
        assert code == 0 and "Traceback" not in captured.err
        [warning] = captured.err.strip().splitlines()
        assert warning.startswith("snakeyard: warning: model m:1 left out: ") and message in warning
        return
    assert code == 1
    lines = (captured.err + captured.out).strip().splitlines()
    assert message in lines[-1] and "Traceback" not in captured.err
    assert command[0] == "verify" or len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize("damaged", list(DAMAGES), indirect=True)
def test_load_model_of_a_damaged_model_json_raises_a_snakeyard_error(damaged):
    import snakeyard

    registry, message = damaged
    with pytest.raises(SnakeyardError) as raised:
        snakeyard.load_model("m", registry=registry)
    assert message in str(raised.value)


def test_a_run_record_without_status_is_one_line(tmp_path: Path, capsys):
    run_id = "exp_1795000000_0123abcd"
    folder = tmp_path / "registry" / "runs" / "exp" / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"experiment": "exp", "id": run_id}))
    for command in (["runs", "show", run_id], ["runs", "settle", run_id], ["verify"]):
        assert main(["--registry", str(tmp_path / "registry"), *command]) == 1
        err = capsys.readouterr().err
        assert "status is None" in err and "expected one of Running, Completed, Failed" in err


# ------------------------------------------------- where the stages write
def stage(*args: str, wrap: str = "") -> subprocess.CompletedProcess:
    """Run one stage as the workflow does; ``wrap`` is a shell prefix run before it (in a
    mount namespace of its own)."""
    command = " ".join(shlex.quote(word) for word in [sys.executable, "-m", "snakeyard.stages", *args])
    if wrap:
        return subprocess.run(["unshare", "-m", "sh", "-c", f"{wrap} && {command}"],
                              capture_output=True, text=True)  # fmt: skip
    return subprocess.run(command, shell=True, capture_output=True, text=True)


@pytest.fixture
def fetched(tmp_path: Path) -> list[str]:
    """A fetched data set of one 200 kB file: the upload stage's arguments but registry."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(os.urandom(200_000))
    done = stage("fetch", "--name", "big", "--source", f"path:{tmp_path / 'src'}",
                 "--files", str(tmp_path / "files"), "--manifest", str(tmp_path / "m.json"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return ["upload", "--name", "big", "--files", str(tmp_path / "files"), "--manifest",
            str(tmp_path / "m.json"), "--out", str(tmp_path / "receipt.json")]  # fmt: skip


def mounts_work(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {probe}"],
                          capture_output=True)  # fmt: skip
    return done.returncode == 0


def test_a_registry_that_is_a_file_is_one_line(tmp_path: Path, fetched):
    (tmp_path / "regfile").write_text("")
    done = stage(*fetched, "--registry", str(tmp_path / "regfile"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"snakeyard upload: error: registry {tmp_path / 'regfile'} is a file, not a folder: set "
        "`registry:` (or --registry, $SNAKEYARD_REGISTRY) to a folder (created when missing)"
    ]


def test_the_cli_with_a_registry_that_is_a_file_is_one_line(tmp_path: Path, capsys):
    (tmp_path / "regfile").write_text("")
    assert main(["--registry", str(tmp_path / "regfile"), "models", "list"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"snakeyard: error: registry {tmp_path / 'regfile'} is a file, not a folder: set "
        "`registry:` (or --registry, $SNAKEYARD_REGISTRY) to a folder (created when missing)"
    )


def test_a_read_only_registry_is_one_line_naming_the_path(tmp_path: Path, fetched):
    if not mounts_work(tmp_path):
        pytest.skip("needs mount namespaces (unshare -m) to make a read-only filesystem")
    registry = tmp_path / "registry"
    registry.mkdir()
    done = stage(*fetched, "--registry", str(registry),
                 wrap=f"mount --bind {registry} {registry} && "
                 f"mount -o remount,bind,ro {registry}")  # fmt: skip
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"snakeyard upload: error: Read-only file system: {registry}")
    assert "the filesystem is read-only" in line and len(done.stderr.strip().splitlines()) == 1


def test_a_full_disk_is_one_line_naming_the_path(tmp_path: Path, fetched):
    if not mounts_work(tmp_path):
        pytest.skip("needs mount namespaces (unshare -m) to mount a small tmpfs")
    registry = tmp_path / "registry"
    registry.mkdir()
    done = stage(*fetched, "--registry", str(registry),
                 wrap=f"mount -t tmpfs -o size=64k tmpfs {registry}")  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], done.stderr
    assert f": {registry}/datastore/" in lines[0] and "the disk is full" in lines[0]


@pytest.mark.parametrize("key", ["registry", "datastore"])
def test_registry_or_datastore_naming_a_file_is_a_config_error(tmp_path: Path, key):
    from conftest import ROOT, default_config
    from snakeyard.config import resolve, validate

    (tmp_path / "afile").write_text("")
    config = default_config()
    config[key] = str(tmp_path / "afile")
    with pytest.raises(SnakeyardError, match=rf"^{key}: '.*afile' is a file, not a folder"):
        resolve(validate(config, ROOT / "workflow/schemas/config.schema.yaml"), ROOT, ROOT)


# -------------------------------------------------------------- symbolic links
def source_tree(tmp_path: Path) -> Path:
    """A source directory as users have them: a script, a helper folder, a data file."""
    source = tmp_path / "project" / "src"
    (source / "lib").mkdir(parents=True)
    (source / "train.py").write_text("print('hi')\n")
    (source / "lib" / "helpers.py").write_text("X = 1\n")
    return source


def test_links_inside_the_source_directory_are_followed_in_the_snapshot(tmp_path: Path):
    from snakeyard.training.snapshot import snapshot_files

    source = source_tree(tmp_path)
    (source / "common").symlink_to("lib")  # a folder link that stays inside
    (source / "main.py").symlink_to("train.py")
    assert [p.as_posix() for p in snapshot_files(source)] == [
        "common/helpers.py", "lib/helpers.py", "main.py", "train.py"
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: (s / "common").symlink_to("../common"), r"common is a symbolic link to .*/project/common, outside"),
        (lambda s: (s / "passwd").symlink_to("/etc/passwd"), r"passwd is a symbolic link to /etc/passwd, outside"),
        (lambda s: (s / "gone.py").symlink_to("nowhere.py"), r"gone.py is a symbolic link to nowhere.py, which does not exist"),
        (lambda s: (s / "lib" / "loop").symlink_to(".."), r"lib/loop is a symbolic link back to .* \(a loop\)"),
        (lambda s: os.mkfifo(s / "progress"), r"progress is a named pipe \(FIFO\), not a regular file"),
    ],
    ids=["folder out", "file out", "dangling", "loop", "fifo"],
)  # fmt: skip
def test_links_that_leave_dangle_or_loop_stop_the_snapshot_in_one_line(tmp_path, make, message):
    from snakeyard.errors import ConfigError
    from snakeyard.training.snapshot import snapshot_files

    source = source_tree(tmp_path)
    (tmp_path / "project" / "common").mkdir()
    make(source)
    with pytest.raises(ConfigError, match=rf"^source directory {source}: {message}") as raised:
        snapshot_files(source)
    assert "\n" not in str(raised.value) and ".snakeyardignore" in str(raised.value)
    # the ignore file can leave it out
    name = str(raised.value).split(": ", 1)[1].split(" is ")[0].split("/")[0]
    (source / ".snakeyardignore").write_text(f"{name}\n")
    assert "train.py" in [p.as_posix() for p in snapshot_files(source)]


def test_a_source_directory_link_out_is_a_config_error(tmp_path: Path):
    from conftest import ROOT, default_config
    from snakeyard.config import resolve, validate

    source = source_tree(tmp_path)
    (source / "secret").symlink_to("/etc/passwd")
    config = default_config()
    experiment = config["experiments"]["sklearn-iris"]
    experiment["source_directory"], experiment["script"] = str(source), "train.py"
    with pytest.raises(SnakeyardError, match="secret is a symbolic link to /etc/passwd, outside"):
        resolve(validate(config, ROOT / "workflow/schemas/config.schema.yaml"), ROOT, ROOT)


def test_models_register_follows_the_same_link_policy(tmp_path: Path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w")
    (model / "alias").symlink_to("weights.bin")
    (model / "sub").symlink_to(".")  # a loop
    registry = str(tmp_path / "registry")
    assert main(["--registry", registry, "models", "register", "m", str(model)]) == 1
    assert "sub is a symbolic link back to" in capsys.readouterr().err
    (model / "sub").unlink()
    (model / "passwd").symlink_to("/etc/passwd")
    assert main(["--registry", registry, "models", "register", "m", str(model)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"snakeyard: error: cannot register model 'm' from {model}: passwd is a symbolic link to "
        f"/etc/passwd, outside {model}: put what it links to inside the folder (or link the "
        "folder itself), or leave the link out"
    )
    (model / "passwd").unlink()
    assert main(["--registry", registry, "--json", "models", "register", "m", str(model)]) == 0
    files = [f["path"] for f in json.loads(capsys.readouterr().out)["files"]]
    assert files == ["model/alias", "model/weights.bin"]


def test_collect_copies_what_the_record_lists_by_the_same_policy(tmp_path: Path):
    from snakeyard.training.runner import _fold_outputs
    from snakeyard.training.stage import collect

    folder = tmp_path / "runs" / "e" / "e_1795000000_0123abcd"
    outputs = folder / "work" / "outputs"
    (outputs / "real").mkdir(parents=True)
    (outputs / "real" / "model.joblib").write_bytes(b"m")
    (outputs / "linked").symlink_to("real")  # inside: followed by both
    (outputs / "scratch").symlink_to(tmp_path)  # out: left out by both, with a warning
    record = {"id": folder.name, "folder": str(folder), "metrics": {}}
    _fold_outputs(record, folder)
    assert [o["path"] for o in record["outputs"]] == ["linked/model.joblib", "real/model.joblib"]
    assert record["warnings"][0].startswith("outputs/scratch is a symbolic link to")
    write_json_atomic(tmp_path / "run.json", record)
    collect(run=tmp_path / "run.json", outputs=tmp_path / "collected",
            metrics=tmp_path / "m.tsv", log=lambda _: None)  # fmt: skip
    assert sorted(p.relative_to(tmp_path / "collected").as_posix()
                  for p in (tmp_path / "collected").rglob("*") if p.is_file()) == [
        "linked/model.joblib", "real/model.joblib"]  # fmt: skip


# --------------------------------------------------------------------- secrets
def test_secrets_stay_out_of_snapshots_unless_re_included(tmp_path: Path):
    from snakeyard.training.snapshot import snapshot_files

    source = source_tree(tmp_path)
    for secret in (".env", ".aws/credentials", ".ssh/id_rsa", "deploy/key.pem", ".git/config",
                   "id_ed25519", ".netrc"):  # fmt: skip
        (source / secret).parent.mkdir(parents=True, exist_ok=True)
        (source / secret).write_text("secret")
    assert [p.as_posix() for p in snapshot_files(source)] == ["lib/helpers.py", "train.py"]
    (source / ".snakeyardignore").write_text("!.env\n!deploy/key.pem\n")
    assert [p.as_posix() for p in snapshot_files(source)] == [
        ".env", ".snakeyardignore", "deploy/key.pem", "lib/helpers.py", "train.py"
    ]


def test_a_registered_copy_is_never_wider_than_its_source(tmp_path: Path):
    from snakeyard.registry.registry import Registry

    model = tmp_path / "model.joblib"
    model.write_bytes(b"weights")
    model.chmod(0o640)
    meta = Registry(tmp_path / "registry").register_model("m", model)
    stored = Path(meta["path"]) / "artifacts" / "model.joblib"
    assert stored.stat().st_mode & 0o777 == 0o640


def test_a_non_utf8_ignore_file_is_one_line(tmp_path: Path):
    from snakeyard.errors import ConfigError
    from snakeyard.training.snapshot import snapshot_files

    source = source_tree(tmp_path)
    (source / ".snakeyardignore").write_bytes("données/\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"\.snakeyardignore is not UTF-8 text \(byte 0xe9 at "
                       r"offset 4\); save it as UTF-8$"):  # fmt: skip
        snapshot_files(source)


# ----------------------------------------------------------------- special files
def test_a_fifo_in_a_data_set_folder_or_as_its_path_is_named(tmp_path: Path):
    from snakeyard.data.sources import fetch

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    os.mkfifo(data / "feed")
    with pytest.raises(SnakeyardError, match=r"source path .*data': feed is a named pipe \(FIFO\)"):
        fetch(f"path:{data}", tmp_path / "out", tmp_path / "m.json", "d", log=lambda _: None)
    with pytest.raises(SnakeyardError, match=r"feed' is a named pipe \(FIFO\), not a regular file"):
        fetch(f"path:{data / 'feed'}", tmp_path / "out", tmp_path / "m.json", "d",
              log=lambda _: None)  # fmt: skip


def test_a_socket_given_to_models_register_is_named(tmp_path: Path, capsys):
    import socket

    folder = tmp_path / "model"
    folder.mkdir()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "control.sock"))
    try:
        assert main(["--registry", str(tmp_path / "r"), "models", "register", "m", str(folder)]) == 1
        assert "control.sock is a socket, not a regular file" in capsys.readouterr().err
        path = str(folder / "control.sock")
        assert main(["--registry", str(tmp_path / "r"), "models", "register", "m", path]) == 1
        assert "control.sock is a socket, not a regular file or folder" in capsys.readouterr().err
    finally:
        server.close()


def test_a_file_url_naming_a_fifo_is_refused_without_waiting(tmp_path: Path):
    from snakeyard.data.download import DownloadError, download

    os.mkfifo(tmp_path / "feed")
    with pytest.raises(DownloadError, match=r"feed is a named pipe \(FIFO\), not a regular file"):
        download(f"file://{tmp_path / 'feed'}", tmp_path / "out" / "feed", "unchecked")


def test_a_csv_with_a_byte_order_mark_is_accepted(tmp_path: Path):
    from snakeyard.data.tabular import describe_table

    table = tmp_path / "wine.csv"
    table.write_text("cultivar,alcohol\nA,13.2\nB,12.1\n", encoding="utf-8-sig")
    assert table.read_bytes().startswith(b"\xef\xbb\xbf")
    described = describe_table(table, "cultivar")
    assert described["label_column"] == "cultivar"


# ------------------------------------------------------------ pip: option lines
def local_index(tmp_path: Path) -> Path:
    """A PEP 503 index in a folder, holding one wheel: tinypkg 1.0."""
    import hashlib

    from test_venvs import wheel

    project = tmp_path / "simple" / "tinypkg"
    project.mkdir(parents=True)
    built = wheel(project, "tinypkg", "1.0")
    digest = hashlib.sha256(built.read_bytes()).hexdigest()
    (project / "index.html").write_text(f'<a href="{built.name}#sha256={digest}">{built.name}</a>')
    return tmp_path / "simple"


def pip_spec(tmp_path: Path, *lines: str) -> tuple[Path, dict]:
    from snakeyard.environments.specs import read_spec

    path = tmp_path / "proj" / "env.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = "".join(f"    - {line}\n" for line in lines)
    path.write_text(f"dependencies:\n  - python\n  - pip:\n{entries}")
    return path, read_spec(path)[1]


def test_a_pip_list_with_an_index_url_and_a_requirement_file_locks_and_builds(tmp_path: Path):
    from snakeyard.environments import pip_env

    index = local_index(tmp_path)
    (tmp_path / "proj" / "reqs").mkdir(parents=True)
    (tmp_path / "proj" / "reqs" / "base.txt").write_text("# pinned\ntinypkg==1.0  # ours\n")
    spec, data = pip_spec(tmp_path, f"--index-url {index.as_uri()}", "-r reqs/base.txt",
                          "--extra-index-url=https://example.invalid/simple")  # fmt: skip
    wanted = pip_env.pip_list(spec, data)
    assert wanted.requirements == ["tinypkg==1.0"]
    assert wanted.options == [("--index-url", index.as_uri()),
                              ("--extra-index-url", "https://example.invalid/simple")]  # fmt: skip
    # the unreachable extra index is not needed: pip only warns about it
    spec, data = pip_spec(tmp_path, f"--index-url {index.as_uri()}", "-r reqs/base.txt")
    lockfile = tmp_path / "proj" / "env.pip-lock.txt"
    locked = pip_env.lock(spec, data, lockfile, lambda _: None)
    assert locked["packages"]["tinypkg"] == "1.0"
    assert f"--index-url {index.as_uri()}" in locked["lock_text"].splitlines()
    python = pip_env.build_environment(locked["lock_text"], sys.executable, lambda _: None,
                                       tmp_path / "cache")  # fmt: skip
    done = subprocess.run([str(python), "-c", "import tinypkg; print(tinypkg.VERSION)"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.stdout.strip() == "1.0"

    # the unchanged-spec check covers the -r file: a changed one is a new spec
    said: list[str] = []
    before = pip_env.spec_digest(spec)
    pip_env.lock(spec, data, lockfile, said.append)
    assert any("is the lock of this spec already" in line for line in said)
    (tmp_path / "proj" / "reqs" / "base.txt").write_text("tinypkg>=1.0\n")
    assert pip_env.spec_digest(spec) != before
    said.clear()
    pip_env.lock(spec, data, lockfile, said.append)
    assert not any("is the lock of this spec already" in line for line in said)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["-e ."], r"'-e \.' cannot be locked: an editable install is a working folder"),
        (["--editable=git+https://x/y.git"], r"cannot be locked: an editable install"),
        (["--find-links ./wheels"], r"pip option '--find-links ./wheels' is not supported in a "
                                    r"'pip:' list \(supported: requirements, -r FILE, --index-url"),
        (["-r missing.txt"], r"'-r missing.txt': requirement file .*proj/missing.txt does not "
                             r"exist \(a -r path is relative to the file that names it"),
        (["joblib==1.4.2 --hash=sha256:abc"], r"options on a requirement line \(--hash, \.\.\.\) "
                                              r"cannot be locked again"),
        (["--index-url"], r"pip option '--index-url' needs a value"),
    ],
)  # fmt: skip
def test_pip_lines_that_cannot_be_locked_are_one_line(tmp_path: Path, lines, message):
    from snakeyard.environments import pip_env

    spec, data = pip_spec(tmp_path, *lines)
    with pytest.raises(SnakeyardError, match=message) as raised:
        pip_env.pip_list(spec, data)
    assert "\n" not in str(raised.value) and str(raised.value).startswith(str(spec))


def test_an_editable_pip_line_is_refused_before_any_job_runs(tmp_path: Path):
    from conftest import ROOT, default_config
    from snakeyard.config import resolve, validate

    spec, _ = pip_spec(tmp_path, "joblib", "-e .")
    config = default_config()
    config["environments"]["sklearn"]["file"] = str(spec)
    with pytest.raises(SnakeyardError, match=r"'-e \.' cannot be locked"):
        resolve(validate(config, ROOT / "workflow/schemas/config.schema.yaml"), ROOT, ROOT)


# ---------------------------------------------------------------- configuration
def full_config() -> dict:
    """The default configuration with every optional key present, so each can be spoiled."""
    from conftest import default_config

    config = default_config()
    config["datasets"]["web"] = {
        "source": [{"url": "https://example.org/a.csv", "sha256": "0" * 64, "path": "a.csv"}],
        "download": {"timeout": 5, "retries": 1},
    }
    config["datastore"] = {"s3": {"bucket": "bkt", "endpoint": "http://localhost:9000",
                                  "prefix": "p", "region": "r"}}  # fmt: skip
    config["environments"]["sklearn"]["channels"] = ["conda-forge"]
    config["experiments"]["sklearn-iris"]["sweep"] = {
        "parameters": {"C": "choice(1, 2)"}, "primary_metric": "accuracy",
        "max_total_runs": 2, "max_concurrent_runs": 1, "seed": 0,
    }  # fmt: skip
    return config


def checked(config: dict) -> dict:
    from conftest import ROOT
    from snakeyard.config import resolve, validate
    from snakeyard.sweeps.plan import plan

    resolved = resolve(validate(config, ROOT / "workflow/schemas/config.schema.yaml"), ROOT, ROOT)
    for name, experiment in resolved["experiments"].items():
        if experiment.get("sweep"):
            plan(f"experiments.{name}.sweep", experiment["sweep"])
    return resolved


EXPERIMENT = ("experiments", "sklearn-iris")
BAD_VALUES = [
    # the five (and one more) accepted before, failing later or doing the wrong thing
    (("datasets", "web", "source", 0, "path"), "", r"datasets.web.source.0.path: '' is empty"),
    (("datasets", "web", "download", "timeout"), math.inf, r"datasets.web.download.timeout: inf is not a finite number"),
    (("datasets", "web", "download", "timeout"), math.nan, r"timeout: nan is not a finite number"),
    (("environments", "sklearn", "channels"), [], r"environments.sklearn.channels: \[\] should be non-empty"),
    (("environments", "sklearn", "channels", 0), " ", r"channels.0: ' ' is empty"),
    ((*EXPERIMENT, "model", "resource_configuration", "cpu"), math.inf, r"cpu: inf is not a finite number"),
    ((*EXPERIMENT, "model", "resource_configuration", "memory_in_gb"), math.nan, r"memory_in_gb: nan is not a finite"),
    (("datastore", "s3", "endpoint"), "", r"datastore.s3.endpoint: '' is empty; give a value, or leave the key out"),
    (("datastore", "s3", "region"), " ", r"datastore.s3.region: ' ' is empty"),
    ((*EXPERIMENT, "sweep", "primary_metric"), " ", r"sweep.primary_metric: ' ' is empty"),
    # wrong types and empty values, refused already; kept refused
    (("datasets",), {}, r"experiments.sklearn-iris.dataset: .iris. is not defined under datasets \(defined: none\)"),
    (("datasets", "iris", "source"), 3, r"datasets.iris.source: 3 is not valid"),
    (("datasets", "iris", "source"), [], r"datasets.iris.source: \[\] should be non-empty"),
    (("datasets", "iris", "format"), "csv", r"datasets.iris.format: 'csv' is not one of"),
    (("datasets", "web", "download", "retries"), -1, r"retries: -1 is less than the minimum of 0"),
    (("datasets", "web", "download", "timeout"), 0, r"timeout: 0 is less than or equal to"),
    (("environments", "sklearn", "file"), "", r"environment file .* does not exist"),
    (("environments", "sklearn", "platforms"), [], r"platforms: \[\] should be non-empty"),
    (("experiments",), {}, r"experiments: {} should be non-empty"),
    ((*EXPERIMENT, "script"), "", r"script: '' must name a file"),
    ((*EXPERIMENT, "script"), 3, r"script: 3 is not of type 'string'"),
    ((*EXPERIMENT, "arguments"), "text", r"arguments: 'text' is not of type"),
    ((*EXPERIMENT, "dataset"), "", r"experiments.sklearn-iris.dataset: invalid name ''"),
    ((*EXPERIMENT, "environment"), None, r"environment: None is not of type 'string'"),
    ((*EXPERIMENT, "resources", "cpus"), 0, r"cpus: 0 is less than the minimum of 1"),
    ((*EXPERIMENT, "resources", "mem_mb"), "1G", r"mem_mb: '1G' is not of type 'integer'"),
    ((*EXPERIMENT, "resources", "partition"), "", r"partition: '' should be non-empty"),
    ((*EXPERIMENT, "model", "path"), "model.joblib", r"model.path: 'model.joblib' must name"),
    ((*EXPERIMENT, "model", "tags"), {"a": 1}, r"tags.a: 1 is not of type 'string'"),
    ((*EXPERIMENT, "model", "resource_configuration", "cpu"), 0, r"cpu: 0 is less than or equal to"),
    ((*EXPERIMENT, "sweep", "parameters"), {}, r"sweep.parameters: {} should be non-empty"),
    ((*EXPERIMENT, "sweep", "max_total_runs"), 0, r"max_total_runs: 0 is less than the minimum of 1"),
    ((*EXPERIMENT, "sweep", "goal"), "max", r"goal: invalid goal 'max'"),
    (("registry",), "", r"registry: '' should be non-empty"),
    (("local_stages",), "yes", r"local_stages: 'yes' is not of type 'boolean'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_VALUES, ids=[f"{'.'.join(map(str, p))}={v!r}" for p, v, _ in BAD_VALUES]
)  # fmt: skip
def test_each_key_with_a_wrong_type_empty_or_out_of_range_value_is_a_config_error(path, value, message):
    config = full_config()
    checked(copy.deepcopy(config))  # the unspoiled configuration is valid
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(SnakeyardError, match=message) as raised:
        checked(config)
    assert "\n" not in str(raised.value)


def test_no_environments_when_every_experiment_trains_with_current():
    config = full_config()
    config["environments"] = {}
    assert checked(config)["environments"] == {}
    del config["environments"]
    assert checked(config)["environments"] == {}


@pytest.mark.parametrize("dataset", ["run", "model", "outputs"])
def test_an_experiment_named_datasets_is_refused_whatever_its_data_set(dataset):
    config = full_config()
    config["datasets"][dataset] = config["datasets"].pop("iris")
    experiment = config["experiments"].pop("sklearn-iris")
    config["experiments"]["datasets"] = {**experiment, "dataset": dataset}
    with pytest.raises(SnakeyardError, match=r"experiments.datasets: the experiment name "
                       r"'datasets' is reserved, as results/datasets/ holds other stages' files"):  # fmt: skip
        checked(config)


def test_a_changed_argument_retrains_with_rerun_triggers_mtime(tmp_path: Path):
    from conftest import Project, jobs_run

    project = Project(tmp_path)
    project.snakemake("results/sklearn-iris/run.json")
    spec = tmp_path / "results" / "sklearn-iris" / "train.spec.json"
    assert json.loads(spec.read_text())["arguments"]["penalty"] == 1.0
    unchanged = project.snakemake("-n", "results/sklearn-iris/run.json", "--rerun-triggers", "mtime")
    assert jobs_run(unchanged.stdout + unchanged.stderr, "train") == 0
    config = project.config()
    config["experiments"]["sklearn-iris"]["arguments"]["penalty"] = 0.5
    project.write_config(config)
    for trigger in ("mtime", "params", "input"):
        done = project.snakemake("-n", "results/sklearn-iris/run.json", "--rerun-triggers", trigger)
        assert jobs_run(done.stdout + done.stderr, "train") == 1, trigger


# ------------------------------------------------------- loading across versions
def test_load_model_of_another_sklearn_version_warns_once_with_the_way_back(tmp_path: Path):
    import warnings

    import joblib
    import sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import snakeyard
    from snakeyard.errors import FrameworkVersionWarning
    from snakeyard.registry.registry import Registry

    here = sklearn.__version__
    # a model pickled by another scikit-learn: the version its estimators record
    other = ("9" if here[0] != "9" else "8") + here[1:]
    X, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    path.write_bytes(path.read_bytes().replace(here.encode(), other.encode()))

    registry = Registry(tmp_path / "registry")
    env = registry.register_environment(
        "sk-old", spec_file="envs/sk-old.yaml", spec_text="dependencies: [scikit-learn]\n",
        packages={"python": "3.11.7", "scikit-learn": other}, method="recorded",
    )  # fmt: skip
    registry.register_model("iris", path, framework="scikit-learn", framework_version=other,
                            environment={"name": "sk-old", "version": env["version"]})  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = snakeyard.load_model("iris", registry=registry)
    assert loaded.predict(X[:3]).tolist() == model.predict(X[:3]).tolist()
    assert [w.category for w in caught] == [FrameworkVersionWarning]  # once, not per estimator
    assert str(caught[0].message) == (
        f"model iris:1 was trained with scikit-learn {other}, and this interpreter has "
        f"scikit-learn {here}: it may fail or predict differently; environment sk-old:1 has "
        f"scikit-learn {other}: load it there (snakeyard environments show sk-old:1)"
    )

    # the same version: no warning
    joblib.dump(model, path)
    registry.register_model("same", path, framework="scikit-learn", framework_version=here)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snakeyard.load_model("same", registry=registry)
    assert caught == []


# ------------------------------------------------------------- a failed trial
def test_a_failed_trials_note_in_sweep_tsv_names_the_error(registry, tmp_path: Path):
    from snakeyard.sweeps.ranking import tsv
    from test_runner import run_script

    script = "raise ValueError('C must be positive, got -1')\n"
    failed = run_script(registry, tmp_path, script)
    assert failed["error"] == (
        "training script exited with code 1 (its error: ValueError: C must be positive, "
        "got -1)"
    )
    failed["trial"] = {"id": "t2", "parameters": {"C": -1}}
    _summary, rows, _best = choose_best("e", [trial(1, 0.9), failed], "accuracy", "maximize",
                                        log=lambda _: None)  # fmt: skip
    table = tsv(rows).splitlines()
    note = table[0].split("\t").index("note")
    assert table[2].split("\t")[note].endswith("(its error: ValueError: C must be positive, got -1)")


# ------------------------------------------------- record fields of the wrong type
@pytest.fixture(scope="module")
def ended_trial(tmp_path_factory) -> tuple[Path, dict]:
    """A registry with one ended run of a sweep trial, as the train stage leaves it."""
    from snakeyard.registry.registry import Registry
    from snakeyard.training.runner import execute

    base = tmp_path_factory.mktemp("ended")
    (base / "src").mkdir()
    (base / "src" / "train.py").write_text(
        "from snakeyard import Run\nRun.get_context().log('acc', 0.9)\n"
    )
    record = execute(
        Registry(base / "registry"), experiment="ec", source_directory=base / "src",
        script="train.py", arguments={"C": 1}, dataset=None, data_argument=None,
        environment={"name": "e", "version": 1, "method": "recorded-interpreter"},
        trial={"id": "t1", "parameters": {"C": 1}}, log=lambda message: None,
    )  # fmt: skip
    return base / "registry", record


REMOVED = object()


def replaced_run(tmp_path: Path, ended_trial, **fields) -> tuple[Path, str]:
    """A copy of the ended trial's registry whose run.json has ``fields`` changed
    (REMOVED: removed), replaced as a hand edit would; its root and the run id."""
    import shutil

    source, record = ended_trial
    root = tmp_path / "registry"
    shutil.copytree(source, root, symlinks=True)
    path = root / "runs" / "ec" / record["id"] / "run.json"
    changed = {**read_json(path), **fields}
    for key in [key for key, value in fields.items() if value is REMOVED]:
        del changed[key]
    (tmp_path / "new.json").write_text(json.dumps(changed))
    os.replace(tmp_path / "new.json", path)
    return root, record["id"]


def cli_lines(capsys, root: Path, *words: str) -> tuple[int, str, list[str]]:
    """Exit code, stdout and stderr lines of one in-process `snakeyard` command."""
    code = main(["--registry", str(root), *words])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err.strip().splitlines()


RUN_FIELD_DAMAGES = {
    "metrics a text": ({"metrics": "garbage"}, "metrics is 'garbage'"),
    "arguments a number": ({"arguments": 5}, "arguments is 5"),
    "trial a text": ({"trial": "t"}, "trial is 't'"),
    "trial without parameters": ({"trial": {"id": "t1"}}, "trial is {'id': 't1'}"),
    "exit code a text": ({"exit_code": "zero", "host": None}, "exit_code is 'zero'"),
    "host a number": ({"host": 5}, "host is 5"),
    "start removed": ({"start": REMOVED}, "start is missing"),
    "start a number": ({"start": 17}, "start is 17"),
    "tags a text": ({"tags": "x"}, "tags is 'x'"),
    "duration a text": ({"duration_seconds": "x"}, "duration_seconds is 'x'"),
    "end a text": ({"end_unix": "x"}, "end_unix is 'x'"),
}  # fmt: skip


def test_the_train_stages_own_record_passes_the_field_checks(tmp_path, ended_trial, capsys):
    root, run_id = replaced_run(tmp_path, ended_trial)  # copied as it is
    assert cli_lines(capsys, root, "runs", "show", run_id)[0] == 0
    code, out, err = cli_lines(capsys, root, "--json", "runs", "list")
    assert code == 0 and err == [] and [r["id"] for r in json.loads(out)] == [run_id]
    assert cli_lines(capsys, root, "verify")[0] == 0


@pytest.mark.parametrize("damage", list(RUN_FIELD_DAMAGES))
def test_a_run_record_field_of_the_wrong_type_is_one_line_everywhere(
    tmp_path, ended_trial, capsys, damage
):
    fields, message = RUN_FIELD_DAMAGES[damage]
    root, run_id = replaced_run(tmp_path, ended_trial, **fields)
    where = f" in {root / 'runs' / 'ec' / run_id / 'run.json'}, expected "
    # every listing leaves the run out with one warning naming the field, and goes on
    for words in (["runs", "list"], ["runs", "list", "--sort", "acc"],
                  ["runs", "list", "--status", "Completed"], ["--json", "runs", "list"]):  # fmt: skip
        code, out, err = cli_lines(capsys, root, *words)
        assert code == 0, words
        [warning] = err
        assert warning.startswith(f"snakeyard: warning: run {run_id} left out: ")
        assert message + where in warning
        assert run_id not in out
    assert json.loads(cli_lines(capsys, root, "--json", "runs", "list")[1]) == []
    # reading the run itself is one error line
    other = "ec_1795000000_0123abcd"  # not read: the damaged run stops the comparison first
    for words in (["runs", "show", run_id], ["runs", "compare", run_id, other]):
        code, _, err = cli_lines(capsys, root, *words)
        assert code == 1 and len(err) == 1 and message + where in err[0], words
    # verify, after those listings, names it as a problem
    code, out, err = cli_lines(capsys, root, "verify")
    assert code == 1 and message + where in out + "\n".join(err)


def test_a_run_record_with_a_null_host_is_shown(tmp_path, ended_trial, capsys):
    root, run_id = replaced_run(tmp_path, ended_trial, host=None)
    code, out, _ = cli_lines(capsys, root, "runs", "show", run_id)
    [host] = [line.split()[1:] for line in out.splitlines() if line.startswith("host ")]
    assert code == 0 and host[:2] == ["-", "(pid"]  # the train stage's pid, still shown


@pytest.fixture(scope="module")
def signed_model(tmp_path_factory) -> Path:
    """A registry with model m: version 1 as `models register` leaves it without a
    framework, version 2 from a real classifier with its signature."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    from snakeyard.registry.registry import Registry
    from snakeyard.serving.signature import infer_signature

    base = tmp_path_factory.mktemp("signed")
    rows, labels = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.2]], [0, 1, 1]
    model = LogisticRegression().fit(rows, labels)
    joblib.dump(model, base / "model.joblib")
    registry = Registry(base / "registry")
    registry.register_model("m", base / "model.joblib", metrics={"acc": 0.5})
    (base / "again.joblib").write_bytes((base / "model.joblib").read_bytes() + b"\n")
    registry.register_model(
        "m", base / "again.joblib", framework="scikit-learn", framework_version="1.9.1",
        metrics={"acc": 0.9}, signature=infer_signature(model, rows),
    )  # fmt: skip
    return base / "registry"


MODEL_FIELD_DAMAGES = {
    "metrics a text": ({"metrics": "x"}, "metrics is 'x'"),
    "framework version a number": (
        {"framework": None, "framework_version": 7}, "framework_version is 7, expected a text or null"
    ),
    "signature without outputs": ({"signature": {"inputs": 5}}, "signature is {'inputs': 5}"),
    "signature a list": ({"signature": [1]}, "signature is [1]: it is not a mapping"),
    "created a number": ({"created": 5}, "created is 5, expected a UTC time as text"),
    "tags a list": ({"tags": [1, 2]}, "tags is [1, 2]"),
}  # fmt: skip


def test_registered_versions_pass_the_field_checks(signed_model, capsys):
    code, out, err = cli_lines(capsys, signed_model, "--json", "models", "versions", "m")
    assert code == 0 and err == [] and [v["version"] for v in json.loads(out)] == [1, 2]
    assert cli_lines(capsys, signed_model, "models", "show", "m:2")[0] == 0
    assert cli_lines(capsys, signed_model, "verify")[0] == 0


@pytest.mark.parametrize("damage", list(MODEL_FIELD_DAMAGES))
def test_a_model_json_field_of_the_wrong_type_is_one_line_everywhere(
    tmp_path, signed_model, capsys, damage
):
    import shutil

    fields, message = MODEL_FIELD_DAMAGES[damage]
    root = tmp_path / "registry"
    shutil.copytree(signed_model, root, symlinks=True)
    path = root / "models" / "m" / "2" / "model.json"
    (tmp_path / "new.json").write_text(json.dumps({**read_json(path), **fields}))
    os.replace(tmp_path / "new.json", path)
    # listings show version 1 and leave version 2 out with one warning naming the field
    for words in (["models", "list"], ["models", "list", "--sort", "acc"],
                  ["models", "versions", "m", "--sort", "acc"]):  # fmt: skip
        code, out, err = cli_lines(capsys, root, *words)
        assert code == 0, words
        [warning] = err
        assert warning.startswith("snakeyard: warning: model m:2 left out: ")
        assert f"{path}: {message}" in warning
    code, out, _ = cli_lines(capsys, root, "--json", "models", "versions", "m")
    assert [v["version"] for v in json.loads(out)] == [1]
    for words in (["models", "show", "m:2"], ["models", "show", "m"]):
        code, _, err = cli_lines(capsys, root, *words)
        assert code == 1 and len(err) == 1 and message in err[0], words
    code, out, err = cli_lines(capsys, root, "verify")
    assert code == 1 and f"model m:2: {path}: {message}" in out + "\n".join(err)
