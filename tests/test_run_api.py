"""The Run API a training script calls: inside a run it records, outside it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from snakeyard.training.run_api import read_events

SCRIPT = """
from snakeyard import Run
run = Run.get_context()
run.log("accuracy", 0.5)
run.log("loss", 0.9)
run.log("loss", 0.4)
run.log_list("curve", [1, 2, 3])
run.log_row("table", epoch=1, score=0.25)
run.tag("stage", "test")
print("offline" if run.offline else "online", run.id)
"""


def run_script(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SNAKEYARD_")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env)


def test_outside_a_run_calls_print_and_do_not_fail():
    done = run_script({})
    assert done.returncode == 0, done.stderr
    assert "Attempted to log scalar metric accuracy: 0.5" in done.stdout
    assert "Attempted to set tag stage: test" in done.stdout
    assert done.stdout.strip().endswith("offline OfflineRun")


def test_inside_a_run_metrics_and_tags_are_recorded(tmp_path: Path):
    done = run_script({"SNAKEYARD_RUN_DIR": str(tmp_path), "SNAKEYARD_RUN_ID": "r1"})
    assert done.returncode == 0, done.stderr
    assert "Attempted" not in done.stdout
    metrics, tags = read_events(tmp_path)
    assert metrics == {
        "accuracy": 0.5,
        "loss": [0.9, 0.4],
        "curve": [1, 2, 3],
        "table": [{"epoch": 1, "score": 0.25}],
    }
    assert tags == {"stage": "test"}


def test_numpy_values_are_stored_as_plain_numbers(tmp_path: Path):
    code = (
        "import numpy as np; from snakeyard import Run; r = Run.get_context();"
        "r.log('a', np.float64(0.25)); r.log_list('b', np.arange(3))"
    )
    env = {"SNAKEYARD_RUN_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert read_events(tmp_path)[0] == {"a": 0.25, "b": [0, 1, 2]}


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path: Path):
    (tmp_path / "events.jsonl").write_text(
        '{"kind": "metric", "name": "a", "value": 1}\n{"kind": "metric", "na'
    )
    assert read_events(tmp_path) == ({"a": 1}, {})


def test_rows_after_a_scalar_of_the_same_name(tmp_path: Path):
    code = "from snakeyard import Run; r = Run.get_context();r.log('m', 1); r.log_row('m', epoch=2)"
    env = {"SNAKEYARD_RUN_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert read_events(tmp_path)[0] == {"m": [1, {"epoch": 2}]}
