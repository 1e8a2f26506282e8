"""Odd inputs from the field (issue 19): each is one clear line, nothing lost, nothing
silently dropped."""

from __future__ import annotations

import json
import math
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
        '"metrics": {"loss": Infinity, "acc": NaN}}'
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
