"""Seeing runs from a terminal: what a running run has logged so far, its output as it
grows, runs side by side, and listings that stay readable whatever a script logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from snakeyard.cli import metric_summary
from snakeyard.registry.registry import Registry
from snakeyard.training.metric_values import summary
from snakeyard.training.runner import execute
from test_runner import DATASET, ENVIRONMENT, start_train, wait_for

# logs a metric every half second until the test creates the file `stop` beside it
TICKING_SCRIPT = """
import os, time
from pathlib import Path
from snakeyard import Run
run = Run.get_context()
run.tag("phase", "warm-up")
Path("dot.png").write_bytes(b"not really a png")
run.log_image("dot", path="dot.png")
stop = Path(os.environ["TICK_STOP"])
step = 0
while not stop.exists():
    run.log("loss", 1.0 / (step + 1))
    print("step", step, flush=True)
    step += 1
    time.sleep(0.5)
print("done after", step, "steps", flush=True)
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m snakeyard --registry ROOT ARGS...``, as a user runs it."""
    command = [sys.executable, "-m", "snakeyard", "--registry", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


HEAVY = ("sklearn", "numpy", "pandas", "matplotlib", "snakemake", "optuna", "fastapi",
         "dask", "scipy", "yaml")  # fmt: skip


def heavy_imports(root: Path, *args: str) -> list[str]:
    """The heavy libraries ``snakeyard --registry ROOT ARGS...`` imports (those the
    interpreter's own start-up imported left aside), after checking it succeeded."""
    program = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from snakeyard.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(*sorted(set(sys.modules) - before), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", program, "--registry", str(root), *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return sorted({name.split(".")[0] for name in done.stderr.split()} & set(HEAVY))


def logged_losses(registry: Registry) -> int:
    runs = registry.list_runs()
    if not runs:
        return 0
    events = Path(runs[0]["folder"]) / "events.jsonl"
    return events.read_text().count('"loss"') if events.exists() else 0


def test_a_running_run_shows_what_it_logged_so_far_and_its_log_follows_to_the_end(
    tmp_path: Path, monkeypatch
):
    stop = tmp_path / "stop"
    monkeypatch.setenv("TICK_STOP", str(stop))
    stage, root = start_train(tmp_path, TICKING_SCRIPT)
    registry = Registry(root)
    wait_for(lambda: logged_losses(registry) >= 3, seconds=60)
    [run] = registry.list_runs()

    shown = cli(root, "runs", "show", run["id"])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.startswith("status ") and line.split()[1] == "Running" for line in lines)
    assert any(line.startswith("elapsed ") and line.endswith(" s so far") for line in lines)
    assert any(line.startswith("host ") for line in lines)
    [loss] = [line for line in lines if line.strip().startswith("loss ")]
    assert " values, last " in loss  # several values already
    assert any(line.split() == ["phase", "warm-up"] for line in lines)
    assert any(line.split() == ["dot", "images/dot.png"] for line in lines)
    as_json = json.loads(cli(root, "--json", "runs", "show", run["id"]).stdout)
    assert as_json["metrics"]["loss"][:3] == [1.0, 0.5, 1 / 3]
    assert as_json["status"] == "Running" and as_json["elapsed_seconds"] >= 0
    # `runs list` shows the latest loss logged so far too, not an empty metrics column
    listed = cli(root, "runs", "list")
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(run["id"])]
    assert " Running " in row and "loss=" in row
    assert "loss" in json.loads(cli(root, "--json", "runs", "list").stdout)[0]["metrics"]
    # answering quickly: `runs show` loads no heavy library (the CLI starts in a blink)
    assert not heavy_imports(root, "runs", "show", run["id"])
    assert not heavy_imports(root, "runs", "list")

    follower = subprocess.Popen(
        [sys.executable, "-m", "snakeyard", "--registry", str(root), "runs", "logs",
         "--follow", run["id"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stop.touch()
    out, err = follower.communicate(timeout=120)
    assert stage.wait(timeout=60) == 0
    # everything the script printed, up to its last line, then the run's status
    assert out.startswith("step 0\n") and "done after" in out.splitlines()[-1]
    assert follower.returncode == 0
    assert err.strip() == f"snakeyard: run {run['id']}: Completed"


def test_following_the_log_of_a_failed_run_exits_with_its_status(tmp_path: Path):
    stage, root = start_train(tmp_path, "print('going down', flush=True)\nraise SystemExit(4)\n")
    stage.communicate(timeout=60)
    [run] = Registry(root).list_runs()
    followed = cli(root, "runs", "logs", "--follow", run["id"])
    assert followed.stdout == "going down\n"
    assert followed.returncode == 1
    assert followed.stderr.startswith(f"snakeyard: run {run['id']}: Failed (training script ")
    # without --follow the log is printed, whatever the status
    assert cli(root, "runs", "logs", run["id"]).returncode == 0


def test_following_a_lost_run_ends_with_lost(tmp_path: Path):
    stage, root = start_train(tmp_path, "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    registry = Registry(root)
    wait_for(lambda: bool(registry.list_runs()), seconds=60)
    stage.kill()  # no final record will ever be written
    stage.wait()
    [run] = registry.list_runs()
    followed = cli(root, "runs", "logs", "-f", run["id"])
    assert followed.returncode == 3
    assert followed.stderr.startswith(f"snakeyard: run {run['id']}: Lost (its process ")


def test_compare_marks_the_argument_two_runs_differ_in_and_their_metrics(tmp_path: Path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(
        "import sys\nfrom snakeyard import Run\n"
        "c = float(sys.argv[sys.argv.index('--penalty') + 1])\n"
        "Run.get_context().log('Accuracy', 0.5 + c / 10)\n"
        "Run.get_context().log('Kernel', 'linear')\n"
    )
    registry = Registry(tmp_path / "registry")
    runs = [
        execute(registry, experiment="cmp", source_directory=source, script="train.py",
                arguments={"kernel": "linear", "penalty": penalty}, dataset=DATASET,
                environment=ENVIRONMENT, data_argument=None, log=lambda line: None)
        for penalty in (1.0, 2.0)
    ]  # fmt: skip
    compared = cli(registry.root, "runs", "compare", runs[0]["id"], runs[1]["id"])
    assert compared.returncode == 0, compared.stderr
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line
            for line in compared.stdout.splitlines()[1:]}  # fmt: skip
    assert rows["argument:penalty"].split() == ["*", "argument:penalty", "1.0", "2.0"]
    assert rows["metric:Accuracy"].split() == ["*", "metric:Accuracy", "0.6", "0.7"]
    assert rows["argument:kernel"].split() == ["argument:kernel", "linear", "linear"]
    assert rows["metric:Kernel"].split() == ["metric:Kernel", "linear", "linear"]
    assert rows["snapshot_hash"].split()[0] == "snapshot_hash"  # same sources
    assert rows["dataset"].split()[0] == "dataset"
    as_json = json.loads(
        cli(registry.root, "--json", "runs", "compare", runs[0]["id"], runs[1]["id"]).stdout
    )
    differing = {row["field"] for row in as_json["rows"] if row["differs"]}
    assert {"argument:penalty", "metric:Accuracy"} <= differing
    assert not differing & {"argument:kernel", "metric:Kernel", "dataset", "environment"}
    one = cli(registry.root, "runs", "compare", runs[0]["id"])
    assert one.returncode == 1 and one.stderr.count("\n") == 1
    assert "needs two different runs or more" in one.stderr


def test_the_metrics_column_is_readable_and_bounded_whatever_was_logged():
    metrics = {
        "Accuracy": 0.9777777,
        "Kernel type": "linear",
        "loss": [1.0, 0.5, 0.25],
        "Confusion matrix": {"class_labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]},
        "per class": [{"class": "a", "f1": 1.0}, {"class": "b", "f1": 0.5}],
    }
    shown = metric_summary(metrics, width=400)
    assert shown == (
        "Accuracy=0.9778, Kernel type=linear, loss=3 values, last 0.25, "
        "Confusion matrix=2x2 confusion matrix, per class=table of 2 rows, 2 columns"
    )
    assert "{" not in shown and "..." not in shown
    # a 10 MB text, a 100,000-value list: a few characters each
    huge = summary("x" * 10_000_000)
    assert huge.startswith("xxx") and huge.endswith("… (10,000,000 characters)") and len(huge) < 80
    assert summary(list(range(100_000))) == "100,000 values, last 99999"
    assert len(metric_summary({f"m{k}": k for k in range(1000)})) < 120
    assert metric_summary({f"m{k}": k for k in range(1000)}).endswith(" more)")


def test_watch_redraws_the_running_runs_until_they_end(tmp_path: Path, monkeypatch):
    stop = tmp_path / "stop"
    monkeypatch.setenv("TICK_STOP", str(stop))
    stage, root = start_train(tmp_path, TICKING_SCRIPT)
    registry = Registry(root)
    wait_for(lambda: logged_losses(registry) >= 2, seconds=60)
    [run] = registry.list_runs()
    # bounded by --timeout while the run goes on
    bounded = cli(root, "runs", "watch", "--interval", "0.2", "--timeout", "1", "--metric", "loss")
    assert bounded.returncode == 0, bounded.stderr
    [row] = [line for line in bounded.stdout.splitlines() if line.startswith(run["id"])][-1:]
    assert row.split()[1] == "Running" and row.split()[-1].startswith("loss=")

    watcher = subprocess.Popen(
        [sys.executable, "-m", "snakeyard", "--registry", str(root), "runs", "watch",
         "--experiment", "slow", "--interval", "0.2", "--grace", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stop.touch()
    out, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    assert stage.wait(timeout=60) == 0
    # it ends by itself once no run is Running; its last drawing shows how the run ended
    last = out.strip().split("\n\n")[-1].splitlines()
    assert last[0].endswith("0 runs running")
    [row] = [line for line in last if line.startswith(run["id"])]
    assert row.split()[1] == "Completed" and "loss=" in row


def test_watch_says_how_far_a_sweep_has_come():
    from snakeyard.training.follow import sweep_lines

    def trial(k: int, status: str, accuracy: float | None) -> dict:
        metrics = {"Accuracy": accuracy} if accuracy is not None else {}
        return {"id": f"sw_1796000000_0000000{k}", "experiment": "sw", "status": status,
                "trial": {"id": f"{k:012x}", "parameters": {}}, "metrics": metrics}  # fmt: skip

    runs = [trial(1, "Completed", 0.7), trial(2, "Completed", 0.9), trial(3, "Running", 0.95),
            trial(4, "Failed", None), trial(5, "Lost", None), trial(6, "Canceled", None)]  # fmt: skip
    assert sweep_lines(runs, "Accuracy", "maximize") == [
        "sweep sw: 2 trials done, 1 running, 2 failed, 1 canceled; best so far trial "
        "000000000002 (run sw_1796000000_00000002) Accuracy=0.9"
    ]
    assert sweep_lines(runs, "Accuracy", "minimize")[0].endswith("Accuracy=0.7")


def test_watch_names_the_best_trial_the_sweep_will_pick_when_trials_tie():
    from snakeyard.sweeps.ranking import rank
    from snakeyard.training.follow import sweep_lines

    def trial(k: int, accuracy: float) -> dict:
        return {"id": f"sw_1796000000_0000000{k}", "experiment": "sw", "status": "Completed",
                "trial": {"id": f"{k:012x}", "parameters": {}},
                "metrics": {"Accuracy": accuracy}}  # fmt: skip

    # the later trial listed first: the tie still goes to the smaller trial id
    runs = [trial(3, 0.9), trial(2, 0.9), trial(1, 0.5)]
    assert rank(runs, "Accuracy", "maximize").best["trial"]["id"] == "000000000002"
    for metric in ("Accuracy", None):
        assert sweep_lines(runs, metric, "maximize") == [
            "sweep sw: 3 trials done, 0 running, 0 failed, 0 canceled; best so far trial "
            "000000000002 (run sw_1796000000_00000002) Accuracy=0.9"
        ]


def test_watch_refuses_a_bad_interval_or_timeout_in_one_line(tmp_path: Path):
    (tmp_path / "registry").mkdir()
    for args, said in [(["--interval", "0"], "invalid --interval 0: use seconds above 0"),
                       (["--timeout", "-1"], "invalid --timeout -1: use seconds, 0 or more")]:
        done = cli(tmp_path / "registry", "runs", "watch", *args)
        assert done.returncode == 1 and done.stderr == f"snakeyard: error: {said}\n"


def test_a_lost_runs_elapsed_time_stops_at_its_last_sign_of_life(tmp_path):
    # a Lost run's process is gone: its time is until its last heartbeat or logged value,
    # and does not keep growing while the record waits for `runs settle`
    import os
    import time

    from snakeyard.registry.registry import with_logged_so_far

    folder = tmp_path / "run"
    folder.mkdir()
    start = time.time() - 600
    for name, age in (("heartbeat", 500), ("events.jsonl", 450)):
        (folder / name).write_text("")
        os.utime(folder / name, (start + 600 - age, start + 600 - age))
    record = {"id": "r", "status": "Lost", "start_unix": start}
    assert with_logged_so_far(record, folder)["elapsed_seconds"] == 150.0
    running = {"id": "r", "status": "Running", "start_unix": start}
    assert with_logged_so_far(running, folder)["elapsed_seconds"] >= 600
