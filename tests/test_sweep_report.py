"""The sweep report's pictures, drawn with matplotlib and parsed back without Snakemake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from snakeyard.errors import SnakeyardError
from snakeyard.reports import drawing
from snakeyard.sweeps import report as sweep_report

pytest.importorskip("matplotlib")

SVG = {"svg": "http://www.w3.org/2000/svg"}
SRC = Path(__file__).resolve().parent.parent / "src"


def parse(document: str) -> ET.Element:
    """The picture as a standalone SVG document: its root, checked for size and view box."""
    root = ET.fromstring(document)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") and float(root.get("viewBox").split()[2]) > 0
    return root


def groups(element: ET.Element, prefix: str) -> list[ET.Element]:
    """The groups whose id (a matplotlib gid) starts with ``prefix``, in drawing order."""
    return [g for g in element.iterfind(".//svg:g", SVG) if g.get("id", "").startswith(prefix)]


def texts(element: ET.Element, prefix: str) -> list[str]:
    """The text drawn in those groups, one string per line of text, in drawing order."""
    return ["".join(t.itertext()) for g in groups(element, prefix) for t in g.iterfind(".//svg:text", SVG)]


def summary(columns: dict[str, list], scores: list[float], left_out: int = 0) -> dict:
    """A sweep summary as ``sweep`` writes it: rows ranked by score (maximised), then
    ``left_out`` failed trials."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    rows = [
        {"rank": rank, "trial": f"{i:012x}", "status": "Completed", "Accuracy": scores[i],
         **{f"param:{name}": values[i] for name, values in columns.items()}, "run_id": f"run{i}"}
        for rank, i in enumerate(order, start=1)
    ]  # fmt: skip
    rows += [
        {"rank": "", "trial": f"f{k:011x}", "status": "Failed", "Accuracy": None,
         **{f"param:{name}": values[0] for name, values in columns.items()}, "run_id": f"failed{k}"}
        for k in range(left_out)
    ]  # fmt: skip
    return {
        "experiment": "an-experiment",
        "primary_metric": "Accuracy",
        "goal": "maximize",
        "trials": len(rows),
        "left_out": [{"trial": row["trial"]} for row in rows if row["rank"] == ""],
        "best": {"trial": rows[0]["trial"], "run_id": rows[0]["run_id"]},
        "columns": list(rows[0]),
        "rows": rows,
    }


FOUR = {
    "kernel": ["rbf", "linear", "poly", "rbf", "sigmoid"],
    "penalty": [0.5, 1, 1.5, 1, 0.5],
    "gamma": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    "degree": [2, 3, 4, 5, 3],
}


def test_one_panel_per_parameter_with_a_marker_per_trial_and_one_star():
    sweep = summary(FOUR, [0.9, 0.7, 0.8, 0.6, 0.2])
    root = parse(sweep_report.metric_by_parameter(sweep))
    panels = groups(root, "panel-")
    assert [panel.get("id") for panel in panels] == [f"panel-{name}" for name in FOUR]
    for panel, name in zip(panels, FOUR, strict=True):
        assert len(groups(panel, "trial-marker-")) == 4
        assert [g.get("id") for g in groups(panel, "best-trial-")] == [f"best-trial-{name}-000000000000"]
        assert texts(panel, "x-label") == [name] and texts(panel, "y-label") == ["Accuracy"]
    assert texts(panels[0], "x-tick") == ["linear", "poly", "rbf", "sigmoid"]
    assert texts(panels[1], "x-tick") == ["0.5", "1", "1.5"]  # numbers in order of size
    assert " ".join(texts(root, "title")) == (
        "an-experiment: Accuracy (maximize) by parameter, 5 trials; best trial 000000000000"
    )
    assert texts(root, "legend") == ["trial", "best"]


def test_axes_suit_the_values_three_panels_a_row():
    figure = sweep_report.metric_by_parameter_figure(summary(FOUR, [0.9, 0.7, 0.8, 0.6, 0.2]))
    figure.draw_without_rendering()
    axes = {ax.get_gid(): ax for ax in figure.axes}
    # at most 10 distinct values: categories, whatever they are; else by their spread
    assert axes["panel-gamma"].get_xscale() == "linear"
    spread = {"gamma": [10 ** (-4 + 6 * k / 29) for k in range(30)], "C": [1 + k for k in range(30)]}
    figure = sweep_report.metric_by_parameter_figure(summary(spread, [k / 30 for k in range(30)]))
    figure.draw_without_rendering()
    scales = {ax.get_gid(): ax.get_xscale() for ax in figure.axes}
    assert scales == {"panel-gamma": "log", "panel-C": "linear"}
    # three panels a row: the fourth starts a second row
    figure = sweep_report.metric_by_parameter_figure(summary(FOUR, [0.9, 0.7, 0.8, 0.6, 0.2]))
    figure.draw_without_rendering()
    boxes = [ax.get_position() for ax in figure.axes]
    assert len({round(box.y0, 3) for box in boxes}) == 2
    assert len({round(box.x0, 3) for box in boxes}) == 3


def test_trials_that_share_a_category_spread_across_its_column():
    figure = sweep_report.metric_by_parameter_figure(
        summary({"x": [1.5, 0.5, 1, 0.5, 0.5] + [7] * 6}, [1.0] + [0.5] * 10)
    )
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5", "7"]
    places = {line.get_gid().rsplit("-", 1)[1]: line.get_xdata()[0] for line in ax.lines}
    # trials sharing a value: 0.05 apart, from 0.15 before the column's middle
    assert [places[f"{i:012x}"] for i in range(5)] == pytest.approx([1.85, -0.15, 0.85, -0.1, -0.05])


def test_the_title_notes_trials_left_out_and_long_labels_are_shortened():
    sweep = summary({"kernel": ["a-kernel-with-a-very-long-name", "rbf"]}, [0.5, 0.9], left_out=2)
    root = parse(sweep_report.metric_by_parameter(sweep))
    title = " ".join(texts(root, "title"))
    assert "2 trials, 2 left out (failed or no Accuracy); best trial 000000000001" in title
    assert texts(root, "x-tick") == ["a-kernel-with-a-v…", "rbf"]


def test_text_is_escaped_and_comes_back_unchanged():
    columns = {'loss <&> "fn" $x$': ["<a>", "&b", "<a>"]}
    sweep = summary(columns, [1, 2, 3])
    sweep["experiment"] = "t <&>\x01 t"
    document = sweep_report.metric_by_parameter(sweep)
    assert "<a>" not in document and "&b" not in document
    root = parse(document)
    assert texts(root, "x-label") == ['loss <&> "fn" $x$']  # no mathtext either
    assert texts(root, "x-tick") == ["&b", "<a>"]
    assert texts(root, "title")[0].startswith("t <&> t: Accuracy")  # no control characters
    matrix = parse(drawing.svg_document(
        drawing.confusion_matrix_figure("a\x01b", ["<x>", "y&z"], [[1, 0], [0, 1]])
    ))  # fmt: skip
    assert texts(matrix, "title") == ["ab"]
    assert texts(matrix, "y-tick") == ["<x>", "y&z"] == texts(matrix, "x-tick")


def test_no_swept_parameter_gives_a_message():
    sweep = summary({}, [0.5, 0.9])
    root = parse(sweep_report.metric_by_parameter(sweep))
    assert texts(root, "message") == ["The sweep of an-experiment has no swept parameter to plot."]
    assert not groups(root, "panel-")


def test_the_confusion_matrix_writes_each_count_in_its_cell_light_on_dark_cells():
    labels = ["setosa", "versicolor", "virginica"]
    matrix = [[16, 0, 0], [0, 17, 1], [0, 0, 11]]
    figure = drawing.confusion_matrix_figure("Confusion matrix\nrun r1", labels, matrix)
    root = parse(drawing.svg_document(figure))
    assert texts(root, "count") == ["16", "0", "0", "0", "17", "1", "0", "0", "11"]
    fills = ["fill: #ffffff" in (t.get("style") or "") or "fill: #f7fbff" in (t.get("style") or "")
             for g in groups(root, "count") for t in g.iterfind(".//svg:text", SVG)]  # fmt: skip
    assert fills == [True, False, False, False, True, False, False, False, True]
    assert texts(root, "y-tick") == labels == texts(root, "x-tick")
    assert texts(root, "x-label") == ["predicted class"]
    assert texts(root, "y-label") == ["true class"]
    assert texts(root, "title") == ["Confusion matrix", "run r1"]
    assert groups(root, "colour-bar")
    # counts that are not whole numbers keep three significant digits
    shares = drawing.confusion_matrix_figure("t", ["a", "b"], [[0.5, 0.25], [0.125, 1 / 3]])
    assert texts(parse(drawing.svg_document(shares)), "count") == ["0.5", "0.25", "0.125", "0.333"]


def test_many_or_long_class_labels_are_drawn_at_an_angle():
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    square = [[1] * 10 for _ in names]
    angled = drawing.confusion_matrix_figure("t", names, square)
    assert {label.get_rotation() for label in angled.axes[0].get_xticklabels()} == {45}
    upright = drawing.confusion_matrix_figure("t", ["a", "b"], [[1, 2], [3, 4]])
    assert {label.get_rotation() for label in upright.axes[0].get_xticklabels()} == {0}


def test_the_same_sweep_gives_the_same_file():
    sweep = summary(FOUR, [0.9, 0.7, 0.8, 0.6, 0.2])
    assert sweep_report.metric_by_parameter(sweep) == sweep_report.metric_by_parameter(sweep)


def test_confusion_matrix_is_the_first_metric_that_holds_one():
    metrics = {
        "Accuracy": 0.9,
        "broken": {"class_labels": ["a"], "matrix": [[1, 2]]},
        "Confusion matrix": [{"class_labels": ["a", 2], "matrix": [[1, 0], [0, 3]]}],
    }
    assert drawing.find_confusion_matrix(metrics) == ("Confusion matrix", ["a", "2"], [[1, 0], [0, 3]])
    with pytest.raises(LookupError):
        drawing.find_confusion_matrix({"Accuracy": 0.9})


MODEL = {"name": "an-experiment", "version": 3, "new": True}


def report_files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "report"
    return {"table": folder / "sweep.html", "plot": folder / "primary-metric.svg"}


def test_the_sweep_stage_says_which_trial_won_and_which_version_was_registered(tmp_path: Path):
    sweep = summary({"kernel": ["rbf", "linear"]}, [0.9, 0.5])
    sweep["best"].update(parameters={"kernel": "rbf"}, value=0.9)
    arguments = []
    for name, content in {"summary": sweep, "model": MODEL}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
        arguments += [f"--{name}", str(tmp_path / f"{name}.json")]
    for name, path in report_files(tmp_path).items():
        arguments += [f"--{name}", str(path)]
    done = subprocess.run(
        [sys.executable, "-m", "snakeyard.stages", "sweep-report", *arguments,
         "--log", str(tmp_path / "sweep_report.log")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = (
        "sweep of an-experiment: trial 000000000000 won (kernel=rbf) with Accuracy=0.9 of 2 "
        "trials (run run0); registered as model an-experiment:3"
    )
    assert done.stderr.splitlines() == [f"snakeyard sweep-report: {said}"]  # on the console
    assert said in (tmp_path / "sweep_report.log").read_text()
    assert all(path.is_file() for path in report_files(tmp_path).values())


def test_a_sweep_that_registers_no_model_has_its_report_saying_so(tmp_path: Path):
    sweep = summary({"kernel": ["rbf", "linear"]}, [0.9, 0.5])
    sweep["best"].update(parameters={"kernel": "rbf"}, value=0.9)
    (tmp_path / "summary.json").write_text(json.dumps(sweep))
    arguments = ["--summary", str(tmp_path / "summary.json")]
    for name, path in report_files(tmp_path).items():
        arguments += [f"--{name}", str(path)]
    # `--model` with nothing after it: the rule's input for model: null is empty
    done = subprocess.run(
        [sys.executable, "-m", "snakeyard.stages", "sweep-report", *arguments, "--model",
         "--log", str(tmp_path / "sweep_report.log")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1].endswith(
        "(run run0); no model registered (model: null)"
    )
    assert all(path.is_file() for path in report_files(tmp_path).values())


def test_without_matplotlib_the_report_stage_fails_with_one_line(tmp_path: Path, monkeypatch):
    sweep = summary({"kernel": ["rbf", "linear"]}, [0.9, 0.5])
    sweep["best"].update(parameters={"kernel": "rbf"}, value=0.9)
    inputs = {"summary": sweep, "model": MODEL}
    arguments = []
    for name, content in inputs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
        arguments += [f"--{name}", str(tmp_path / f"{name}.json")]
    for name, path in report_files(tmp_path).items():
        arguments += [f"--{name}", str(path)]
    script = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from snakeyard.stages import main\n"
        f"sys.exit(main(['sweep-report', *{arguments!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)})  # fmt: skip
    assert done.returncode == 1
    # which trial won is said first: it needs no matplotlib
    assert done.stderr.splitlines()[0].startswith("snakeyard sweep-report: sweep of an-experiment")
    assert done.stderr.splitlines()[1:] == [
        "snakeyard sweep-report: error: the report needs matplotlib: "
        "pip install 'snakeyard[report]' (or pip install matplotlib)"
    ]
    assert not (tmp_path / "report").exists()  # nothing half written
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(SnakeyardError, match=r"pip install 'snakeyard\[report\]'"):
        drawing.message_figure("no matplotlib")


def test_importing_the_stages_and_the_report_module_imports_no_matplotlib():
    script = (
        "import sys\n"
        "import snakeyard, snakeyard.stages, snakeyard.sweeps.report, snakeyard.sweeps.plan\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'sklearn')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
