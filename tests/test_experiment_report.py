"""Every experiment's part of the Snakemake report: the registered model with its lineage
and metrics, a curve per list metric, the confusion matrix and the logged images."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from conftest import Project
from snakeyard.reports.experiment import draw_experiment_report

pytest.importorskip("matplotlib")

SVG = {"svg": "http://www.w3.org/2000/svg"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16  # the bytes are only carried, never decoded


def texts(document: str, prefix: str) -> list[str]:
    """The text drawn in the SVG groups whose id starts with ``prefix``."""
    root = ET.fromstring(document)
    return ["".join(t.itertext()) for g in root.iterfind(".//svg:g", SVG)
            if g.get("id", "").startswith(prefix) for t in g.iterfind(".//svg:text", SVG)]  # fmt: skip


def run_record(folder: Path, **metrics) -> dict:
    return {
        "id": "exp_1796000000_0a1b2c3d", "experiment": "exp", "status": "Completed",
        "duration_seconds": 2.5, "folder": str(folder), "host": "node1",
        "dataset": {"name": "iris", "version": 2, "content_hash": "ab" * 32},
        "environment": {"name": "sklearn", "version": 1, "method": "conda-lock"},
        "snapshot_hash": "cd" * 32, "snapshot_files": 3, "git_commit": "0123abc",
        "command": ["python", "train.py", "--penalty", "1.0"], "metrics": metrics,
        "images": {}, "trial": {"id": "0f0f0f0f0f0f", "parameters": {"penalty": 1.0}},
    }  # fmt: skip


def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "report"
    return {"metrics": folder / "model-metrics.html", "curves": folder / "curves.svg",
            "confusion": folder / "confusion-matrix.svg", "images": folder / "images.html"}  # fmt: skip


def test_the_report_holds_the_lineage_every_metric_each_curve_and_every_image(tmp_path: Path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "roc.png").write_bytes(PNG)
    run = run_record(
        tmp_path,
        Accuracy=0.97, loss=[1.0, 0.5, 0.25], notes="x" * 10_000_000,
        matrix={"class_labels": ["a", "b"], "matrix": [[3, 1], [0, 4]]},
    )  # fmt: skip
    run["images"] = {"ROC curve": {"path": "images/roc.png", "sha256": "0" * 64}}
    out = files(tmp_path)
    draw_experiment_report(run, {"name": "exp", "version": 4}, **out, log=lambda line: None)

    page = out["metrics"].read_text()
    for field, value in [("model", "exp:4"), ("run", run["id"]), ("trial", "0f0f0f0f0f0f"),
                         ("dataset", f"iris:2 ({'ab' * 32})"),
                         ("environment", "sklearn:1 (conda-lock)"),
                         ("code snapshot", f"{'cd' * 32} (3 files)"), ("git commit", "0123abc")]:
        assert f"<td>{field}</td><td>{value}</td>" in page, field  # fmt: skip
    assert "<td>param:penalty</td><td>1.0</td>" in page
    assert '<td>Accuracy</td><td class="number">0.97</td>' in page
    assert "<td>loss</td><td>3 values, last 0.25</td>" in page
    assert "<td>matrix</td><td>2x2 confusion matrix</td>" in page
    assert len(page) < 10_000  # the 10 MB text is summarised, not copied
    assert "(10,000,000 characters)" in page

    curves = out["curves"].read_text()
    assert texts(curves, "y-label") == ["loss"]
    assert texts(curves, "curve-title") == ["loss: 3 steps, last 0.25"]
    assert texts(out["confusion"].read_text(), "count") == ["3", "1", "0", "4"]
    gallery = out["images"].read_text()
    assert f'alt="ROC curve" src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in gallery


def test_a_run_that_logged_no_curve_matrix_or_image_gets_pictures_saying_so(tmp_path: Path):
    run = run_record(tmp_path, Accuracy=0.5)
    out = files(tmp_path)
    draw_experiment_report(run, {"name": "exp", "version": 1}, **out, log=lambda line: None)
    assert texts(out["curves"].read_text(), "message")[0] == (
        f"Run {run['id']} of exp logged no list metric"
    )
    assert texts(out["confusion"].read_text(), "message")[0] == (
        f"Run {run['id']} of model exp:1 logged no confusion matrix"
    )
    assert f"Run {run['id']} logged no image" in out["images"].read_text()


def test_a_run_that_registers_no_model_has_its_report_saying_so(tmp_path: Path):
    run = run_record(tmp_path, loss=[1.0, 0.5], matrix={"class_labels": ["a", "b"],
                                                        "matrix": [[3, 1], [0, 4]]})  # fmt: skip
    out = files(tmp_path)
    draw_experiment_report(run, None, **out, log=lambda line: None)
    page = out["metrics"].read_text()
    assert "<td>model</td><td>none registered (model: null)</td>" in page
    assert f"Run {run['id']} of experiment exp: no model was registered" in page
    assert "<td>loss</td><td>2 values, last 0.5</td>" in page
    assert texts(out["curves"].read_text(), "curve-title") == ["loss: 2 steps, last 0.5"]
    assert texts(out["confusion"].read_text(), "count") == ["3", "1", "0", "4"]


# an analysis script: registers no model (model: null), logs a curve and an image
ANALYSIS_SCRIPT = f"""
from pathlib import Path
from snakeyard import Run
run = Run.get_context()
for loss in (0.9, 0.5, 0.2):
    run.log("loss", loss)
run.log("rows", 150)
Path("dot.png").write_bytes({PNG!r})
run.log_image("dot", path="dot.png")
"""


def test_the_default_experiment_says_what_it_did_and_reports_its_run(project: Project):
    # beside it, an experiment that registers no model still gets its report
    project.add_experiment("analysis", ANALYSIS_SCRIPT, dataset=None, model=None)
    done = project.snakemake()
    console = done.stdout + done.stderr
    [trained] = re.findall(r"snakeyard train: run (\S+) of sklearn-iris: Completed in .*", console)
    assert "Accuracy=0.9778" in console.split(f"snakeyard train: run {trained} ")[1].splitlines()[0]
    assert (f"snakeyard register: model 'sklearn-iris' from run {trained} registered as new "
            "version 1") in console  # fmt: skip

    [analysed] = project.registry.list_runs("analysis")
    project.snakemake("--report", "report.zip")
    with zipfile.ZipFile(project.path / "report.zip") as archive:
        names = archive.namelist()

        def read(suffix: str, run_id: str = "") -> str:
            """The report file ``suffix`` (of the experiment whose run is ``run_id``)."""
            [text] = [text for n in names if n.endswith(suffix)
                      if run_id in (text := archive.read(n).decode())]  # fmt: skip
            return text

        overview = read("report/report.html")
        metrics, curves, images = (read(suffix, trained) for suffix in
                                   ("model-metrics.html", "curves.svg", "images.html"))  # fmt: skip
        analysis = {suffix: read(suffix, analysed["id"])
                    for suffix in ("model-metrics.html", "curves.svg", "images.html")}  # fmt: skip
    assert "snakeyard trained and registered 2 experiments." in overview
    assert "with no data set" in overview and "no model registered" in overview  # analysis
    # the metrics table, with the model's lineage
    assert "<td>model</td><td>sklearn-iris:1</td>" in metrics
    assert f"<td>run</td><td>{trained}</td>" in metrics
    assert '<td>Accuracy</td><td class="number">0.977778</td>' in metrics
    # a curve: the learning curve the script logs, one value per training size
    assert texts(curves, "y-label") == ["Accuracy by training size"]
    # the image it logged, the very bytes
    run = project.registry.get_run(trained)
    picture = (Path(run["folder"]) / run["images"]["Test predictions"]["path"]).read_bytes()
    assert base64.b64encode(picture).decode() in images
    # the experiment without a model: its metrics, its curve and its image, and a word
    # that no model was registered
    assert "<td>model</td><td>none registered (model: null)</td>" in analysis["model-metrics.html"]
    assert '<td>rows</td><td class="number">150</td>' in analysis["model-metrics.html"]
    assert "<td>loss</td><td>3 values, last 0.2</td>" in analysis["model-metrics.html"]
    assert texts(analysis["curves.svg"], "curve-title") == ["loss: 3 steps, last 0.2"]
    assert base64.b64encode(PNG).decode() in analysis["images.html"]
    assert analysed["id"] in analysis["images.html"]
    assert "analysis" not in project.registry.models.names()
