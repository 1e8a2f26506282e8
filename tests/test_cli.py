"""The snakeyard command: tables, --json, registration by hand, and one-line errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

import snakeyard
from snakeyard.cli import main, parser

OLD_RUN = next((Path(__file__).parent / "data" / "registry-0.1.0" / "runs").glob("*/*/run.json"))


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "model.joblib"
    path.parent.mkdir()
    joblib.dump({"coef": [0.5, 1.5]}, path)
    return path


def cli(registry: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakeyard", "--registry", str(registry), *args],
        capture_output=True, text=True,
    )  # fmt: skip


def test_register_list_show_download(tmp_path: Path, model_file: Path, capsys):
    registry = str(tmp_path / "registry")
    assert main(["--registry", registry, "models", "register", "by-hand", str(model_file),
                 "--framework", "scikit-learn", "--tag", "team=vision", "--description", "d"]) == 0  # fmt: skip
    assert "model by-hand:1 registered" in capsys.readouterr().out

    assert main(["models", "list", "--registry", registry]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == [
        "NAME", "LATEST", "VERSIONS", "FRAMEWORK", "CREATED", "ALIASES", "METRICS"
    ]  # fmt: skip
    assert listing[1].split()[:4] == ["by-hand", "1", "1", "scikit-learn"]

    assert main(["--registry", registry, "models", "show", "by-hand:1"]) == 0
    shown = capsys.readouterr().out
    assert "model        by-hand:1" in shown and "team  vision" in shown and "sha256" in shown

    assert main(["--registry", registry, "--json", "models", "show", "by-hand"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["version"] == 1 and meta["tags"] == {"team": "vision"}

    dest = tmp_path / "downloaded"
    assert main(["--registry", registry, "models", "download", "by-hand", str(dest)]) == 0
    assert joblib.load(dest / "model.joblib") == {"coef": [0.5, 1.5]}

    # the same file again is the same version
    assert main(["--registry", registry, "models", "register", "by-hand", str(model_file)]) == 0
    assert "by-hand:1 already registered" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models", "show", "nope"], "snakeyard: error: no model named 'nope'"),
        (["models", "show", "m:5"], "snakeyard: error: model 'm' has no version 5 (versions 1 to 1)"),
        (["models", "show", "m:x"], "snakeyard: error: invalid version 'x' in 'm:x'"),
        (["models", "show", "../m"], "snakeyard: error: invalid model name '../m'"),
        (["datasets", "show", "iris"], "snakeyard: error: no dataset named 'iris'"),
        (["environments", "show", "sklearn:2"], "snakeyard: error: no environment named 'sklearn'"),
        (["runs", "show", "nope_1795000000_0123abcd"], "snakeyard: error: no run with id 'nope_1795000000_0123abcd'"),
        (["runs", "show", "../x"], "snakeyard: error: invalid run id '../x'"),
        (["runs", "list", "--status", "done"], "snakeyard: error: invalid --status 'done': use Completed, Failed, Canceled, Running or Lost"),
        (["models", "register", "x", "/no/such/file"], "snakeyard: error: cannot register model 'x': /no/such/file does not exist"),
        (["models", "register", "x", "/etc/hostname", "--tag", "novalue"], "snakeyard: error: invalid --tag 'novalue'"),
    ],
)  # fmt: skip
def test_user_mistakes_are_one_line_without_traceback(
    tmp_path: Path, model_file: Path, args, message
):
    registry = tmp_path / "registry"
    assert cli(registry, "models", "register", "m", str(model_file)).returncode == 0
    done = cli(registry, *args)
    assert done.returncode == 1
    assert done.stderr.startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_download_refuses_a_non_empty_destination(tmp_path: Path, model_file: Path):
    registry = tmp_path / "registry"
    cli(registry, "models", "register", "m", str(model_file))
    done = cli(registry, "models", "download", "m", str(model_file.parent))
    assert done.returncode == 1 and "exists and is not an empty folder" in done.stderr
    assert sorted(p.name for p in model_file.parent.iterdir()) == ["model.joblib"]


def test_verify_reports_a_damaged_artifact(tmp_path: Path, model_file: Path):
    registry = tmp_path / "registry"
    cli(registry, "models", "register", "m", str(model_file))
    assert "every sha256 matches" in cli(registry, "verify").stdout
    stored = registry / "models" / "m" / "1" / "artifacts" / "model.joblib"
    stored.write_bytes(b"corrupt")
    done = cli(registry, "verify")
    assert done.returncode == 1
    assert "model m:1: file model.joblib has sha256" in done.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", f"import snakeyard; snakeyard.load_model('m', registry={str(registry)!r})"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert loaded.returncode != 0 and "IntegrityError" in loaded.stderr


def test_registry_from_environment_variable(tmp_path: Path, model_file: Path):
    registry = tmp_path / "elsewhere"
    cli(registry, "models", "register", "m", str(model_file))
    env = {"SNAKEYARD_REGISTRY": str(registry), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "snakeyard", "models", "list", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert [m["name"] for m in json.loads(done.stdout)] == ["m"]


def test_usage_errors_exit_2(tmp_path: Path):
    done = cli(tmp_path, "models", "frobnicate")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_version_is_the_packages_own(tmp_path: Path):
    done = cli(tmp_path, "--version")  # no registry needed, no noun required
    assert done.returncode == 0 and done.stdout == f"snakeyard {snakeyard.__version__}\n"
    assert snakeyard.__version__ == "0.1.0"


def commands(
    command: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command line, with the words that reach it."""
    found = [(path, command)]
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, (*path, name))
    return found


def test_every_positional_argument_and_subcommand_has_help():
    everything = commands(parser())
    assert ("models", "download") in [path for path, _ in everything]
    for path, command in everything:
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                # NOUN and VERB: each choice is listed with its own help
                for choice in action._choices_actions:
                    assert choice.help, f"snakeyard {' '.join(path)} {choice.dest}: no help"
            elif not action.option_strings:
                assert action.help, (
                    f"snakeyard {' '.join(path)} {action.metavar or action.dest}: no help"
                )


def test_help_of_every_command_exits_0(capsys):
    for path, _ in commands(parser()):
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0, path
        assert capsys.readouterr().out.startswith("usage: snakeyard")
    main_help = cli(Path("unused"), "--help")
    assert main_help.returncode == 0 and "--version" in main_help.stdout
    models_help = cli(Path("unused"), "models", "--help")
    assert models_help.returncode == 0 and "download" in models_help.stdout
    show = cli(Path("unused"), "models", "show", "--help")
    assert "without a version, the latest" in " ".join(show.stdout.split())  # help wraps


def test_a_missing_registry_is_an_error_not_an_empty_list(tmp_path: Path):
    done = cli(tmp_path / "nowhere", "models", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("snakeyard: error: no registry at ")


def test_damaged_metadata_is_named(tmp_path: Path, model_file: Path):
    registry = tmp_path / "registry"
    cli(registry, "models", "register", "m", str(model_file))
    (registry / "models" / "m" / "1" / "model.json").write_text("{not json")
    done = cli(registry, "models", "show", "m:1")
    assert done.returncode == 1 and "model.json is not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli(registry, "--json", "verify").returncode == 1


def test_metadata_files_follow_the_umask(tmp_path: Path, model_file: Path):
    import os

    old = os.umask(0o022)
    try:
        from snakeyard.registry.registry import Registry

        meta = Registry(tmp_path / "registry").register_model("m", model_file)
    finally:
        os.umask(old)
    assert (Path(meta["path"]) / "model.json").stat().st_mode & 0o777 == 0o644


def one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    return done.stderr.strip()


def test_download_needs_the_parent_of_its_destination(tmp_path: Path, model_file: Path):
    registry = tmp_path / "registry"
    cli(registry, "models", "register", "m", str(model_file))
    dest = tmp_path / "nonexistent" / "dir" / "x"
    assert one_line(cli(registry, "models", "download", "m", str(dest))) == (
        f"snakeyard: error: cannot download into {dest}: its parent folder {dest.parent} "
        "does not exist; create it first"
    )
    assert not (tmp_path / "nonexistent").exists()


def test_download_into_a_link_to_an_empty_folder_fills_that_folder(
    tmp_path: Path, model_file: Path
):
    registry = tmp_path / "registry"
    cli(registry, "models", "register", "m", str(model_file))
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    done = cli(registry, "models", "download", "m", str(tmp_path / "link"))
    assert done.returncode == 0, done.stderr
    assert joblib.load(tmp_path / "empty" / "model.joblib") == {"coef": [0.5, 1.5]}
    (tmp_path / "nowhere").symlink_to(tmp_path / "gone")
    assert "is a symbolic link to" in one_line(
        cli(registry, "models", "download", "m", str(tmp_path / "nowhere"))
    )


def test_only_a_regular_file_or_folder_can_be_registered(tmp_path: Path):
    import os

    registry = tmp_path / "registry"
    os.mkfifo(tmp_path / "fifo")
    assert one_line(cli(registry, "models", "register", "m", str(tmp_path / "fifo"))) == (
        f"snakeyard: error: cannot register model 'm': {tmp_path / 'fifo'} is a named pipe "
        "(FIFO), not a regular file or folder"
    )
    # a pipe in a folder would block the registration forever
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "model.pkl").write_bytes(b"x")
    os.mkfifo(tmp_path / "bundle" / "progress")
    error = one_line(cli(registry, "models", "register", "m", str(tmp_path / "bundle")))
    assert error == (
        f"snakeyard: error: cannot register model 'm' from {tmp_path / 'bundle'}: progress is "
        "a named pipe (FIFO), not a regular file"
    )
    assert not (registry / "models" / "m").exists()


def test_the_registry_cannot_be_registered_into_itself(tmp_path: Path, model_file: Path):
    registry = tmp_path / "registry"
    cli(registry, "models", "register", "m", str(model_file))
    stored = registry / "models" / "m" / "1" / "artifacts" / "model.joblib"
    for path, refusal in (
        (registry, "holds the registry"),
        (tmp_path, "holds the registry"),
        (stored, "is inside the registry"),
        (registry / "models", "is inside the registry"),
    ):
        error = one_line(cli(registry, "models", "register", "copy", str(path)))
        assert f"cannot register model 'copy': {path} {refusal} {registry}" in error
    assert not (registry / "models" / "copy").exists()
    # a run's outputs are in the registry too, and the workflow registers them
    outputs = registry / "runs" / "x" / "x_1796000000_0a1b2c3d" / "work" / "outputs"
    outputs.mkdir(parents=True)
    joblib.dump({"coef": [2]}, outputs / "model.joblib")
    assert cli(registry, "models", "register", "copy", str(outputs / "model.joblib")).returncode == 0


def test_runs_show_counts_the_snapshot_files(tmp_path: Path):
    record = json.loads(OLD_RUN.read_text())
    folder = tmp_path / "registry" / "runs" / record["experiment"] / record["id"]
    folder.mkdir(parents=True)
    for count, shown in ((1, "(1 file)"), (2, "(2 files)")):
        record["snapshot_files"] = count
        (folder / "run.json").write_text(json.dumps(record))
        done = cli(tmp_path / "registry", "runs", "show", record["id"])
        assert f"snapshot     {record['snapshot_hash']} {shown}" in done.stdout


def models_with_accuracy(tmp_path: Path, metrics: dict[str, dict]) -> Path:
    """A registry with one version of each model, logged ``metrics[name]``."""
    from snakeyard.registry.registry import Registry

    registry = Registry(tmp_path / "registry")
    for number, (name, logged) in enumerate(metrics.items()):
        path = tmp_path / f"{name}.joblib"
        joblib.dump({"coef": [number]}, path)
        registry.register_model(name, path, metrics=logged)
    return tmp_path / "registry"


def names(done: subprocess.CompletedProcess, column: int = 0) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [line.split()[column] for line in done.stdout.splitlines()[1:]]


def test_models_list_sorts_by_a_metric_best_first_and_those_without_it_last(tmp_path: Path):
    registry = models_with_accuracy(tmp_path, {
        "a-none": {"loss": 0.1},
        "b-good": {"accuracy": 0.9},
        "c-text": {"accuracy": "high"},
        "d-curve": {"accuracy": [0.99, 0.5, 0.95]},  # logged several times: the last counts
        "e-nan": {"accuracy": float("nan")},
        "f-worst": {"accuracy": 0.2},
    })  # fmt: skip
    assert names(cli(registry, "models", "list", "--sort", "accuracy")) == [
        "d-curve", "b-good", "f-worst", "a-none", "c-text", "e-nan"
    ]  # fmt: skip
    listing = cli(registry, "models", "list", "--sort", "accuracy").stdout.splitlines()
    assert listing[0].split()[-2:] == ["ACCURACY", "METRICS"]
    assert listing[1].split()[6] == "0.95" and listing[4].split()[6] == "-"
    assert names(cli(registry, "models", "list", "--sort", "accuracy", "--ascending")) == [
        "f-worst", "b-good", "d-curve", "a-none", "c-text", "e-nan"
    ]  # fmt: skip
    as_json = cli(registry, "--json", "models", "list", "--sort", "accuracy", "--ascending")
    assert [m["name"] for m in json.loads(as_json.stdout)][:3] == ["f-worst", "b-good", "d-curve"]
    # a metric no version logged is no mistake: the usual order
    unknown = cli(registry, "models", "list", "--sort", "f1")
    assert names(unknown) == ["a-none", "b-good", "c-text", "d-curve", "e-nan", "f-worst"]
    assert unknown.stderr == ""


def test_models_list_sort_keeps_all_working(tmp_path: Path):
    registry = models_with_accuracy(tmp_path, {"kept": {"r2": 0.1}, "old": {"r2": 0.7}})
    assert cli(registry, "models", "archive", "old:1").returncode == 0
    assert names(cli(registry, "models", "list", "--sort", "r2")) == ["kept"]
    assert names(cli(registry, "models", "list", "--sort", "r2", "--all")) == ["old", "kept"]


def test_models_versions_sort_by_a_metric(tmp_path: Path):
    from snakeyard.registry.registry import Registry

    registry = Registry(tmp_path / "registry")
    for number, logged in enumerate([{"rmse": 3.0}, {}, {"rmse": [9.0, 1.5]}, {"rmse": 2.0}]):
        path = tmp_path / f"{number}.joblib"
        joblib.dump({"coef": [number]}, path)
        registry.register_model("m", path, metrics=logged)
    root = tmp_path / "registry"
    assert names(cli(root, "models", "versions", "m", "--sort", "rmse")) == ["1", "4", "3", "2"]
    assert names(cli(root, "models", "versions", "m", "--sort", "rmse", "--ascending")) == [
        "3", "4", "1", "2"
    ]  # fmt: skip
    as_json = cli(root, "--json", "models", "versions", "m", "--sort", "rmse", "--ascending")
    assert [m["version"] for m in json.loads(as_json.stdout)] == [3, 4, 1, 2]
    assert names(cli(root, "models", "versions", "m", "--sort", "mae")) == ["1", "2", "3", "4"]


def write_runs(tmp_path: Path) -> Path:
    """Five run records of two experiments, started a minute apart (as the runner writes
    them); accuracy 0.5, 0.9, none, 0.7 and 0.1, the fourth one Failed."""
    record = json.loads(OLD_RUN.read_text())
    for number, (experiment, accuracy) in enumerate(
        [("a", 0.5), ("b", 0.9), ("a", None), ("a", 0.7), ("a", 0.1)]
    ):
        start = 1796058000 + 60 * number
        run_id = f"{experiment}_{start}_0000000{number}"
        folder = tmp_path / "registry" / "runs" / experiment / run_id
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({
            **record, "id": run_id, "experiment": experiment, "folder": str(folder),
            "start": f"2026-11-30T17:{number:02d}:00Z", "start_unix": start,
            "status": "Failed" if number == 3 else "Completed",
            "metrics": {} if accuracy is None else {"accuracy": accuracy},
        }))  # fmt: skip
    return tmp_path / "registry"


def run_numbers(done: subprocess.CompletedProcess) -> list[int]:
    return [int(run_id[-1]) for run_id in names(done)]


def test_runs_list_limit_and_reverse(tmp_path: Path):
    registry = write_runs(tmp_path)
    assert run_numbers(cli(registry, "runs", "list")) == [0, 1, 2, 3, 4]
    assert run_numbers(cli(registry, "runs", "list", "--reverse")) == [4, 3, 2, 1, 0]
    assert run_numbers(cli(registry, "runs", "list", "--reverse", "--limit", "2")) == [4, 3]
    assert run_numbers(cli(registry, "runs", "list", "--limit", "2")) == [0, 1]
    assert run_numbers(cli(registry, "runs", "list", "--limit", "99")) == [0, 1, 2, 3, 4]
    # the limit comes after the filters and the sort
    assert run_numbers(
        cli(registry, "runs", "list", "--experiment", "a", "--status", "completed", "--reverse",
            "--limit", "2")
    ) == [4, 2]  # fmt: skip
    assert run_numbers(cli(registry, "runs", "list", "--sort", "accuracy", "--limit", "3")) == [
        1, 0, 4
    ]  # fmt: skip
    assert run_numbers(
        cli(registry, "runs", "list", "--sort", "accuracy", "--ascending", "--limit", "2")
    ) == [4, 0]  # fmt: skip
    as_json = cli(registry, "--json", "runs", "list", "--reverse", "--limit", "3")
    assert [r["id"][-1] for r in json.loads(as_json.stdout)] == ["4", "3", "2"]


@pytest.mark.parametrize("limit", ["0", "-1", "1.5", "two", ""])
def test_runs_list_limit_must_be_a_whole_number_from_1(tmp_path: Path, limit: str):
    registry = write_runs(tmp_path)
    assert one_line(cli(registry, "runs", "list", "--limit", limit)) == (
        f"snakeyard: error: invalid --limit {limit!r}: use a whole number from 1"
    )


def test_runs_list_reverse_is_no_sort_order(tmp_path: Path):
    done = cli(write_runs(tmp_path), "runs", "list", "--sort", "accuracy", "--reverse")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
